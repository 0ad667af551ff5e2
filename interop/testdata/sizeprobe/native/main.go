// Command native builds a codec with a KMS keyring and native tokens only,
// to measure the size of a binary without the AWS Encryption SDK.
package main

import (
	"context"
	"os"

	"github.com/sfnenc/sfnenc/codec"
)

func main() {
	ctx := context.Background()
	cfg, err := codec.LoadConfig(os.Args[1])
	if err != nil {
		os.Exit(2)
	}
	c, err := codec.New(ctx, cfg)
	if err != nil {
		os.Exit(2)
	}
	out, err := c.Encrypt(ctx, []byte(os.Args[2]))
	if err != nil {
		os.Exit(1)
	}
	os.Stdout.Write(out)
}
