# sfnenc developer targets. None needs Docker or the internet beyond the Go
# module proxy and the npm registry.

GO       ?= go
BIN      := bin
TOOLS    := $(BIN)/local-kms $(BIN)/aws-lambda-rie $(BIN)/staticcheck $(BIN)/benchstat
FUZZTIME ?= 30s
# How long the fuzzer minimizes an input it finds interesting. Go's default
# (60s) can stall a run: where coverage differs between two runs of one
# input (pooled buffers, say), nearly every input looks new. 1x keeps each
# finding as found; set FUZZMINIMIZE=60s to minimize a crasher.
FUZZMINIMIZE ?= 1x
COUNT    ?= 6

.PHONY: all build layer tools node-deps test test-short lint bench fuzz fuzz-short demo quickstart release clean

all: lint test

# Developer tools pinned in tools/go.mod, built into bin/.
tools: $(TOOLS)

$(BIN)/local-kms: tools/go.mod tools/go.sum
	$(GO) build -C tools -o ../$(BIN)/ github.com/nsmithuk/local-kms
$(BIN)/aws-lambda-rie: tools/go.mod tools/go.sum
	$(GO) build -C tools -o ../$(BIN)/ github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
$(BIN)/staticcheck: tools/go.mod tools/go.sum
	$(GO) build -C tools -o ../$(BIN)/ honnef.co/go/tools/cmd/staticcheck
$(BIN)/benchstat: tools/go.mod tools/go.sum
	$(GO) build -C tools -o ../$(BIN)/ golang.org/x/perf/cmd/benchstat

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/sfn-decrypt

$(BIN)/sfn-decrypt: build

# The Lambda layer for handlers in any runtime: extensions/sfnenc-proxy and
# the wrapper sfnenc-wrapper (AWS_LAMBDA_EXEC_WRAPPER=/opt/sfnenc-wrapper).
# LAYER_ARCH is the functions' architecture: amd64 (x86_64) or arm64.
LAYER_ARCH ?= amd64
layer:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(LAYER_ARCH) $(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/layer/sfnenc-proxy ./cmd/sfnenc-proxy
	$(GO) run ./cmd/sfnenc-proxy/internal/mklayer -proxy $(BIN)/layer/sfnenc-proxy -o $(BIN)/sfnenc-layer.zip

# npm packages of the end-to-end harness, pinned by package-lock.json: of
# every package directory, or of those in NODE_DIRS.
NODE_DIRS ?= $$(git ls-files '*package-lock.json' | xargs -r -n1 dirname)
node-deps:
	@for d in $(NODE_DIRS); do \
	  if [ ! -d $$d/node_modules ] || [ $$d/package-lock.json -nt $$d/node_modules ]; then \
	    echo "npm ci in $$d"; ./scripts/npm-ci.sh $$d || exit 1; fi; \
	done

# The test command the README gives and CI runs.
test: tools node-deps
	$(GO) test -race -count=1 ./...

test-short:
	$(GO) test -short ./...

lint: $(BIN)/staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...

# Every figure of BENCHMARKS.md: the measuring tests of bench/ (exact
# counts and sizes), then the benchmarks, COUNT times, through benchstat.
bench: $(BIN)/benchstat $(BIN)/local-kms
	SFNENC_BENCH=1 $(GO) test -count=1 -run 'TestKMSRequestCounts|TestSize|TestFleet|TestHandlerBinarySize' -v ./bench | tee bench-tests.txt
	SFNENC_BENCH=1 $(GO) test -run '^$$' -bench . -benchmem -count $(COUNT) $$($(GO) list ./... | grep -v /cmd/sfnenc-proxy$$) | tee bench.txt
	$(BIN)/benchstat bench.txt
	SFNENC_BENCH=1 $(GO) test -run '^$$' -bench . -benchtime 1000x -count 1 ./cmd/sfnenc-proxy | tee bench-proxy.txt

# Each fuzz target for FUZZTIME (go test -fuzz takes one target at a time).
fuzz:
	@set -e; for f in $$(git ls-files '*_test.go' | xargs grep -lE '^func Fuzz'); do \
	  for t in $$(grep -oE '^func Fuzz[A-Za-z0-9_]+' $$f | sed 's/func //'); do \
	    echo "== ./$$(dirname $$f) $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) ./$$(dirname $$f); \
	  done; \
	done

# A count rather than a duration, as CI runs it (see .ci/run).
fuzz-short:
	$(MAKE) fuzz FUZZTIME=10000x

# The main job, end to end on loopback, no AWS account: the
# identity-verification workflow (examples/identity-verification), its
# histories as Step Functions stores them and through sfn-decrypt.
# DEMO_FLAGS passes flags to the demo program (-wait, -all, -full,
# -full-tokens, -v).
# It installs only what it uses: two tools, the CLI, the harness's npm
# packages and the Node.js runtime interface client (SendRejectionEmail is a
# Node.js handler behind sfnenc-proxy).
demo: $(BIN)/local-kms $(BIN)/aws-lambda-rie build
	$(MAKE) --no-print-directory node-deps NODE_DIRS="examples/identity-verification/harness internal/noderic"
	./scripts/demo.sh $(DEMO_FLAGS)

quickstart: $(BIN)/local-kms build
	./scripts/quickstart.sh

# Release artefacts in bin/release: sfn-decrypt for linux and darwin on
# amd64 and arm64 (VERSION stamped into --version), the Lambda layer zip for
# both Lambda architectures, and SHA256SUMS of them all. VERSION defaults to git describe.
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
RELEASE   := $(BIN)/release
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
release:
	rm -rf $(RELEASE) && mkdir -p $(RELEASE)
	@set -e; for p in $(PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; name=sfn-decrypt_$(VERSION)_$${os}_$${arch}; \
	  echo "$$name"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath \
	    -ldflags "-s -w -X main.buildVersion=$(VERSION)" -o $(RELEASE)/$$name/sfn-decrypt ./cmd/sfn-decrypt; \
	  cp README.md $(RELEASE)/$$name/; \
	  tar -C $(RELEASE) --sort=name --mtime='@0' --owner=0 --group=0 --numeric-owner -czf $(RELEASE)/$$name.tar.gz $$name; \
	  rm -rf $(RELEASE)/$$name; \
	done
	@set -e; for a in x86_64:amd64 arm64:arm64; do \
	  echo "sfnenc-layer_$(VERSION)_$${a%:*}.zip"; \
	  rm -f $(BIN)/sfnenc-layer.zip; \
	  $(MAKE) --no-print-directory layer LAYER_ARCH=$${a#*:}; \
	  mv $(BIN)/sfnenc-layer.zip $(RELEASE)/sfnenc-layer_$(VERSION)_$${a%:*}.zip; \
	done
	cd $(RELEASE) && sha256sum * > SHA256SUMS && cat SHA256SUMS

clean:
	rm -rf $(BIN) bench.txt bench-tests.txt bench-proxy.txt
