// Command esdk builds a codec with a KMS keyring and codec.WithESDK, to
// measure the size of a binary with the AWS Encryption SDK.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope/esdk"
)

func main() {
	ctx := context.Background()
	cfg, err := codec.LoadConfig(os.Args[1])
	if err != nil {
		os.Exit(2)
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		os.Exit(2)
	}
	c, err := codec.New(ctx, cfg, codec.WithESDK(esdk.Factory(awsCfg)))
	if err != nil {
		os.Exit(2)
	}
	out, err := c.Encrypt(ctx, []byte(os.Args[2]))
	if err != nil {
		os.Exit(1)
	}
	os.Stdout.Write(out)
}
