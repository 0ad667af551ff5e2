// Command mklayer writes the sfnenc Lambda layer (make layer): a zip with
// the given sfnenc-proxy binary as extensions/sfnenc-proxy and the wrapper
// sfnenc-wrapper.
//
//	go run ./cmd/sfnenc-proxy/internal/mklayer -proxy BINARY -o bin/sfnenc-layer.zip
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/sfnenc/sfnenc/cmd/sfnenc-proxy/internal/layer"
)

func main() {
	proxy := flag.String("proxy", "", "the sfnenc-proxy binary (a static linux build)")
	out := flag.String("o", "", "the zip file to write")
	flag.Parse()
	if *proxy == "" || *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: mklayer -proxy BINARY -o ZIP")
		os.Exit(2)
	}
	var buf bytes.Buffer
	if err := layer.Write(&buf, *proxy); err != nil {
		fmt.Fprintln(os.Stderr, "mklayer:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "mklayer:", err)
		os.Exit(1)
	}
}
