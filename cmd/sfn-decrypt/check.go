package main

import (
	"errors"
	"os"
	"strings"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/check"
	"github.com/sfnenc/sfnenc/codec"
)

// exitFindings: check found at least one error.
const exitFindings = 5

func cmdCheck(e *env, args []string) int {
	fs := newFlagSet(e, "check", `check --config FILE (--definition ASL | --template TEMPLATE) [--classes FUNCTION=CLASS[,CLASS...]]... [--output text|json|sarif]

Checks a state machine definition, statically, for places that mishandle
sfnenc tokens: rules choice-on-token, intrinsic-on-token and
token-at-unselected-path (errors), token-to-service (warning) and
class-never-reaches (info). --template reads a SAM or CloudFormation
template: the definition (unless --definition is given), its
DefinitionSubstitutions, and each function's SFNENC_CLASSES and
SFNENC_ERROR_CLASS. --classes gives or overrides the classes a function
decrypts, by its name in the Task's ARN or FunctionName ("-" for none).
Exit codes: 0 no error found, 5 at least one error, 2 usage or
configuration error, 1 unreadable definition.`)
	var config, definition, template, output string
	var classes multiFlag
	fs.StringVar(&config, "config", "", "configuration `FILE` (JSON) with the rules; required")
	fs.StringVar(&definition, "definition", "", "state machine definition `ASL` file (JSON or YAML)")
	fs.StringVar(&template, "template", "", "SAM or CloudFormation `TEMPLATE` (YAML or JSON)")
	fs.Var(&classes, "classes", "`FUNCTION=CLASS[,CLASS...]`: the classes FUNCTION decrypts, - for none (repeatable)")
	fs.StringVar(&output, "output", "text", "output `FORMAT`: text, json or sarif")
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
	case definition == "" && template == "":
		e.errorf("check needs --definition ASL or --template TEMPLATE")
		return exitUsage
	case output != "text" && output != "json" && output != "sarif":
		e.errorf("--output must be text, json or sarif")
		return exitUsage
	}
	cfg, err := codec.LoadConfig(config)
	if err != nil {
		e.errorf("%v", err)
		return exitUsage
	}
	opt := check.Options{Config: cfg, Functions: map[string]check.Function{}}
	var def map[string]any
	uri := definition
	if template != "" {
		l, err := check.LoadTemplate(template)
		if err != nil {
			e.errorf("%v", err)
			if errors.Is(err, check.ErrDefinition) && definition == "" {
				return exitFail
			}
			return exitUsage
		}
		opt.Functions, opt.Substitutions, def = l.Functions, l.Substitutions, l.Definition
		if uri == "" {
			uri = template
		}
	}
	if definition != "" {
		data, err := os.ReadFile(definition)
		if err == nil {
			def, err = check.ParseDefinition(data)
		}
		if err != nil {
			e.errorf("%v", err)
			return exitFail
		}
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
		f := opt.Functions[name]
		f.Middleware, f.Classes, f.Explicit = true, cs, true
		opt.Functions[name] = f
	}
	findings, err := check.Check(def, opt)
	if err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	switch output {
	case "json":
		err = check.WriteJSON(e.stdout, findings)
	case "sarif":
		err = check.WriteSARIF(e.stdout, findings, uri)
	default:
		err = check.WriteText(e.stdout, findings)
	}
	if err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	if check.HasErrors(findings) {
		return exitFindings
	}
	return exitOK
}
