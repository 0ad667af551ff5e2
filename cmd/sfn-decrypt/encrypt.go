package main

import (
	"context"
)

func cmdEncrypt(e *env, args []string) int {
	var cf commonFlags
	fs := newFlagSet(e, "encrypt", "encrypt --config FILE [INPUT]\n\nEncrypts the fields the configuration's rules select in the JSON document\nINPUT (a file, or - or nothing for stdin) and writes it to stdout.")
	cf.register(fs, false)
	if code, ok := parseFlags(e, fs, args); !ok {
		return code
	}
	if fs.NArg() > 1 {
		e.errorf("encrypt takes at most one INPUT")
		return exitUsage
	}
	ctx := context.Background()
	cd, code := cf.newCodec(ctx, e, "")
	if cd == nil {
		return code
	}
	in, err := e.readInput(fs.Arg(0))
	if err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	out, err := cd.Encrypt(ctx, in)
	if err != nil {
		e.errorf("%v", err)
		return exitFor(err)
	}
	if err := e.writeOutput(out); err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	return exitOK
}

func cmdDecrypt(e *env, args []string) int {
	var cf commonFlags
	fs := newFlagSet(e, "decrypt", "decrypt --config FILE [--class CLASS]... [INPUT]\n\nDecrypts every token in the JSON document INPUT (a file, or - or nothing\nfor stdin) and writes it to stdout. Nothing is written if any token fails.")
	cf.register(fs, true)
	if code, ok := parseFlags(e, fs, args); !ok {
		return code
	}
	if fs.NArg() > 1 {
		e.errorf("decrypt takes at most one INPUT")
		return exitUsage
	}
	ctx := context.Background()
	cd, code := cf.newCodec(ctx, e, "")
	if cd == nil {
		return code
	}
	in, err := e.readInput(fs.Arg(0))
	if err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	out, err := cd.Decrypt(ctx, in)
	if err != nil {
		e.errorf("%v", err)
		return exitFor(err)
	}
	if err := e.writeOutput(out); err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	return exitOK
}
