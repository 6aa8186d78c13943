// Package livesim is a faithful fake of Bilibili's live servers — the
// HTTP APIs and the WebSocket danmaku service of PROTOCOL.md, with their
// quirks and failures — used by tests, `danmakud demo` and load runs.
//
// This file set so far holds the message generators that write commands
// in the real shapes.
package livesim
