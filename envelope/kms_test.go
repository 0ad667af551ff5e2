package envelope

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

func TestKMSKeyring(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	client := kms.NewFromConfig(srv.Config(t, config.WithRetryMaxAttempts(1)))
	primary, err := NewKMS(client, srv.KeyARN("primary"))
	if err != nil {
		t.Fatal(err)
	}
	bg, err := NewKMS(client, srv.KeyARN("breakglass"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewKMS(client, srv.AliasARN("primary")); err == nil {
		t.Error("NewKMS accepted an alias ARN")
	}
	ec := map[string]string{"app": "x", format.ClassKey: "contact"}
	secret, wrapped, err := Multi(primary, bg).GenerateDataKey(ctx, ec)
	if err != nil {
		t.Fatal(err)
	}
	if len(wrapped) != 2 || wrapped[0].KeyID != srv.KeyARN("primary") || wrapped[1].KeyID != srv.KeyARN("breakglass") {
		t.Fatalf("wrapped keys %v %v", wrapped[0].KeyID, wrapped[1].KeyID)
	}
	srv.ResetCounts()
	// Each keyring decrypts only the wrapped key made by its own key,
	// naming that key: one Decrypt call each.
	for _, kr := range []*KMSKeyring{primary, bg} {
		got, err := kr.Unwrap(ctx, wrapped, ec)
		if err != nil || !bytes.Equal(got, secret) {
			t.Errorf("%s: Unwrap: %v", kr.KeyARN(), err)
		}
	}
	if got := srv.Requests("Decrypt"); got != 2 {
		t.Errorf("Decrypt calls = %d, want 2", got)
	}
	other, _ := NewKMS(client, srv.KeyARN("other"))
	if _, err := other.Unwrap(ctx, wrapped, ec); !errors.Is(err, ErrNoKey) {
		t.Errorf("other key: %v, want ErrNoKey", err)
	}
	// A wrapped key that claims to be the other key's: KMS refuses it.
	lying := []WrappedKey{{Provider: ProviderAWSKMS, KeyID: srv.KeyARN("other"), Ciphertext: wrapped[0].Ciphertext}}
	if _, err := other.Unwrap(ctx, lying, ec); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("mislabelled wrapped key: %v, want ErrInvalidKey", err)
	}
	var ke *KeyError
	if _, err := primary.Unwrap(ctx, wrapped, map[string]string{"app": "y"}); !errors.As(err, &ke) || ke.KeyID != srv.KeyARN("primary") || ke.Op != "unwrap" {
		t.Errorf("context mismatch: %v", err)
	}
}

// TestKMSErrorKinds: a key ARN KMS does not have is ErrKeyNotFound, not a
// refusal; a request the SDK cannot sign for want of credentials is
// ErrNoCredentials, not an unavailable key service, and never leaves.
func TestKMSErrorKinds(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	ec := map[string]string{"app": "x", format.ClassKey: "contact"}
	arn := srv.KeyARN("primary")
	missing, err := NewKMS(KMSClients(srv.Config(t))("eu-west-2"), arn[:len(arn)-12]+"000000000000")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := missing.GenerateDataKey(ctx, ec); !errors.Is(err, ErrKeyNotFound) || errors.Is(err, ErrDenied) {
		t.Errorf("unknown key: %v, want ErrKeyNotFound", err)
	}
	cfg := srv.Config(t)
	cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no credentials in this test")
	})
	noCreds, err := NewKMS(KMSClients(cfg)("eu-west-2"), arn)
	if err != nil {
		t.Fatal(err)
	}
	srv.ResetCounts()
	if _, _, err := noCreds.GenerateDataKey(ctx, ec); !errors.Is(err, ErrNoCredentials) || errors.Is(err, ErrUnavailable) {
		t.Errorf("no credentials: %v, want ErrNoCredentials", err)
	}
	if n := srv.Requests(""); n != 0 {
		t.Errorf("%d KMS requests without credentials", n)
	}
}

// TestKMSErrorKindTable: the one classifier of KMS client errors, on the
// API errors KMS returns (smithy.GenericAPIError stands for an answer of
// the service) and on what the SDK's retryer counts as throttling.
func TestKMSErrorKindTable(t *testing.T) {
	api := func(code string) error {
		return &smithy.OperationError{ServiceID: "KMS", OperationName: "Decrypt", Err: &smithy.GenericAPIError{Code: code}}
	}
	for _, tc := range []struct {
		err  error
		want error
	}{
		{api("ThrottlingException"), ErrUnavailable},
		{api("TooManyRequestsException"), ErrUnavailable}, // from aws/retry's list, not ours
		{api("LimitExceededException"), ErrUnavailable},
		{api("KMSInternalException"), ErrUnavailable},
		{api("AccessDeniedException"), ErrDenied},
		{api("NotFoundException"), ErrKeyNotFound},
		{api("InvalidCiphertextException"), ErrInvalidKey},
		{api("IncorrectKeyException"), ErrInvalidKey},
		{api("ValidationException"), nil},
		{context.DeadlineExceeded, ErrUnavailable},
		{&credentialsError{errors.New("no profile")}, ErrNoCredentials},
	} {
		if got := KMSErrorKind(tc.err); got != tc.want {
			t.Errorf("KMSErrorKind(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
