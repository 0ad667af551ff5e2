// Package stack starts the whole identity-verification example on loopback,
// for its end-to-end test and its demo alike, so that the two cannot drift:
// the third-party services (identity provider, SMS gateway, mail service),
// the backend services (intake and webhook), each Lambda function of
// template.yaml under the Lambda Runtime Interface Emulator with the
// environment the template gives it, and the local Step Functions endpoint
// with the state machine of the template. KMS is a local-kms the caller
// runs.
package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/examples/identity-verification/backend"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/localsfn"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/model"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/samtemplate"
	"github.com/sfnenc/sfnenc/examples/identity-verification/internal/thirdparty"
	"github.com/sfnenc/sfnenc/internal/noderic"
	"github.com/sfnenc/sfnenc/sfnclient"
)

// Fixed names of the local deployment.
const (
	Region  = "eu-west-2"
	Account = "111122223333"
	Stage   = "dev"
	// StateMachineName names the state machine, as the template does for
	// the stage.
	StateMachineName = "identity-verification-" + Stage
)

// Files of the example, relative to its directory.
const (
	TemplateFile = "template.yaml"
	ConfigFile   = "config/sfnenc.json"
	HarnessDir   = "harness"
	KMSSeedFile  = "config/local-kms-seed.yaml"
)

// FunctionARN returns the ARN of a function of the local deployment, named
// by its logical id in the template.
func FunctionARN(logicalID string) string {
	return "arn:aws:lambda:" + Region + ":" + Account + ":function:" + logicalID
}

// ProxyBinary is the key of sfnenc-proxy in the map BuildFunctions
// returns, when a function of the template runs behind it.
const ProxyBinary = "sfnenc-proxy"

// proxyPackage is cmd/sfnenc-proxy, relative to the example's directory.
const proxyPackage = "../../cmd/sfnenc-proxy"

// noderic is the directory of the Node.js runtime interface client
// (internal/noderic), relative to the example's directory.
const nodericDir = "../../internal/noderic"

// BuildFunctions builds the Go Lambda functions of the template (each
// CodeUri holds a main package) into outDir, and returns each binary's path
// by the function's logical id. If a function has another runtime (its
// CodeUri holds a Node.js handler), it also builds sfnenc-proxy, under the
// key ProxyBinary.
func BuildFunctions(ctx context.Context, exampleDir, outDir string) (map[string]string, error) {
	tmpl, err := samtemplate.Load(filepath.Join(exampleDir, TemplateFile))
	if err != nil {
		return nil, err
	}
	fns, err := tmpl.Functions()
	if err != nil {
		return nil, err
	}
	var pkgs []string
	proxied := false
	for _, f := range fns {
		if !f.IsGo() {
			proxied = true
			continue
		}
		pkgs = append(pkgs, "./"+path.Clean(f.CodeURI))
	}
	if proxied {
		pkgs = append(pkgs, proxyPackage)
	}
	bins, err := localsfn.BuildFunctions(ctx, exampleDir, outDir, pkgs...)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, f := range fns {
		if f.IsGo() {
			out[f.LogicalID] = bins[path.Base(path.Clean(f.CodeURI))]
		}
	}
	if proxied {
		out[ProxyBinary] = bins[path.Base(proxyPackage)]
	}
	return out, nil
}

// RuntimeOf says in words how a function runs, for the demo.
func RuntimeOf(f samtemplate.Function) string {
	if f.IsGo() {
		return "Go (" + f.Runtime + "), lambdamw in the handler"
	}
	return f.Runtime + ", " + f.Handler + " behind the sfnenc layer's sfnenc-proxy"
}

// Options configures Start.
type Options struct {
	// ExampleDir is the directory of the example (template.yaml and so on).
	ExampleDir string
	// Binaries are the built functions, by logical id (see BuildFunctions).
	Binaries map[string]string
	// Emulator is the aws-lambda-rie binary.
	Emulator string
	// KMSEndpoint is the URL of the KMS API (a local-kms) for every
	// component.
	KMSEndpoint string
	// OutDir receives the harness's files: each execution's saved history.
	OutDir string
	// LogTo, if not nil, receives the output of every process started
	// (emulators, functions, the Step Functions harness) as well.
	LogTo io.Writer
	// Logger, if not nil, receives the backend services' log records.
	Logger *slog.Logger
}

// Stack is the running example.
type Stack struct {
	Provider *thirdparty.Provider
	SMS      *thirdparty.SMSGateway
	Mail     *thirdparty.MailService
	Intake   *backend.Intake
	Webhook  *backend.Webhook
	// Functions are the running functions, by logical id.
	Functions map[string]*localsfn.Function
	// Server is the local Step Functions endpoint.
	Server *localsfn.Server
	// SFN is a plain Step Functions client of the local endpoint (no
	// encryption), as an operator would have.
	SFN *sfn.Client
	// StateMachineArn is the state machine of the template.
	StateMachineArn string
	// Config is the sfnenc configuration of config/sfnenc.json.
	Config *codec.Config
	// KeyARN is the KMS key that makes the configuration's data keys.
	KeyARN string
	// BreakGlassKeyARN is the KMS key that also wraps them.
	BreakGlassKeyARN string
	// Env is the environment each function was started with, by logical
	// id, without the AWS variables common to all.
	Env map[string][]string
	// Runtime says how each function runs, by logical id (RuntimeOf).
	Runtime map[string]string

	intakeURL string
	servers   []*http.Server

	mu        sync.Mutex
	handsetEr []error
	answer    func(output string) string // see AnswerAs
}

// Start starts every component. On error, what was started is stopped.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	s := &Stack{
		Provider:  thirdparty.NewProvider(),
		SMS:       &thirdparty.SMSGateway{},
		Mail:      &thirdparty.MailService{},
		Functions: map[string]*localsfn.Function{},
		Env:       map[string][]string{},
		Runtime:   map[string]string{},
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	s.Config, err = codec.LoadConfig(filepath.Join(opts.ExampleDir, ConfigFile))
	if err != nil {
		return nil, err
	}
	keys, err := KeyValues(s.Config)
	if err != nil {
		return nil, err
	}
	s.KeyARN, s.BreakGlassKeyARN = keys["IdentityDataKey.Arn"], keys["BreakGlassKey.Arn"]
	tmpl, err := samtemplate.Load(filepath.Join(opts.ExampleDir, TemplateFile))
	if err != nil {
		return nil, err
	}

	// Listen first, so that every URL is known before anything starts.
	names := []string{"provider", "sms", "mail", "webhook", "intake"}
	ls := map[string]net.Listener{}
	urls := map[string]string{}
	for _, n := range names {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, fmt.Errorf("stack: listen: %w", err)
		}
		ls[n] = l
		urls[n] = "http://" + l.Addr().String()
	}
	s.intakeURL = urls["intake"]
	s.Provider.BaseURL = urls["provider"]
	s.Provider.WebhookURL = urls["webhook"]
	s.SMS.OnMessage = thirdparty.Handset(func(err error) {
		s.mu.Lock()
		s.handsetEr = append(s.handsetEr, err)
		s.mu.Unlock()
	})
	// The third parties serve at once; the backend services once their
	// Step Functions client exists.
	for n, h := range map[string]http.Handler{"provider": s.Provider, "sms": s.SMS, "mail": s.Mail} {
		s.serve(ls[n], h)
		delete(ls, n)
	}
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()

	// The functions, with the environment the template gives them.
	values := map[string]string{
		"Stage":               Stage,
		"AWS::Region":         Region,
		"AWS::AccountId":      Account,
		"AWS::Partition":      "aws",
		"IdentityProviderUrl": urls["provider"],
		"SmsGatewayUrl":       urls["sms"],
		"MailApiUrl":          urls["mail"],
		"WebhookUrl":          urls["webhook"],
	}
	maps.Copy(values, keys)
	// The functions read keyset files where the template's layer puts
	// them in AWS (/opt/keysets); here, from the configuration's directory.
	for _, name := range sortedKeyrings(s.Config) {
		if dir := s.Config.KeysetDir(name); dir != "" {
			abs, err := filepath.Abs(dir)
			if err != nil {
				return nil, err
			}
			values["KeysetDir"] = abs
		}
	}
	fns, err := tmpl.Functions()
	if err != nil {
		return nil, err
	}
	awsEnv := AWSEnv(opts.KMSEndpoint)
	fnURLs := map[string]string{}
	for _, f := range fns {
		bin := opts.Binaries[f.LogicalID]
		if f.IsGo() && bin == "" {
			return nil, fmt.Errorf("stack: no binary for function %s", f.LogicalID)
		}
		var env []string
		for k, v := range f.Env {
			val, err := samtemplate.Resolve(v, values)
			if err != nil {
				return nil, fmt.Errorf("stack: %s: environment %s: %w", f.LogicalID, k, err)
			}
			env = append(env, k+"="+val)
		}
		sort.Strings(env)
		s.Env[f.LogicalID] = env
		s.Runtime[f.LogicalID] = RuntimeOf(f)
		fnEnv := append(append([]string{"AWS_LAMBDA_FUNCTION_NAME=" + f.LogicalID}, awsEnv...), env...)
		var fn *localsfn.Function
		if f.IsGo() {
			fn, err = localsfn.StartFunction(ctx, opts.Emulator, bin, fnEnv, opts.LogTo)
		} else {
			fn, err = startProxied(ctx, opts, f, fnEnv)
		}
		if err != nil {
			return nil, err
		}
		s.Functions[f.LogicalID] = fn
		fnURLs[f.LogicalID] = fn.URL
		values[f.LogicalID+".Arn"] = FunctionARN(f.LogicalID)
	}

	// The Step Functions endpoint and the state machine of the template.
	noWait := 0
	s.Server, err = localsfn.Harness{Dir: filepath.Join(opts.ExampleDir, HarnessDir)}.Start(ctx, localsfn.ServerOptions{
		Functions:       fnURLs,
		OutDir:          opts.OutDir,
		RetryIntervalMS: &noWait,
		LogTo:           opts.LogTo,
	})
	if err != nil {
		return nil, err
	}
	s.SFN = sfn.New(sfn.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Server.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	def, err := Definition(opts.ExampleDir, tmpl, values)
	if err != nil {
		return nil, err
	}
	created, err := s.SFN.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(StateMachineName),
		Definition: aws.String(def),
		RoleArn:    aws.String("arn:aws:iam::" + Account + ":role/" + StateMachineName),
	})
	if err != nil {
		return nil, fmt.Errorf("stack: create state machine: %w", err)
	}
	s.StateMachineArn = aws.ToString(created.StateMachineArn)

	// The backend services, with the encrypting Step Functions client.
	kmsCfg := aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(opts.KMSEndpoint),
	}
	c, err := codec.New(ctx, s.Config, codec.WithKMSClients(envelope.KMSClients(kmsCfg)))
	if err != nil {
		return nil, err
	}
	client := sfn.New(sfn.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Server.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	}, sfnclient.WithEncryption(c))
	s.Intake = &backend.Intake{Client: client, StateMachineArn: s.StateMachineArn, Logger: opts.Logger}
	s.Webhook = &backend.Webhook{Client: &answering{StepFunctions: client, s: s}, Logger: opts.Logger}
	s.serve(ls["webhook"], s.Webhook)
	delete(ls, "webhook")
	s.serve(ls["intake"], s.Intake)
	delete(ls, "intake")
	return s, nil
}

// CheckNodeRuntime reports an error if a function of the template needs
// the Node.js runtime interface client and it is not installed.
func CheckNodeRuntime(exampleDir string) error {
	tmpl, err := samtemplate.Load(filepath.Join(exampleDir, TemplateFile))
	if err != nil {
		return err
	}
	fns, err := tmpl.Functions()
	if err != nil {
		return err
	}
	for _, f := range fns {
		if !f.IsGo() {
			_, _, err := noderic.Find(filepath.Join(exampleDir, nodericDir))
			return err
		}
	}
	return nil
}

// startProxied starts a Node.js function as the sfnenc layer runs it in
// Lambda, but in exec mode: sfnenc-proxy in front of AWS's Node.js runtime
// interface client, which runs the handler of the function's CodeUri. (In
// Lambda, the layer's extension serves the proxy and sfnenc-wrapper,
// named by AWS_LAMBDA_EXEC_WRAPPER, points the runtime at it; the
// emulator does not apply the wrapper, and loads extensions only from
// /opt/extensions.)
func startProxied(ctx context.Context, opts Options, f samtemplate.Function, env []string) (*localsfn.Function, error) {
	if !strings.HasPrefix(f.Runtime, "nodejs") {
		return nil, fmt.Errorf("stack: function %s: runtime %s: the local stack runs Go and Node.js functions only", f.LogicalID, f.Runtime)
	}
	proxy := opts.Binaries[ProxyBinary]
	if proxy == "" {
		return nil, fmt.Errorf("stack: function %s runs behind sfnenc-proxy, which was not built", f.LogicalID)
	}
	node, ric, err := noderic.Find(filepath.Join(opts.ExampleDir, nodericDir))
	if err != nil {
		return nil, fmt.Errorf("stack: function %s: %w", f.LogicalID, err)
	}
	code, err := filepath.Abs(filepath.Join(opts.ExampleDir, f.CodeURI))
	if err != nil {
		return nil, err
	}
	argv := []string{proxy, "exec", "--", node, ric, filepath.Join(code, f.Handler)}
	// The proxy listens on a free port, so that functions run side by side.
	return localsfn.StartCommand(ctx, opts.Emulator, argv, code, append(env, "SFNENC_PROXY_PORT=0"), opts.LogTo)
}

// AnswerAs makes the next task answers whose output f replaces come from
// someone else: an operator whose role may call SendTaskSuccess, with its
// own Step Functions client (s.SFN, which encrypts nothing), in place of
// the webhook's encrypting client. f gets the output the webhook would
// send, in plaintext, and returns the output to send instead, or "" to let
// the webhook's answer through. AnswerAs(nil) ends it.
func (s *Stack) AnswerAs(f func(output string) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = f
}

// answering is the webhook's Step Functions client, through which AnswerAs
// replaces task answers.
type answering struct {
	backend.StepFunctions
	s *Stack
}

func (a *answering) SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	a.s.mu.Lock()
	f := a.s.answer
	a.s.mu.Unlock()
	if f != nil {
		if out := f(aws.ToString(in.Output)); out != "" {
			return a.s.SFN.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: in.TaskToken, Output: aws.String(out)})
		}
	}
	return a.StepFunctions.SendTaskSuccess(ctx, in, optFns...)
}

// AWSEnv returns the AWS environment of every process of the stack: the
// region, dummy credentials, no shared configuration files or instance
// metadata, and kmsEndpoint as the KMS endpoint.
func AWSEnv(kmsEndpoint string) []string {
	return []string{
		"AWS_ENDPOINT_URL_KMS=" + kmsEndpoint,
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=local",
		"AWS_SECRET_ACCESS_KEY=local",
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Definition returns the state machine definition of the template with its
// DefinitionSubstitutions applied, as SAM deploys it.
func Definition(exampleDir string, tmpl *samtemplate.Template, values map[string]string) (string, error) {
	sms, err := tmpl.StateMachines()
	if err != nil {
		return "", err
	}
	if len(sms) != 1 {
		return "", fmt.Errorf("stack: the template has %d state machines, want 1", len(sms))
	}
	data, err := os.ReadFile(filepath.Join(exampleDir, sms[0].DefinitionURI))
	if err != nil {
		return "", fmt.Errorf("stack: %w", err)
	}
	def := string(data)
	for name, v := range sms[0].DefinitionSubstitutions {
		val, err := samtemplate.Resolve(v, values)
		if err != nil {
			return "", fmt.Errorf("stack: DefinitionSubstitutions %s: %w", name, err)
		}
		def = strings.ReplaceAll(def, "${"+name+"}", val)
	}
	if i := strings.Index(def, "${"); i >= 0 {
		return "", fmt.Errorf("stack: the definition has a placeholder without substitution at offset %d", i)
	}
	return def, nil
}

func sortedKeyrings(cfg *codec.Config) []string {
	names := make([]string, 0, len(cfg.Keyrings))
	for n := range cfg.Keyrings {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// KeyValues returns the ARNs of the template's two KMS keys, as the values
// of its references IdentityDataKey.Arn and BreakGlassKey.Arn, from the
// configuration's one envelope-mode keyring: its key and its one
// break-glass key.
func KeyValues(cfg *codec.Config) (map[string]string, error) {
	var found []*codec.KMSKeyringConfig
	for _, name := range sortedKeyrings(cfg) {
		if k := cfg.Keyrings[name].KMS; k != nil {
			found = append(found, k)
		}
	}
	if len(found) != 1 || len(found[0].BreakGlassKeyARNs) != 1 {
		return nil, errors.New("stack: the configuration must have one kms keyring, with one break-glass key, as the template has")
	}
	return map[string]string{
		"IdentityDataKey.Arn": found[0].KeyARN,
		"BreakGlassKey.Arn":   found[0].BreakGlassKeyARNs[0],
	}, nil
}

func (s *Stack) serve(l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(l) }()
}

// Close stops everything Start started.
func (s *Stack) Close() {
	var wg sync.WaitGroup
	for _, f := range s.Functions {
		wg.Go(func() { f.Close() })
	}
	if s.Server != nil {
		wg.Go(func() { s.Server.Close() })
	}
	wg.Wait()
	for _, srv := range s.servers {
		_ = srv.Close()
	}
}

// Logs returns the output of every function's emulator, by logical id,
// and of the Step Functions harness under "harness".
func (s *Stack) Logs() map[string]string {
	out := map[string]string{}
	for id, f := range s.Functions {
		out[id] = f.Logs()
	}
	if s.Server != nil {
		out["harness"] = s.Server.Logs()
	}
	return out
}

// SubmitTimeout bounds the wait for one execution in Submit.
const SubmitTimeout = 2 * time.Minute

// Execution is one finished execution.
type Execution struct {
	Arn, Name string
	// Status, Error and Cause as DescribeExecution gives them.
	Status, Error, Cause string
	// Output is the execution's output (SUCCEEDED only).
	Output string
	// HistoryFile is the saved history, as `aws stepfunctions
	// get-execution-history --output json` prints it.
	HistoryFile string
	History     []byte
	Duration    time.Duration
}

// Submit sends an application to the intake service, as the bank's front
// end would, with the identity provider scripted to end the application's
// sessions as script says, and waits for the execution to end and for the
// third parties to settle.
func (s *Stack) Submit(ctx context.Context, app model.Application, script thirdparty.Script) (*Execution, error) {
	start := time.Now()
	// A workflow that waits for a task nobody completes would wait for a
	// day (the state's TimeoutSeconds): give up long before.
	ctx, cancel := context.WithTimeout(ctx, SubmitTimeout)
	defer cancel()
	s.Provider.SetScript(app.CreditApplicationID, script)
	var started backend.Started
	if err := model.PostJSON(ctx, http.DefaultClient, "intake", s.intakeURL+"/applications", app, &started); err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	out, err := localsfn.WaitExecution(ctx, s.SFN, started.ExecutionArn)
	if err != nil {
		return nil, err
	}
	s.SMS.Wait()
	errs := []error{s.Provider.Wait()}
	s.mu.Lock()
	errs = append(errs, s.handsetEr...)
	s.handsetEr = nil
	s.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	exe := &Execution{
		Arn:         started.ExecutionArn,
		Name:        aws.ToString(out.Name),
		Status:      string(out.Status),
		Error:       aws.ToString(out.Error),
		Cause:       aws.ToString(out.Cause),
		Output:      aws.ToString(out.Output),
		HistoryFile: s.Server.HistoryFile(aws.ToString(out.Name)),
	}
	exe.History, err = os.ReadFile(exe.HistoryFile)
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	if !json.Valid(exe.History) {
		return nil, fmt.Errorf("stack: %s is not JSON", exe.HistoryFile)
	}
	exe.Duration = time.Since(start)
	return exe, nil
}
