#!/usr/bin/env bash
# Runs the identity-verification demo on loopback (make demo): local-kms,
# the Lambda functions under the Lambda Runtime Interface Emulator, the
# example's local services and the local Step Functions endpoint; runs the
# happy, retry and rejection paths and prints, for each, the history as Step
# Functions stores it and the same history through sfn-decrypt. Everything
# it starts is stopped when it ends, fails or is interrupted.
#
# Needs bin/local-kms, bin/aws-lambda-rie and bin/sfn-decrypt (make tools
# build) and the harness's npm packages (make node-deps); `make demo` sees
# to all three. Arguments are passed to the demo program (-wait, -all,
# -full, -full-tokens, -v; see examples/identity-verification/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
example=examples/identity-verification
tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for f in bin/local-kms bin/aws-lambda-rie bin/sfn-decrypt; do
  [ -x "$f" ] || { echo "demo: $f is missing: run make tools build (or make demo)" >&2; exit 1; }
done
[ -d "$example/harness/node_modules/aws-local-stepfunctions" ] || {
  echo "demo: the harness's npm packages are missing: run make node-deps (or make demo)" >&2; exit 1; }
[ -d internal/noderic/node_modules/aws-lambda-ric ] || {
  echo "demo: the Node.js runtime interface client is missing: run make node-deps (or make demo)" >&2; exit 1; }

go build -o "$tmp/demo" "./$example/cmd/demo"
# The demo program stops what it started itself, on Ctrl-C too; the trap
# above covers the program being killed from outside this script.
"$tmp/demo" -example "$example" -bin bin -out out/identity-verification-demo "$@" &
pid=$!
wait "$pid"
