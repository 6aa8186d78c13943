#!/usr/bin/env bash
# A collector load figure: `collect --top N` against `danmakud sim --rooms R
# --rate RATE` for SECONDS, reporting messages/s, rows written, reconnects,
# and the collector's CPU and RSS (from /proc, the collector process only).
#
# usage: [SIMARGS="--live-for 0"] scripts/collect-load.sh [TOP] [ROOMS] [RATE] [SECONDS]
set -euo pipefail
top=${1:-100}; rooms=${2:-200}; rate=${3:-20000}; secs=${4:-300}
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'kill $simpid $colpid 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/danmakud" "$root/cmd/danmakud"
"$work/danmakud" sim --rooms "$rooms" --rate "$rate" --anon-keep 1 --addr-file "$work/addr" --truth "$work/truth.json" \
  --http-budget 50 ${SIMARGS:-} >"$work/sim.out" 2>&1 &
simpid=$!
for _ in $(seq 1 100); do [ -s "$work/addr" ] && break; sleep 0.1; done
"$work/danmakud" collect --top "$top" --api-base "$(cat "$work/addr")" --db "$work/load.db" \
  --duration "${secs}s" --quiet --http-rate 5 >"$work/collect.out" 2>"$work/collect.err" &
colpid=$!
hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
start=$(date +%s.%N)
peak=0
while kill -0 $colpid 2>/dev/null; do
  c=$(ticks $colpid 2>/dev/null || echo 0); s=$(ticks $simpid)
  r=$(awk '/VmHWM/ {print $2}' /proc/$colpid/status 2>/dev/null || echo 0)
  [ -n "$r" ] && [ "$r" -gt "$peak" ] && peak=$r
  last_c=$c; last_s=$s
  sleep 1
done
end=$(date +%s.%N)
wait $colpid || true
wall=$(echo "$end - $start" | bc -l)
echo "collect --top $top vs sim --rooms $rooms --rate $rate for ${secs}s"
cat "$work/collect.err"
printf 'collector CPU: %.1f%% of one core (%.1f s CPU in %.0f s); peak RSS %d MiB\n' \
  "$(echo "100 * $last_c / $hz / $wall" | bc -l)" "$(echo "$last_c / $hz" | bc -l)" "$wall" "$((peak / 1024))"
printf 'sim CPU: %.1f%% of one core\n' "$(echo "100 * $last_s / $hz / $wall" | bc -l)"
"$work/danmakud" stats --db "$work/load.db" | head -20
