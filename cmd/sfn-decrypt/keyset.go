package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/keyset"
)

const keysetSynopsis = `keyset SUBCOMMAND --config FILE --class CLASS [FLAGS]

Manages the KMS-encrypted keyset of a class whose rule uses a kmsKeyset
keyring (keyset mode). The keyset file is DIR/CLASS.json, DIR being the
keyring's "dir" (relative to the configuration file).

Subcommands:
  create   write a new keyset of one key; refuses to overwrite a file
  rotate   add a new primary key; older keys stay for reading older tokens;
           with --staged, add the key without making it primary (deploy
           that first, so every reader has it), and a later rotate makes
           the staged key primary
  list     show each key: id, status, primary [--output json|text]
  destroy  destroy the key --key-id N: tokens made with it can never be
           read again; asks for confirmation unless --yes

Exit codes: 0 success, 1 failure (KMS, the keyset file, a refused
operation), 2 usage or configuration error.`

// keysetCommands are the subcommands of "keyset".
var keysetCommands = map[string]func(e *env, ctx context.Context, kf *keysetFlags, st *keyset.Store, ec map[string]string) int{
	"create":  keysetCreate,
	"rotate":  keysetRotate,
	"list":    keysetList,
	"destroy": keysetDestroy,
}

type keysetFlags struct {
	commonFlags
	class  string
	output string
	keyID  uint
	yes    bool
	staged bool
}

// subcommandFlags registers --class and the flags of subcommand sub (all of
// them for "").
func (kf *keysetFlags) subcommandFlags(fs *flag.FlagSet, sub string) {
	fs.StringVar(&kf.class, "class", "", "the `CLASS` whose keyset to manage; required")
	if sub == "" || sub == "list" {
		fs.StringVar(&kf.output, "output", "text", "output `FORMAT`: text or json (list)")
	}
	if sub == "" || sub == "rotate" {
		fs.BoolVar(&kf.staged, "staged", false, "add the new key without making it primary (rotate)")
	}
	if sub == "" || sub == "destroy" {
		fs.UintVar(&kf.keyID, "key-id", 0, "the `ID` of the key to destroy; required (destroy)")
		fs.BoolVar(&kf.yes, "yes", false, "destroy without asking, for scripts (destroy)")
	}
}

func cmdKeyset(e *env, args []string) int {
	if len(args) == 0 || keysetCommands[args[0]] == nil {
		switch {
		case len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help"):
			// Every flag of every subcommand, spelt as the usage line.
			var kf keysetFlags
			fs := newFlagSet(e, "keyset", keysetSynopsis)
			kf.register(fs, false)
			kf.subcommandFlags(fs, "")
			fs.Usage()
			e.stdout.Write(fs.Output().(*bytes.Buffer).Bytes())
			return exitOK
		case len(args) == 0:
			e.errorf("keyset needs a subcommand: create, rotate, list or destroy (run 'sfn-decrypt keyset --help')")
		default:
			e.errorf("unknown keyset subcommand %q (run 'sfn-decrypt keyset --help')", args[0])
		}
		return exitUsage
	}
	sub := args[0]
	var kf keysetFlags
	fs := newFlagSet(e, "keyset "+sub, keysetSynopsis)
	kf.register(fs, false)
	kf.subcommandFlags(fs, sub)
	if code, ok := parseFlags(e, fs, args[1:]); !ok {
		return code
	}
	switch {
	case fs.NArg() > 0:
		e.errorf("keyset %s takes no arguments", sub)
		return exitUsage
	case kf.config == "":
		e.errorf("--config is required")
		return exitUsage
	case kf.class == "":
		e.errorf("--class is required")
		return exitUsage
	case kf.output != "" && kf.output != "text" && kf.output != "json":
		e.errorf("--output must be text or json")
		return exitUsage
	case sub == "destroy" && (kf.keyID == 0 || kf.keyID > 0xffff):
		e.errorf("--key-id must be a key id (1..65535)")
		return exitUsage
	}
	cfg, err := codec.LoadConfig(kf.config)
	if err != nil {
		e.errorf("%v", err)
		return exitUsage
	}
	var rule *codec.Rule
	for i := range cfg.Rules {
		if cfg.Rules[i].Class == kf.class {
			rule = &cfg.Rules[i]
		}
	}
	if rule == nil {
		e.errorf("no rule of class %q in %s", kf.class, kf.config)
		return exitUsage
	}
	kc := cfg.Keyrings[rule.Keyring].KMSKeyset
	if kc == nil {
		e.errorf("class %s uses keyring %q, which is not a kmsKeyset keyring", kf.class, rule.Keyring)
		return exitUsage
	}
	ctx := e.context()
	ac, err := kf.awsConfig(ctx, "")
	if err != nil {
		e.errorf("AWS configuration: %v", err)
		return exitUsage
	}
	st, err := keyset.NewStore(cfg.KeysetDir(rule.Keyring), envelope.KMSClients(ac), kc.KeyARN, kc.BreakGlassKeyARNs...)
	if err != nil {
		e.errorf("%v", err)
		return exitUsage
	}
	// A signed class's file gets signing keys for its writers (and an
	// unsigned file of it gets them at the next create, rotate or destroy).
	st.SetSigned(kf.class, rule.Signed != codec.SignedOff)
	return keysetCommands[sub](e, ctx, &kf, st, cfg.EncryptionContext)
}

func keysetCreate(e *env, ctx context.Context, kf *keysetFlags, st *keyset.Store, ec map[string]string) int {
	if err := st.Create(ctx, kf.class, ec); err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	e.infof("created %s: key 1 (primary)", st.Path(kf.class))
	return exitOK
}

func keysetRotate(e *env, ctx context.Context, kf *keysetFlags, st *keyset.Store, ec map[string]string) int {
	if kf.staged {
		id, err := st.Stage(ctx, kf.class, ec)
		if err != nil {
			e.errorf("%v", err)
			return exitFail
		}
		e.infof("staged key %d in %s; redeploy every function that reads or writes class %s, then run rotate to make it primary", id, st.Path(kf.class), kf.class)
		return exitOK
	}
	id, err := st.Rotate(ctx, kf.class, ec)
	if err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	e.infof("rotated %s: key %d is the primary key; redeploy every function that reads or writes class %s (environments still running the old file cannot read its tokens; see rotate --staged)", st.Path(kf.class), id, kf.class)
	return exitOK
}

func keysetList(e *env, _ context.Context, kf *keysetFlags, st *keyset.Store, _ map[string]string) int {
	keys, err := st.List(kf.class)
	if err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	w := bufio.NewWriter(e.stdout)
	if kf.output == "json" {
		b, _ := json.Marshal(keys)
		w.Write(append(b, '\n'))
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY ID\tSTATUS\tPRIMARY\tALGORITHM")
		for _, k := range keys {
			fmt.Fprintf(tw, "%d\t%s\t%t\t%s\n", k.KeyID, k.Status, k.Primary, k.Algorithm)
		}
		tw.Flush()
	}
	if err := w.Flush(); err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	return exitOK
}

func keysetDestroy(e *env, ctx context.Context, kf *keysetFlags, st *keyset.Store, ec map[string]string) int {
	id := uint32(kf.keyID)
	if !kf.yes {
		in, ok := e.stdin.(io.Writer) // an *os.File
		if !ok || !e.terminal(in) {
			e.errorf("destroying a key cannot be undone; confirm on a terminal, or pass --yes")
			return exitUsage
		}
		fmt.Fprintf(e.stderr, "Destroy key %d of class %s in %s? Tokens made with it can never be read again.\nType the key id to confirm: ",
			id, kf.class, st.Path(kf.class))
		line, _ := bufio.NewReader(e.stdin).ReadString('\n')
		if strings.TrimSpace(line) != strconv.FormatUint(uint64(id), 10) {
			e.errorf("not confirmed; nothing destroyed (a script confirms with --yes)")
			return exitFail
		}
	}
	if err := st.Destroy(ctx, kf.class, ec, id); err != nil {
		e.errorf("%v", err)
		if errors.Is(err, keyset.ErrNoSuchKey) {
			return exitUsage
		}
		return exitFail
	}
	e.infof("destroyed key %d of class %s in %s; older copies of the file still hold it (see SECURITY.md)", id, kf.class, st.Path(kf.class))
	return exitOK
}
