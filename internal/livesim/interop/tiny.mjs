// make interop, second client: tiny-bilibili-ws (pinned in package.json),
// which hard-codes Bilibili's https URLs. Loaded after redirect.mjs, it
// runs its own flow against the simulator: mobileRoomInit for a short room
// id, nav for WBI keys, its own WBI-signed getDanmuInfo, finger/spi for
// b_3; then KeepLiveWS over wss:// (trusting the simulator's certificate
// via NODE_EXTRA_CA_CERTS) and KeepLiveTCP on the raw port. It must see
// the auth succeed, heartbeats with popularity 1, LOG_IN_NOTICE and masked
// danmaku. Exits non-zero otherwise.
//
// usage: SIM_TLS_PORT=N node --import ./redirect.mjs tiny.mjs BASE_URL
import { KeepLiveTCP, KeepLiveWS } from 'tiny-bilibili-ws'

const base = process.argv[2]
const tlsPort = Number(process.env.SIM_TLS_PORT)
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/147.0.0.0 Safari/537.36'

function fail (msg) { console.error('interop: FAIL:', msg); process.exit(1) }

async function main () {
  // What a user does per the package's README: copy the browser's cookie.
  const home = await fetch(base + '/', { headers: { 'User-Agent': UA } })
  const buvid = /buvid3=([^;]+)/.exec(home.headers.get('set-cookie') ?? '')?.[1]
  if (!buvid) fail('no buvid3 cookie from the home page')
  const headers = { Cookie: `buvid3=${buvid}`, 'User-Agent': UA }
  // Room 1 is a short id: the client must resolve it with mobileRoomInit.
  await session('KeepLiveWS wss', () => new KeepLiveWS(1, { headers, port: tlsPort }))
  await session('KeepLiveTCP', () => new KeepLiveTCP(1, { headers }))
  console.log('interop: ok: tiny-bilibili-ws resolved a short id, signed getDanmuInfo itself and received heartbeats and danmaku over wss and TCP')
}

function session (name, make) {
  return new Promise((resolve) => {
    const live = make()
    let heartbeats = 0; let danmaku = 0; let notice = false; let authed = false; let done = false
    const timer = setTimeout(() => {
      live.close()
      fail(`${name}: auth ${authed}, ${heartbeats} heartbeats, ${danmaku} danmaku, LOG_IN_NOTICE ${notice} after 20 s`)
    }, 20000)
    const check = () => {
      if (!done && authed && heartbeats >= 1 && danmaku >= 3 && notice) {
        done = true
        clearTimeout(timer)
        live.close()
        console.log(`interop: ${name}: room ${live.roomId}, ${heartbeats} heartbeat(s), ${danmaku} danmaku`)
        resolve()
      }
    }
    live.on('error', e => fail(`${name}: ${e?.message ?? e}`))
    live.on('live', () => { authed = true; check() })
    live.on('heartbeat', online => {
      if (online !== 1) fail(`${name}: popularity ${online}, want 1`)
      heartbeats++; check()
    })
    live.on('LOG_IN_NOTICE', () => { notice = true; check() })
    live.on('DANMU_MSG', ({ data }) => {
      // Emitted for every cmd containing DANMU_MSG, RECALL_DANMU_MSG too.
      if (!String(data?.cmd).startsWith('DANMU_MSG')) return
      const info = data.info
      if (!Array.isArray(info) || typeof info[1] !== 'string') fail(`${name}: bad danmaku ${JSON.stringify(data).slice(0, 200)}`)
      if (info[2][0] !== 0 || !info[2][1].endsWith('***')) fail(`${name}: anonymous danmaku not masked: ${JSON.stringify(info[2])}`)
      danmaku++; check()
    })
  })
}

main().catch(e => fail(e.stack || String(e)))
