// Package livesim is a faithful fake of Bilibili's live servers — the
// HTTP APIs and the WebSocket danmaku service of PROTOCOL.md, with their
// quirks and failures — used by tests, `danmakud demo` and load runs.
//
// It follows the 2026 field facts of PROTOCOL.md §10: an anonymous
// connection receives each command of its room with probability
// Options.AnonKeep (names masked per command), except in official rooms;
// logged-in accounts (Options.Accounts, cookie files, nav, QR login) get
// everything, up to Options.AccountRooms rooms at once; an auth whose uid
// is not the identity its token was fetched under, or a heartbeat before
// the auth, is a violation (cut; repeated, -352); commands that carry
// msg_id/p_is_ack are acknowledged with op 24 (counted, optionally
// re-sent when not). The ground truth (Sim.Truth) counts, per room and
// kind, distinct events delivered intact at least once (to any client but
// a test's reference run, Options.ReferenceIPs) and events generated;
// dM/gethistory reports the last generated danmaku.
//
// Files: sim.go (Options, New, the ground truth), http.go (the APIs, WBI
// and buvid3 checks, the request budget, violation bans), accounts.go
// (accounts, cookie files, the per-account room budget, QR login), ws.go
// (auth, identity rules, heartbeats, acks, faults, the WebSocket and raw
// TCP transports), traffic.go (rooms, Zipf rates, per-room batching,
// sampling and encoding), gen.go and messages.go (commands in their real
// shapes), brotli.go (the frames' brotli encoder), jsonw.go (JSON
// writing for the commands), titles.go (room titles), perip.go (per
// source IP limits and counters), ledger.go (what each connection was
// sent, for tests), cert.go (the TLS port's certificate), publish.go
// (what `danmakud sim` writes for its clients: address and certificate
// files, stats lines, the truth file).
package livesim
