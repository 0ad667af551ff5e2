package main

import (
	"errors"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/results"
)

const resultsSynopsis = `results --config FILE --reason TEXT [--class C]... (--manifest s3://BUCKET/KEY | DIR | FILE) [--output json|text]

Prints the results that a Distributed Map state with a ResultWriter exported
to Amazon S3 with the sfnenc tokens in them decrypted under your own AWS
credentials and KMS permissions: every child execution's input, output,
error and cause, as the result files hold them (Transformation NONE,
COMPACT or FLATTEN; OutputType JSON or JSONL).

--manifest names the export's manifest.json: in S3 (s3://BUCKET/KEY, read
with GetObject through the standard AWS configuration; AWS_ENDPOINT_URL_S3
is honoured, and a custom endpoint is addressed by path), or a local copy
(the directory that holds manifest.json and the files it lists, or the
manifest's path), in which the files are found by file name. The directory
or manifest may also be given without --manifest. The files are read in the
manifest's order (SUCCEEDED, FAILED, PENDING) and streamed one record at a
time: a file of any size is read in bounded memory. A manifest read from S3
that names another destination bucket is refused.

--output json writes each file as it came, a JSON array or JSON Lines, one
after the other, each record byte for byte but for its tokens; --output text
writes a heading per file and an entry per record, data pretty-printed and
tokens left in place marked. --reason is sent to AWS as the SDK application
id (see 'sfn-decrypt history --help').

A token you may not or cannot decrypt stays as it is and is listed on stderr
by file, record, execution, field, JSON Pointer and class. Decrypted data
goes to stdout only.

Exit codes:
  0  every token decrypted (or left alone by --class)
  1  other failure: a file unreadable or not a result file, KMS unreachable
     or throttled past the retries, output not writable
  2  usage or configuration error (flags, --reason, configuration file,
     manifest location)
  3  some tokens could not be decrypted (denied, wrong key or context,
     altered); the rest of the output is written
  4  the S3 API failed: no such bucket or key, access denied, throttled past
     the retries`

type resultsFlags struct {
	readFlags
	manifest string
}

func cmdResults(e *env, args []string) int {
	var rf resultsFlags
	fs := newFlagSet(e, "results", resultsSynopsis)
	rf.registerRead(fs, "these results", "a heading per file, an entry per record")
	fs.StringVar(&rf.manifest, "manifest", "", "the export's manifest: `s3://BUCKET/KEY`, a local directory, or the path of its manifest.json")
	pos, err := parseInterspersed(fs, args)
	if code, ok := endFlags(e, fs, err); !ok {
		return code
	}
	switch {
	case rf.manifest != "" && len(pos) > 0, len(pos) > 1:
		e.errorf("results reads one export: give --manifest or one DIR or FILE")
		return exitUsage
	case rf.manifest == "" && len(pos) == 0:
		e.errorf("results needs --manifest s3://BUCKET/KEY, or a DIR or FILE")
		return exitUsage
	case rf.output != "json" && rf.output != "text":
		e.errorf("--output must be json or text")
		return exitUsage
	}
	where := rf.manifest
	if where == "" {
		where = pos[0]
	}
	ctx := e.context()
	var src results.Source
	bucket, key, isS3 := results.ParseS3URL(where)
	if !isS3 {
		if len(where) >= 5 && where[:5] == "s3://" {
			e.errorf("--manifest %q is not s3://BUCKET/KEY", where)
			return exitUsage
		}
		ds, err := results.NewDirSource(where)
		if err != nil {
			e.errorf("%v", err)
			return exitUsage
		}
		src = ds
	}
	ro, code := rf.newReadOutput(ctx, e, "these results")
	if code != 0 {
		return code
	}
	if isS3 {
		cfg, err := rf.awsConfig(ctx, ro.appID)
		if err != nil {
			e.errorf("AWS configuration: %v", err)
			return exitUsage
		}
		custom := e.getenv("AWS_ENDPOINT_URL_S3") != "" || e.getenv("AWS_ENDPOINT_URL") != ""
		src = results.NewS3Source(cfg, bucket, key, custom)
	}
	echoReason(e, "Distributed Map results "+src.String(), rf.reason, ro.appID)
	data, err := src.Manifest(ctx)
	if err != nil {
		e.errorf("%v", err)
		return exitForAPI(err)
	}
	m, err := results.ParseManifest(data)
	if err != nil {
		e.errorf("%s: %v", src, err)
		return exitFail
	}
	if isS3 {
		if err := m.CheckBucket(bucket); err != nil {
			e.errorf("%v", err)
			return exitUsage
		}
	}
	out := results.Output{W: ro.out}
	if ro.timeline != nil {
		out.Text = ro.timeline
	}
	var fails tally
	code = exitOK
	for _, f := range m.Files {
		rc, err := src.Open(ctx, f)
		if err != nil {
			e.errorf("%v", err)
			code = worse(code, exitForAPI(err))
			continue
		}
		n, err := results.Decrypt(ctx, ro.dec, f, rc, out, func(fs []execdata.Failure) { fails.add(fs...) })
		rc.Close()
		if err != nil {
			e.errorf("%v", err)
			code = worse(code, exitFail)
			if !errors.Is(err, results.ErrNotResults) && !errors.Is(err, results.ErrRead) {
				break // the output failed
			}
			continue
		}
		unit := "records"
		if n == 1 {
			unit = "record"
		}
		e.infof("%s: %d %s", f.Key, n, unit)
	}
	if len(m.Files) == 0 {
		e.infof("the manifest lists no result files")
	}
	return worse(code, fails.report(e, ""))
}
