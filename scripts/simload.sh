#!/usr/bin/env bash
# What `danmakud sim` sustains on this machine: it runs the simulator and a
# separate load client (danmakud simload: raw connections, no decoding),
# then reports the simulator process's own CPU per generated message.
#
# usage: [BIN=danmakud] [SIMARGS='--cpuprofile sim.pprof'] scripts/simload.sh [CONNS] [ROOMS] [RATE] [SECONDS]
# BIN: a built danmakud to measure (default: build this checkout);
# SIMARGS: more flags for `danmakud sim`.
set -euo pipefail
conns=${1:-10000}; rooms=${2:-200}; rate=${3:-100000}; secs=${4:-30}
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'kill $simpid 2>/dev/null || true; rm -rf "$work"' EXIT
if [ -n "${BIN:-}" ]; then cp "$BIN" "$work/danmakud"; else go build -o "$work/danmakud" "$root/cmd/danmakud"; fi
ulimit -n $((conns + 1000)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
"$work/danmakud" sim --rooms "$rooms" --rate "$rate" --live-for 0 --anon-keep 1 --http-budget 10000 \
  --addr-file "$work/addr" --stats-every 10s ${SIMARGS:-} >"$work/sim.out" 2>"$work/sim.err" &
simpid=$!
for _ in $(seq 1 100); do [ -s "$work/addr" ] && break; sleep 0.1; done
base=$(cat "$work/addr")
"$work/danmakud" simload --url "$base" --conns "$conns" --for "$((secs + 600))s" >"$work/load.out" 2>&1 &
loadpid=$!
# Wait until every connection is open, then measure for $secs seconds.
for _ in $(seq 1 600); do grep -q "connections open" "$work/load.out" && break; sleep 1; done
ticks() { awk '{print $14 + $15}' /proc/$simpid/stat; }
hz=$(getconf CLK_TCK)
t0=$(ticks); g0=$(date +%s.%N)
sleep "$secs"
t1=$(ticks); g1=$(date +%s.%N)
rss=$(awk '/VmRSS/ {print $2}' /proc/$simpid/status)
kill -INT $loadpid; wait $loadpid || true
kill -INT $simpid; wait $simpid || true
cpu=$(echo "($t1 - $t0) / $hz" | bc -l)
wall=$(echo "$g1 - $g0" | bc -l)
echo "conns=$conns rooms=$rooms rate=$rate window=${secs}s"
cat "$work/load.out"; tail -n 2 "$work/sim.err"
printf 'sim CPU: %.1f%% of one core; %.2f µs per generated message at %s msg/s; RSS %d MiB\n' \
  "$(echo "100 * $cpu / $wall" | bc -l)" "$(echo "1000000 * $cpu / ($rate * $wall)" | bc -l)" "$rate" "$((rss / 1024))"
