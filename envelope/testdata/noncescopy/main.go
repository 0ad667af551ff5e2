// Command noncescopy copies an envelope.Nonces, which go vet must report
// (see TestNoncesCopyIsReported).
package main

import "github.com/sfnenc/sfnenc/envelope"

func main() {
	var a envelope.Nonces
	b := a
	_ = &b
}
