package identityverification_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
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
	// Bound to the new application, as a genuine result for it would be:
	// only the signature is wrong.
	forged, err := forgetest.Seal(forgetest.Token{Class: "verification", Keys: genuine.Keys, DataKey: out.Plaintext, KeyContext: kctx,
		Signed: signed, VerifyingKey: genuine.VerifyingKey, Signature: genuine.Signature, Binding: sc.Application.CreditApplicationID}, string(person))
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

// checkReplayedResult plays an operator whose role may answer the
// identification callback (SendTaskSuccess) and who holds a genuine
// verification result from the history of application A (victim): its
// verifiedPerson token is signed by a legitimate writer, so it is no
// forgery. They answer the task of a new application B with it, as it
// stands (naming A) and with B's id written over A's. The class
// verification is bound to the credit application id, and ContinueValidation
// reads B's id from B's own input, so the token does not open there
// (sfnenc.DecryptError) before the handler runs, and the workflow takes
// its failure path to VerificationFailed.
func checkReplayedResult(t *testing.T, st *stack.Stack, victim *run) {
	var genuine string
	state := ""
	for _, ev := range victim.hist.Events {
		switch {
		case ev.StateEntered != nil:
			state = ev.StateEntered.Name
		case ev.TaskSucceeded != nil && state == "WaitIdentification" && genuine == "":
			genuine = ev.TaskSucceeded.Output
		}
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(genuine), &res); err != nil {
		t.Fatalf("the victim's WaitIdentification result: %v", err)
	}
	if info, err := codec.ParseToken(fmt.Sprint(res["verifiedPerson"])); err != nil || info.Class != "verification" || res["outcome"] != "verified" ||
		res["creditApplicationId"] != victim.scenario.Application.CreditApplicationID {
		t.Fatalf("the victim's WaitIdentification result is no verified result of %s bound to it: %.200s", victim.scenario.Application.CreditApplicationID, genuine)
	}
	for i, rewrite := range []bool{false, true} {
		sc := stack.Scenarios()[0]
		sc.Name = fmt.Sprintf("replayed-%d", i)
		sc.Application.CreditApplicationID = fmt.Sprintf("APP-2026-078%d", i)
		sc.Application.CoApplicants = nil
		sc.WantStatus, sc.WantState, sc.WantError = "FAILED", "VerificationFailed", "sfnenc.DecryptError"
		answer := genuine
		if rewrite {
			res["creditApplicationId"] = sc.Application.CreditApplicationID
			b, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			answer = string(b)
		}
		answered := false
		st.AnswerAs(func(output string) string {
			var mine map[string]any
			if json.Unmarshal([]byte(output), &mine) != nil || mine["creditApplicationId"] != sc.Application.CreditApplicationID {
				return ""
			}
			answered = true
			return answer
		})
		r := runScenario(t, st, sc)
		st.AnswerAs(nil)
		if !answered {
			t.Fatalf("%s: the operator did not answer the task", sc.Name)
		}
		for _, ev := range r.hist.Events {
			if d := ev.StateEntered; d != nil && d.Name == "Approved" {
				t.Fatalf("%s: the replayed result was approved", sc.Name)
			}
		}
		// The replayed token sits in B's history as it was: no reader
		// opened it there.
		if !strings.Contains(string(r.exe.History), fmt.Sprint(res["verifiedPerson"])) {
			t.Errorf("%s: the replayed token is not in the history", sc.Name)
		}
	}
}
