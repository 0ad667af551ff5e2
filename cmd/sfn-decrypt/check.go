package main

import (
	"errors"
	"os"
	"slices"
	"strings"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/check"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/stack"
	"github.com/sfnenc/sfnenc/codec"
)

// exitFindings: check found at least one error.
const exitFindings = 5

func cmdCheck(e *env, args []string) int {
	fs := newFlagSet(e, "check", `check --config FILE (--definition ASL | --template TEMPLATE | --serverless FILE) [--state-machine ID] [--classes FUNCTION=CLASS[,CLASS...]]... [--input encrypted|plaintext] [--baseline FILE] [--write-baseline FILE] [--output text|json|sarif] [--sarif-root DIR]

Checks a state machine definition, statically, for places that mishandle
sfnenc tokens. Errors: choice-on-token, intrinsic-on-token,
path-into-token, token-in-control-field, token-at-unselected-path,
plaintext-at-selected-path, token-to-service-field; warnings:
token-to-service, too-deep, bad-suppression, and any error that rests on
content the check cannot see; info: class-never-reaches.
--template reads a SAM or CloudFormation template, --serverless a
serverless.yml (serverless-step-functions plugin): the definition (unless
--definition is given), its substitutions, and each function's SFNENC_*
environment; --state-machine chooses one of several state machines.
--classes gives or overrides the classes a function decrypts, by its name,
its logical id or key, or the placeholder a Task names it with ("-" for
none); a name no Task uses is a usage error. --input says what the caller
of StartExecution sends (default: encrypted by the rules).
A state's Comment may hold "sfnenc-check:ignore RULE-ID reason";
--baseline accepts the findings recorded by --write-baseline.
Exit codes: 0 no error found, 5 at least one error, 2 usage or
configuration error, 1 unreadable definition.`)
	var config, definition, template, serverless, machine, input, output, baseline, writeBaseline, sarifRoot string
	var classes multiFlag
	fs.StringVar(&config, "config", "", "configuration `FILE` (JSON) with the rules; required")
	fs.StringVar(&definition, "definition", "", "state machine definition `ASL` file (JSON or YAML)")
	fs.StringVar(&template, "template", "", "SAM or CloudFormation `TEMPLATE` (YAML or JSON)")
	fs.StringVar(&serverless, "serverless", "", "Serverless Framework `FILE` (serverless.yml)")
	fs.StringVar(&machine, "state-machine", "", "the state machine `ID` (logical id, or key in stepFunctions.stateMachines) when there are several")
	fs.Var(&classes, "classes", "`FUNCTION=CLASS[,CLASS...]`: the classes FUNCTION decrypts, - for none (repeatable)")
	fs.StringVar(&input, "input", "encrypted", "what the caller of StartExecution sends: `encrypted` (by the rules) or plaintext")
	fs.StringVar(&baseline, "baseline", "", "accept the findings recorded in `FILE` (written by --write-baseline)")
	fs.StringVar(&writeBaseline, "write-baseline", "", "record the findings in `FILE` as accepted, and exit 0")
	fs.StringVar(&output, "output", "text", "output `FORMAT`: text, json or sarif")
	fs.StringVar(&sarifRoot, "sarif-root", "", "SARIF paths are relative to `DIR` (default: the git top level)")
	if code, ok := parseFlags(e, fs, args); !ok {
		return code
	}
	switch {
	case fs.NArg() > 0:
		e.errorf("check takes no arguments (got %q)", fs.Arg(0))
		return exitUsage
	case config == "":
		e.errorf("--config is required")
		return exitUsage
	case definition == "" && template == "" && serverless == "":
		e.errorf("check needs --definition ASL, --template TEMPLATE or --serverless FILE")
		return exitUsage
	case template != "" && serverless != "":
		e.errorf("give --template or --serverless, not both")
		return exitUsage
	case output != "text" && output != "json" && output != "sarif":
		e.errorf("--output must be text, json or sarif")
		return exitUsage
	case input != "encrypted" && input != "plaintext":
		e.errorf("--input must be encrypted or plaintext")
		return exitUsage
	case machine != "" && template == "" && serverless == "":
		e.errorf("--state-machine needs --template or --serverless")
		return exitUsage
	}
	cfg, err := codec.LoadConfig(config)
	if err != nil {
		e.errorf("%v", err)
		return exitUsage
	}
	opt := check.Options{Config: cfg, PlaintextInput: input == "plaintext"}
	l, err := check.Load(check.Source{Definition: definition, Template: template, Serverless: serverless, StateMachine: machine})
	if err != nil {
		var amb *stack.AmbiguousError
		switch {
		case errors.As(err, &amb):
			e.errorf("%v: choose one with --state-machine ID", err)
			return exitUsage
		case errors.Is(err, check.ErrTemplate):
			e.errorf("%v", err)
			return exitUsage
		}
		e.errorf("%v", err)
		return exitFail
	}
	def, st := l.Def, l.Stack
	opt.Functions, opt.Substitutions = l.Functions, l.Substitutions
	refs, err := check.FunctionRefs(def.Value, opt.Substitutions)
	if err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	known := map[string]bool{}
	for _, c := range cfg.Classes() {
		known[c] = true
	}
	for _, kv := range classes {
		name, list, ok := strings.Cut(kv, "=")
		if !ok || name == "" || list == "" {
			e.errorf("--classes %q: want FUNCTION=CLASS[,CLASS...] or FUNCTION=-", kv)
			return exitUsage
		}
		cs := check.ParseClasses(list)
		for _, c := range cs {
			if !known[c] {
				e.errorf("--classes %q: class %q is not in the configuration", kv, c)
				return exitUsage
			}
		}
		target, ok := bindFunction(name, refs, st)
		if !ok {
			var names []string
			for _, r := range refs {
				n := r.Name
				if r.Placeholder != "" && r.Placeholder != r.Name {
					n += " (" + r.Placeholder + ")"
				}
				names = append(names, n)
			}
			list := "none"
			if len(names) > 0 {
				list = strings.Join(names, ", ")
			}
			e.errorf("--classes %q: no Task of the definition invokes a function %q; its functions are: %s", kv, name, list)
			return exitUsage
		}
		f := opt.Functions[target]
		f.Middleware, f.Classes, f.Explicit = true, cs, true
		opt.Functions[target] = f
	}
	var base *check.Baseline
	if baseline != "" {
		f, err := os.Open(baseline)
		if err == nil {
			base, err = check.ReadBaseline(f)
			f.Close()
		}
		if err != nil {
			e.errorf("%v", err)
			return exitUsage
		}
	}
	findings, err := check.Check(def.Value, opt)
	if err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	if st != nil {
		// The template's own grants, against each function's classes.
		findings = append(findings, check.Grants(cfg, st, opt.Functions)...)
	}
	findings = check.Suppress(def.Value, findings, base)
	if writeBaseline != "" {
		f, err := os.Create(writeBaseline)
		if err == nil {
			err = check.WriteBaseline(f, findings)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			e.errorf("%v", err)
			return exitFail
		}
	}
	switch output {
	case "json":
		err = check.WriteJSON(e.stdout, findings)
	case "sarif":
		err = check.WriteSARIF(e.stdout, findings, check.SARIF{Definition: def, Root: sarifRoot, Version: version()})
	default:
		err = check.WriteText(e.stdout, findings)
	}
	if err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	if check.HasErrors(findings) && writeBaseline == "" {
		return exitFindings
	}
	return exitOK
}

// bindFunction finds the function --classes names: by the name a Task
// invokes, the placeholder it writes, or (with a template) the function's
// name, logical id or key, if a Task invokes that function.
func bindFunction(name string, refs []check.FunctionRef, st *stack.Stack) (string, bool) {
	uses := func(n string) bool {
		return slices.ContainsFunc(refs, func(r check.FunctionRef) bool { return r.Name == n })
	}
	for _, r := range refs {
		if r.Name == name || r.Placeholder == name {
			return r.Name, true
		}
	}
	if st != nil {
		if f := st.Function(name); f != nil && uses(f.Name) {
			return f.Name, true
		}
	}
	return "", false
}
