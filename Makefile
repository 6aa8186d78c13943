# danmakud — build, test, benchmark.
# `make test` is what CI runs (.ci/run); keep it self-contained.

GO        ?= go
PKGS      := ./...
BENCHSTAT := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
BENCH_COUNT ?= 6
FUZZTIME  ?= 20s

.PHONY: all build test fmt-check vet unit interop bench fuzz demo clean

all: build

build:
	$(GO) build -o bin/danmakud ./cmd/danmakud

# test: formatting, vet, every test with the race detector, and the
# simulator checked by a real third-party client (needs node and npm).
test: fmt-check vet unit interop

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

unit:
	$(GO) test -race -count=1 $(PKGS)

# interop: bilibili-live-ws (pinned, from the npm registry) against the sim.
interop:
	internal/livesim/interop/run.sh

# bench: each benchmark BENCH_COUNT times; benchstat prints the median and
# its spread. Raw results stay in bench.txt.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) ./protocol | tee bench.txt
	$(GO) test -run '^$$' -bench Writer -benchtime 1000000x -count $(BENCH_COUNT) ./storage | tee -a bench.txt
	$(GO) run $(BENCHSTAT) bench.txt

# fuzz: a short run of every fuzz target (go test allows one target per run).
fuzz:
	$(GO) test ./protocol -run '^$$' -fuzz '^FuzzDecodeMessage$$' -fuzztime $(FUZZTIME)
	$(GO) test ./protocol -run '^$$' -fuzz '^FuzzCommand$$' -fuzztime $(FUZZTIME)

demo:
	$(GO) run ./cmd/danmakud demo

clean:
	rm -rf bin bench.txt
