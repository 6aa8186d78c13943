#!/usr/bin/env bash
# How right is collect's coverage estimate? Runs `danmakud sim` (with
# accounts) and `danmakud collect --top ROOMS` against it, anonymously or
# logged in, then compares each room's estimated coverage (stats --json
# "coverage") with the simulator's truth: delivered / generated danmaku,
# for rooms with at least 30 generated danmaku. Prints the mean signed
# error (estimate − truth: does it lean?) and the mean absolute error, how
# many estimates lie below the truth, the worst room, how many rooms have a
# 95 % interval (stats --json "coverage_interval", given before the
# estimate) and how many of those hold the truth, recycles ("starved") per room per hour and the
# simulator's identity violations.
#
# The simulator's traffic lasts SECONDS, and collect (started a fraction of
# a second later) runs SECONDS too, so the truth counts what was generated
# while collect ran, but for the second or so collect takes to start.
#
# usage: scripts/coverage-check.sh anonymous|login [ROOMS] [SECONDS] [RATE]
# Extra collect flags: COLLECTARGS="--http-rate 5"; extra sim flags: SIMARGS.
# KEEP=DIR copies the stats (stats.json) and the truth (truth.json) there.
set -euo pipefail
mode=${1:?anonymous or login}; rooms=${2:-50}; secs=${3:-120}; rate=${4:-500}
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
simpid=
trap '[ -n "$simpid" ] && kill $simpid 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/danmakud" "$root/cmd/danmakud"
accounts=$(( (rooms + 4) / 5 )) # collect's default budget: 5 rooms per account
"$work/danmakud" sim --rooms "$rooms" --rate "$rate" --live-for 0 --traffic-for "${secs}s" --accounts "$accounts" \
  --cookie-dir "$work/cookies" --addr-file "$work/addr" --truth "$work/truth.json" ${SIMARGS:-} \
  >"$work/sim.out" 2>&1 &
simpid=$!
for _ in $(seq 1 100); do [ -s "$work/addr" ] && break; sleep 0.1; done
login=(--anonymous)
if [ "$mode" = login ]; then
  login=()
  for f in "$work"/cookies/account-*.txt; do login+=(--cookie-file "$f"); done
fi
set -x
"$work/danmakud" collect --top "$rooms" --api-base "$(cat "$work/addr")" --db "$work/cov.db" \
  --duration "${secs}s" --quiet "${login[@]}" ${COLLECTARGS:-} 2>"$work/collect.err" || true
{ set +x; } 2>/dev/null
kill -INT $simpid; wait $simpid || true; simpid=
cat "$work/collect.err"
"$work/danmakud" stats --db "$work/cov.db" --json >"$work/stats.json"
if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$work/stats.json" "$work/truth.json" "$KEEP/"; fi
jq -n --slurpfile s "$work/stats.json" --slurpfile t "$work/truth.json" --argjson secs "$secs" '
  ($s[0]) as $s | ($t[0]) as $t |
  [ $t.rooms | to_entries[] | select(.value.generated.danmaku >= 30) |
    { room: .key, gen: .value.generated.danmaku,
      truth: (.value.danmaku / .value.generated.danmaku), est: $s.coverage[.key],
      iv: ($s.coverage_interval[.key] // null) } ] as $r |
  ($r | map(select(.est != null))) as $e |
  { rooms_with_30_danmaku: ($r | length), estimated: ($e | length),
    mean_signed_error: (if ($e|length) > 0 then ($e | map(.est - .truth) | add / length) else null end),
    mean_abs_error: (if ($e|length) > 0 then ($e | map((.est - .truth) | fabs) | add / length) else null end),
    below_truth: ($e | map(select(.est < .truth)) | length),
    worst: ($e | max_by((.est - .truth) | fabs)),
    within_0_10: ($e | map(select(((.est - .truth) | fabs) <= 0.10)) | length),
    with_interval: ($r | map(select(.iv != null)) | length),
    truth_inside_interval: ($r | map(select(.iv != null and .iv[0] <= .truth and .truth <= .iv[1])) | length),
    mean_interval_width: ([$r[] | select(.iv != null) | .iv[1] - .iv[0]] | if length > 0 then add / length else null end),
    mean_true_coverage: (if ($r|length) > 0 then ($r | map(.truth) | add / length) else null end),
    recycles_per_room_hour: (([$s.connections[].starved] | add // 0) / ($s.connections | length) / ($secs / 3600)),
    violations: $t.violations }'
