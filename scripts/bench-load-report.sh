#!/usr/bin/env bash
# Turns scripts/bench-load.sh's results.jsonl into Markdown tables (the
# median of every run of each case; each run's date and load averages
# listed) and puts them in BENCHMARKS.md between the bench-load markers:
# danmakud's cases, then, when there are peer runs (peer-200, …),
# danmakud's unloaded cases of the same room counts beside the peer's.
#
# usage: scripts/bench-load-report.sh [RESULTS] [BENCHMARKS.md]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
res=${1:-$root/bin/bench-load/results.jsonl}; md=${2:-$root/BENCHMARKS.md}
machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB"
table=$(jq -rs --arg machine "$machine" '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def r(n): if . == null then "–" else (. * pow(10; n) | round) / pow(10; n) | tostring end;
  def isPeer: .peer_cpu_s != null;
  . as $all | map(select(isPeer | not)) |
  group_by(.case) | sort_by(.[0].rooms, .[0].busy_loops) |
  "Machine: \($machine). Median of the runs of each case; a run lists its date (UTC) and load averages (1, 5, 15 min) at its start → end.\n",
  "| case | runs | collector CPU µs / stored event | steady core | µs / delivered event (steady) | peak RSS MiB (KB / room) | memory limit | SQLite bytes / stored event | delivered | stored | lost (guard) | journal dropped | server cuts | most connections of a room | starved | reconnects | sim CPU µs / delivered |",
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  (.[] | . as $runs | .[0] as $c |
    "| \($c.rooms) rooms\(if $c.busy_loops > 0 then " + \($c.busy_loops) busy loops" else "" end) | \(length) | " +
    "\([.[] | .col_cpu_s * 1e6 / .stored] | median | r(1)) | \([.[] | .steady_core // empty] | median | r(2)) | " +
    "\([.[] | .us_per_event_steady // empty] | median | r(1)) | " +
    "\([.[] | .col_rss_kib / 1024] | median | r(0)) (\([.[] | .col_rss_kib * 1.024 / .rooms] | median | r(0))) | " +
    "\(if ($c.memory_limit // "") == "" then "default" else $c.memory_limit end) | " +
    "\([.[] | .db_bytes / .stored] | median | r(0)) | \([.[] | .delivered] | median) | \([.[] | .stored] | median) | " +
    "\([.[] | .lost] | median) (\([.[] | .lost_by_kind.guard] | median)) | \([.[] | .journal_dropped // empty] | median // "–") | " +
    "\([.[] | .server_cuts // empty] | median // "–") | \([.[] | .max_conns_per_room // empty] | max // "–") | \([.[] | .starved] | median) | " +
    "\([.[] | .reconnects] | median) | \([.[] | .sim_cpu_s * 1e6 / .delivered] | median | r(1)) |"),
  ($all | map(select(isPeer) | .rooms) | unique) as $pr |
  ($all | map(select(.busy_loops == 0 and (.rooms as $r | any($pr[]; . == $r)))) | group_by(.case)
    | sort_by(.[0].rooms, (.[0] | isPeer))) as $cmp |
  if ($pr | length) == 0 then empty else
  "\nBeside a peer: the same simulator command with bilibili-live-ws 6.3.1 (scripts/peer/blws.mjs: one LiveWS per room, " +
  "decoding every command, storing nothing) in the collector'"'"'s place, `RUNS=3 scripts/bench-load.sh 200 peer-200`. " +
  "Steady window as for the steady core. µs / delivered event: steady CPU ÷ the delivered rate (truth'"'"'s five kinds " +
  "÷ the traffic seconds after the ramp), for both. µs / decoded command: the peer'"'"'s steady CPU ÷ the commands it " +
  "decoded in that window (every cmd, the five kinds and the rest); danmakud does not count those.\n",
  "| case | program | runs | CPU µs / delivered event (steady) | CPU µs / decoded command (steady) | decoded commands / s (steady) | steady core | peak RSS MiB (KB / room) | delivered |",
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ($cmp[] | . as $runs | .[0] as $c | if ($c | isPeer) then
    "| \($c.case) | \($c.peer // "bilibili-live-ws") (decoding only) | \(length) | \([.[] | .us_per_event_steady // empty] | median | r(1)) | " +
    "\([.[] | .us_per_msg_steady // empty] | median | r(1)) | \([.[] | select(.steady_s != null and .messages_steady != null) | .messages_steady / .steady_s] | median | r(0)) | " +
    "\([.[] | .steady_core // empty] | median | r(2)) | \([.[] | .peer_rss_kib / 1024] | median | r(0)) (\([.[] | .peer_rss_kib * 1.024 / .rooms] | median | r(0))) | " +
    "\([.[] | .delivered] | median) |"
  else
    "| \($c.case) | danmakud collect (decoding and storing) | \(length) | \([.[] | .us_per_event_steady // empty] | median | r(1)) | – | – | " +
    "\([.[] | .steady_core // empty] | median | r(2)) | \([.[] | .col_rss_kib / 1024] | median | r(0)) (\([.[] | .col_rss_kib * 1.024 / .rooms] | median | r(0))) | " +
    "\([.[] | .delivered] | median) |"
  end) end,
  "\nRuns:\n",
  ($all | group_by(.case) | sort_by(.[0].rooms, .[0].busy_loops, (.[0] | isPeer)) | .[] | .[] | if isPeer then
    "- \(.case) \(.date): load \(.load[0]) → \(.load[1]); ramp \(.ramp_s | r(1)) s; \(.opened // "–") connections opened, \(.errors // "–") errors; peer \(.peer_cpu_s) s CPU, sim \(.sim_cpu_s) s"
  else
    "- \(.case) \(.date): load \(.load[0]) → \(.load[1]); ramp \(.ramp_s | r(1)) s; \(.sessions // "–") sessions; collector \(.col_cpu_s) s CPU, sim \(.sim_cpu_s) s"
  end)
' "$res")
body=$(printf '%s\n' "<!-- bench-load:begin (scripts/bench-load-report.sh writes this part) -->" "$table" "<!-- bench-load:end -->")
if [ -f "$md" ] && grep -q 'bench-load:begin' "$md"; then
  awk -v body="$body" '/bench-load:begin/ {print body; skip = 1} /bench-load:end/ {skip = 0; next} !skip' "$md" >"$md.tmp"
  mv "$md.tmp" "$md"
else
  printf '%s\n' "$body" >>"$md"
fi
echo "$table"
