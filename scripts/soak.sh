#!/bin/sh
# soak.sh: the long versions of the hostile-condition tests (make soak).
#   - fault soak: 500 rooms, every fault, 10 minutes, logged in: stored =
#     truth, no false recycle, no goroutine left, RSS flat over the second
#     half; then the same again with two busy loops beside it and the
#     database on a throttled loop device (200 write IOPS, 8 MiB/s)
#   - reconnect gaps: 30 rooms, drops every ~10 s, 5 minutes, default
#     --http-rate 2 and the collector's defaults (median/p90/p99 logged)
#   - kill -9: collect (the built binary) killed 50 times on one file
#   - shards: 4 shards from their own addresses, 200 rooms, one killed -9,
#     their files merged and compared with a reference run (DuckDB over
#     the Parquet segments when its packages are installed: make duckdb;
#     make soak installs them and sets DANMAKUD_DUCKDB=1)
#   - SIGTERM / second SIGINT, the API storm and the full disk once more
#   - every fuzz target for SOAK_FUZZTIME (default 10m) each
# Figures are printed (go test -v); keep the output (tee) for docs/testing.md.
# About 90 minutes with the defaults; SOAK_FUZZTIME=1m for a quick pass.
# Every step runs; the exit status is 1 if any failed.
set -u
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${SOAK_FUZZTIME:-10m}
failed=""

echo "== hostile soak: long tests (DANMAKUD_SOAK=1)"
DANMAKUD_SOAK=1 $GO test -count=1 -timeout 90m -v \
	-run '^(TestEndToEndEqualsTruth|TestFaultSoakBusyMachineSlowDisk|TestReconnectGaps|TestKill9|TestShardsEndToEnd|TestSIGTERMAndSecondSIGINT|TestCollectAPIStorm|TestFullDisk)$' \
	./daemon ./cmd/danmakud || failed="$failed long-tests"

for target in FuzzDecodeMessage FuzzCommand FuzzBundle FuzzStreamReader FuzzProtobuf; do
	echo "== fuzz $target for $FUZZTIME"
	$GO test ./protocol -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" || failed="$failed $target"
done
if [ -n "$failed" ]; then
	echo "== hostile soak: FAILED:$failed"
	exit 1
fi
echo "== hostile soak: all passed"
