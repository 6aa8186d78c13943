# danmakud — build, test, benchmark.
# `make test` is what CI runs (.ci/run); keep it self-contained.

GO        ?= go
PKGS      := ./...
BENCHSTAT := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCH_COUNT ?= 6
FUZZTIME  ?= 20s
# Stamped into the binary (danmakud --version, runs.version); without
# them (go install, go run) the binary reads Go's build info instead.
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS   := -X main.buildVersion=$(VERSION) -X main.buildCommit=$(COMMIT)
PREFIX    ?= /usr/local

.PHONY: all build install systemd-verify kube-verify test fmt-check vet lint unit interop duckdb bench bench-load fuzz soak demo clean

all: build

# build: bin/danmakud with the version and commit stamped in. The first
# build compiles the pure-Go SQLite and takes 1-2 minutes; later ones ~1 s.
build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/danmakud ./cmd/danmakud

# install: the binary to $(DESTDIR)$(PREFIX)/bin (the systemd units in
# contrib/systemd expect /usr/local/bin/danmakud).
install: build
	install -D -m 0755 bin/danmakud $(DESTDIR)$(PREFIX)/bin/danmakud

# systemd-verify: check the units in contrib/systemd (needs systemd-analyze).
systemd-verify:
	contrib/systemd/verify.sh

# kube-verify: the Kubernetes manifests in contrib/kubernetes, decoded
# strictly into the API types and their wiring checked. A module of its own,
# so the Kubernetes modules stay out of danmakud's; vetted and linted here.
kube-verify:
	cd contrib/kubernetes && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./... && $(GO) test -count=1 ./...

# test: formatting, vet and staticcheck, every test with the race
# detector (the Parquet segments read by DuckDB among them), the simulator
# checked by a real third-party client (both need node and npm), the
# systemd units (skipped without systemd-analyze) and the Kubernetes
# manifests.
test: fmt-check lint unit interop systemd-verify kube-verify

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# lint: vet, then staticcheck at the pinned version (go run fetches it
# from the module proxy the first time; it is not in go.mod). A finding
# that is wrong gets a //lint:ignore with the reason beside the line.
lint: vet
	$(GO) run $(STATICCHECK) $(PKGS)

# unit: every test with the race detector, DuckDB installed and required
# (DANMAKUD_DUCKDB=1: a test that reads Parquet with it fails, rather
# than skip that step, without the packages).
unit: duckdb
	DANMAKUD_DUCKDB=1 $(GO) test -race -count=1 $(PKGS)

# interop: bilibili-live-ws (pinned, from the npm registry) against the sim.
interop:
	internal/livesim/interop/run.sh

# duckdb: installs DuckDB (npm @duckdb/node-api, pinned) for the tests that
# read the Parquet segments of export --partition day with it and count
# what stats counts (TestDuckDBReadsSegments, TestShardsEndToEnd); without
# it they skip that step, except under DANMAKUD_DUCKDB=1.
duckdb:
	cd cmd/danmakud/testdata/duckdb && npm ci --no-audit --no-fund --loglevel=error

# bench: each benchmark BENCH_COUNT times; benchstat prints the median and
# its spread. Raw results stay in bench.txt.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) ./protocol | tee bench.txt
	$(GO) test -run '^$$' -bench Writer -benchtime 1000000x -count $(BENCH_COUNT) ./storage | tee -a bench.txt
	$(GO) run $(BENCHSTAT) bench.txt

# bench-load: the whole-site load cases (scripts/bench-load.sh: sim and
# collect as separate processes, ~3 min per run; LOAD_RUNS runs of each
# case; peer-200 is bilibili-live-ws on the 200-room stream, needing node
# and npm), their medians written into BENCHMARKS.md. Results accumulate in
# bin/bench-load/results.jsonl; delete it to start afresh.
LOAD_RUNS  ?= 3
LOAD_CASES ?= 200 peer-200 1k 5k 10k 10k-busy 30k
bench-load: build
	RUNS=$(LOAD_RUNS) scripts/bench-load.sh $(LOAD_CASES)
	scripts/bench-load-report.sh

# fuzz: a short run of every fuzz target (go test allows one target per run).
fuzz:
	$(GO) test ./protocol -run '^$$' -fuzz '^FuzzDecodeMessage$$' -fuzztime $(FUZZTIME)
	$(GO) test ./protocol -run '^$$' -fuzz '^FuzzCommand$$' -fuzztime $(FUZZTIME)
	$(GO) test ./protocol -run '^$$' -fuzz '^FuzzBundle$$' -fuzztime $(FUZZTIME)
	$(GO) test ./protocol -run '^$$' -fuzz '^FuzzStreamReader$$' -fuzztime $(FUZZTIME)
	$(GO) test ./protocol -run '^$$' -fuzz '^FuzzProtobuf$$' -fuzztime $(FUZZTIME)

# soak: the long hostile-condition tests (the fault soak, plain and on a
# busy machine with a throttled disk, reconnect gaps over 5 minutes, 50
# kill -9s, the shards at 200 rooms, DuckDB required) and every fuzz
# target for SOAK_FUZZTIME (default 10m) each: about 90 minutes. Not part
# of make test.
soak: duckdb
	GO=$(GO) DANMAKUD_DUCKDB=1 scripts/soak.sh

demo:
	$(GO) run ./cmd/danmakud demo

clean:
	rm -rf bin bench.txt
