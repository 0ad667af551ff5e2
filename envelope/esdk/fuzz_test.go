package esdk

import (
	"testing"
	"unicode/utf8"

	mpltypes "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygeneratedtypes"

	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// FuzzParseHeader feeds arbitrary bytes to the header pre-check, seeded with
// real messages. It must never panic, and what it accepts must be a suite
// 0x0478 header within the key limit with a UTF-8 encryption context.
func FuzzParseHeader(f *testing.F) {
	srv := kmstest.Start(f)
	primary, breakglass := srv.KeyARN("primary"), srv.KeyARN("breakglass")
	for _, arns := range [][]string{{primary}, {primary, breakglass}} {
		f.Add(mustEncrypt(f, newSealer(f, srv, arns...), []byte(canary)))
	}
	f.Add(encryptWithSuite(f, srv, primary, mpltypes.ESDKAlgorithmSuiteIdAlgAes256GcmHkdfSha512CommitKeyEcdsaP384))
	f.Add([]byte{})
	f.Add([]byte{2, 4, 0x78})

	f.Fuzz(func(t *testing.T, msg []byte) {
		h, err := parseHeader(msg, DefaultMaxEncryptedDataKeys)
		if err != nil {
			return
		}
		if h.suite != suiteID {
			t.Fatalf("accepted suite 0x%04x", h.suite)
		}
		if n := len(h.edks); n < 1 || n > DefaultMaxEncryptedDataKeys {
			t.Fatalf("accepted %d encrypted data keys", n)
		}
		for k, v := range h.context {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Fatal("accepted a context that is not UTF-8")
			}
		}
	})
}
