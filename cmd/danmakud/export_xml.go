package main

import (
	"bufio"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/danmakud/danmakud/storage"
)

// The danmaku XML that BililiveRecorder writes and DanmakuFactory reads;
// the layout is described in the README (export) and shared/XML.md.

// xmlHeader is everything between the XML declaration and the record
// info; <BililiveRecorder> must fall in the first 1,024 bytes.
const xmlHeader = `<?xml version="1.0" encoding="utf-8"?>
<i>
  <!-- written by danmakud export (BililiveRecorder layout): ts and the first field of p are seconds since start_time; p's 7th field is the sender's uid, 0 when masked -->
  <chatserver>chat.bilibili.com</chatserver>
  <chatid>0</chatid>
  <mission>0</mission>
  <maxlimit>1000</maxlimit>
  <state>0</state>
  <real_name>0</real_name>
  <source>0</source>
`

// netRoundTrip is .NET's round-trip ("o") time format, which
// start_time uses.
const netRoundTrip = "2006-01-02T15:04:05.0000000-07:00"

// xmlExport writes one room's timeline into session files.
type xmlExport struct {
	ctx   context.Context
	db    *storage.DB
	dir   string
	since int64
	prog  *progress
	names map[string]bool // file names used by this export

	room    storage.RoomInfo
	live    bool  // the room's last LIVE/PREPARING said live
	nextAt  int64 // start of the next lazily opened session; 0 = the first item's time
	cur     *atomicFile
	bw      *bufio.Writer
	startMs int64
	buf     []byte
	files   int
}

func (o *exportOptions) xml(ctx context.Context, db *storage.DB, p exportPlan, prog *progress) error {
	var k storage.TimelineKinds
	for _, et := range p.tables {
		switch et.Name {
		case "danmaku":
			k.Danmaku = true
		case "gifts":
			k.Gifts = true
		case "super_chats":
			k.SuperChats = true
		case "guards":
			k.Guards = true
		}
	}
	if !k.Danmaku && !k.Gifts && !k.SuperChats && !k.Guards {
		return &exitError{exitUsage, fmt.Errorf("--format xml holds only the kinds danmaku, gift, super_chat and guard")}
	}
	dir, err := o.outDir()
	if err != nil {
		return err
	}
	x := &xmlExport{ctx: ctx, db: db, dir: dir, since: p.filter.SinceMs, prog: prog, names: map[string]bool{}}
	prog.table = "xml"
	err = db.ScanTimeline(ctx, p.filter, k, x.item)
	if err == nil {
		err = x.close()
	}
	if err != nil {
		x.abort()
	}
	return err
}

// item handles one timeline row: a room change, a session boundary or
// an element.
func (x *xmlExport) item(it *storage.TimelineItem) error {
	if it.RoomID != x.room.RoomID {
		if err := x.close(); err != nil {
			return err
		}
		room, err := x.db.Room(x.ctx, it.RoomID)
		if err != nil {
			return err
		}
		x.room, x.live, x.nextAt = room, false, x.since
	}
	switch it.Kind {
	case storage.TLLive:
		if x.live && x.cur != nil {
			return nil // a repeated LIVE: the same session
		}
		if err := x.close(); err != nil {
			return err
		}
		x.live = true
		start := it.RecvMs
		// The LIVE message's own time (live_time) is the real start when
		// it is plausible: not after its arrival, at most a day before.
		if it.TsMs > 0 && it.TsMs <= it.RecvMs && it.RecvMs-it.TsMs < 24*3600*1000 {
			start = it.TsMs
		}
		return x.open(start)
	case storage.TLPreparing:
		if err := x.close(); err != nil {
			return err
		}
		x.live = false
		x.nextAt = it.RecvMs
		return nil
	}
	if x.cur == nil {
		start := x.nextAt
		if start == 0 || start > it.RecvMs {
			start = it.RecvMs
		}
		if err := x.open(start); err != nil {
			return err
		}
	}
	x.prog.add()
	b := x.buf[:0]
	switch it.Kind {
	case storage.TLDanmaku:
		mode, size := it.A, it.B
		if mode == 0 {
			mode = 1
		}
		if size == 0 {
			size = 25
		}
		send := it.TsMs
		if send == 0 {
			send = it.RecvMs
		}
		b = append(b, `  <d p="`...)
		b = x.appendTs(b, it.RecvMs)
		for _, n := range []int64{mode, size, it.C, send, 0, it.UID, 0} {
			b = append(b, ',')
			b = strconv.AppendInt(b, n, 10)
		}
		b = append(b, `" user="`...)
		b = appendXMLText(b, it.Uname, true)
		b = append(b, `">`...)
		b = appendXMLText(b, it.Text, false)
		b = append(b, "</d>\n"...)
	case storage.TLSuperChat:
		b = append(b, `  <sc ts="`...)
		b = x.appendTs(b, it.RecvMs)
		b = x.appendUser(b, it)
		b = appendAttrInt(b, "price", it.A)
		b = appendAttrInt(b, "time", it.B)
		b = append(b, '>')
		b = appendXMLText(b, it.Text, false)
		b = append(b, "</sc>\n"...)
	case storage.TLGift:
		b = append(b, `  <gift ts="`...)
		b = x.appendTs(b, it.RecvMs)
		b = x.appendUser(b, it)
		b = append(b, ` giftname="`...)
		b = appendXMLText(b, it.Text, true)
		b = append(b, '"')
		b = appendAttrInt(b, "giftcount", it.A)
		// raw: what DanmakuFactory's gift filters read, kept small.
		raw := `{"gift_name":` + strconv.Quote(it.Text) + `,"num":` + strconv.FormatInt(it.A, 10) +
			`,"price":` + strconv.FormatInt(it.B, 10) + `,"coin_type":` + strconv.Quote(it.CoinType) + `}`
		b = append(b, ` raw="`...)
		b = appendXMLText(b, raw, true)
		b = append(b, "\" />\n"...)
	case storage.TLGuard:
		b = append(b, `  <guard ts="`...)
		b = x.appendTs(b, it.RecvMs)
		b = x.appendUser(b, it)
		b = appendAttrInt(b, "level", it.A)
		b = appendAttrInt(b, "count", it.B)
		b = append(b, " />\n"...)
	}
	x.buf = b
	_, err := x.bw.Write(b)
	return err
}

// appendTs appends seconds since the session start with three
// decimals, never negative.
func (x *xmlExport) appendTs(b []byte, ms int64) []byte {
	d := max(ms-x.startMs, 0)
	b = strconv.AppendInt(b, d/1000, 10)
	b = append(b, '.')
	frac := d % 1000
	b = append(b, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return b
}

// appendUser appends the closing quote of ts, then user and uid.
func (x *xmlExport) appendUser(b []byte, it *storage.TimelineItem) []byte {
	b = append(b, `" user="`...)
	b = appendXMLText(b, it.Uname, true)
	b = append(b, '"')
	return appendAttrInt(b, "uid", it.UID)
}

func appendAttrInt(b []byte, name string, v int64) []byte {
	b = append(b, ' ')
	b = append(b, name...)
	b = append(b, `="`...)
	b = strconv.AppendInt(b, v, 10)
	return append(b, '"')
}

// open starts a session file for the current room at startMs.
func (x *xmlExport) open(startMs int64) error {
	start := time.UnixMilli(startMs).In(bilibiliZone)
	base := strconv.FormatInt(x.room.RoomID, 10) + "-" + start.Format("20060102-150405")
	name := base + ".xml"
	for i := 2; x.names[name]; i++ {
		name = base + "-" + strconv.Itoa(i) + ".xml"
	}
	x.names[name] = true
	f, err := createAtomic(filepath.Join(x.dir, name))
	if err != nil {
		return err
	}
	x.cur, x.startMs, x.files = f, startMs, x.files+1
	x.bw = bufio.NewWriterSize(f, 64<<10)
	b := append(x.buf[:0], xmlHeader...)
	b = append(b, `  <BililiveRecorder version="danmakud `...)
	b = appendXMLText(b, version, true)
	b = append(b, "\" />\n  <BililiveRecorderRecordInfo"...)
	b = appendAttrInt(b, "roomid", x.room.RoomID)
	b = appendAttrInt(b, "shortid", x.room.ShortID)
	for _, a := range [][2]string{{"name", x.room.AnchorName}, {"title", x.room.Title},
		{"areanameparent", x.room.ParentAreaName}, {"areanamechild", x.room.AreaName},
		{"start_time", start.Format(netRoundTrip)}} {
		b = append(b, ' ')
		b = append(b, a[0]...)
		b = append(b, `="`...)
		b = appendXMLText(b, a[1], true)
		b = append(b, '"')
	}
	b = append(b, " />\n"...)
	x.buf = b
	_, err = x.bw.Write(b)
	return err
}

// close finishes the open session file, if any.
func (x *xmlExport) close() error {
	if x.cur == nil {
		return nil
	}
	f := x.cur
	x.cur = nil
	if _, err := x.bw.WriteString("</i>\n"); err != nil {
		f.abort()
		return err
	}
	if err := x.bw.Flush(); err != nil {
		f.abort()
		return err
	}
	return f.commit()
}

func (x *xmlExport) abort() {
	if x.cur != nil {
		x.cur.abort()
		x.cur = nil
	}
}

// xmlAllowed reports whether r may appear in our XML: XML 1.0's Char
// production minus the discouraged C1 controls and U+FEFF.
func xmlAllowed(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r < 0x20, r >= 0x7F && r <= 0x9F:
		return false
	case r >= 0xD800 && r <= 0xDFFF, r == 0xFEFF, r == 0xFFFE, r == 0xFFFF:
		return false
	}
	return r <= 0x10FFFF
}

// appendXMLText appends s escaped for XML character data (attr false)
// or a double-quoted attribute value (attr true), dropping what XML 1.0
// forbids: invalid UTF-8, C0 controls but TAB/LF/CR, 0x7F–0x9F, lone
// surrogates, U+FEFF, U+FFFE, U+FFFF. In attributes TAB/LF/CR are
// written as character references so that they survive normalisation.
func appendXMLText(b []byte, s string, attr bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c == '&':
				b = append(b, "&amp;"...)
			case c == '<':
				b = append(b, "&lt;"...)
			case c == '>':
				b = append(b, "&gt;"...)
			case c == '"' && attr:
				b = append(b, "&quot;"...)
			case c == '\t' && attr:
				b = append(b, "&#x9;"...)
			case c == '\n' && attr:
				b = append(b, "&#xA;"...)
			case c == '\r':
				b = append(b, "&#xD;"...)
			case c < 0x20 && c != '\t' && c != '\n', c == 0x7F:
				// forbidden: dropped
			default:
				b = append(b, c)
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r != utf8.RuneError || size > 1) && xmlAllowed(r) {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}
