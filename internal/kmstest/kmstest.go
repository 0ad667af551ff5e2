package kmstest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/sfnenc/sfnenc/internal/launch"
	"github.com/sfnenc/sfnenc/internal/testbin"
)

const (
	region    = "eu-west-2"
	accountID = "111122223333"

	// Dummy credentials: local-kms does not check signatures, but the SDK
	// needs credentials to sign with.
	accessKeyID     = "AKIDKMSTEST"
	secretAccessKey = "kmstest-dummy-secret"

	// logLines is how many lines of local-kms output are kept for the log of
	// a failed test.
	logLines = 200
)

// seedKey is a symmetric key seeded into every server. The key material is
// fixed so that ciphertexts are reproducible across runs; it protects
// nothing but test data.
type seedKey struct {
	name, id, material string
}

var seedKeys = []seedKey{
	{"primary", "347f55c5-5c7a-4ae6-902c-4b58b88623e4", "6799c583aaa98723376af8c00f5e61c95ea3ad193447c3c3abb62a15cee42f0d"},
	{"breakglass", "748b3751-3a46-407f-9543-4a38819cbcfd", "850f4701ac06fcba190ffe7763bf9fc314332de4acc51318ac42abd0917b9322"},
	{"other", "39444886-16d9-4554-a80e-ce3038df4ada", "e1e8057f6ca923a8054f1c29dd435439e5f6203cf83aa5bff3090bbb93c26304"},
}

// seedYAML returns the local-kms seed file for seedKeys.
func seedYAML() string {
	var b strings.Builder
	b.WriteString("Keys:\n  Symmetric:\n    Aes:\n")
	for _, k := range seedKeys {
		fmt.Fprintf(&b, "      - Metadata:\n          KeyId: %s\n          Description: sfnenc test key %s\n        BackingKeys:\n          - %s\n", k.id, k.name, k.material)
	}
	b.WriteString("Aliases:\n")
	for _, k := range seedKeys {
		fmt.Fprintf(&b, "  - AliasName: alias/sfnenc-%s\n    TargetKeyId: %s\n", k.name, k.id)
	}
	return b.String()
}

// Server is a local-kms process behind a counting, fault-injecting proxy.
// Its methods are safe for concurrent use.
type Server struct {
	proxy   *httptest.Server
	backend *url.URL // local-kms itself, for measurements in tests
	forward *httputil.ReverseProxy
	proc    *launch.Process
	closing chan struct{} // closed when the test ends, to end injected delays
	log     *lineLog

	stopOnce sync.Once

	mu        sync.Mutex
	counts    map[string]int
	faults    []*activeFault
	recording bool
	recorded  []Request
}

// Request is a KMS request as the proxy received it, for tests of what a
// client asks of KMS (which key, under which encryption context).
type Request struct {
	Op                string            // the X-Amz-Target action, such as "Decrypt"
	KeyID             string            // KeyId as sent ("" when absent)
	EncryptionContext map[string]string // as sent
}

var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// Start runs a fresh local-kms process, seeded with the fixed keys, and a
// proxy in front of it. Both stop when the test ends. Start fails the test
// if the server does not come up, and skips it (fails it with CI=true) if
// the local-kms binary is unavailable.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := testbin.Path(tb, "local-kms")
	dir := tb.TempDir()
	seedPath := filepath.Join(dir, "seed.yaml")
	dataPath := filepath.Join(dir, "data")
	if err := os.WriteFile(seedPath, []byte(seedYAML()), 0o600); err != nil {
		tb.Fatalf("kmstest: %v", err)
	}
	if err := os.Mkdir(dataPath, 0o700); err != nil {
		tb.Fatalf("kmstest: %v", err)
	}

	s := &Server{
		closing: make(chan struct{}),
		log:     &lineLog{},
		counts:  make(map[string]int),
	}
	proc, endpoint, err := launch.StartLocalKMS(context.Background(), bin, launch.LocalKMS{
		Region: region, Account: accountID, DataPath: dataPath, SeedPath: seedPath, Dir: dir,
	}, nil, s.log.add)
	if err != nil {
		tb.Fatalf("kmstest: %v\n%s", err, s.log)
	}
	s.proc = proc
	tb.Cleanup(func() {
		s.close()
		if tb.Failed() {
			tb.Logf("kmstest: local-kms output:\n%s", s.log)
		}
	})
	backend, err := url.Parse(endpoint)
	if err != nil {
		tb.Fatalf("kmstest: %v", err)
	}

	s.forward = &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { pr.SetURL(backend) },
		Transport:      &http.Transport{MaxIdleConnsPerHost: 64}, // no proxy from the environment
		ModifyResponse: rewriteResponse,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// What a gateway answers when its backend is gone.
			http.Error(w, "kmstest: local-kms unreachable", http.StatusBadGateway)
		},
	}
	s.backend = backend
	s.proxy = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// close ends injected delays and stops the proxy and the process.
func (s *Server) close() {
	select {
	case <-s.closing:
		return
	default:
		close(s.closing)
	}
	if s.proxy != nil {
		s.proxy.Close()
		s.forward.Transport.(*http.Transport).CloseIdleConnections()
	}
	s.Stop()
}

// Endpoint returns the URL of the proxy, http://127.0.0.1:<port>, which
// clients use as the KMS endpoint.
func (s *Server) Endpoint() string { return s.proxy.URL }

// Region returns the AWS region of the server and its keys, "eu-west-2".
func (s *Server) Region() string { return region }

// KeyARN returns the ARN of the seeded key called name: "primary",
// "breakglass" or "other". The ARN is the same in every run. It panics for
// any other name.
func (s *Server) KeyARN(name string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", region, accountID, lookupKey(name).id)
}

// AliasARN returns the ARN of the alias alias/sfnenc-<name> of the seeded
// key called name. It panics for a name that KeyARN does not know.
func (s *Server) AliasARN(name string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:alias/sfnenc-%s", region, accountID, lookupKey(name).name)
}

func lookupKey(name string) seedKey {
	for _, k := range seedKeys {
		if k.name == name {
			return k
		}
	}
	panic(fmt.Sprintf("kmstest: no seeded key named %q", name))
}

// Env returns environment variables, in "KEY=value" form, that point the
// AWS SDKs of a subprocess at the server with dummy credentials and no
// shared configuration files or instance metadata. Append them to the
// environment the subprocess would otherwise get, so that they win:
//
//	cmd.Env = append(os.Environ(), srv.Env()...)
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL_KMS=" + s.Endpoint(),
		"AWS_REGION=" + region,
		"AWS_DEFAULT_REGION=" + region,
		"AWS_ACCESS_KEY_ID=" + accessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + secretAccessKey,
		"AWS_SESSION_TOKEN=",
		"AWS_PROFILE=",
		"AWS_DEFAULT_PROFILE=",
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Config returns an aws-sdk-go-v2 configuration for KMS clients of the
// server, loaded by config.LoadDefaultConfig with the server's region, dummy
// static credentials, no shared configuration files, and the proxy as base
// endpoint. The base endpoint applies to every service client made from the
// configuration, so use it for KMS clients only. optFns are applied after
// those settings. Config fails the test if loading fails.
func (s *Server) Config(tb testing.TB, optFns ...func(*config.LoadOptions) error) aws.Config {
	tb.Helper()
	// The developer's shared configuration files stay out. A profile named
	// by AWS_PROFILE must exist, though, or loading fails: give it an empty
	// section of its own.
	configFiles := []string{}
	if p := os.Getenv("AWS_PROFILE"); p != "" {
		section := "[profile " + p + "]\n"
		if p == "default" {
			section = "[default]\n"
		}
		f := filepath.Join(tb.TempDir(), "aws-config")
		if err := os.WriteFile(f, []byte(section), 0o600); err != nil {
			tb.Fatalf("kmstest: %v", err)
		}
		configFiles = []string{f}
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, "")),
		config.WithBaseEndpoint(s.Endpoint()),
		config.WithSharedConfigFiles(configFiles),
		config.WithSharedCredentialsFiles([]string{}),
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), append(opts, optFns...)...)
	if err != nil {
		tb.Fatalf("kmstest: loading AWS config: %v", err)
	}
	return cfg
}

// Requests returns the number of requests the proxy has received for the
// KMS operation op ("GenerateDataKey", "Decrypt", "Encrypt", ...), or for
// all operations if op is "". Requests answered by an injected fault and
// requests made after Stop count too.
func (s *Server) Requests(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if op != "" {
		return s.counts[op]
	}
	n := 0
	for _, c := range s.counts {
		n += c
	}
	return n
}

// ResetCounts sets every request count to zero.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.counts)
}

// Record makes the proxy keep every request it receives from now on, with
// its KeyId and EncryptionContext, for Recorded.
func (s *Server) Record() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recording = true
}

// Recorded returns the requests received since Record, in order.
func (s *Server) Recorded() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.recorded)
}

// readRequest reads the key and encryption context of a KMS request and
// puts its body back for forwarding.
func readRequest(op string, r *http.Request) Request {
	req := Request{Op: op}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return req
	}
	var in struct {
		KeyId             string
		EncryptionContext map[string]string
	}
	if json.Unmarshal(body, &in) == nil {
		req.KeyID, req.EncryptionContext = in.KeyId, in.EncryptionContext
	}
	return req
}

// Stop kills the local-kms process and waits for it to exit, to simulate
// an outage: the proxy stays up and answers every later request with HTTP
// 502. Stop may be called more than once.
func (s *Server) Stop() {
	s.stopOnce.Do(s.proc.Kill)
}

// serveHTTP counts a request and forwards it, or answers it with a fault.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	op := r.Header.Get("X-Amz-Target")
	if i := strings.LastIndexByte(op, '.'); i >= 0 {
		op = op[i+1:]
	}
	s.mu.Lock()
	recording := s.recording
	s.mu.Unlock()
	var req Request
	if recording {
		req = readRequest(op, r)
	}
	s.mu.Lock()
	s.counts[op]++
	if recording {
		s.recorded = append(s.recorded, req)
	}
	f, ok := s.takeFault(op)
	s.mu.Unlock()
	if !ok {
		s.forward.ServeHTTP(w, r)
		return
	}
	s.applyFault(w, r, f)
}

// lineLog keeps the last lines of the local-kms output, without colour
// codes.
type lineLog struct {
	mu    sync.Mutex
	lines []string
}

// add keeps one line of the output, without colour codes.
func (l *lineLog) add(line string) {
	line = ansiEscape.ReplaceAllString(line, "")
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.TrimRight(line, " "))
	if len(l.lines) > logLines {
		l.lines = l.lines[len(l.lines)-logLines:]
	}
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
