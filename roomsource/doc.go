// Package roomsource is the HTTP side of Bilibili: one rate-limited API
// client (browser User-Agent, buvid3, WBI keys and signing), the top-N and
// area room lists, short-id resolution, per-room tokens and host lists,
// and the discovery loop that produces the desired room set.
//
// Logins: an Account is one login's cookies, read from a cookie file
// (LoadCookieFile, WriteCookieFile, DefaultCookiePath) or made by a QR
// login: QRLogin runs the whole flow (code, polls, cookie file, nav
// check); QRGenerate, QRPoll and NewAccount are its steps. A Client may hold several
// accounts; every request of every account goes through its one rate
// limiter and one 412 breaker. A token is fetched as one account or
// anonymously (DanmuInfoAs) and comes back with the Identity it is bound
// to, which the WebSocket auth packet must carry (docs/protocol.md §10.2).
package roomsource
