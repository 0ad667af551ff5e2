package main

import (
	"context"

	"github.com/sfnenc/sfnenc/codec"
)

func cmdEncrypt(e *env, args []string) int {
	return transform(e, args, "encrypt", "encrypt --config FILE [INPUT]\n\nEncrypts the fields the configuration's rules select in the JSON document\nINPUT (a file, or - or nothing for stdin) and writes it to stdout.",
		false, (*codec.Codec).Encrypt)
}

func cmdDecrypt(e *env, args []string) int {
	return transform(e, args, "decrypt", "decrypt --config FILE [--class CLASS]... [INPUT]\n\nDecrypts every token in the JSON document INPUT (a file, or - or nothing\nfor stdin) and writes it to stdout. Nothing is written if any token fails.",
		true, (*codec.Codec).Decrypt)
}

// transform runs a command that reads one document, passes it through op
// and writes the result, or nothing on error.
func transform(e *env, args []string, name, synopsis string, withClass bool, op func(*codec.Codec, context.Context, []byte) ([]byte, error)) int {
	var cf commonFlags
	fs := newFlagSet(e, name, synopsis)
	cf.register(fs, withClass)
	pos, err := parseInterspersed(fs, args)
	if code, ok := endFlags(e, fs, err); !ok {
		return code
	}
	if len(pos) > 1 {
		e.errorf("%s takes at most one INPUT", name)
		return exitUsage
	}
	input := ""
	if len(pos) == 1 {
		input = pos[0]
	}
	ctx := context.Background()
	cd, code := cf.newCodec(ctx, e, "")
	if cd == nil {
		return code
	}
	in, err := e.readInput(input)
	if err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	out, err := op(cd, ctx, in)
	if err != nil {
		return e.codecFailed(err)
	}
	if err := e.writeOutput(out); err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	return exitOK
}
