#!/bin/sh
# soak.sh: the long versions of the hostile-condition tests (make soak).
#   - reconnect gaps: 30 rooms, drops every ~10 s, 5 minutes, default
#     --http-rate 2 and the collector's defaults (median/p90/p99 logged)
#   - kill -9: collect (the built binary) killed 50 times on one file
#   - every fuzz target for SOAK_FUZZTIME (default 10m) each
# Figures are printed with -v; keep the output (tee) for the README.
# Takes ~1 hour with the defaults. Set SOAK_FUZZTIME=1m for a quick pass.
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${SOAK_FUZZTIME:-10m}

echo "== hostile soak: long tests (DANMAKUD_SOAK=1)"
DANMAKUD_SOAK=1 $GO test -count=1 -timeout 60m -v \
	-run '^(TestReconnectGaps|TestKill9|TestSIGTERMAndSecondSIGINT|TestCollectAPIStorm|TestFullDisk)$' \
	./cmd/danmakud | grep -E '^(=== RUN|--- |    hostile_|PASS|FAIL|ok )'

for target in FuzzDecodeMessage FuzzCommand FuzzBundle FuzzStreamReader FuzzProtobuf; do
	echo "== fuzz $target for $FUZZTIME"
	$GO test ./protocol -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME"
done
echo "== hostile soak: done"
