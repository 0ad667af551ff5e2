package esdk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"testing"

	mplclient "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygenerated"
	mpltypes "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygeneratedtypes"
	esdkclient "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygenerated"
	esdktypes "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygeneratedtypes"

	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// plaintext20 is the 20-byte plaintext of the size measurements.
var plaintext20 = []byte(`"alice@example.com" `)

// TestMessageSize checks the layout the package documentation gives against
// real messages: every byte of a message is accounted for by the header
// fields and one final frame.
func TestMessageSize(t *testing.T) {
	srv := kmstest.Start(t)
	primary, breakglass := srv.KeyARN("primary"), srv.KeyARN("breakglass")
	tests := []struct {
		name string
		arns []string
	}{
		{"one key", []string{primary}},
		{"two keys", []string{primary, breakglass}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := mustEncrypt(t, newSealer(t, srv, tt.arns...), plaintext20)
			h, err := parseHeader(msg, DefaultMaxEncryptedDataKeys)
			if err != nil {
				t.Fatal(err)
			}
			aad := 2 // pair count
			for k, v := range h.context {
				aad += 2 + len(k) + 2 + len(v)
			}
			// Wrapped data keys: the length of each KMS ciphertext blob is
			// read from the message (it differs between local-kms and AWS
			// KMS).
			edks, blobs := 0, []int{}
			off := 1 + 2 + messageIDLen + 2 + aad + 2
			for _, e := range h.edks {
				off += 2 + len(e.providerID) + 2 + len(e.providerInfo)
				n := int(binary.BigEndian.Uint16(msg[off:]))
				blobs = append(blobs, n)
				off += 2 + n
				edks += 2 + len(e.providerID) + 2 + len(e.providerInfo) + 2 + n
			}
			header := 1 + 2 + messageIDLen + 2 + aad + 2 + edks + 1 + 4 + commitKeyLen + headerAuthLen
			// One final frame: end marker, sequence number, IV, content
			// length, content, tag. No footer: 0x0478 has no signature.
			body := 4 + 4 + 12 + 4 + len(plaintext20) + 16
			if got, want := len(msg), header+body; got != want {
				t.Errorf("message is %d bytes, layout accounts for %d", got, want)
			}
			if msg[header] != 0xff || !bytes.Equal(msg[header:header+4], []byte{0xff, 0xff, 0xff, 0xff}) {
				t.Errorf("body does not start with the final-frame marker")
			}
			t.Logf("%d-byte plaintext, %d key(s): message %d bytes (header %d, of which context %d and wrapped keys %d with KMS blobs %v; body %d); base64url %d chars",
				len(plaintext20), len(tt.arns), len(msg), header, aad, edks, blobs, body, (len(msg)*4+2)/3)
		})
	}
}

// BenchmarkSealer measures one message per operation, each with its own KMS
// request(s) to local-kms on loopback through kmstest's proxy:
// GenerateDataKey (+ Encrypt per extra key) to encrypt, Decrypt to decrypt.
func BenchmarkSealer(b *testing.B) {
	srv := kmstest.Start(b)
	for _, n := range []int{1, 2} {
		arns := []string{srv.KeyARN("primary"), srv.KeyARN("breakglass")}[:n]
		s := newSealer(b, srv, arns...)
		msg := mustEncrypt(b, s, plaintext20)
		b.Run(fmt.Sprintf("Encrypt/keys=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Encrypt(context.Background(), plaintext20, testCtx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(msg)), "msg-bytes")
		})
		b.Run(fmt.Sprintf("Decrypt/keys=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Decrypt(context.Background(), msg, testCtx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkESDKWithoutKMS measures the ESDK's own cost for the same message
// shape with a raw AES keyring (no KMS request): what a data-key cache could
// at best bring a KMS-keyed message down to. The Go ESDK v0.4.0 has no
// caching materials manager to measure instead.
func BenchmarkESDKWithoutKMS(b *testing.B) {
	mpl, err := mplclient.NewClient(mpltypes.MaterialProvidersConfig{})
	if err != nil {
		b.Fatal(err)
	}
	wrappingKey := make([]byte, 32)
	rand.Read(wrappingKey)
	kr, err := mpl.CreateRawAesKeyring(context.Background(), mpltypes.CreateRawAesKeyringInput{
		KeyNamespace: "bench", KeyName: "key", WrappingKey: wrappingKey,
		WrappingAlg: mpltypes.AesWrappingAlgAlgAes256GcmIv12Tag16,
	})
	if err != nil {
		b.Fatal(err)
	}
	cmm, err := mpl.CreateDefaultCryptographicMaterialsManager(context.Background(), mpltypes.CreateDefaultCryptographicMaterialsManagerInput{Keyring: kr})
	if err != nil {
		b.Fatal(err)
	}
	policy := mpltypes.ESDKCommitmentPolicyRequireEncryptRequireDecrypt
	c, err := esdkclient.NewClient(esdktypes.AwsEncryptionSdkConfig{CommitmentPolicy: &policy})
	if err != nil {
		b.Fatal(err)
	}
	suite := mpltypes.ESDKAlgorithmSuiteIdAlgAes256GcmHkdfSha512CommitKey
	enc := func() []byte {
		out, err := c.Encrypt(context.Background(), esdktypes.EncryptInput{
			Plaintext: plaintext20, AlgorithmSuiteId: &suite, EncryptionContext: testCtx, MaterialsManager: cmm,
		})
		if err != nil {
			b.Fatal(err)
		}
		return out.Ciphertext
	}
	msg := enc()
	b.Run("Encrypt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			enc()
		}
	})
	b.Run("Decrypt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Decrypt(context.Background(), esdktypes.DecryptInput{Ciphertext: msg, EncryptionContext: testCtx, MaterialsManager: cmm}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
