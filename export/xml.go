package export

import (
	"bufio"
	"context"
	"path/filepath"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/danmakud/danmakud/internal/atomicfile"
	"github.com/danmakud/danmakud/storage"
)

// xmlFormat writes the danmaku XML that BililiveRecorder writes and
// DanmakuFactory (which renders danmaku onto video) and the recorder's
// toolbox read, so that danmakud's files open in those tools. The layout
// follows the recorder's: UTF-8, two-space indent, a fixed header whose
// <BililiveRecorder> element falls in the first 1,024 bytes (that is how
// DanmakuFactory recognises a recorder file), then
// <BililiveRecorderRecordInfo> with the room and the session's
// start_time (.NET round-trip form, UTC+8), then <d>, <sc>, <gift> and
// <guard> elements in time order, each timed in seconds since
// start_time, and a closing </i>. Details the readers depend on:
//   - <d p="TS,MODE,SIZE,COLOR,SEND_MS,0,UID,0">: DanmakuFactory reads
//     the first four fields; the 7th is the uid (0 when masked), as the
//     recorder writes it.
//   - <sc price> is in yuan (DanmakuFactory multiplies it by 1000).
//   - <gift> has no price attribute; the price goes in a small raw JSON
//     (gift_name, num, price per unit in coins, coin_type), which
//     DanmakuFactory's gift filters read and which must stay short (it
//     cuts a start tag at 10,240 bytes).
//   - <guard level count>: DanmakuFactory prices a guard by level.
//   - Text and attributes lose what XML 1.0 forbids (appendXMLText).
type xmlFormat struct{}

func (xmlFormat) Name() string { return "xml" }
func (xmlFormat) ToDir() bool  { return true }

func (xmlFormat) Doc() string {
	return "BililiveRecorder danmaku XML (what DanmakuFactory and the recorder's toolbox read), one file per room " +
		"and live session, <room>-<YYYYMMDD-HHMMSS>.xml in the output directory, named by the session's start in UTC+8. " +
		"A session starts at a LIVE room event and ends at PREPARING; the stretch before a room's first LIVE in range " +
		"(or a room without one) starts at the time range's start (--since), else at the room's first event; the stretch " +
		"after a PREPARING starts at the PREPARING. Times are seconds since the session start, by receive time. " +
		"Written: every stored danmaku (mirrored ones included), every gift (one per SEND_GIFT_V2 item), every super " +
		"chat (the JPN copy is the same row; deleted ones included), one guard per purchase (GUARD_BUY and its toasts " +
		"are one row). Selecting kinds (--kind danmaku, gift, super_chat, guard) narrows it."
}

// xmlHolds reports whether XML writes et's rows, and selects them in k.
func xmlHolds(et *storage.EventTable, k *storage.TimelineKinds) bool {
	switch et.Name {
	case "danmaku":
		k.Danmaku = true
	case "gifts":
		k.Gifts = true
	case "super_chats":
		k.SuperChats = true
	case "guards":
		k.Guards = true
	default:
		return false
	}
	return true
}

// check refuses a selection of tables XML holds none of.
func (xmlFormat) check(tables []*storage.EventTable) error {
	var k storage.TimelineKinds
	for _, et := range tables {
		if xmlHolds(et, &k) {
			return nil
		}
	}
	e := &KindsError{Format: "xml"}
	for _, et := range storage.EventTables() {
		if xmlHolds(et, &k) {
			e.Kinds = append(e.Kinds, string(et.Kind))
		}
	}
	return e
}

func (xmlFormat) write(ctx context.Context, j *job) error {
	var k storage.TimelineKinds
	for _, et := range j.tables {
		xmlHolds(et, &k)
	}
	dir, err := j.outDir()
	if err != nil {
		return err
	}
	x := &xmlWriter{ctx: ctx, j: j, dir: dir, names: map[string]bool{}}
	j.what = "xml"
	err = j.set.ScanTimeline(ctx, j.o.Filter, k, x.item)
	if err == nil {
		err = x.close()
	}
	if err != nil {
		x.abort()
	}
	return err
}

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

// xmlWriter writes one room's timeline after another into session
// files.
type xmlWriter struct {
	ctx   context.Context
	j     *job
	dir   string
	names map[string]bool // file names used by this export

	room    storage.RoomInfo
	live    bool  // the room's last LIVE/PREPARING said live
	nextAt  int64 // start of the next lazily opened session; 0 = the first item's time
	cur     *atomicfile.File
	bw      *bufio.Writer
	startMs int64
	buf     []byte
}

// item handles one timeline row: a room change, a session boundary or
// an element.
func (x *xmlWriter) item(it *storage.TimelineItem) error {
	if err := x.ctx.Err(); err != nil {
		return err
	}
	if it.RoomID != x.room.RoomID {
		if err := x.close(); err != nil {
			return err
		}
		room, err := x.j.set.Room(x.ctx, it.RoomID)
		if err != nil {
			return err
		}
		x.room, x.live, x.nextAt = room, false, x.j.o.Filter.SinceMs
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
	return x.element(it)
}

// element writes a danmaku, gift, super chat or guard, opening a
// session file first when none is open.
func (x *xmlWriter) element(it *storage.TimelineItem) error {
	if x.cur == nil {
		start := x.nextAt
		if start == 0 || start > it.RecvMs {
			start = it.RecvMs
		}
		if err := x.open(start); err != nil {
			return err
		}
	}
	x.j.row()
	b := x.buf[:0]
	switch it.Kind {
	case storage.TLDanmaku:
		b = x.appendDanmaku(b, it)
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
		b = x.appendGift(b, it)
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

// appendDanmaku appends a <d>: p is time, mode, size, colour, send time
// (unix ms), 0, uid, 0.
func (x *xmlWriter) appendDanmaku(b []byte, it *storage.TimelineItem) []byte {
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
	return append(b, "</d>\n"...)
}

// appendGift appends a <gift>, its price in a small raw JSON (what
// DanmakuFactory's gift filters read).
func (x *xmlWriter) appendGift(b []byte, it *storage.TimelineItem) []byte {
	b = append(b, `  <gift ts="`...)
	b = x.appendTs(b, it.RecvMs)
	b = x.appendUser(b, it)
	b = append(b, ` giftname="`...)
	b = appendXMLText(b, it.Text, true)
	b = append(b, '"')
	b = appendAttrInt(b, "giftcount", it.A)
	raw := `{"gift_name":` + strconv.Quote(it.Text) + `,"num":` + strconv.FormatInt(it.A, 10) +
		`,"price":` + strconv.FormatInt(it.B, 10) + `,"coin_type":` + strconv.Quote(it.CoinType) + `}`
	b = append(b, ` raw="`...)
	b = appendXMLText(b, raw, true)
	return append(b, "\" />\n"...)
}

// appendTs appends seconds since the session start with three
// decimals, never negative.
func (x *xmlWriter) appendTs(b []byte, ms int64) []byte {
	d := max(ms-x.startMs, 0)
	b = strconv.AppendInt(b, d/1000, 10)
	b = append(b, '.')
	frac := d % 1000
	b = append(b, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return b
}

// appendUser appends the closing quote of ts, then user and uid.
func (x *xmlWriter) appendUser(b []byte, it *storage.TimelineItem) []byte {
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
func (x *xmlWriter) open(startMs int64) error {
	start := time.UnixMilli(startMs).In(Zone)
	base := strconv.FormatInt(x.room.RoomID, 10) + "-" + start.Format("20060102-150405")
	name := base + ".xml"
	for i := 2; x.names[name]; i++ {
		name = base + "-" + strconv.Itoa(i) + ".xml"
	}
	x.names[name] = true
	f, err := x.j.create(filepath.Join(x.dir, name))
	if err != nil {
		return err
	}
	x.cur, x.startMs = f, startMs
	x.bw = bufio.NewWriterSize(f, 64<<10)
	b := append(x.buf[:0], xmlHeader...)
	b = append(b, `  <BililiveRecorder version="danmakud `...)
	b = appendXMLText(b, x.j.o.Version, true)
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
func (x *xmlWriter) close() error {
	if x.cur == nil {
		return nil
	}
	f := x.cur
	x.cur = nil
	if _, err := x.bw.WriteString("</i>\n"); err != nil {
		f.Abort()
		return err
	}
	if err := x.bw.Flush(); err != nil {
		f.Abort()
		return err
	}
	return x.j.commit(f)
}

func (x *xmlWriter) abort() {
	if x.cur != nil {
		x.cur.Abort()
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
