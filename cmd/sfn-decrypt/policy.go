package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/check"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/policy"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/stack"
	"github.com/sfnenc/sfnenc/codec"
)

func cmdPolicy(e *env, args []string) int {
	fs := newFlagSet(e, "policy", `policy --config FILE (--template TEMPLATE | --serverless FILE | --classes FUNCTION=CLASS,...) [--readers ROLE=CLASS,...] [--writers ROLE=CLASS,...] [--keyset-admins ROLE,...] [--break-glass-role ROLE] [--format cloudformation|json|terraform]

Prints least-privilege KMS policies from the rules: for each function
(with the sfnenc middleware, in a template or serverless.yml, or named by
--classes), reader role, writer outside Lambda, keyset administrator and
break-glass role, the IAM statements it needs for its classes
(SFNENC_CLASSES: what it decrypts; SFNENC_WRITES: what it encrypts; unset:
every class); and for each KMS key, the key-policy statements that deny
everything else. Each grant is conditioned on the class, every configured
context entry, and the exact set of context keys the codec sends.
--classes, --readers and --writers take NAME=CLASS[,CLASS...] ("-" for
none), repeatable or joined (A=x,y,B=z); with a template, --classes
overrides a function's SFNENC_CLASSES.
Exit codes: 0 printed, 2 usage or configuration error, 1 output failed.`)
	var config, template, serverless, format, bgRole string
	var classes, readers, writers, admins multiFlag
	fs.StringVar(&config, "config", "", "configuration `FILE` (JSON) with the rules; required")
	fs.StringVar(&template, "template", "", "SAM or CloudFormation `TEMPLATE` (YAML or JSON) with the functions")
	fs.StringVar(&serverless, "serverless", "", "Serverless Framework `FILE` (serverless.yml) with the functions")
	fs.Var(&classes, "classes", "`FUNCTION=CLASS,...`: the classes FUNCTION decrypts, - for none (repeatable)")
	fs.Var(&readers, "readers", "`ROLE=CLASS,...`: a role that reads those classes with sfn-decrypt (repeatable)")
	fs.Var(&writers, "writers", "`ROLE=CLASS,...`: a role outside Lambda that writes those classes, such as a backend with sfnclient (repeatable)")
	fs.Var(&admins, "keyset-admins", "`ROLE,...`: roles that run sfn-decrypt keyset create, rotate and destroy (repeatable)")
	fs.StringVar(&bgRole, "break-glass-role", "", "the `ROLE` that alone may decrypt with the break-glass keys, with MFA")
	fs.StringVar(&format, "format", "json", "output `FORMAT`: json, cloudformation or terraform")
	if code, ok := parseFlags(e, fs, args); !ok {
		return code
	}
	usage := func(format string, args ...any) int {
		e.errorf(format, args...)
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		return usage("policy takes no arguments (got %q)", fs.Arg(0))
	case config == "":
		return usage("--config is required")
	case template == "" && serverless == "" && len(classes) == 0:
		return usage("policy needs --template TEMPLATE, --serverless FILE or --classes FUNCTION=CLASS,...")
	case template != "" && serverless != "":
		return usage("give --template or --serverless, not both")
	case format != "json" && format != "cloudformation" && format != "terraform":
		return usage("--format must be json, cloudformation or terraform")
	}
	cfg, err := codec.LoadConfig(config)
	if err != nil {
		return usage("%v", err)
	}
	known := cfg.Classes()
	in := policy.Input{Config: cfg}

	override, err := namedClasses("--classes", classes, known)
	if err != nil {
		return usage("%v", err)
	}
	var st *stack.Stack
	switch {
	case template != "":
		st, err = stack.LoadTemplate(template)
	case serverless != "":
		st, err = stack.LoadServerless(serverless)
	}
	if err != nil {
		return usage("%v", err)
	}
	var notes []string
	if st == nil {
		for _, nc := range override {
			in.Principals = append(in.Principals, policy.Principal{Name: nc.name, Kind: policy.Function, RoleName: nc.name,
				Reads: nc.classes, Writes: known, Notes: []string{"writes every class: only a template or serverless.yml can say SFNENC_WRITES"}})
		}
	} else {
		for _, nc := range override {
			if f := st.Function(nc.name); f == nil {
				var names []string
				for _, f := range st.Functions {
					names = append(names, f.ID)
				}
				return usage("--classes %s: %s has no function %q; its functions are: %s", nc.name, st.File, nc.name, strings.Join(names, ", "))
			}
		}
		in.KeyIDs, in.ContextRefs = check.TemplateKeys(st, cfg)
		for _, f := range st.Functions {
			p, ok, err := functionPrincipal(f, override, known)
			if err != nil {
				return usage("%s: %v", f.ID, err)
			}
			if !ok {
				continue
			}
			if f.SharedRole {
				n := fmt.Sprintf("runs as the service's one role, which every function shares (the Serverless Framework's default), so no function has least privilege; give it its own: role: %s under functions.%s, with these statements in that role", check.OwnRoleID(f), f.ID)
				p.Notes = append(p.Notes, n)
				notes = append(notes, f.ID+": "+n)
			}
			in.Principals = append(in.Principals, p)
		}
	}
	for _, set := range []struct {
		flag string
		vals multiFlag
		kind policy.Kind
	}{{"--readers", readers, policy.Reader}, {"--writers", writers, policy.Writer}} {
		ncs, err := namedClasses(set.flag, set.vals, known)
		if err != nil {
			return usage("%v", err)
		}
		for _, nc := range ncs {
			p := policy.Principal{Name: nc.name, Kind: set.kind, RoleName: nc.name}
			if set.kind == policy.Reader {
				p.Reads = nc.classes
			} else {
				p.Writes = nc.classes
			}
			in.Principals = append(in.Principals, p)
		}
	}
	var keysetClasses, bgClasses []string
	for _, c := range known {
		if q, _ := cfg.KMSRequests(c, codec.KeysetAdmin); len(q) > 0 {
			keysetClasses = append(keysetClasses, c)
		}
		if q, _ := cfg.KMSRequests(c, codec.BreakGlassRead); len(q) > 0 {
			bgClasses = append(bgClasses, c)
		}
	}
	for _, list := range admins {
		for a := range strings.SplitSeq(list, ",") {
			if a = strings.TrimSpace(a); a == "" {
				return usage("--keyset-admins %q: empty role name", list)
			}
			in.Principals = append(in.Principals, policy.Principal{Name: a, Kind: policy.KeysetAdmin, RoleName: a, Reads: keysetClasses})
		}
	}
	if bgRole != "" {
		in.Principals = append(in.Principals, policy.Principal{Name: bgRole, Kind: policy.BreakGlass, RoleName: bgRole, Reads: bgClasses,
			Notes: []string{"the break-glass role: assume it only with MFA, and keep its membership short"}})
	}
	pols, err := policy.Build(in)
	if err != nil {
		return usage("%v", err)
	}
	if format == "json" {
		for _, r := range pols.Roles {
			for _, n := range r.Notes {
				e.infof("note: %s: %s", r.Name, n)
			}
		}
		for _, k := range pols.Keys {
			for _, n := range k.Notes {
				e.infof("note: %s: %s", k.Name, n)
			}
		}
	} else {
		for _, n := range notes {
			e.infof("note: %s", n)
		}
	}
	switch format {
	case "cloudformation":
		err = policy.WriteCloudFormation(e.stdout, pols)
	case "terraform":
		err = policy.WriteTerraform(e.stdout, pols)
	default:
		err = policy.WriteJSON(e.stdout, pols)
	}
	if err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	return exitOK
}

type nameClasses struct {
	name    string
	classes []string
}

// namedClasses reads NAME=CLASS[,CLASS...] values, repeated or joined
// (A=x,y,B=z); "-" is no class. A name given twice, or a class the
// configuration lacks, is an error.
func namedClasses(flag string, vals []string, known []string) ([]nameClasses, error) {
	var out []nameClasses
	for _, v := range vals {
		var cur *nameClasses
		for item := range strings.SplitSeq(v, ",") {
			item = strings.TrimSpace(item)
			if name, class, ok := strings.Cut(item, "="); ok {
				if name == "" {
					return nil, fmt.Errorf("%s %q: want NAME=CLASS[,CLASS...]", flag, v)
				}
				if slices.ContainsFunc(out, func(n nameClasses) bool { return n.name == name }) {
					return nil, fmt.Errorf("%s %q: %s is named twice", flag, v, name)
				}
				out = append(out, nameClasses{name: name, classes: []string{}})
				cur = &out[len(out)-1]
				item = class
			}
			switch {
			case cur == nil:
				return nil, fmt.Errorf("%s %q: want NAME=CLASS[,CLASS...]", flag, v)
			case item == "-":
				continue
			case item == "":
				return nil, fmt.Errorf("%s %q: empty class name", flag, v)
			case !slices.Contains(known, item):
				return nil, fmt.Errorf("%s %q: class %q is not in the configuration", flag, v, item)
			}
			if !slices.Contains(cur.classes, item) {
				cur.classes = append(cur.classes, item)
			}
		}
	}
	return out, nil
}

// functionPrincipal is a function of a template as a principal: what it
// decrypts (SFNENC_CLASSES, or --classes) and writes (SFNENC_WRITES), as
// check reads its environment. A function without the middleware is none.
func functionPrincipal(f *stack.Function, override []nameClasses, known []string) (policy.Principal, bool, error) {
	p := policy.Principal{Name: f.LogicalID, Kind: policy.Function, RoleID: f.RoleID(), RoleName: f.RoleName}
	i := slices.IndexFunc(override, func(n nameClasses) bool { return n.name == f.ID || n.name == f.LogicalID || n.name == f.Name })
	fn := check.FunctionFromEnv(f.Env)
	if i < 0 && !fn.Middleware {
		return p, false, nil
	}
	for _, k := range []string{envClasses, envWrites, envErrorClass} {
		if v, ok := f.Env[k]; ok && strings.Contains(v, "${") {
			return p, false, fmt.Errorf("%s is %q, which the template does not give as a literal", k, v)
		}
	}
	for _, list := range [][]string{fn.Classes, fn.Writes} {
		for _, c := range list {
			if !slices.Contains(known, c) {
				return p, false, fmt.Errorf("class %q of its environment is not in the configuration", c)
			}
		}
	}
	if p.RoleName == "" {
		p.RoleName = f.RoleID()
		if p.RoleName == "" {
			p.RoleName = f.LogicalID
		}
		if !f.SharedRole {
			p.Notes = append(p.Notes, fmt.Sprintf("key policies name this function's role as role/%s: give the role that RoleName (an explicit name, so that no dependency cycle arises between the key and the role)", p.RoleName))
		}
	}
	switch {
	case i >= 0:
		p.Reads = override[i].classes
	case fn.Classes == nil:
		p.Reads = known
		p.Notes = append(p.Notes, envClasses+" is unset: it decrypts every class")
	default:
		p.Reads = fn.Classes
	}
	p.Writes = fn.Writes
	if p.Writes == nil {
		p.Writes = known
		p.Notes = append(p.Notes, envWrites+" is unset: taken to write every class")
	} else if fn.ErrorClass != "" && !slices.Contains(p.Writes, fn.ErrorClass) {
		return p, false, fmt.Errorf("%s %q is not in %s: the function seals its error messages as that class", envErrorClass, fn.ErrorClass, envWrites)
	}
	return p, true, nil
}

// The middleware's environment variables (lambdamw's; the command does
// not link the Lambda runtime).
const (
	envClasses    = "SFNENC_CLASSES"
	envWrites     = "SFNENC_WRITES"
	envErrorClass = "SFNENC_ERROR_CLASS"
	envConfig     = "SFNENC_CONFIG"
)
