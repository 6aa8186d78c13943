// The load cases' peer: bilibili-live-ws (the version pinned for interop in
// internal/livesim/interop/package.json, installed there with `npm ci`)
// decoding the simulator's stream, for scripts/bench-load.sh's peer case.
// It lists the simulator's top N rooms (getListByAreaID, 30 a page, as
// busiest first), fetches a WBI-signed getDanmuInfo per room with a
// buvid3 cookie, and opens one LiveWS per room on the ws:// address the
// answer names (protover 3, uid 0, the room's token). It counts every
// decoded command (the package's 'msg' event, once per command) and
// stores nothing.
//
// Output on stdout, one JSON object a line:
//   {"t": epoch seconds, "messages": cumulative commands, "open": rooms
//    authenticated and not closed}                          every second;
//   {"final": true, "peer": "bilibili-live-ws 6.3.1", "rooms": N,
//    "opened", "closed", "errors", "messages", "per_second" (messages /
//    seconds since the first room opened), "cmds": {cmd: count}}  at exit.
// Diagnostics go to stderr. Runs for DURATION seconds, then closes every
// connection and exits 0; exits 1 if the rooms cannot be set up.
//
// usage: node scripts/peer/blws.mjs BASE_URL N DURATION_S
import { sign } from '../../internal/livesim/interop/wbi.mjs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const here = path.dirname(fileURLToPath(import.meta.url))
const interop = path.join(here, '..', '..', 'internal', 'livesim', 'interop')
const require = createRequire(path.join(interop, 'package.json'))
const pkg = require('bilibili-live-ws/package.json')
const { LiveWS } = require('bilibili-live-ws')

const [base, nArg, durArg] = process.argv.slice(2)
const n = Number(nArg); const duration = Number(durArg)
if (!base || !(n > 0) || !(duration > 0)) {
  console.error('usage: node blws.mjs BASE_URL N DURATION_S')
  process.exit(2)
}
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/147.0.0.0 Safari/537.36'

function fail (msg) { console.error('blws: FAIL:', msg); process.exit(1) }

async function getJSON (p, headers = {}) {
  const res = await fetch(base + p, { headers: { 'User-Agent': UA, ...headers } })
  if (!res.ok) throw new Error(`${p}: HTTP ${res.status}`)
  return res.json()
}

let messages = 0; let opened = 0; let closed = 0; let errors = 0; let open = 0
let first = 0
const cmds = new Map()
const lives = []

async function main () {
  const home = await fetch(base + '/', { headers: { 'User-Agent': UA } })
  const buvid = (home.headers.getSetCookie().join('; ').match(/buvid3=([^;]+)/) || [])[1]
  if (!buvid) fail('no buvid3 cookie from the home page')
  const cookie = { Cookie: `buvid3=${buvid}` }
  const nav = await getJSON('/x/web-interface/nav')
  const key = u => u.split('/').pop().split('.')[0]
  const imgKey = key(nav.data.wbi_img.img_url); const subKey = key(nav.data.wbi_img.sub_url)
  const rooms = []
  for (let page = 1; rooms.length < n; page++) {
    const list = await getJSON(`/room/v1/Area/getListByAreaID?areaId=0&sort=online&page=${page}&pageSize=30`)
    if (list.code !== 0 || !Array.isArray(list.data)) fail(`room list page ${page}: ${JSON.stringify(list).slice(0, 200)}`)
    if (list.data.length === 0) break
    for (const r of list.data) if (rooms.length < n) rooms.push(r.roomid)
  }
  if (rooms.length < n) console.error(`blws: the simulator lists ${rooms.length} rooms, not ${n}`)
  // getDanmuInfo, a few at a time, then the socket at once.
  let next = 0
  const worker = async () => {
    while (next < rooms.length) {
      const roomid = rooms[next++]
      const info = await getJSON(`/xlive/web-room/v1/index/getDanmuInfo?${sign({ id: roomid, type: 0, web_location: '444.8' }, imgKey, subKey)}`, cookie)
      if (info.code !== 0) fail(`getDanmuInfo ${roomid}: ${JSON.stringify(info).slice(0, 200)}`)
      const h = info.data.host_list[0]
      connect(roomid, { address: `ws://${h.host}:${h.ws_port}/sub`, key: info.data.token, uid: 0, buvid, protover: 3 })
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
}

function connect (roomid, opts) {
  const live = new LiveWS(roomid, opts)
  lives.push(live)
  let up = false
  live.on('live', () => {
    up = true; opened++; open++
    if (!first) first = Date.now()
  })
  live.on('msg', data => {
    messages++
    const cmd = data.cmd || (data.msg && data.msg.cmd) || '?'
    cmds.set(cmd, (cmds.get(cmd) || 0) + 1)
  })
  live.on('error', e => { errors++; console.error(`blws: room ${roomid}: error ${e ?? ''}`) })
  live.on('close', () => { closed++; if (up) { open--; up = false } })
}

const tick = setInterval(() => {
  console.log(JSON.stringify({ t: Date.now() / 1000, messages, open }))
}, 1000)

setTimeout(() => {
  clearInterval(tick)
  console.log(JSON.stringify({ t: Date.now() / 1000, messages, open }))
  const secs = first ? (Date.now() - first) / 1000 : 0
  const total = messages
  for (const l of lives) l.close()
  console.log(JSON.stringify({
    final: true, peer: `${pkg.name} ${pkg.version}`, rooms: n, opened, closed, errors, messages: total,
    per_second: secs > 0 ? Math.round(total / secs) : null,
    cmds: Object.fromEntries([...cmds].sort((a, b) => b[1] - a[1]))
  }))
  setTimeout(() => process.exit(0), 200)
}, duration * 1000)

main().catch(e => fail(e.stack || String(e)))
