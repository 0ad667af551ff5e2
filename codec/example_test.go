package codec_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"regexp"

	"github.com/sfnenc/sfnenc/codec"
)

func Example() {
	ctx := context.Background()
	// This configuration uses the insecure local keyring; real ones name
	// KMS key ARNs.
	cfg, err := codec.LoadConfig("testdata/example.json")
	if err != nil {
		log.Fatal(err)
	}
	c, err := codec.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	input := []byte(`{"orderId": 42, "customer": {"phoneNumber": "+44 20 7946 0000"}}`)

	enc, err := c.Encrypt(ctx, input)
	if err != nil {
		log.Fatal(err)
	}
	// Tokens differ on every run (random nonces): show their shape.
	fmt.Println(regexp.MustCompile(`"sfnenc:[A-Za-z0-9_-]+"`).ReplaceAllString(string(enc), `"sfnenc:…"`))
	fmt.Println("plaintext in ciphertext:", bytes.Contains(enc, []byte("7946")))

	dec, err := c.Decrypt(ctx, enc)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(dec))
	// Output:
	// {"orderId": 42, "customer": {"phoneNumber": "sfnenc:…"}}
	// plaintext in ciphertext: false
	// {"orderId": 42, "customer": {"phoneNumber": "+44 20 7946 0000"}}
}
