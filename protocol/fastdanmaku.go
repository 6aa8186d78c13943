package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The fast path for DANMU_MSG: most of a busy room's traffic is danmaku,
// and a full parse of its ~2.5 KB (a user object, a JSON-in-a-string
// extra) costs more than the brotli inflate. fastDanmaku walks the bytes
// once, skipping what it does not need, and gives up (ok=false) on
// anything unexpected so that the general fastjson path decides: a
// number that is not an int64 integer, info or info[0] not an array, a
// text that is not a string, nesting past maxSkipDepth, JSON fastjson
// would reject. So both paths give the same result for every body; a
// fuzz target (FuzzCommand) and TestFastSlowAgree check it.

// scan is a forward-only JSON scanner over one document.
type scan struct {
	b []byte
	i int
}

func (s *scan) ws() {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *scan) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scan) eat(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

// rawString consumes a string and returns its contents still escaped, and
// whether it contains escapes (strEnd finds its end eight bytes at a
// time, which matters for long values such as URLs and the extra
// document).
func (s *scan) rawString() (raw []byte, escaped, ok bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		if !s.eat('"') {
			return nil, false, false
		}
	} else {
		s.i++
	}
	end := strEnd(s.b, s.i)
	if end < 0 {
		return nil, false, false
	}
	raw = s.b[s.i : end-1]
	s.i = end
	return raw, bytes.IndexByte(raw, '\\') >= 0, true
}

// hasByte returns a non-zero value when any byte of w equals c.
func hasByte(w uint64, c byte) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	x := w ^ (lo * uint64(c))
	return (x - lo) & ^x & hi
}

// maxSkipDepth bounds the nesting the fast path skips over. The fast
// path's own walk reaches at most 7 levels (body, info, info[0], its
// [15], user, base, name), so a skipped value ends well inside fastjson's
// MaxDepth (300); anything deeper gives up, and the general parser
// decides (a body nested past 300 levels is a *CommandError there).
const maxSkipDepth = 64

// skip consumes one value of any type. It accepts only what fastjson
// parses (brackets matched, keys quoted, commas and colons where they
// belong, literals exact), so the fast path never succeeds on a body the
// general path rejects.
func (s *scan) skip() bool {
	switch s.peek() {
	case '"':
		_, _, ok := s.rawString()
		return ok
	case '{', '[':
		return s.skipNested()
	case 0:
		return false
	default:
		_, ok := s.literal()
		return ok
	}
}

// skipNested consumes an object or array in one loop with an explicit
// stack (a bit per level: set for an object), giving up past
// maxSkipDepth levels or on anything fastjson would not parse.
func (s *scan) skipNested() bool {
	b := s.b
	var objects uint64
	depth := 0
	i := s.i
value: // a value may start at i
	i = skipWS(b, i)
	if i >= len(b) {
		return false
	}
	switch b[i] {
	case '[':
		if depth == maxSkipDepth {
			return false
		}
		depth++
		objects <<= 1
		if i = skipWS(b, i+1); i < len(b) && b[i] == ']' {
			i++
			goto closed
		}
		goto value
	case '{':
		if depth == maxSkipDepth {
			return false
		}
		depth++
		objects = objects<<1 | 1
		if i = skipWS(b, i+1); i < len(b) && b[i] == '}' {
			i++
			goto closed
		}
		goto key
	case '"':
		goto str
	default:
		n := literalLen(b[i:])
		if n == 0 {
			return false
		}
		i += n
	}
after: // a value ended at i: a comma or the closing bracket
	i = skipWS(b, i)
	if i >= len(b) {
		return false
	}
	switch b[i] {
	case ',':
		i++
		if objects&1 != 0 {
			goto key
		}
		goto value
	case ']':
		if objects&1 != 0 {
			return false
		}
	case '}':
		if objects&1 == 0 {
			return false
		}
	default:
		return false
	}
	i++
closed: // a bracket closed just before i
	objects >>= 1
	if depth--; depth == 0 {
		s.i = i
		return true
	}
	goto after
key: // a key and its colon
	if i = skipWS(b, i); i >= len(b) || b[i] != '"' {
		return false
	}
	if i = strEnd(b, i+1); i < 0 {
		return false
	}
	if i = skipWS(b, i); i >= len(b) || b[i] != ':' {
		return false
	}
	i++
	goto value
str: // a string value starts at i (as for keys)
	if i = strEnd(b, i+1); i < 0 {
		return false
	}
	goto after
}

// skipWS returns the index of the first byte at or after i that is not
// JSON white space.
func skipWS(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// strEnd returns the index just past the closing quote of the string
// whose contents start at b[i], or -1 when it does not end. It looks at
// eight bytes at a time for a quote or a backslash (SWAR).
func strEnd(b []byte, i int) int {
	// Keys and short values end within a few bytes: look byte by byte
	// first (as rawString does).
	for n := min(len(b), i+16); i < n; i++ {
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			i++
		}
	}
	if i >= len(b) {
		return -1
	}
	for {
		for i+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			if hasByte(w, '"')|hasByte(w, '\\') != 0 {
				break
			}
			i += 8
		}
		for ; i < len(b); i++ {
			if c := b[i]; c == '"' {
				return i + 1
			} else if c == '\\' {
				i++
				break
			}
		}
		if i >= len(b) {
			return -1
		}
		i++
	}
}

// litByte classes the bytes of a literal: 1 for those of a number
// (fastjson takes any run of [0-9.eE+-] for one), 2 for other lower-case
// letters (true, false, null).
var litByte = func() (t [256]byte) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = 2
	}
	for _, c := range "0123456789.eE+-" {
		t[c] = 1
	}
	return t
}()

// literalLen returns the length of the number, true, false or null at
// the start of b, or 0 when there is none (a bare word, "nan", "inf",
// "truex", a lone sign).
func literalLen(b []byte) int {
	n := 0
	var class byte
	for n < len(b) && litByte[b[n]] != 0 {
		class |= litByte[b[n]]
		n++
	}
	if class == 1 { // a number
		if n == 1 && (b[0] == '-' || b[0] == '+') {
			return 0 // fastjson wants more than a sign
		}
		return n
	}
	switch string(b[:n]) {
	case "true", "false", "null":
		return n
	}
	return 0
}

// end reports whether only white space is left.
func (s *scan) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// literal consumes a number, true, false or null and returns its text
// (see literalLen); whether a number is well formed is for the reader to
// say.
func (s *scan) literal() ([]byte, bool) {
	s.ws()
	n := literalLen(s.b[s.i:])
	if n == 0 {
		return nil, false
	}
	s.i += n
	return s.b[s.i-n : s.i], true
}

// value classifies what the next value is without consuming it.
func (s *scan) kind() byte { return s.peek() }

// num consumes a value and returns it as int64 the way readInt does for
// the common cases: integer numbers in int64 range, null → 0,
// true/false. Anything else (strings, fractions, exponents, numbers past
// int64, objects) reports ok=false so the slow path decides.
func (s *scan) num() (int64, bool) {
	switch s.peek() {
	case '"', '{', '[', 0:
		return 0, false
	}
	lit, ok := s.literal()
	if !ok {
		return 0, false
	}
	switch string(lit) {
	case "null", "false":
		return 0, true
	case "true":
		return 1, true
	}
	n, err := strconv.ParseInt(string(lit), 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// str consumes a string (or null → "") and returns it unescaped.
func (s *scan) str() (string, bool) {
	if s.peek() == 'n' {
		lit, ok := s.literal()
		return "", ok && string(lit) == "null"
	}
	raw, esc, ok := s.rawString()
	if !ok {
		return "", false
	}
	if !esc {
		return string(raw), true
	}
	out, ok := unescape(nil, raw)
	return string(out), ok
}

// unescapeString consumes a string and appends its unescaped contents to
// dst in the same pass (used for the extra document, which is mostly
// escapes).
func (s *scan) unescapeString(dst []byte) ([]byte, bool) {
	if !s.eat('"') {
		return dst, false
	}
	b := s.b
	run := s.i
	for i := s.i; i < len(b); i++ {
		switch b[i] {
		case '"':
			s.i = i + 1
			return append(dst, b[run:i]...), true
		case '\\':
			dst = append(dst, b[run:i]...)
			if i+1 >= len(b) {
				return dst, false
			}
			c := b[i+1]
			if c == 'u' {
				r, n, ok := unescapeU(b[i:])
				if !ok {
					return dst, false
				}
				dst = utf8.AppendRune(dst, r)
				i += n - 1
				run = i + 1
				continue
			}
			if c = unescapeByte[c]; c == 0 {
				return dst, false
			}
			dst = append(dst, c)
			i++
			run = i + 1
		}
	}
	return dst, false
}

// unescapeByte maps the character after a backslash to what it stands
// for; 0 marks an invalid escape.
var unescapeByte = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// unescape appends the JSON-unescaped form of raw (string contents without
// quotes) to dst.
func unescape(dst, raw []byte) ([]byte, bool) {
	run := 0
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		dst = append(dst, raw[run:i]...)
		if i+1 >= len(raw) {
			return dst, false
		}
		switch c := raw[i+1]; c {
		case '"', '\\', '/':
			dst = append(dst, c)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, n, ok := unescapeU(raw[i:])
			if !ok {
				return dst, false
			}
			dst = utf8.AppendRune(dst, r)
			i += n - 1
			run = i + 1
			continue
		default:
			return dst, false
		}
		i++
		run = i + 1
	}
	return append(dst, raw[run:]...), true
}

// unescapeU decodes a \uXXXX escape (and a following low surrogate) at
// the start of raw, returning the rune and how many bytes it used. A lone
// surrogate becomes U+FFFD, as encoding/json and fastjson do.
func unescapeU(raw []byte) (rune, int, bool) {
	if len(raw) < 6 {
		return 0, 0, false
	}
	r, err := strconv.ParseUint(string(raw[2:6]), 16, 32)
	if err != nil {
		return 0, 0, false
	}
	rr := rune(r)
	if !utf16.IsSurrogate(rr) {
		return rr, 6, true
	}
	if len(raw) >= 12 && raw[6] == '\\' && raw[7] == 'u' {
		if r2, err := strconv.ParseUint(string(raw[8:12]), 16, 32); err == nil {
			if dec := utf16.DecodeRune(rr, rune(r2)); dec != utf8.RuneError {
				return dec, 12, true
			}
		}
	}
	return utf8.RuneError, 6, true
}

// numOnce reads an integer into *dst the first time a key is seen and
// skips later duplicates (a general parser's Get returns the first).
func numOnce(s *scan, seen *bool, dst *int64) bool {
	if *seen {
		return s.skip()
	}
	*seen = true
	var ok bool
	*dst, ok = s.num()
	return ok
}

// strOnce is numOnce for strings; a non-string, non-null value gives up.
func strOnce(s *scan, seen *bool, dst *string) bool {
	if *seen {
		return s.skip()
	}
	*seen = true
	if k := s.kind(); k != '"' && k != 'n' {
		return false
	}
	var ok bool
	*dst, ok = s.str()
	return ok
}

// arrayEach calls fn for each element of an array with its index; fn
// must consume the element (or return false).
func (s *scan) arrayEach(fn func(i int) bool) bool {
	if !s.eat('[') {
		return false
	}
	if s.eat(']') {
		return true
	}
	for i := 0; ; i++ {
		if !fn(i) {
			return false
		}
		if s.eat(',') {
			continue
		}
		return s.eat(']')
	}
}

// objectEach calls fn for each member of an object with its raw key;
// fn must consume the value.
func (s *scan) objectEach(fn func(key []byte) bool) bool {
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	for {
		key, esc, ok := s.rawString()
		if !ok || esc || !s.eat(':') {
			return false
		}
		if !fn(key) {
			return false
		}
		if s.eat(',') {
			continue
		}
		return s.eat('}')
	}
}

// fastDanmaku decodes a DANMU_MSG body in one pass. ok=false means "use
// the general path", never "the message is bad".
func (d *CommandDecoder) fastDanmaku(body []byte, roomID int64) (e *Danmaku, ok bool) {
	s := scan{b: body}
	e = &Danmaku{Base: Base{Kind: KindDanmaku}}
	var sawCmd, sawInfo, dup bool
	var sawSend, sawRoomid, sawRoom_id, sawMsgID, sawAck, sawPType bool
	var sendTime, roomid, room_id int64
	ok = s.objectEach(func(key []byte) bool {
		switch string(key) {
		case "cmd":
			if sawCmd {
				dup = true
			}
			sawCmd = true
			var ok bool
			e.Cmd, ok = fastCmd(&s)
			return ok
		case "info":
			if sawInfo {
				dup = true
			}
			sawInfo = true
			return d.fastInfo(&s, e)
		case "send_time":
			return numOnce(&s, &sawSend, &sendTime)
		case "roomid":
			return numOnce(&s, &sawRoomid, &roomid)
		case "room_id":
			return numOnce(&s, &sawRoom_id, &room_id)
		case "msg_id":
			if sawMsgID {
				return s.skip()
			}
			sawMsgID = true
			return fastMsgID(&s, &e.Base)
		case "p_is_ack":
			if sawAck || s.peek() != 't' {
				sawAck = true
				return s.skip()
			}
			sawAck = true
			lit, ok := s.literal()
			e.PIsAck = string(lit) == "true"
			return ok
		case "p_msg_type":
			return numOnce(&s, &sawPType, &e.PMsgType)
		case "data":
			return false // data.roomid would matter: let the slow path decide
		}
		return s.skip()
	})
	if !ok || dup || !sawCmd || !sawInfo || !s.end() {
		return nil, false
	}
	e.RoomID = roomID
	if roomID == 0 {
		switch {
		case roomid > 0:
			e.RoomID = roomid
		case room_id > 0:
			e.RoomID = room_id
		}
	}
	if e.TsMs == 0 {
		e.TsMs = sendTime
	}
	e.IsMirror = e.IsMirror || e.Cmd == "DANMU_MSG_MIRROR"
	return e, true
}

// fastCmd reads the cmd string and returns the command it names without
// a ":suffix". Anything but DANMU_MSG and DANMU_MSG_MIRROR, or a cmd
// with escapes, gives up.
func fastCmd(s *scan) (string, bool) {
	raw, esc, ok := s.rawString()
	if !ok || esc {
		return "", false
	}
	if i := bytes.IndexByte(raw, ':'); i >= 0 {
		raw = raw[:i]
	}
	switch string(raw) {
	case "DANMU_MSG":
		return "DANMU_MSG", true
	case "DANMU_MSG_MIRROR":
		return "DANMU_MSG_MIRROR", true
	}
	return "", false
}

// fastMsgID reads a top-level msg_id into b the way cmdCtx.ackFields does:
// a string without escapes or control bytes, or an integer literal. Other
// strings and numbers (and tokens fastjson takes for numbers) give up;
// objects, arrays, true, false and null are skipped.
func fastMsgID(s *scan, b *Base) bool {
	switch c := s.peek(); {
	case c == '"':
		raw, esc, ok := s.rawString()
		if !ok || esc {
			return false
		}
		for _, ch := range raw {
			if ch < 0x20 {
				return false
			}
		}
		b.MsgID = string(raw)
		b.MsgIDRaw = append(append(append(make([]byte, 0, len(raw)+2), '"'), raw...), '"')
		return true
	case c == '-' || c >= '0' && c <= '9':
		lit, ok := s.literal()
		if !ok {
			return false
		}
		digits := lit
		if digits[0] == '-' {
			digits = digits[1:]
		}
		if len(digits) == 0 {
			return false
		}
		for _, ch := range digits {
			if ch < '0' || ch > '9' {
				return false
			}
		}
		b.MsgID = string(lit)
		b.MsgIDRaw = json.RawMessage(b.MsgID)
		return true
	case c == '{' || c == '[':
		return s.skip()
	}
	// true, false and null are skipped; any other bare token (".", "nan",
	// "inf": fastjson reads them as numbers) gives up.
	lit, ok := s.literal()
	return ok && (string(lit) == "true" || string(lit) == "false" || string(lit) == "null")
}

// fastInfo fills e from the info array.
func (d *CommandDecoder) fastInfo(s *scan, e *Danmaku) bool {
	var userRaw []byte
	haveA0, haveText := false, false
	ok := s.arrayEach(func(i int) bool {
		var ok bool
		switch i {
		case 0:
			if s.kind() != '[' {
				return false
			}
			haveA0 = true
			return d.fastA0(s, e, &userRaw)
		case 1:
			if s.kind() != '"' {
				return false
			}
			haveText = true
			e.Text, ok = s.str()
			return ok
		case 2:
			return fastUser(s, e)
		case 3:
			return fastMedal(s, e)
		case 4:
			return fastFirstNum(s, &e.UserLevel)
		case 7:
			e.GuardLevel, ok = s.num()
			return ok
		case 9:
			return fastCheck(s, e)
		case 16:
			return fastFirstNum(s, &e.WealthLevel)
		}
		return s.skip()
	})
	if !ok || !haveA0 || !haveText {
		return false // the general path names what is missing
	}
	if (e.UID == 0 || e.Uname == "") && userRaw != nil {
		uid, name, ok := userIdentity(userRaw)
		if !ok {
			return false
		}
		if e.UID == 0 {
			e.UID = uid
		}
		if e.Uname == "" {
			e.Uname = name
		}
	}
	return true
}

// fastUser reads info[2], the sender: [0] uid, [1] uname, [2] is admin.
// A value that is not an array is skipped (the general path reads no
// sender from it either).
func fastUser(s *scan, e *Danmaku) bool {
	if s.kind() != '[' {
		return s.skip()
	}
	return s.arrayEach(func(j int) bool {
		var ok bool
		switch j {
		case 0:
			e.UID, ok = s.num()
		case 1:
			e.Uname, ok = s.str()
		case 2:
			var n int64
			n, ok = s.num()
			e.IsAdmin = n != 0
		default:
			ok = s.skip()
		}
		return ok
	})
}

// fastMedal reads info[3], the fan medal: [0] level, [1] name, [3] the
// owner's room id, [12] the owner's uid. A non-array is skipped.
func fastMedal(s *scan, e *Danmaku) bool {
	if s.kind() != '[' {
		return s.skip()
	}
	return s.arrayEach(func(j int) bool {
		var ok bool
		switch j {
		case 0:
			e.MedalLevel, ok = s.num()
		case 1:
			e.MedalName, ok = s.str()
		case 3:
			e.MedalRoomID, ok = s.num()
		case 12:
			e.MedalAnchorUID, ok = s.num()
		default:
			ok = s.skip()
		}
		return ok
	})
}

// fastFirstNum reads the first element of an array (info[4], the user
// level; info[16], the wealth level) into *dst. A non-array is skipped.
func fastFirstNum(s *scan, dst *int64) bool {
	if s.kind() != '[' {
		return s.skip()
	}
	return s.arrayEach(func(j int) bool {
		if j == 0 {
			var ok bool
			*dst, ok = s.num()
			return ok
		}
		return s.skip()
	})
}

// fastCheck reads info[9], the check object {ts, ct}. A non-object is
// skipped.
func fastCheck(s *scan, e *Danmaku) bool {
	if s.kind() != '{' {
		return s.skip()
	}
	var seenTs, seenCt bool
	return s.objectEach(func(k []byte) bool {
		switch string(k) {
		case "ts":
			return numOnce(s, &seenTs, &e.CheckTs)
		case "ct":
			return strOnce(s, &seenCt, &e.CheckCt)
		}
		return s.skip()
	})
}

// userIdentity reads uid and base.name from info[0][15].user.
func userIdentity(raw []byte) (uid int64, name string, ok bool) {
	s := scan{b: raw}
	if s.kind() != '{' {
		return 0, "", true // not an object: nothing to read
	}
	var seenUID, seenBase bool
	ok = s.objectEach(func(k []byte) bool {
		switch string(k) {
		case "uid":
			return numOnce(&s, &seenUID, &uid)
		case "base":
			if seenBase {
				return s.skip()
			}
			seenBase = true
			if s.kind() != '{' {
				return s.skip()
			}
			var seenName bool
			return s.objectEach(func(k []byte) bool {
				if string(k) == "name" {
					return strOnce(&s, &seenName, &name)
				}
				return s.skip()
			})
		}
		return s.skip()
	})
	return uid, name, ok
}

// fastA0 fills e from info[0].
func (d *CommandDecoder) fastA0(s *scan, e *Danmaku, userRaw *[]byte) bool {
	var extraEmoticon string
	ok := s.arrayEach(func(i int) bool {
		var ok bool
		switch i {
		case 1:
			e.Mode, ok = s.num()
		case 2:
			e.FontSize, ok = s.num()
		case 3:
			e.Color, ok = s.num()
		case 4:
			e.TsMs, ok = s.num()
		case 5:
			e.Rnd, ok = s.num()
		case 7:
			if s.kind() != '"' {
				return false
			}
			e.MidHash, ok = s.str()
		case 9:
			e.DmMsgType, ok = s.num()
		case 12:
			e.DmType, ok = s.num()
		case 13:
			if s.kind() != '{' {
				return s.skip()
			}
			var seen bool
			return s.objectEach(func(k []byte) bool {
				if string(k) == "emoticon_unique" {
					return strOnce(s, &seen, &e.Emoticon)
				}
				return s.skip()
			})
		case 15:
			return d.fastModeInfo(s, e, &extraEmoticon, userRaw)
		default:
			return s.skip()
		}
		return ok
	})
	if !ok {
		return false
	}
	if e.Emoticon == "" && e.DmType == 1 {
		e.Emoticon = extraEmoticon
	}
	return true
}

// fastModeInfo reads info[0][15], the mode_info object: the fields of
// its extra document into e (fastExtra), except the emoticon, which goes
// to *extraEmoticon (fastA0 uses it for a sticker when info[0][13] names
// none), and the bytes of its user object into *userRaw. A non-object is
// skipped.
func (d *CommandDecoder) fastModeInfo(s *scan, e *Danmaku, extraEmoticon *string, userRaw *[]byte) bool {
	if s.kind() != '{' {
		return s.skip()
	}
	var seenExtra, seenUser bool
	return s.objectEach(func(k []byte) bool {
		switch string(k) {
		case "extra":
			if seenExtra {
				return s.skip()
			}
			seenExtra = true
			if s.kind() != '"' {
				return s.skip()
			}
			var ok bool
			d.extra, ok = s.unescapeString(d.extra[:0])
			if !ok {
				return false
			}
			return d.fastExtra(e, extraEmoticon)
		case "user":
			if seenUser {
				return s.skip()
			}
			seenUser = true
			// Only needed when info[2] lacks the uid or name, which
			// is known later: keep the bytes, parse on demand.
			s.ws()
			start := s.i
			if !s.skip() {
				return false
			}
			*userRaw = s.b[start:s.i]
			return true
		}
		return s.skip()
	})
}

// fastExtra reads the fields we keep from the unescaped extra document in
// d.extra. An extra that does not parse is not an error: the danmaku
// still decodes, without its id (same as the general path).
func (d *CommandDecoder) fastExtra(e *Danmaku, emoticon *string) bool {
	x := scan{b: d.extra}
	var f Danmaku
	var emo string
	var seen [7]bool
	ok := x.eat('{')
	for ok && !x.eat('}') {
		key, esc, kok := x.rawString()
		if !kok || esc || !x.eat(':') {
			ok = false
			break
		}
		switch string(key) {
		case "id_str":
			if seen[0] || x.kind() != '"' {
				seen[0] = true
				ok = x.skip() // a non-string id is no id
			} else {
				ok = strOnce(&x, &seen[0], &f.IDStr)
			}
		case "reply_mid":
			ok = numOnce(&x, &seen[1], &f.ReplyUID)
		case "reply_uname":
			ok = strOnce(&x, &seen[2], &f.ReplyUname)
		case "user_hash":
			ok = strOnce(&x, &seen[3], &f.UserHash)
		case "hit_combo":
			ok = numOnce(&x, &seen[4], &f.HitCombo)
		case "emoticon_unique":
			ok = strOnce(&x, &seen[5], &emo)
		case "is_mirror":
			if seen[6] {
				ok = x.skip()
			} else {
				seen[6] = true
				lit, lok := x.literal()
				f.IsMirror = string(lit) == "true"
				ok = lok
			}
		default:
			ok = x.skip()
		}
		if ok && !x.eat(',') {
			ok = x.eat('}')
			break
		}
	}
	if !ok || !x.end() {
		// Malformed or unexpected extra: only a full parser can say what
		// a general decoder would make of it.
		return false
	}
	e.IDStr, e.ReplyUID, e.ReplyUname = f.IDStr, f.ReplyUID, f.ReplyUname
	e.UserHash, e.HitCombo, e.IsMirror = f.UserHash, f.HitCombo, f.IsMirror
	*emoticon = emo
	return true
}
