//go:build sfnenc_hello

package main

const tagged = "tagged"
