#!/usr/bin/env bash
# make interop: install the pinned client, start `danmakud sim`, run the
# check, stop the simulator. Fails if the client does not accept the sim.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
work="$(mktemp -d)"
trap 'kill "$simpid" 2>/dev/null || true; wait "$simpid" 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$here"
npm ci --no-audit --no-fund --loglevel=error
go build -o "$work/danmakud" "$root/cmd/danmakud"
"$work/danmakud" sim --rooms 3 --rate 60 --live-for 0 --addr-file "$work/addr" --cert-file "$work/cert.pem" >"$work/sim.log" 2>&1 &
simpid=$!
for _ in $(seq 1 100); do [ -s "$work/addr" ] && break; sleep 0.1; done
[ -s "$work/addr" ] || { echo "interop: simulator did not start"; cat "$work/sim.log"; exit 1; }
# The simulator's self-signed certificate is trusted for the wss:// session.
NODE_EXTRA_CA_CERTS="$work/cert.pem" node interop.mjs "$(cat "$work/addr")"
