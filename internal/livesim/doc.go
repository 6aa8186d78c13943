// Package livesim is a faithful fake of Bilibili's live servers — the
// HTTP APIs and the WebSocket danmaku service of PROTOCOL.md, with their
// quirks and failures — used by tests, `danmakud demo` and load runs.
//
// Files: sim.go (Options, New, the ground truth), http.go (the APIs, WBI
// and buvid3 checks, the request budget), ws.go (auth, heartbeats, faults,
// the WebSocket and raw TCP transports), traffic.go (rooms, Zipf rates,
// per-room batching and encoding), gen.go and messages.go (commands in
// their real shapes), cert.go (the TLS port's certificate).
package livesim
