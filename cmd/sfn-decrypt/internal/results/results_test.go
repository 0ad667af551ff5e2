package results

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
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
