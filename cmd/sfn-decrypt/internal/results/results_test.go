package results

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/eventdata"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/testcodec"
)

func TestParseManifest(t *testing.T) {
	m, err := ParseManifest([]byte(`{"DestinationBucket":"b","MapRunArn":"arn:aws:states:eu-west-2:1:mapRun:o/Map:x",
		"ResultFiles":{"PENDING":[{"Key":"p/PENDING_0.json","Size":3}],"FAILED":[{"Key":"p/FAILED_0.json","Size":2}],
		"SUCCEEDED":[{"Key":"p/SUCCEEDED_0.json","Size":1},{"Key":"p/SUCCEEDED_1.json","Size":1}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []File{
		{"SUCCEEDED", "p/SUCCEEDED_0.json", 1}, {"SUCCEEDED", "p/SUCCEEDED_1.json", 1},
		{"FAILED", "p/FAILED_0.json", 2}, {"PENDING", "p/PENDING_0.json", 3},
	}
	if diff := cmp.Diff(want, m.Files); diff != "" {
		t.Errorf("files in reading order mismatch (-want +got):\n%s", diff)
	}
	if m.DestinationBucket != "b" || m.CheckBucket("b") != nil || !errors.Is(m.CheckBucket("c"), ErrBucketMismatch) {
		t.Errorf("bucket check: %+v", m)
	}
	for _, bad := range []string{
		`[]`,
		`{"DestinationBucket":"b"}`,
		`{"ResultFiles":{"SUCCEEDED":[{"Key":"","Size":1}]}}`,
		`{"ResultFiles":{"SUCCEEDED":[{"Key":"p/","Size":1}]}}`,
		`{"ResultFiles":{"DONE":[{"Key":"p/x","Size":1}]}}`,
		`{"ResultFiles":{"SUCCEEDED":[]},"ResultFiles":{"SUCCEEDED":[{"Key":"x","Size":1}]}}`,
		"{\"ResultFiles\":{\"SUCCEEDED\":[{\"Key\":\"\xff\",\"Size\":1}]}}",
	} {
		if _, err := ParseManifest([]byte(bad)); !errors.Is(err, ErrNotManifest) {
			t.Errorf("ParseManifest(%q) = %v, want ErrNotManifest", bad, err)
		}
	}
}

func TestParseS3URL(t *testing.T) {
	for _, tt := range []struct {
		url, bucket, key string
		ok               bool
	}{
		{"s3://b/p/manifest.json", "b", "p/manifest.json", true},
		{"s3://b/manifest.json", "b", "manifest.json", true},
		{"s3://b", "", "", false},
		{"s3://b/", "", "", false},
		{"s3:///k", "", "", false},
		{"s3://b/p/", "", "", false},
		{"https://b.s3.amazonaws.com/k", "", "", false},
	} {
		b, k, ok := ParseS3URL(tt.url)
		if b != tt.bucket || k != tt.key || ok != tt.ok {
			t.Errorf("ParseS3URL(%q) = %q, %q, %v", tt.url, b, k, ok)
		}
	}
}

// cutReader gives data, then fails as a connection cut off does.
type cutReader struct{ data []byte }

func (c *cutReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, c.data)
	c.data = c.data[n:]
	return n, nil
}

// TestDecryptStreamCut checks that a stream cut off (here by a fault
// injected in the reader, as a network would) is reported as a read
// failure with the records written so far, not as a bad file.
func TestDecryptStreamCut(t *testing.T) {
	var out bytes.Buffer
	o := Output{W: bufio.NewWriter(&out)}
	d := eventdata.NewDecryptor(testcodec.New(t))
	n, err := Decrypt(context.Background(), d, File{Status: "SUCCEEDED", Key: "k/SUCCEEDED_0.json"}, &cutReader{[]byte(`[{"a":1},{"b":`)}, o, nil)
	if !errors.Is(err, ErrRead) || errors.Is(err, ErrNotResults) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Decrypt = %v, want a read error", err)
	}
	if n != 1 || !strings.Contains(err.Error(), "after 1 records") {
		t.Errorf("n = %d, err %v", n, err)
	}
	n, err = Decrypt(context.Background(), d, File{Status: "SUCCEEDED", Key: "k/SUCCEEDED_0.json"}, strings.NewReader(`[{"a":1},{"b":`), o, nil)
	if !errors.Is(err, ErrNotResults) || n != 1 {
		t.Errorf("a file cut off: %d, %v; want ErrNotResults", n, err)
	}
}
