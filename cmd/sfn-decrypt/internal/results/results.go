// Package results reads the results that a Step Functions Distributed Map
// state with a ResultWriter exports to Amazon S3, and decrypts the sfnenc
// tokens in them.
//
// The export is a manifest.json that lists the result files by the status
// of the child executions they hold (SUCCEEDED_n, FAILED_n, PENDING_n), each
// a JSON array of records, or JSON Lines with OutputType JSONL. With
// Transformation NONE a record is a child execution's description, whose
// Input and Output are JSON text in strings; with COMPACT or FLATTEN the
// records of succeeded children are their outputs themselves (FLATTEN
// splices the elements of outputs that are arrays), while failed children
// keep the NONE shape with Error and Cause. The files hold every child's
// data as it was, plaintext or tokens.
//
// ParseManifest reads a manifest; a Source opens the files it lists, from S3
// (NewS3Source) or from a local copy (DirSource); Decrypt streams one file
// through a Decryptor, one record at a time, into JSON of the file's own
// shape or into a timeline, in memory bounded by the largest record.
package results

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/awsapi"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
	"github.com/sfnenc/sfnenc/jsontape"
)

// ErrNotManifest is wrapped by the errors of ParseManifest.
var ErrNotManifest = errors.New("results: not a Distributed Map result manifest")

// ErrNotResults is wrapped by the errors of Decrypt for a file that is not a
// result file (not a JSON array or JSON Lines of JSON values, a record not
// strict JSON, cut off).
var ErrNotResults = errors.New("results: not a result file")

// ErrRead is wrapped by the errors of Decrypt for a stream that failed (a
// connection cut off) before the file's end.
var ErrRead = errors.New("results: reading")

// Statuses are the statuses of the result files, in the order they are
// read.
var Statuses = []string{"SUCCEEDED", "FAILED", "PENDING"}

// Manifest is a result export's manifest.json.
type Manifest struct {
	DestinationBucket string
	MapRunArn         string
	// Files are the result files, SUCCEEDED first, then FAILED and
	// PENDING, each status in the manifest's order.
	Files []File
}

// File is a result file the manifest lists.
type File struct {
	Status string
	Key    string
	Size   int64
}

// Name is the file's name: the last part of its key.
func (f File) Name() string { return path.Base(f.Key) }

// maxManifest bounds a manifest's size.
const maxManifest = 16 << 20

// ParseManifest reads a manifest.json: an object with "ResultFiles" that
// maps statuses to lists of {"Key", "Size"}. It is held to the strict scan
// (no member twice).
func ParseManifest(data []byte) (*Manifest, error) {
	if err := jsontape.Valid(data, jsontape.Limits{MaxSize: maxManifest, MaxDepth: 16}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotManifest, err)
	}
	var raw struct {
		DestinationBucket string
		MapRunArn         string
		ResultFiles       map[string][]struct {
			Key  string
			Size int64
		}
	}
	if err := json.Unmarshal(data, &raw); err != nil || raw.ResultFiles == nil {
		return nil, fmt.Errorf("%w: no \"ResultFiles\" object of file lists", ErrNotManifest)
	}
	m := &Manifest{DestinationBucket: raw.DestinationBucket, MapRunArn: raw.MapRunArn}
	for status := range raw.ResultFiles {
		if !contains(Statuses, status) {
			return nil, fmt.Errorf("%w: unknown status %q in \"ResultFiles\"", ErrNotManifest, status)
		}
	}
	for _, status := range Statuses {
		for _, f := range raw.ResultFiles[status] {
			if f.Key == "" || strings.HasSuffix(f.Key, "/") || f.Size < 0 {
				return nil, fmt.Errorf("%w: a %s file without a key", ErrNotManifest, status)
			}
			m.Files = append(m.Files, File{Status: status, Key: f.Key, Size: f.Size})
		}
	}
	return m, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Source opens the manifest and the files of one export.
type Source interface {
	// Manifest reads the manifest.
	Manifest(ctx context.Context) ([]byte, error)
	// Open opens the file f of the manifest.
	Open(ctx context.Context, f File) (io.ReadCloser, error)
	// String names the source in messages.
	String() string
}

// DirSource is a local copy of an export: a directory that holds
// manifest.json and the files it lists, found by file name.
type DirSource struct {
	Dir string
	// ManifestName is the manifest's file name in Dir ("manifest.json").
	ManifestName string
}

// NewDirSource returns the source for a local copy: path is the directory,
// or the path of its manifest file.
func NewDirSource(p string) (*DirSource, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return &DirSource{Dir: p, ManifestName: "manifest.json"}, nil
	}
	return &DirSource{Dir: filepath.Dir(p), ManifestName: filepath.Base(p)}, nil
}

// Manifest reads the manifest file.
func (s *DirSource) Manifest(context.Context) ([]byte, error) {
	return readLimited(filepath.Join(s.Dir, s.ManifestName))
}

func readLimited(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	if err == nil && len(b) > maxManifest {
		err = fmt.Errorf("%w: %s is over %d bytes", ErrNotManifest, name, maxManifest)
	}
	return b, err
}

// Open opens the file of Dir named as f's key ends: a key cannot name a
// file outside Dir.
func (s *DirSource) Open(_ context.Context, f File) (io.ReadCloser, error) {
	name := f.Name()
	if name == "." || name == ".." || name == "/" || strings.ContainsAny(name, `/\`) {
		return nil, fmt.Errorf("results: %s file key %q names no file", f.Status, f.Key)
	}
	return os.Open(filepath.Join(s.Dir, name))
}

func (s *DirSource) String() string { return filepath.Join(s.Dir, s.ManifestName) }

// S3Source is an export in Amazon S3, read with GetObject.
type S3Source struct {
	c           *s3.Client
	bucket, key string
}

// s3API is the S3 API, with the kinds of its own error codes.
var s3API = awsapi.Service{Pkg: "results", Codes: awsapi.Codes{
	awsapi.ErrNotFound: {"NoSuchKey", "NoSuchBucket", "NotFound"},
	awsapi.ErrRejected: {"InvalidBucketName", "InvalidArgument"},
}}

// ParseS3URL reads an s3://BUCKET/KEY URL.
func ParseS3URL(u string) (bucket, key string, ok bool) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return "", "", false
	}
	bucket, key, ok = strings.Cut(rest, "/")
	if !ok || bucket == "" || key == "" || strings.HasSuffix(key, "/") {
		return "", "", false
	}
	return bucket, key, true
}

// NewS3Source returns the source of the export whose manifest is the object
// key of bucket, read through an S3 client made from cfg (credentials,
// region, AWS_ENDPOINT_URL_S3) as awsapi.Config makes it, without reading
// bodies whole, as result files are read as they stream. With an endpoint
// of its own (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL: a local S3 API, say)
// buckets are addressed by path, which such servers expect.
func NewS3Source(cfg aws.Config, bucket, key string, customEndpoint bool) *S3Source {
	c := s3.NewFromConfig(awsapi.Config(cfg, false), func(o *s3.Options) {
		if customEndpoint {
			o.UsePathStyle = true
		}
	})
	return &S3Source{c: c, bucket: bucket, key: key}
}

// Manifest reads the manifest object.
func (s *S3Source) Manifest(ctx context.Context) ([]byte, error) {
	rc, err := s.get(ctx, s.key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxManifest+1))
	if err != nil {
		return nil, s3API.NewError("GetObject", s.url(s.key), 0, err)
	}
	if len(b) > maxManifest {
		return nil, fmt.Errorf("%w: over %d bytes", ErrNotManifest, maxManifest)
	}
	return b, nil
}

// Open opens the object of f's key in the manifest's bucket.
func (s *S3Source) Open(ctx context.Context, f File) (io.ReadCloser, error) {
	return s.get(ctx, f.Key)
}

func (s *S3Source) get(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, s3API.NewError("GetObject", s.url(key), 0, err)
	}
	return out.Body, nil
}

func (s *S3Source) url(key string) string { return "s3://" + s.bucket + "/" + key }

func (s *S3Source) String() string { return s.url(s.key) }

// Bucket returns the bucket the source reads from.
func (s *S3Source) Bucket() string { return s.bucket }

// Output is where Decrypt writes: JSON of the file's own shape to W, or, if
// Text is set, an entry per record to Text (a *timeline.Timeline).
type Output struct {
	W    *bufio.Writer
	Text Renderer
}

// Renderer writes events as text: *timeline.Timeline.
type Renderer interface {
	Heading(title string) error
	Write(e *execdata.Event) error
}

// Decrypter decrypts the tokens of one record, scanned already:
// *eventdata.Decryptor. Failures name the tokens by pointer in the record.
type Decrypter interface {
	Record(ctx context.Context, doc *jsontape.Document) ([]byte, []execdata.Failure, error)
}

// Decrypt reads the result file f from r, one record at a time, decrypts
// the tokens in each record with d, and writes it to out: as JSON, the
// records in the file's own framing (a JSON array stays an array, JSON
// Lines stay lines), each record byte for byte but for its tokens; as text,
// a heading with the file's name and one entry per record. It gives the
// tokens left in place in each record to failed, as it goes, and returns
// the number of records. Records are flushed as they are written, so
// memory is bounded by the largest record.
func Decrypt(ctx context.Context, d Decrypter, f File, r io.Reader, out Output, failed func([]execdata.Failure)) (int, error) {
	sp := jsontape.NewSplitter(r, execdata.Limits)
	n := 0
	if out.Text != nil {
		if err := out.Text.Heading(f.Key); err != nil {
			return 0, err
		}
	}
	for {
		doc, err := sp.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var de *jsontape.DocumentError
			if !errors.As(err, &de) {
				// The stream failed (a connection cut), not the file.
				return n, fmt.Errorf("%w %s after %d records: %w", ErrRead, f.Key, n, err)
			}
			return n, fmt.Errorf("%w: %s: %v", ErrNotResults, f.Key, err)
		}
		rec, fs, err := d.Record(ctx, doc)
		if err != nil {
			doc.Release()
			return n, fmt.Errorf("%w: %s[%d]: %v", ErrNotResults, f.Key, n, err)
		}
		arn := executionARN(doc)
		for i := range fs {
			fs[i].Record = fmt.Sprintf("%s[%d]", f.Name(), n)
			fs[i].ExecutionARN = arn
		}
		if len(fs) > 0 && failed != nil {
			failed(fs)
		}
		if out.Text != nil {
			err = out.Text.Write(recordEvent(rec, n, f.Status, fs))
		} else {
			err = writeJSON(out.W, sp.Framing(), n, rec)
		}
		doc.Release()
		if err != nil {
			return n, err
		}
		n++
	}
	if out.Text == nil {
		if err := endJSON(out.W, sp.Framing(), n); err != nil {
			return n, err
		}
	}
	return n, nil
}

// executionARN returns the record's "ExecutionArn", or "".
func executionARN(doc *jsontape.Document) string {
	if doc.Kind(0) != jsontape.Object {
		return ""
	}
	m := doc.Member(0, "ExecutionArn")
	if m < 0 || doc.Kind(m) != jsontape.String {
		return ""
	}
	return string(doc.AppendString(nil, m))
}

func writeJSON(w *bufio.Writer, framing jsontape.Framing, i int, rec []byte) error {
	if framing == jsontape.ArrayFraming {
		if i == 0 {
			w.WriteString("[\n")
		} else {
			w.WriteString(",\n")
		}
		w.Write(trimSpace(rec))
	} else {
		w.Write(trimSpace(rec))
		w.WriteByte('\n')
	}
	return w.Flush()
}

func endJSON(w *bufio.Writer, framing jsontape.Framing, n int) error {
	if framing == jsontape.ArrayFraming {
		if n == 0 {
			w.WriteString("[")
		}
		w.WriteString("\n]\n")
	}
	return w.Flush()
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// recordEvent is a record as the timeline shows it: its index as the id,
// the file's status as the type, and as details the record if it is an
// object (a child execution's description), else {"Output": record}.
func recordEvent(rec []byte, i int, status string, fails []execdata.Failure) *execdata.Event {
	e := &execdata.Event{ID: int64(i), Type: status, Failures: fails}
	t := trimSpace(rec)
	if len(t) > 0 && t[0] == '{' {
		e.SetDetails(t)
		var head struct{ StartDate json.RawMessage }
		if json.Unmarshal(t, &head) == nil && len(head.StartDate) > 0 {
			var s string
			if json.Unmarshal(head.StartDate, &s) == nil {
				e.TimeText = s
			} else {
				e.TimeText = string(head.StartDate)
			}
		}
	} else {
		e.SetDetails(append(append([]byte(`{"Output":`), t...), '}'))
		for i := range e.Failures {
			e.Failures[i].Field = "/Output" + e.Failures[i].Field
		}
	}
	if e.TimeText == "" {
		e.TimeText = "-"
	}
	return e
}

// ErrBucketMismatch is returned when a manifest read from one bucket names
// another as its destination: its files are read from the manifest's own
// bucket only.
var ErrBucketMismatch = errors.New("results: the manifest names another bucket")

// CheckBucket checks that the manifest read from bucket names it as its
// destination (or none).
func (m *Manifest) CheckBucket(bucket string) error {
	if m.DestinationBucket != "" && m.DestinationBucket != bucket {
		return fmt.Errorf("%w: read from %s, it names %s as its destination; copy the files next to it, or give the manifest in %s", ErrBucketMismatch, strconv.Quote(bucket), strconv.Quote(m.DestinationBucket), m.DestinationBucket)
	}
	return nil
}
