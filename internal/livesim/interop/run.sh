#!/usr/bin/env bash
# make interop: install the pinned clients, start `danmakud sim`, run the
# checks, stop the simulator. Fails if either client does not accept the sim.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
work="$(mktemp -d)"
trap 'kill "$simpid" 2>/dev/null || true; wait "$simpid" 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$here"
npm ci --no-audit --no-fund --loglevel=error
go build -o "$work/danmakud" "$root/cmd/danmakud"
# A fixed TLS port: tiny-bilibili-ws's harness sends its https there.
tlsport=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
"$work/danmakud" sim --rooms 3 --rate 60 --live-for 0 --addr-file "$work/addr" --cert-file "$work/cert.pem" \
  --tls-listen "127.0.0.1:$tlsport" >"$work/sim.log" 2>&1 &
simpid=$!
for _ in $(seq 1 100); do [ -s "$work/addr" ] && break; sleep 0.1; done
[ -s "$work/addr" ] || { echo "interop: simulator did not start"; cat "$work/sim.log"; exit 1; }
# The simulator's self-signed certificate is trusted for wss:// and https://.
export NODE_EXTRA_CA_CERTS="$work/cert.pem"
node interop.mjs "$(cat "$work/addr")"
# A second client nobody here wrote, with its hard-coded Bilibili URLs sent
# to the simulator by redirect.mjs (a hosts file, in effect).
SIM_TLS_PORT="$tlsport" node --import ./redirect.mjs tiny.mjs "$(cat "$work/addr")"
