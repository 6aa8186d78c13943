// Interop check: a real third-party client (bilibili-live-ws, pinned in
// package.json) against `danmakud sim`. The HTTP steps a real client makes
// before the socket are done here with fetch, with our own WBI signer
// (independent of the Go one), then LiveWS connects with protover 3 and 2
// and must see heartbeat replies and danmaku. Exit 0 on success.
//
// usage: node interop.mjs http://127.0.0.1:PORT
import { sign } from './wbi.mjs'
import { LiveTCP, LiveWS } from 'bilibili-live-ws'

const base = process.argv[2]
if (!base) { console.error('usage: node interop.mjs BASE_URL'); process.exit(2) }
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/147.0.0.0 Safari/537.36'

function fail (msg) { console.error('interop: FAIL:', msg); process.exit(1) }

async function getJSON (path, headers = {}) {
  const res = await fetch(base + path, { headers: { 'User-Agent': UA, ...headers } })
  if (!res.ok) fail(`${path}: HTTP ${res.status}`)
  return res.json()
}

async function main () {
  // 1. buvid3 from the home page's Set-Cookie.
  const home = await fetch(base + '/', { headers: { 'User-Agent': UA } })
  const setCookie = home.headers.getSetCookie().join('; ')
  const buvid = (setCookie.match(/buvid3=([^;]+)/) || [])[1]
  if (!buvid || !/^[0-9A-F-]{36}\d{5}infoc$/.test(buvid)) fail(`no buvid3 cookie: ${setCookie}`)
  // 2. nav: WBI keys (code -101 when not logged in).
  const nav = await getJSON('/x/web-interface/nav')
  if (nav.code !== -101 || !nav.data?.wbi_img?.img_url) fail(`nav: ${JSON.stringify(nav)}`)
  const key = u => u.split('/').pop().split('.')[0]
  const imgKey = key(nav.data.wbi_img.img_url)
  const subKey = key(nav.data.wbi_img.sub_url)
  // 3. the busiest live room.
  const list = await getJSON('/room/v1/Area/getListByAreaID?areaId=0&sort=online&page=1&pageSize=30')
  if (list.code !== 0 || !Array.isArray(list.data) || list.data.length === 0) fail(`room list: ${JSON.stringify(list).slice(0, 200)}`)
  const roomid = list.data[0].roomid
  // 4. getDanmuInfo, WBI-signed, with the cookie; unsigned must be refused.
  const unsigned = await getJSON(`/xlive/web-room/v1/index/getDanmuInfo?id=${roomid}&type=0`, { Cookie: `buvid3=${buvid}` })
  if (unsigned.code !== -352) fail(`unsigned getDanmuInfo was not refused: ${JSON.stringify(unsigned)}`)
  const q = sign({ id: roomid, type: 0, web_location: '444.8' }, imgKey, subKey)
  const info = await getJSON(`/xlive/web-room/v1/index/getDanmuInfo?${q}`, { Cookie: `buvid3=${buvid}` })
  if (info.code !== 0) fail(`getDanmuInfo: ${JSON.stringify(info)}`)
  const { token, host_list: hosts } = info.data
  const h = hosts[0]
  const address = `ws://${h.host}:${h.ws_port}/sub`
  for (const protover of [3, 2]) {
    await session(LiveWS, roomid, { address, key: token, uid: 0, buvid, protover })
  }
  // wss:// on wss_port (TLS; the browser's and the package's default scheme).
  await session(LiveWS, roomid, { address: `wss://${h.host}:${h.wss_port}/sub`, key: token, uid: 0, buvid, protover: 3 }, 'wss')
  // The raw TCP port ("port" in host_list), as LiveTCP and recorders use it.
  await session(LiveTCP, roomid, { host: h.host, port: h.port, key: token, uid: 0, buvid, protover: 3 })
  console.log('interop: ok: bilibili-live-ws received heartbeats and danmaku over WebSocket (protover 3 and 2, ws and wss) and TCP')
}

function session (Live, roomid, opts, label = '') {
  const name = `${Live.name}${label ? ' ' + label : ''} protover ${opts.protover}`
  return new Promise((resolve) => {
    const live = new Live(roomid, opts)
    let heartbeats = 0; let danmaku = 0; let notice = false; let done = false
    const timer = setTimeout(() => {
      live.close()
      fail(`${name}: ${heartbeats} heartbeats, ${danmaku} danmaku, LOG_IN_NOTICE ${notice} after 20 s`)
    }, 20000)
    const check = () => {
      if (!done && heartbeats >= 1 && danmaku >= 3 && notice) {
        done = true
        clearTimeout(timer)
        live.close()
        console.log(`interop: ${name}: ${heartbeats} heartbeat(s), ${danmaku} danmaku`)
        resolve()
      }
    }
    live.on('error', e => fail(`${name}: ${e ?? 'error event without a reason (TLS or network)'}`))
    live.on('close', () => { if (!done) fail(`${name}: closed early`) })
    live.on('heartbeat', online => {
      if (online !== 1) fail(`popularity ${online}, want 1`)
      heartbeats++; check()
    })
    live.on('LOG_IN_NOTICE', () => { notice = true; check() })
    live.on('DANMU_MSG', data => {
      // The package emits DANMU_MSG for every cmd that contains it,
      // RECALL_DANMU_MSG (no info array) included.
      if (!String(data.cmd).startsWith('DANMU_MSG')) return
      const info = data.info
      if (!Array.isArray(info) || typeof info[1] !== 'string' || !Array.isArray(info[0])) fail(`bad danmaku: ${JSON.stringify(data).slice(0, 200)}`)
      if (info[2][0] !== 0 || !info[2][1].endsWith('***')) fail(`anonymous danmaku not masked: ${JSON.stringify(info[2])}`)
      danmaku++; check()
    })
  })
}

main().catch(e => fail(e.stack || String(e)))
