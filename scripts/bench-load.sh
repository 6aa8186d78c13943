#!/usr/bin/env bash
# Issue 9's whole-pipeline load cases: `danmakud sim` and `danmakud collect`
# as separate processes, every room live and unsampled (--anon-keep 1), the
# simulator generating for TRAFFIC, the collector running for DURATION.
# Each run appends one JSON object to OUT/results.jsonl:
#   case, rooms, date, load (uptime's three averages at the start and end),
#   col_cpu_s / sim_cpu_s (user+sys from wait4, the whole run), col_rss_kib /
#   sim_rss_kib (peak RSS from wait4), steady_core (collector CPU per second
#   from /proc, sampled every second, while all rooms are connected and
#   traffic flows), ramp_s (until the simulator holds a descriptor for 97 %
#   of the rooms),
#   delivered (Σ truth rooms.<id>.<kind>), stored (Σ stats --json
#   rooms.<id>.<kind>), lost (Σ max(0, delivered − stored) per room and
#   kind; lost_by_kind per kind), db_bytes (file + -wal after collect exits), rows (Σ stats rows),
#   sessions, starved, writer_waits, reconnects (from collect's summary).
# scripts/bench-load-report.sh turns results.jsonl into BENCHMARKS.md.
#
# usage: [RUNS=1] [OUT=bin/bench-load] [BIN=bin/danmakud] scripts/bench-load.sh [CASE...]
# cases: 200 1k 10k 10k-busy (default: all four)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs=${RUNS:-1}; out=${OUT:-$root/bin/bench-load}; bin=${BIN:-$root/bin/danmakud}
traffic=${TRAFFIC:-90s}; duration=${DURATION:-130s}
[ $# -gt 0 ] || set -- 200 1k 10k 10k-busy
mkdir -p "$out"
ulimit -Sn "$(ulimit -Hn)" # a descriptor per room in each process
hz=$(getconf CLK_TCK)
kinds='["danmaku","gift","super_chat","guard","interact"]'

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo; }
child() { # the process /usr/bin/time ($1) runs
  local c=
  for _ in $(seq 1 50); do c=$(pgrep -P "$1" || true); [ -n "$c" ] && break; sleep 0.1; done
  echo "$c"
}
timed() { awk -F= '{printf "%s ", $2} END {print ""}' "$1"; } # "user sys maxrss"

one() { # case run-number
  local name=$1 n busy=0
  case $name in
    200) n=200 ;; 1k) n=1000 ;; 10k) n=10000 ;; 10k-busy) n=10000; busy=2 ;;
    *) echo "unknown case $name" >&2; return 2 ;;
  esac
  local w; w=$(mktemp -d)
  local load0; load0=$(cut -d' ' -f1-3 /proc/loadavg)
  local tfmt='user=%U\nsys=%S\nrss=%M'
  /usr/bin/time -f "$tfmt" -o "$w/sim.time" "$bin" sim --rooms "$n" --rate 20000 --live-for 0 --anon-keep 1 \
    --http-budget 100000 --traffic-for "$traffic" --truth "$w/truth.json" --addr-file "$w/addr" >"$w/sim.out" 2>&1 &
  local simtime=$!; pids+=("$simtime")
  for _ in $(seq 1 100); do [ -s "$w/addr" ] && break; sleep 0.1; done
  local sim; sim=$(child "$simtime"); local t0; t0=$(date +%s.%N)
  for _ in $(seq 1 "$busy"); do sh -c 'while :; do :; done' & pids+=($!); done
  /usr/bin/time -f "$tfmt" -o "$w/col.time" "$bin" collect --top "$n" --api-base "$(cat "$w/addr")" \
    --http-rate 300 --duration "$duration" --db "$w/load.db" --quiet >"$w/col.out" 2>"$w/col.err" &
  local coltime=$!; pids+=("$coltime")
  local col; col=$(child "$coltime")
  # Every second: seconds since the simulator started, the collector's
  # CPU ticks, the simulator's open descriptors (one per connection).
  while kill -0 "$col" 2>/dev/null; do
    echo "$(echo "$(date +%s.%N) - $t0" | bc) $(ticks "$col") $(ls "/proc/$sim/fd" 2>/dev/null | wc -l)" >>"$w/samples"
    sleep 1
  done
  # Ramp: until the simulator holds a descriptor for 97 % of the rooms.
  # Steady window: 5 s after the ramp to 3 s before the traffic stops.
  local ramp steady
  read -r ramp steady < <(awk -v traffic="${traffic%s}" -v hz="$hz" -v rooms="$n" '
    NF == 3 { t[NR] = $1; c[NR] = $2; f[NR] = $3; n = NR }
    END {
      for (i = 1; i <= n; i++) if (ramp == "" && f[i] >= 0.97 * rooms) ramp = t[i]
      for (i = 1; i <= n; i++) {
        if (a == "" && t[i] >= ramp + 5) a = i
        if (t[i] <= traffic - 3) b = i
      }
      if (ramp == "") ramp = "null"
      s = (a != "" && b != "" && t[b] - t[a] >= 5) ? sprintf("%.3f", (c[b] - c[a]) / hz / (t[b] - t[a])) : "null"
      print ramp, s
    }' "$w/samples")
  wait "$coltime" || true
  kill -INT "$sim" 2>/dev/null || true
  wait "$simtime" || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pids=()
  local load1; load1=$(cut -d' ' -f1-3 /proc/loadavg)
  "$bin" stats --db "$w/load.db" --json >"$w/stats.json"
  local dbb; dbb=$(cat "$w/load.db" "$w/load.db-wal" 2>/dev/null | wc -c)
  read -r cu cs crss < <(timed "$w/col.time")
  read -r su ss srss < <(timed "$w/sim.time")
  local summary; summary=$(grep -h 'sessions' "$w/col.err" || true)
  num() { echo "$summary" | grep -oE "[0-9]+ $1" | head -1 | cut -d' ' -f1; }
  jq -cn --arg case "$name" --argjson rooms "$n" --arg date "$(date -u +%FT%TZ)" \
    --arg load0 "$load0" --arg load1 "$load1" --argjson busy "$busy" \
    --argjson col_cpu "$(awk "BEGIN{print $cu + $cs}")" --argjson col_rss "$crss" \
    --argjson sim_cpu "$(awk "BEGIN{print $su + $ss}")" --argjson sim_rss "$srss" \
    --argjson steady "$steady" --argjson ramp "$ramp" --argjson sessions "$(num sessions)" --argjson db "$dbb" \
    --argjson starved "$(num recycled)" --argjson waits "$(num 'waits on')" --argjson reconnects "$(num reconnects)" \
    --argjson kinds "$kinds" --slurpfile t "$w/truth.json" --slurpfile s "$w/stats.json" '
    [$t[0].rooms | to_entries[] | .key as $r | .value as $tv | $kinds[] as $k
     | {k: $k, d: ($tv[$k] // 0), s: ($s[0].rooms[$r][$k] // 0)}] as $p
    | {case: $case, rooms: $rooms, busy_loops: $busy, date: $date, load: [$load0, $load1],
     col_cpu_s: $col_cpu, col_rss_kib: $col_rss, sim_cpu_s: $sim_cpu, sim_rss_kib: $sim_rss,
     steady_core: $steady, ramp_s: $ramp,
     delivered: ($p | map(.d) | add // 0),
     stored: ([$s[0].rooms[] | .[$kinds[]] // 0] | add // 0),
     lost: ($p | map(.d - .s | if . > 0 then . else 0 end) | add // 0),
     lost_by_kind: ($p | group_by(.k) | map({(.[0].k): (map(.d - .s | if . > 0 then . else 0 end) | add)}) | add),
     db_bytes: $db, rows: ([$s[0].rows[]] | add),
     sessions: $sessions, starved: $starved, writer_waits: $waits, reconnects: $reconnects}' | tee -a "$out/results.jsonl"
  if [ -n "${KEEP:-}" ]; then echo "kept $w" >&2; else rm -rf "$w"; fi
}

for c in "$@"; do
  for i in $(seq 1 "$runs"); do one "$c" "$i"; done
done
