// Command hello prints its build tag state; it is built by the tests of
// package testbin.
package main

import "fmt"

func main() { fmt.Println("hello", tagged) }
