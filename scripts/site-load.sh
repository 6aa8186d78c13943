#!/usr/bin/env bash
# Whole-site load: `collect --top N` against `danmakud sim --rooms N --rate
# RATE` (every room live), so the collector keeps one connection to every
# room. After all N connections are up it measures both processes' CPU
# (from /proc) over a steady window of SECONDS, then stops collect and
# prints its summary and stats.
#
# usage: [COLARGS="--memprofile heap.prof"] scripts/site-load.sh [N] [RATE] [SECONDS] [HTTP_RATE]
set -euo pipefail
n=${1:-10000}; rate=${2:-20000}; secs=${3:-60}; httprate=${4:-300}
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
simpid=; colpid=
trap 'kill $simpid $colpid 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/danmakud" "$root/cmd/danmakud"
ulimit -n $((n + 1000)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
"$work/danmakud" sim --rooms "$n" --rate "$rate" --live-for 0 --anon-keep 1 --http-budget 100000 \
  --addr-file "$work/addr" >"$work/sim.out" 2>"$work/sim.err" &
simpid=$!
for _ in $(seq 1 100); do [ -s "$work/addr" ] && break; sleep 0.1; done
"$work/danmakud" collect --top "$n" --api-base "$(cat "$work/addr")" --db "$work/site.db" --quiet \
  --http-rate "$httprate" ${COLARGS:-} >"$work/col.out" 2>"$work/col.err" &
colpid=$!
t0=$(date +%s)
# The simulator's open descriptors: one per connection plus a handful.
until [ "$(ls /proc/$simpid/fd | wc -l)" -ge $((n + 5)) ]; do
  kill -0 $colpid || { cat "$work/col.err"; exit 1; }
  sleep 2
done
echo "ramp: $(( $(date +%s) - t0 )) s to $n connections (--http-rate $httprate)"
sleep 10
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
c0=$(ticks $colpid); s0=$(ticks $simpid); g0=$(date +%s.%N)
sleep "$secs"
c1=$(ticks $colpid); s1=$(ticks $simpid); g1=$(date +%s.%N)
crss=$(awk '/VmHWM/ {print $2}' /proc/$colpid/status); srss=$(awk '/VmHWM/ {print $2}' /proc/$simpid/status)
kill -INT $colpid; wait $colpid || true
kill -INT $simpid; wait $simpid || true
wall=$(echo "$g1 - $g0" | bc -l)
printf 'steady %ss: collector %.1f%% of one core, sim %.1f%%; peak RSS collector %d MiB, sim %d MiB\n' "$secs" \
  "$(echo "100 * ($c1 - $c0) / $hz / $wall" | bc -l)" "$(echo "100 * ($s1 - $s0) / $hz / $wall" | bc -l)" \
  "$((crss / 1024))" "$((srss / 1024))"
cat "$work/col.err"
"$work/danmakud" stats --db "$work/site.db" | head -14
