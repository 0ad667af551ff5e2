#!/usr/bin/env bash
# npm ci in the package directory DIR, as make node-deps runs it.
#
# The project runs on Node 20. aws-local-stepfunctions 3.0.0 (the local Step
# Functions interpreter of the identity-verification harness) declares
# "node": ">=22.0.0", and npm warns about it on every install (EBADENGINE).
# The one Node 22 feature the package uses is Promise.withResolvers, which
# the harness defines before loading it (harness/server.mjs); the end-to-end
# tests and the demo run it on Node 20. So that warning, for that package at
# that version and that requirement only, is dropped; every other line of
# npm's output, other engine warnings included, is kept. A new version of the
# package warns again, on purpose: check it on Node 20 first.
#
# With --filter, the script filters standard input instead (for tests).
set -euo pipefail

filter() {
  awk '
    /^npm warn EBADENGINE Unsupported engine \{$/ { block = $0 "\n"; inblock = 1; next }
    inblock {
      block = block $0 "\n"
      if ($0 ~ /^npm warn EBADENGINE \}$/) {
        inblock = 0
        if (!(block ~ /package: .aws-local-stepfunctions@3\.0\.0.,/ && block ~ /required: \{ node: .>=22\.0\.0. \}/)) printf "%s", block
        block = ""
      }
      next
    }
    { print }
    END { if (inblock) printf "%s", block }
  '
}

if [ "${1:-}" = --filter ]; then
  filter
  exit 0
fi
dir=${1:?usage: npm-ci.sh DIR}
set +e
# Install scripts that build native code (aws-lambda-ric's curl and
# aws-lambda-cpp) use every core.
out=$(MAKEFLAGS="-j$(nproc)" npm ci --prefix "$dir" --no-audit --no-fund 2>&1)
rc=$?
set -e
printf '%s\n' "$out" | filter
exit $rc
