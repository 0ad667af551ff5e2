// Command noncescopy copies an datakey.Nonces, which go vet must report
// (see TestNoncesCopyIsReported).
package main

import "github.com/sfnenc/sfnenc/internal/datakey"

func main() {
	var a datakey.Nonces
	b := a
	_ = &b
}
