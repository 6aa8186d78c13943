// Package roomsource is the HTTP side of Bilibili: one rate-limited API
// client (browser User-Agent, buvid3, WBI keys and signing), the top-N and
// area room lists, short-id resolution, per-room tokens and host lists,
// and the discovery loop that produces the desired room set.
package roomsource
