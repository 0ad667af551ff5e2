package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
	"github.com/sfnenc/sfnenc/codec"
)

// The result files of a Distributed Map with a ResultWriter, built as the
// Step Functions documentation describes them (ResultWriter, "Exporting to
// Amazon S3"): manifest.json lists SUCCEEDED_n, FAILED_n and PENDING_n files
// by status, each a JSON array (or JSON Lines with OutputType JSONL) of
// records. With Transformation NONE a record describes a child execution,
// its Input and Output JSON text in strings; with COMPACT the records of
// succeeded children are their outputs, and FLATTEN splices the elements of
// outputs that are arrays; failed children keep the NONE shape with Error
// and Cause.

const (
	resultsBucket = "orders-results"
	mapRunID      = "ad9b5f27-090b-3ac6-9beb-243cd77144a7"
	resultsReason = "TEST-26 results"
)

// child is a child execution of the Map Run, in plaintext.
type child struct {
	name, status string
	input        string // JSON text
	output       string // JSON text, for SUCCEEDED
	errName      string // for FAILED
	cause        string // JSON text, for FAILED
}

var children = []child{
	{name: "c-1", status: "SUCCEEDED", input: `{"orderId":"o-1","customer":{"ssn":"078-05-1120","email":"ada@example.com"}}`,
		output: `{"orderId":"o-1","card":{"number":"4111 1111 1111 1111"},"ok":true}`},
	{name: "c-2", status: "SUCCEEDED", input: `{"orderId":"o-2","customer":{"passport":"P1234567"}}`,
		output: `[{"line":1,"email":"grace@example.com"},{"line":2,"phone":"+44 20 7946 0000"}]`},
	{name: "c-3", status: "SUCCEEDED", input: `{"orderId":"o-3"}`, output: `"done \u00e9"`},
	{name: "c-4", status: "FAILED", input: `{"orderId":"o-4","customer":{"ssn":"078-05-1120"}}`,
		errName: "PaymentDeclined", cause: `{"errorMessage":"card 4111 1111 1111 1111 declined","errorType":"PaymentDeclined"}`},
}

// resultRecord is the NONE record of a child: input, output and cause are
// the JSON text given (plaintext or encrypted).
func resultRecord(c child, input, output, cause string) []byte {
	arn := "arn:aws:states:eu-west-2:111122223333:execution:orders-child/" + mapRunID + ":" + c.name
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"ExecutionArn":%q,"Input":%s,"InputDetails":{"Included":true},"Name":%q,`, arn, quoteJSON(input), c.name)
	if c.status == "SUCCEEDED" {
		fmt.Fprintf(&b, `"Output":%s,"OutputDetails":{"Included":true},`, quoteJSON(output))
	} else {
		fmt.Fprintf(&b, `"Error":%q,"Cause":%s,`, c.errName, quoteJSON(cause))
	}
	fmt.Fprintf(&b, `"RedriveCount":0,"RedriveStatus":"NOT_REDRIVABLE","StartDate":"2024-05-03T09:15:00.120Z","StateMachineArn":"arn:aws:states:eu-west-2:111122223333:stateMachine:orders/Map:%s","Status":%q,"StopDate":"2024-05-03T09:15:01.220Z"}`, mapRunID, c.status)
	return b.Bytes()
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// resultFiles returns the files of an export, by name, with each child's
// data made by data (plaintext, or encrypted).
func resultFiles(transformation, outputType string, data func(string) string) map[string][][]byte {
	files := map[string][][]byte{}
	for _, c := range children {
		name := c.status + "_0.json"
		if outputType == "JSONL" {
			name += "l"
		}
		switch {
		case c.status == "FAILED" || transformation == "NONE":
			files[name] = append(files[name], resultRecord(c, data(c.input), data(c.output), data(c.cause)))
		case transformation == "FLATTEN" && strings.HasPrefix(c.output, "["):
			var elems []json.RawMessage
			json.Unmarshal([]byte(data(c.output)), &elems)
			for _, e := range elems {
				files[name] = append(files[name], e)
			}
		default:
			files[name] = append(files[name], []byte(data(c.output)))
		}
	}
	return files
}

// frame writes records as a result file of outputType, as the command
// writes it back.
func frame(outputType string, recs [][]byte) []byte {
	var b bytes.Buffer
	if outputType == "JSONL" {
		for _, r := range recs {
			b.Write(r)
			b.WriteByte('\n')
		}
		return b.Bytes()
	}
	b.WriteString("[\n")
	for i, r := range recs {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.Write(r)
	}
	b.WriteString("\n]\n")
	return b.Bytes()
}

// manifest is the manifest.json of an export with the given files (in the
// order SUCCEEDED, FAILED), under prefix.
func manifest(bucket, prefix string, files map[string][]byte, names []string) []byte {
	type file struct {
		Key  string
		Size int
	}
	rf := map[string][]file{"SUCCEEDED": {}, "FAILED": {}, "PENDING": {}}
	for _, n := range names {
		status, _, _ := strings.Cut(n, "_")
		rf[status] = append(rf[status], file{prefix + n, len(files[n])})
	}
	b, _ := json.MarshalIndent(map[string]any{
		"DestinationBucket": bucket,
		"MapRunArn":         "arn:aws:states:eu-west-2:111122223333:mapRun:orders/Map:" + mapRunID,
		"ResultFiles":       rf,
	}, "", "  ")
	return b
}

// resultsWriter is a codec that encrypts as the state machine's functions
// do, with the history fixtures' configuration.
func resultsWriter(t *testing.T) func(string) string {
	t.Helper()
	cfg, err := codec.LoadConfig(fixture("config.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := codec.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return func(s string) string {
		if s == "" {
			return ""
		}
		// The cause's errorMessage is selected too ($.errorMessage).
		out, err := c.Encrypt(context.Background(), []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
}

// startS3 serves an in-process S3 API and returns an SDK client for it.
func startS3(t *testing.T) (url string, client *s3.Client) {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("eu-west-2"),
		config.WithCredentialsProvider(aws.AnonymousCredentials{}))
	if err != nil {
		t.Fatal(err)
	}
	client = s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.UsePathStyle = true
	})
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(resultsBucket)}); err != nil {
		t.Fatal(err)
	}
	return srv.URL, client
}

func putObject(t *testing.T, c *s3.Client, bucket, key string, body []byte) {
	t.Helper()
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
}

// TestResultsS3 reads exports of every transformation and output type from
// a local S3 API through the real SDK client, and checks that each file
// comes back in its own shape with every token decrypted, byte for byte the
// plaintext.
func TestResultsS3(t *testing.T) {
	enc := resultsWriter(t)
	plain := func(s string) string { return s }
	url, client := startS3(t)
	awsTestEnv(t, "AWS_ENDPOINT_URL_S3="+url)
	for _, tr := range []string{"NONE", "COMPACT", "FLATTEN"} {
		for _, ot := range []string{"JSON", "JSONL"} {
			t.Run(tr+"/"+ot, func(t *testing.T) {
				prefix := "csvProcessJobs/" + tr + "-" + ot + "/" + mapRunID + "/"
				encFiles, wantFiles := resultFiles(tr, ot, enc), resultFiles(tr, ot, plain)
				names := []string{"SUCCEEDED_0.json", "FAILED_0.json"}
				if ot == "JSONL" {
					names = []string{"SUCCEEDED_0.jsonl", "FAILED_0.jsonl"}
				}
				stored := map[string][]byte{}
				var want []byte
				for _, n := range names {
					stored[n] = frame(ot, encFiles[n])
					if ot == "JSON" {
						// As the service writes it: one line.
						stored[n] = bytes.ReplaceAll(stored[n], []byte(",\n"), []byte(","))
					}
					putObject(t, client, resultsBucket, prefix+n, stored[n])
					want = append(want, frame(ot, wantFiles[n])...)
				}
				putObject(t, client, resultsBucket, prefix+"manifest.json", manifest(resultsBucket, prefix, stored, names))
				for _, n := range names {
					assertNoCanary(t, "the stored "+n, string(stored[n])) // the test encrypts
				}

				out, stderr, code := runCmd(t, "", "results", "--config", fixture("config.json"), "--reason", resultsReason,
					"--manifest", "s3://"+resultsBucket+"/"+prefix+"manifest.json")
				if code != exitOK {
					t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
				}
				if diff := cmp.Diff(string(want), out); diff != "" {
					t.Errorf("output mismatch (-want +got):\n%s", diff)
				}
				if !strings.Contains(stderr, `reason "TEST-26 results" (sent as AWS SDK application id "TEST-26-results")`) {
					t.Errorf("stderr does not echo the reason:\n%s", stderr)
				}
				assertNoCanary(t, "stderr", stderr)
			})
		}
	}
}

// TestResultsDenied plays an operator without the right to some tokens, and
// the writer of a tampered file: the tokens stay, the rest is decrypted,
// the exit code says so, and no diagnostic holds a value.
func TestResultsDenied(t *testing.T) {
	enc := resultsWriter(t)
	dir := t.TempDir()
	recs := resultFiles("NONE", "JSONL", enc)
	succeeded := frame("JSONL", recs["SUCCEEDED_0.jsonl"])
	// Another encryption context: the same class, not this reader's.
	otherCfg := filepath.Join(dir, "other.json")
	cfgText := strings.Replace(string(readFile(t, fixture("config.json"))), `"app": "orders"`, `"app": "billing"`, 1)
	cfgText = strings.ReplaceAll(cfgText, "../keys/", filepath.Join(mustAbs(t, historyDir), "../keys")+"/")
	if err := os.WriteFile(otherCfg, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	oc, err := codec.LoadConfig(otherCfg)
	if err != nil {
		t.Fatal(err)
	}
	other, err := codec.New(context.Background(), oc)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Encrypt(context.Background(), []byte(`{"ssn":"078-05-1120"}`))
	if err != nil {
		t.Fatal(err)
	}
	failed := frame("JSONL", [][]byte{resultRecord(children[3], string(foreign), "", "{}")})
	files := map[string][]byte{"SUCCEEDED_0.jsonl": succeeded, "FAILED_0.jsonl": failed}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), manifest(resultsBucket, "jobs/"+mapRunID+"/", files, []string{"SUCCEEDED_0.jsonl", "FAILED_0.jsonl"}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, output := range []string{"json", "text"} {
		out, stderr, code := runCmd(t, "", "results", "--config", fixture("config.json"), "--reason", resultsReason, "--output", output, dir)
		if code != exitTokens {
			t.Fatalf("%s: exit code %d, want %d; stderr:\n%s", output, code, exitTokens, stderr)
		}
		want := "not decrypted: FAILED_0.jsonl[0] arn:aws:states:eu-west-2:111122223333:execution:orders-child/" + mapRunID + ":c-4 /Input at /ssn, class identity: wrong key or encryption context"
		if !strings.Contains(stderr, want) {
			t.Errorf("%s: stderr does not say %q:\n%s", output, want, stderr)
		}
		assertNoCanary(t, "stderr", stderr)
		if !strings.Contains(out, "ada@example.com") {
			t.Errorf("%s: the readable records were not decrypted:\n%s", output, out)
		}
		if output == "text" && !strings.Contains(out, "# NOT DECRYPTED") {
			t.Errorf("text output does not mark the token left in place:\n%s", out)
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestResultsRefuses plays the writer of a manifest or result file that
// tries to make the reader read elsewhere or pass bad data.
func TestResultsRefuses(t *testing.T) {
	url, client := startS3(t)
	awsTestEnv(t, "AWS_ENDPOINT_URL_S3="+url)
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("elsewhere")}); err != nil {
		t.Fatal(err)
	}
	rec := frame("JSON", [][]byte{[]byte(`{"a":1}`)})
	putObject(t, client, resultsBucket, "p/SUCCEEDED_0.json", rec)
	putObject(t, client, resultsBucket, "p/dup.json", []byte(`[{"ssn":"x","ssn":"078-05-1120"}]`))
	putObject(t, client, resultsBucket, "other/manifest.json", manifest("elsewhere", "p/", map[string][]byte{"SUCCEEDED_0.json": rec}, []string{"SUCCEEDED_0.json"}))
	putObject(t, client, resultsBucket, "dup/manifest.json", []byte(`{"ResultFiles":{"SUCCEEDED":[{"Key":"p/dup.json","Size":1}]}}`))
	putObject(t, client, resultsBucket, "twice/manifest.json", []byte(`{"ResultFiles":{"SUCCEEDED":[]},"ResultFiles":{"SUCCEEDED":[{"Key":"x","Size":1}]}}`))
	putObject(t, client, resultsBucket, "missing/manifest.json", []byte(`{"ResultFiles":{"SUCCEEDED":[{"Key":"p/nope.json","Size":1}]}}`))
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"ResultFiles":{"SUCCEEDED":[{"Key":"../../etc/passwd","Size":1}],"FAILED":[{"Key":"p/..","Size":1}]}}`), 0o600)
	tests := []struct {
		name   string
		where  string
		code   int
		stderr string
	}{
		{"another bucket", "s3://" + resultsBucket + "/other/manifest.json", exitUsage, "the manifest names another bucket"},
		{"a record not strict JSON", "s3://" + resultsBucket + "/dup/manifest.json", exitFail, "duplicate object member name"},
		{"a manifest with a member twice", "s3://" + resultsBucket + "/twice/manifest.json", exitFail, "not a Distributed Map result manifest"},
		{"no such object", "s3://" + resultsBucket + "/missing/manifest.json", exitAPI, "results: GetObject s3://" + resultsBucket + "/p/nope.json: does not exist"},
		{"no such manifest", "s3://" + resultsBucket + "/nope/manifest.json", exitAPI, "does not exist"},
		{"not an S3 URL", "s3://" + resultsBucket, exitUsage, "is not s3://BUCKET/KEY"},
		{"keys that climb out of the directory", dir, exitFail, "passwd: no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runCmd(t, "", "results", "--config", fixture("config.json"), "--reason", resultsReason, "--manifest", tt.where)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr does not say %q:\n%s", tt.stderr, stderr)
			}
			assertNoCanary(t, "stderr", stderr)
		})
	}
}

// TestTally checks that failures are kept by cause, not one by one, so that
// a stream of any length with every token denied is reported in bounded
// memory: one line per cause, with the count and the first.
func TestTally(t *testing.T) {
	var tl tally
	denied := errors.New("denied")
	for i := range 100000 {
		tl.add(execdata.Failure{Record: fmt.Sprintf("SUCCEEDED_0.json[%d]", i), Field: "/Input", Class: "identity", Err: denied})
	}
	for i := range 2 * maxCauses {
		tl.add(execdata.Failure{Field: "/Output", Class: fmt.Sprintf("c%d", i), Err: denied})
	}
	if len(tl.causes) != maxCauses || len(tl.by) != maxCauses {
		t.Fatalf("%d causes kept, want %d", len(tl.causes), maxCauses)
	}
	total := 0
	for _, cc := range tl.by {
		total += cc.n
	}
	if total != 100000+2*maxCauses {
		t.Errorf("%d failures counted, want %d", total, 100000+2*maxCauses)
	}
	var stderr bytes.Buffer
	code := tl.report(&env{stderr: &stderr}, "")
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if code != exitTokens || len(lines) != maxCauses {
		t.Fatalf("exit %d, %d lines:\n%s", code, len(lines), stderr.String())
	}
	if want := "sfn-decrypt: not decrypted: 100000 tokens, class identity: cannot decrypt (denied); the first at SUCCEEDED_0.json[0] /Input"; lines[0] != want {
		t.Errorf("first line %q, want %q", lines[0], want)
	}
}
