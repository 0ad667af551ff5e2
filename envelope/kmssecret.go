package envelope

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// maxKMSSecret is the largest plaintext KMS Encrypt accepts.
const maxKMSSecret = 4096

// EncryptSecret encrypts a small secret (at most maxKMSSecret bytes, such as
// a serialized keyset) directly with the keyring's KMS key under ec. op
// names the operation in errors ("encrypt keyset").
func (k *KMSKeyring) EncryptSecret(ctx context.Context, op string, secret []byte, ec map[string]string) ([]byte, error) {
	if len(secret) > maxKMSSecret {
		return nil, &KeyError{Op: op, Provider: ProviderAWSKMS, KeyID: k.arn,
			Err: fmt.Errorf("%d bytes, KMS encrypts at most %d", len(secret), maxKMSSecret)}
	}
	out, err := k.client.Encrypt(ctx, &kms.EncryptInput{
		KeyId:             aws.String(k.arn),
		Plaintext:         secret,
		EncryptionContext: ec,
	})
	if err != nil {
		return nil, k.fail(op, err)
	}
	if err := k.checkKeyID(out.KeyId); err != nil {
		return nil, &KeyError{Op: op, Provider: ProviderAWSKMS, KeyID: k.arn, Err: err}
	}
	return out.CiphertextBlob, nil
}

// DecryptSecret decrypts a ciphertext of EncryptSecret with KMS Decrypt,
// naming the key, under ec. The caller zeroes the result when done.
func (k *KMSKeyring) DecryptSecret(ctx context.Context, op string, ciphertext []byte, ec map[string]string) ([]byte, error) {
	out, err := k.client.Decrypt(ctx, &kms.DecryptInput{
		KeyId:             aws.String(k.arn),
		CiphertextBlob:    ciphertext,
		EncryptionContext: ec,
	})
	if err != nil {
		return nil, k.fail(op, err)
	}
	if err := k.checkKeyID(out.KeyId); err != nil {
		clear(out.Plaintext)
		return nil, &KeyError{Op: op, Provider: ProviderAWSKMS, KeyID: k.arn, Err: err}
	}
	return out.Plaintext, nil
}
