package identityverification_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/stack"
	"github.com/sfnenc/sfnenc/internal/forgetest"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// checkOperatorForgery plays an operator who may read histories (with
// kms:Decrypt on the class verification, as sfn-decrypt needs) and whose
// role may also answer the identification callback (SendTaskSuccess). From
// a genuine verification result in a history they read, they unwrap the
// data key and seal a verification result of their choosing: the applicant
// of a new application, as if the provider had verified them. The class
// verification is signed, so ContinueValidation refuses the result
// (sfnenc.DecryptError) before its handler runs, and the workflow takes its
// failure path to VerificationFailed.
func checkOperatorForgery(t *testing.T, st *stack.Stack, cfg *codec.Config, kms *kmstest.Server, history []byte) {
	var genuine *format.Token
	for _, m := range regexp.MustCompile(`sfnenc:[A-Za-z0-9_-]+`).FindAllString(string(history), -1) {
		if info, err := codec.ParseToken(m); err == nil && info.Class == "verification" {
			if genuine, err = format.Decode([]byte(m), nil); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if genuine == nil {
		t.Fatal("no verification token in the history")
	}
	// The operator forges in the mode the genuine token has: were the
	// class not signed, this would be accepted.
	signed := genuine.Mode == format.ModeSignedEnvelope
	kctx := format.KeyContext(cfg.EncryptionContext, "verification")
	ec := kctx
	if signed {
		ec = format.SignedKeyContext(kctx, genuine.VerifyingKey)
	}
	i := slices.IndexFunc(genuine.Keys, func(k format.WrappedKey) bool { return k.KeyID == kms.KeyARN("primary") })
	out, err := awskms.NewFromConfig(kms.Config(t)).Decrypt(t.Context(), &awskms.DecryptInput{KeyId: aws.String(kms.KeyARN("primary")),
		CiphertextBlob: genuine.Keys[i].Ciphertext, EncryptionContext: ec})
	if err != nil {
		t.Fatalf("the operator cannot unwrap the data key: %v", err)
	}

	sc := stack.Scenarios()[0]
	sc.Name = "operator-forged"
	sc.Application.CreditApplicationID = "APP-2026-0777"
	sc.Application.CoApplicants = nil
	sc.WantStatus, sc.WantState, sc.WantError = "FAILED", "VerificationFailed", "sfnenc.DecryptError"
	person, err := json.Marshal(sc.Application.CreditApplicant)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := forgetest.Seal(forgetest.Token{Class: "verification", Keys: genuine.Keys, DataKey: out.Plaintext, KeyContext: kctx,
		Signed: signed, VerifyingKey: genuine.VerifyingKey, Signature: genuine.Signature}, string(person))
	if err != nil {
		t.Fatal(err)
	}
	answered := false
	st.AnswerAs(func(output string) string {
		var res map[string]any
		if json.Unmarshal([]byte(output), &res) != nil || res["reference"] != sc.Application.CreditApplicationID {
			return ""
		}
		res["outcome"], res["verifiedPerson"] = "verified", forged
		b, err := json.Marshal(res)
		if err != nil {
			t.Error(err)
			return ""
		}
		answered = true
		return string(b)
	})
	defer st.AnswerAs(nil)
	r := runScenario(t, st, sc)
	if !answered {
		t.Fatal("the operator did not answer the task")
	}
	for _, ev := range r.hist.Events {
		if d := ev.StateEntered; d != nil && d.Name == "Approved" {
			t.Fatal("the forged result was approved")
		}
	}
}
