// Test harness only, loaded with `node --import ./redirect.mjs`: it stands
// in for a hosts file. Bilibili's host names resolve to 127.0.0.1, and
// https on the default port goes to the simulator's TLS port
// (SIM_TLS_PORT), keeping the name for SNI and certificate checks. A
// client that hard-codes https://api.live.bilibili.com then runs its own,
// unmodified HTTP and WebSocket code against `danmakud sim`.
import dns from 'node:dns'
import https from 'node:https'

const tlsPort = Number(process.env.SIM_TLS_PORT)
if (!tlsPort) throw new Error('redirect.mjs: set SIM_TLS_PORT')
const ours = h => typeof h === 'string' && (h === 'bilibili.com' || h.endsWith('.bilibili.com'))

const lookup = dns.lookup
dns.lookup = function (host, options, cb) {
  if (!ours(host)) return lookup.apply(this, arguments)
  if (typeof options === 'function') { cb = options; options = {} }
  if (options?.all) return process.nextTick(cb, null, [{ address: '127.0.0.1', family: 4 }])
  return process.nextTick(cb, null, '127.0.0.1', 4)
}

// https.get / https.request take (url[, options][, cb]) or (options[, cb]).
function normalise (args) {
  let [a, b, c] = args
  let opts
  if (typeof a === 'string' || a instanceof URL) {
    const u = new URL(a)
    opts = { protocol: u.protocol, hostname: u.hostname, port: u.port, path: u.pathname + u.search }
    if (b && typeof b === 'object') opts = { ...opts, ...b }
    else c = b
  } else {
    opts = { ...a }
    c = b
  }
  return [opts, c]
}

for (const name of ['request', 'get']) {
  const orig = https[name]
  https[name] = function (...args) {
    const [opts, cb] = normalise(args)
    const host = opts.hostname || opts.host
    if (ours(host) && (!opts.port || Number(opts.port) === 443)) {
      opts.port = tlsPort
      opts.servername = host
    }
    return orig.call(this, opts, cb)
  }
}
