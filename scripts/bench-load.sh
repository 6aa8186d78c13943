#!/usr/bin/env bash
# The whole-pipeline load cases: `danmakud sim` and `danmakud collect`
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
#   sessions, starved, writer_waits, reconnects (from collect's summary),
#   journal_dropped (frames the journal dropped, from the summary),
#   journal_drop_reasons (from the log: behind, full, …; the log of a run
#   that dropped frames or left a room unconnected is kept as
#   OUT/<case>-<time>.col.err), rooms_connected (rooms with a connection),
#   server_cuts (connections the server ended: with no faults configured,
#   only a client that stopped reading is cut), max_conns_per_room
#   (connections a room had: 1 when nothing was cut), memory_limit
#   (collect's --memory-limit, "" for the default),
#   us_per_event_steady (steady_core × 10⁶ / the delivered rate, that rate
#   being delivered / (traffic seconds − ramp_s): every room is connected
#   after the ramp and the simulator's rate is constant, so this is the
#   collector's CPU per delivered event in the steady window; counting
#   what it stored in that window would lag behind what it decoded).
#
# Peer cases (peer-200, peer-1k): the same simulator command as 200 / 1k,
# with bilibili-live-ws (scripts/peer/blws.mjs, the version pinned in
# internal/livesim/interop, installed there with `npm ci` when missing)
# in the collector's place for DURATION: one LiveWS per room, decoding
# only, nothing stored. Its JSON line: case, rooms, busy_loops (0), date,
# load, peer ("bilibili-live-ws 6.3.1"), peer_cpu_s, peer_rss_kib (wait4,
# the whole run), sim_cpu_s, sim_rss_kib, steady_core, ramp_s, steady_s,
# messages (commands the peer decoded: its 'msg' events, every cmd, not
# only the five counted kinds), messages_steady (those decoded in the
# steady window, from the peer's per-second cumulative counts, linearly
# interpolated at the window's ends), us_per_msg_steady (steady CPU /
# messages_steady: CPU per decoded command), delivered (Σ truth, the five
# kinds, as for danmakud), us_per_event_steady (as above, comparable with
# danmakud's), rss_kib_per_room (peer_rss_kib / rooms), opened, closed,
# errors (the peer's connections).
# scripts/bench-load-report.sh turns results.jsonl into BENCHMARKS.md.
#
# usage: [RUNS=1] [OUT=bin/bench-load] [BIN=bin/danmakud] [TRAFFIC=90s]
#        [DURATION=130s] [ROOMS=n] scripts/bench-load.sh [CASE...]
# cases: 200 1k 5k 10k 10k-busy 30k peer-200 peer-1k (default: 200 1k
# 10k 10k-busy). 5k is the memory bound's case: 5,000 rooms with
# --memory-limit 200MiB, whose peak RSS must stay under it. 30k runs 180 s of traffic (its tokens alone take 100 s at 300
# requests/s: every room is then connected for at least a minute) and
# needs 60,000 descriptors (raised as root). The 10k cases run collect
# with --memory-limit 400MiB and 30k with 1200MiB (MEMLIMIT= overrides;
# MEMLIMIT=default for none): the memory a run may use is one setting.
# ROOMS overrides every case's room count (quick checks only: the case
# name stays, so keep such runs in their own OUT). PROFILE=1 also writes
# the collector's CPU profile and a heap profile taken as it is told to
# stop (OUT/<case>-<date>.cpu.pprof, .heap.pprof); profiling costs a few
# per cent, so keep profiled runs out of the medians (their own OUT).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs=${RUNS:-1}; out=${OUT:-$root/bin/bench-load}; bin=${BIN:-$root/bin/danmakud}
traffic=${TRAFFIC:-90s}; duration=${DURATION:-130s}
[ $# -gt 0 ] || set -- 200 1k 10k 10k-busy
mkdir -p "$out"
# A descriptor per room in each process (root may raise the hard limit).
[ "$(id -u)" = 0 ] && [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt 200000 ] && ulimit -Hn 200000 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)"
hz=$(getconf CLK_TCK)
kinds='["danmaku","gift","super_chat","guard","interact"]'

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo; }
# finish PID: waits for PID (the measured program's /usr/bin/time), then
# stops the simulator ($sim, $simtime: the caller's) and the busy loops.
finish() {
  wait "$1" || true
  kill -INT "$sim" 2>/dev/null || true
  wait "$simtime" || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pids=()
}
# sample PID FILE: while PID lives, every second a line of seconds since
# the simulator started ($t0), PID's CPU ticks and the simulator's ($sim)
# open descriptors (one per connection); $t0 and $sim are the caller's.
sample() {
  while kill -0 "$1" 2>/dev/null; do
    echo "$(echo "$(date +%s.%N) - $t0" | bc) $(ticks "$1") $(ls "/proc/$sim/fd" 2>/dev/null | wc -l)" >>"$2"
    sleep 1
  done
}
child() { # the process /usr/bin/time ($1) runs
  local c=
  for _ in $(seq 1 50); do c=$(pgrep -P "$1" || true); [ -n "$c" ] && break; sleep 0.1; done
  echo "$c"
}
# window SAMPLES ROOMS [COUNTS]: the ramp (until the simulator holds a
# descriptor for 97 % of the rooms) and the steady window (5 s after the
# ramp to 3 s before the traffic stops) of a run's samples ("seconds
# since the simulator started, the process's CPU ticks, the simulator's
# descriptors" a line). Prints "ramp steady_core steady_s count cpu_s" (null
# when there is no window of at least 5 s); count is what COUNTS ("seconds
# since the simulator started, a cumulative count" a line) grew by in the
# window, interpolated linearly at its ends.
window() {
  awk -v traffic="${traffic%s}" -v hz="$hz" -v rooms="$2" '
    FILENAME == ARGV[1] && NF == 2 { ct[++m] = $1; cv[m] = $2; next }
    NF == 3 { t[++n] = $1; c[n] = $2; f[n] = $3 }
    function at(x,   j) {
      if (m == 0) return ""
      if (x <= ct[1]) return cv[1]
      for (j = 2; j <= m; j++) if (ct[j] >= x) return cv[j-1] + (cv[j] - cv[j-1]) * (x - ct[j-1]) / (ct[j] - ct[j-1])
      return cv[m]
    }
    END {
      for (i = 1; i <= n; i++) if (ramp == "" && f[i] >= 0.97 * rooms) ramp = t[i]
      for (i = 1; i <= n; i++) {
        if (a == "" && t[i] >= ramp + 5) a = i
        if (t[i] <= traffic - 3) b = i
      }
      ok = a != "" && b != "" && t[b] - t[a] >= 5
      s = ok ? sprintf("%.3f", (c[b] - c[a]) / hz / (t[b] - t[a])) : "null"
      d = ok ? sprintf("%.3f", t[b] - t[a]) : "null"
      k = ok && m > 0 ? sprintf("%.0f", at(t[b]) - at(t[a])) : "null"
      u = ok ? sprintf("%.2f", (c[b] - c[a]) / hz) : "null"
      if (ramp == "") ramp = "null"
      print ramp, s, d, k, u
    }' "${3:-/dev/null}" "$1"
}
# jq definitions shared by the cases' JSON lines.
jqdefs='def usPerEvent(core; delivered; ramp):
  if core == null or ramp == null or delivered == 0 or $traffic - ramp <= 0 then null
  else (core * 1e6 / (delivered / ($traffic - ramp)) * 100 | round) / 100 end;'

timed() { awk -F= '{printf "%s ", $2} END {print ""}' "$1"; } # "user sys maxrss"
# sqlite DB QUERY: one row of a read-only query, fields separated by spaces
# (python3's sqlite3: no sqlite3 binary needed).
sqlite() { python3 -c 'import sqlite3,sys; c=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro", uri=True); print(*c.execute(sys.argv[2]).fetchone())' "$1" "$2"; }

tfmt='user=%U\nsys=%S\nrss=%M'
# startsim ROOMS DIR: the simulator every case runs, under /usr/bin/time;
# sets the caller's simtime (time's pid), sim (the simulator's) and t0.
startsim() {
  /usr/bin/time -f "$tfmt" -o "$2/sim.time" "$bin" sim --rooms "$1" --rate 20000 --live-for 0 --anon-keep 1 \
    --http-budget 100000 --traffic-for "$traffic" --truth "$2/truth.json" --addr-file "$2/addr" >"$2/sim.out" 2>&1 &
  simtime=$!; pids+=("$simtime")
  for _ in $(seq 1 100); do [ -s "$2/addr" ] && break; sleep 0.1; done
  sim=$(child "$simtime"); t0=$(date +%s.%N)
}

# peer ROOMS: a peer case (see the header).
peer() {
  local name=$name n=${ROOMS:-$1}
  local interop="$root/internal/livesim/interop"
  command -v node >/dev/null || { echo "$name: node not found; skipped" >&2; return 0; }
  [ -d "$interop/node_modules/bilibili-live-ws" ] || (cd "$interop" && npm ci --no-audit --no-fund --loglevel=error) ||
    { echo "$name: npm ci in $interop failed; skipped" >&2; return 0; }
  local w; w=$(mktemp -d); touch "$w/samples"
  local load0; load0=$(cut -d' ' -f1-3 /proc/loadavg)
  local simtime sim t0; startsim "$n" "$w"
  /usr/bin/time -f "$tfmt" -o "$w/peer.time" node "$root/scripts/peer/blws.mjs" "$(cat "$w/addr")" "$n" "${duration%s}" \
    >"$w/peer.out" 2>"$w/peer.err" &
  local peertime=$!; pids+=("$peertime")
  local pp; pp=$(child "$peertime")
  sample "$pp" "$w/samples"
  finish "$peertime"
  local load1; load1=$(cut -d' ' -f1-3 /proc/loadavg)
  jq -r --argjson t0 "$t0" 'select(.t != null) | "\(.t - $t0) \(.messages)"' "$w/peer.out" >"$w/counts"
  local ramp steady steady_s msgs cpu
  read -r ramp steady steady_s msgs cpu < <(window "$w/samples" "$n" "$w/counts")
  read -r pu ps prss < <(timed "$w/peer.time")
  read -r su ss srss < <(timed "$w/sim.time")
  local final; final=$(jq -c 'select(.final)' "$w/peer.out")
  [ -n "$final" ] || { echo "peer: no final line; stderr:" >&2; tail -5 "$w/peer.err" >&2; final='{}'; }
  jq -cn --arg case "$name" --argjson rooms "$n" --arg date "$(date -u +%FT%TZ)" \
    --arg load0 "$load0" --arg load1 "$load1" --argjson final "$final" \
    --argjson peer_cpu "$(awk "BEGIN{print $pu + $ps}")" --argjson peer_rss "$prss" \
    --argjson sim_cpu "$(awk "BEGIN{print $su + $ss}")" --argjson sim_rss "$srss" \
    --argjson steady "$steady" --argjson ramp "$ramp" --argjson steady_s "$steady_s" --argjson msgs "$msgs" \
    --argjson cpu "$cpu" --argjson kinds "$kinds" --argjson traffic "${traffic%s}" --slurpfile t "$w/truth.json" "$jqdefs"'
    {case: $case, rooms: $rooms, busy_loops: 0, date: $date, load: [$load0, $load1],
     peer: ($final.peer // null), peer_cpu_s: $peer_cpu, peer_rss_kib: $peer_rss,
     sim_cpu_s: $sim_cpu, sim_rss_kib: $sim_rss, steady_core: $steady, ramp_s: $ramp, steady_s: $steady_s,
     messages: ($final.messages // null), messages_steady: $msgs,
     us_per_msg_steady: (if $cpu == null or ($msgs // 0) == 0 then null else ($cpu * 1e6 / $msgs * 100 | round) / 100 end),
     delivered: ([$t[0].rooms[] | .[$kinds[]] // 0] | add // 0),
     rss_kib_per_room: ($peer_rss / $rooms | round),
     opened: ($final.opened // null), closed: ($final.closed // null), errors: ($final.errors // null)}
    | .us_per_event_steady = usPerEvent(.steady_core; .delivered; $ramp)' | tee -a "$out/results.jsonl"
  if [ -n "${KEEP:-}" ]; then echo "kept $w" >&2; else rm -rf "$w"; fi
}

one() { # case run-number
  local name=$1 n busy=0
  local traffic=$traffic duration=$duration mem=
  case $name in
    200) n=200 ;; 1k) n=1000 ;; 5k) n=5000; mem=200MiB ;; 10k) n=10000; mem=400MiB ;; 10k-busy) n=10000; busy=2; mem=400MiB ;;
    30k) n=30000; mem=1200MiB; traffic=${TRAFFIC:-180s}; duration=${DURATION:-220s} ;;
    peer-200) peer 200; return ;; peer-1k) peer 1000; return ;;
    *) echo "unknown case $name" >&2; return 2 ;;
  esac
  mem=${MEMLIMIT:-$mem}; [ "$mem" = default ] && mem=
  local memflag=(); [ -n "$mem" ] && memflag=(--memory-limit "$mem")
  n=${ROOMS:-$n}
  local w; w=$(mktemp -d)
  local load0; load0=$(cut -d' ' -f1-3 /proc/loadavg)
  local simtime sim t0; startsim "$n" "$w"
  for _ in $(seq 1 "$busy"); do sh -c 'while :; do :; done' & pids+=($!); done
  local prof=()
  if [ -n "${PROFILE:-}" ]; then
    local stem; stem="$out/$name-$(date -u +%Y%m%dT%H%M%S)"
    prof=(--cpuprofile "$stem.cpu.pprof" --memprofile "$stem.heap.pprof")
  fi
  /usr/bin/time -f "$tfmt" -o "$w/col.time" "$bin" collect --top "$n" --api-base "$(cat "$w/addr")" \
    --http-rate 300 --duration "$duration" --db "$w/load.db" --quiet "${memflag[@]}" "${prof[@]}" >"$w/col.out" 2>"$w/col.err" &
  local coltime=$!; pids+=("$coltime")
  local col; col=$(child "$coltime")
  sample "$col" "$w/samples"
  local ramp steady
  read -r ramp steady _ < <(window "$w/samples" "$n")
  finish "$coltime"
  local load1; load1=$(cut -d' ' -f1-3 /proc/loadavg)
  "$bin" stats --db "$w/load.db" --json >"$w/stats.json"
  local dbb; dbb=$(cat "$w/load.db" "$w/load.db-wal" 2>/dev/null | wc -c)
  read -r cu cs crss < <(timed "$w/col.time")
  read -r su ss srss < <(timed "$w/sim.time")
  local summary; summary=$(grep -h 'sessions' "$w/col.err" || true)
  num() { echo "$summary" | grep -oE "[0-9]+ $1" | head -1 | cut -d' ' -f1; }
  local dropped; dropped=$(grep -oE '[0-9]+ frames were DROPPED' "$w/col.err" | cut -d' ' -f1 || true)
  local reasons; reasons=$(grep -oE 'DROPPING FRAMES: [a-z ]+|cannot write a segment' "$w/col.err" | sed 's/DROPPING FRAMES: //' | sort -u | paste -sd, - || true)
  local cuts perroom watched
  read -r cuts perroom watched < <(sqlite "$w/load.db" "SELECT (SELECT count(*) FROM connections WHERE end_reason = 'server_closed'),
    (SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM connections WHERE authed_ms IS NOT NULL GROUP BY room_id)),
    (SELECT count(DISTINCT room_id) FROM connections WHERE authed_ms IS NOT NULL)")
  if [ "${dropped:-0}" -gt 0 ] || [ "${watched:-0}" -lt "$n" ]; then # keep the log of a run that lost or missed something
    cp "$w/col.err" "$out/$name-$(date -u +%Y%m%dT%H%M%SZ).col.err"
  fi
  jq -cn --arg case "$name" --argjson rooms "$n" --arg date "$(date -u +%FT%TZ)" \
    --arg load0 "$load0" --arg load1 "$load1" --argjson busy "$busy" \
    --argjson col_cpu "$(awk "BEGIN{print $cu + $cs}")" --argjson col_rss "$crss" \
    --argjson sim_cpu "$(awk "BEGIN{print $su + $ss}")" --argjson sim_rss "$srss" \
    --argjson steady "$steady" --argjson ramp "$ramp" --argjson sessions "$(num sessions)" --argjson db "$dbb" \
    --argjson starved "$(num recycled)" --argjson waits "$(num 'waits on')" --argjson reconnects "$(num reconnects)" \
    --argjson dropped "${dropped:-0}" --arg reasons "$reasons" --argjson watched "${watched:-null}" --argjson cuts "${cuts:-null}" --argjson perroom "${perroom:-null}" --arg mem "$mem" \
    --argjson kinds "$kinds" --argjson traffic "${traffic%s}" --slurpfile t "$w/truth.json" --slurpfile s "$w/stats.json" "$jqdefs"'
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
     sessions: $sessions, starved: $starved, writer_waits: $waits, reconnects: $reconnects,
     journal_dropped: $dropped, journal_drop_reasons: $reasons, rooms_connected: $watched, server_cuts: $cuts, max_conns_per_room: $perroom, memory_limit: $mem}
    | .us_per_event_steady = usPerEvent(.steady_core; .delivered; $ramp)' | tee -a "$out/results.jsonl"
  if [ -n "${KEEP:-}" ]; then echo "kept $w" >&2; else rm -rf "$w"; fi
}

for c in "$@"; do
  for i in $(seq 1 "$runs"); do one "$c" "$i"; done
done
