package livesim

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"sync"
	"time"
)

// The simulator's own brotli encoder (RFC 7932) for ver-3 bundles.
//
// Every frame is its own brotli stream, as on the real service, and a
// general-purpose encoder spends most of a small frame's cost on fixed
// work (tables cleared and sized for any input, two passes, generic block
// splitting) and most of a large one's on its match search: together most
// of the simulator's CPU. This encoder writes the same kind of stream
// (one meta-block with one literal, one insert-and-copy and one distance
// prefix code; no block splits, no context modelling) with less work:
//
//   - greedy LZ77 with one hash probe per position, a repeat-distance
//     check first (the commands of a bundle share their templates, so a
//     field of the same width as before keeps the distance) and
//     skipping ahead faster through data that does not match;
//   - for bundles up to brStaticMax, prefix codes built once from the
//     simulator's own output and stored, already serialised, in each
//     stream: no histograms or trees per frame;
//   - for larger ones, Huffman codes built for the frame without
//     allocating, stored with the format's run-length coding, or as
//     simple codes when a code has ≤ 4 symbols.
//
// Decoders do the same work as for any brotli stream. Output sizes are
// within 10 % of andybalholm/brotli at quality 1 (docs/simulator.md has
// the figures; the tests decode every stream with that package, `make
// interop` with Node's zlib).

// brMaxMetaBlock is the largest meta-block the encoder writes (MLEN is at
// most 2^24); a longer bundle is split, the last part marked ISLAST.
const brMaxMetaBlock = 1 << 24

// brHashBits sizes the match finder's table: 2^brHashBits positions.
const brHashBits = 14

// brMinMatch is the shortest copy the match finder emits.
const brMinMatch = 4

// Alphabet sizes: literals, insert-and-copy lengths, distances (NPOSTFIX
// 0, NDIRECT 0).
const (
	nLit  = 256
	nCmd  = 704
	nDist = 64
)

// brCmd is one brotli command: insert literals, then copy copy bytes
// from dist back (copy 0: the meta-block ends after the literals). sym,
// dsym and dextra are its coded form (dsym -1: no distance is written).
type brCmd struct {
	insert, copy, dist uint32
	sym                uint16
	ic, cc             uint8 // insert and copy length codes
	dsym               int8
	dbits              uint8
	dextra             uint32
}

// brEncoder compresses bundles into brotli streams. It keeps its match
// table and scratch space across calls and is not safe for concurrent
// use.
type brEncoder struct {
	table [1 << brHashBits]uint32 // hash → off+position of the last occurrence
	off   uint32                  // positions of this call are stored as off+pos
	cmds  []brCmd
	// maxMeta and staticMax are brMaxMetaBlock and brStaticMax except in
	// tests.
	maxMeta, staticMax int

	litCount [nLit]uint32
	litHist  histogram // litCount, and the literals seen
	cmdHist  histogram
	distHist histogram
	lit      prefixCode
	cmd      prefixCode
	dist     prefixCode
	huff     huffBuilder
	own      brCodes // lit, cmd, dist
	// codes is what the meta-block being written uses: own, or the
	// static ones.
	codes *brCodes
}

// brCodes are the three prefix codes of a meta-block.
type brCodes struct {
	lit, cmd, dist *prefixCode
}

func newBrEncoder() *brEncoder {
	e := &brEncoder{maxMeta: brMaxMetaBlock, staticMax: brStaticMax, off: 1}
	e.litHist.count = e.litCount[:]
	e.cmdHist.count = make([]uint32, nCmd)
	e.distHist.count = make([]uint32, nDist)
	e.own = brCodes{&e.lit, &e.cmd, &e.dist}
	return e
}

// histogram counts symbols and notes which it has seen.
type histogram struct {
	count []uint32
	seen  [(nCmd + 64) / 64]uint64 // bit s: count[s] is not zero
}

func (h *histogram) add(s int) {
	h.seen[s/64] |= 1 << (s % 64)
	h.count[s]++
}

// appendSeen appends the symbols seen, in increasing order.
func (h *histogram) appendSeen(dst []uint16) []uint16 {
	for i, w := range h.seen {
		for ; w != 0; w &= w - 1 {
			dst = append(dst, uint16(64*i+bits.TrailingZeros64(w)))
		}
	}
	return dst
}

func (h *histogram) reset() {
	for i, w := range h.seen {
		for ; w != 0; w &= w - 1 {
			h.count[64*i+bits.TrailingZeros64(w)] = 0
		}
	}
	h.seen = [len(h.seen)]uint64{}
}

// advance moves the position base past a call's n bytes, so that no
// position of it matches in the next call; the table is cleared when the
// base would wrap.
func (e *brEncoder) advance(n int) {
	if uint64(e.off)+2*uint64(n)+2 >= 1<<32 {
		clear(e.table[:])
		e.off = 1
		return
	}
	e.off += uint32(n) + 1
}

// encode appends src, compressed as one complete brotli stream, to dst.
func (e *brEncoder) encode(dst, src []byte) []byte {
	w := bitWriter{buf: slices.Grow(dst, len(src)/3+256)}
	lgwin := 10
	for lgwin < 24 && (1<<lgwin)-16 < len(src) {
		lgwin++
	}
	writeWindowBits(&w, lgwin)
	if len(src) == 0 {
		w.write(2, 3) // ISLAST, ISLASTEMPTY
		return w.flush()
	}
	maxDist := (1 << lgwin) - 16
	lastDist := uint32(4) // the decoder's initial last distance
	for start := 0; start < len(src); {
		end := min(len(src), start+e.maxMeta)
		e.cmds = e.match(e.cmds[:0], src, start, end, maxDist)
		static := end-start <= e.staticMax
		lastDist = e.symbols(src[start:end], lastDist, !static)
		writeMetaBlockHeader(&w, end-start, end == len(src))
		if static {
			st := brStatic()
			w.writeBits(st.header, st.headerBits)
			e.codes = &st.codes
		} else {
			e.storeCodes(&w)
		}
		e.writeCommands(&w, src[start:end])
		start = end
	}
	e.advance(len(src))
	return w.flush()
}

// match appends the commands covering src[start:end], copying from
// anywhere in src[:end] at most maxDist back.
func (e *brEncoder) match(cmds []brCmd, src []byte, start, end, maxDist int) []brCmd {
	lit := start     // first literal not yet covered by a command
	s := start       // where to look next
	lastDist := 0    // distance of the last copy
	limit := end - 8 // load64 at s must stay inside src[:end]
	off := e.off
	for s < limit {
		u := binary.LittleEndian.Uint64(src[s:])
		cand := -1
		if lastDist > 0 && s >= lastDist && uint32(u) == binary.LittleEndian.Uint32(src[s-lastDist:]) {
			cand = s - lastDist
		} else {
			h := uint32((u << 24) * 0x9E3779B97F4A7C15 >> (64 - brHashBits))
			c := e.table[h]
			e.table[h] = off + uint32(s)
			if c >= off {
				p := int(c - off)
				if p < s && s-p <= maxDist && uint32(u) == binary.LittleEndian.Uint32(src[p:]) {
					cand = p
				}
			}
		}
		if cand < 0 {
			s += 1 + (s-lit)>>5
			continue
		}
		for s > lit && cand > 0 && src[s-1] == src[cand-1] {
			s--
			cand--
		}
		n := brMinMatch + matchLen(src[s+brMinMatch:end], src[cand+brMinMatch:end])
		cmds = append(cmds, brCmd{insert: uint32(s - lit), copy: uint32(n), dist: uint32(s - cand)})
		lastDist = s - cand
		s += n
		lit = s
		if s >= limit {
			break
		}
		// Remember a position near the end of the copy: the next command
		// of the same template often matches from there.
		p := s - 2
		h := uint32((binary.LittleEndian.Uint64(src[p:]) << 24) * 0x9E3779B97F4A7C15 >> (64 - brHashBits))
		e.table[h] = off + uint32(p)
	}
	if lit < end {
		cmds = append(cmds, brCmd{insert: uint32(end - lit)})
	}
	return cmds
}

// matchLen is the length of the common prefix of a and b.
func matchLen(a, b []byte) int {
	n := 0
	for len(a) >= 8 && len(b) >= 8 {
		if x := binary.LittleEndian.Uint64(a) ^ binary.LittleEndian.Uint64(b); x != 0 {
			return n + bits.TrailingZeros64(x)>>3
		}
		n, a, b = n+8, a[8:], b[8:]
	}
	for i := 0; i < len(a) && i < len(b) && a[i] == b[i]; i++ {
		n++
	}
	return n
}

// symbols codes e.cmds (one meta-block whose data is src) and, with
// count, counts the symbols of the three alphabets. last is the decoder's
// last distance before the meta-block; the result is the one after it.
func (e *brEncoder) symbols(src []byte, last uint32, count bool) uint32 {
	clear(e.litCount[:])
	e.cmdHist.reset()
	e.distHist.reset()
	pos := 0
	for i := range e.cmds {
		m := &e.cmds[i]
		if count {
			for _, b := range src[pos : pos+int(m.insert)] {
				e.litCount[b]++
			}
		}
		pos += int(m.insert + m.copy)
		ic := insCode(m.insert)
		m.ic = uint8(ic)
		if m.copy == 0 { // the meta-block ends in the literals: the copy and distance are never read
			m.cc = 2
			m.sym, m.dsym = uint16(cmdCode(ic, 2, true)), -1
			e.cmdHist.add(int(m.sym))
			continue
		}
		cc := cpCode(m.copy)
		m.cc = uint8(cc)
		m.sym = uint16(cmdCode(ic, cc, m.dist == last))
		e.cmdHist.add(int(m.sym))
		switch {
		case m.sym < 128: // distance code 0, implied
			m.dsym = -1
		case m.dist == last:
			m.dsym, m.dbits, m.dextra = 0, 0, 0
		default:
			dc, nb, x := distCode(m.dist)
			m.dsym, m.dbits, m.dextra = int8(dc), uint8(nb), x
			last = m.dist
		}
		if m.dsym >= 0 {
			e.distHist.add(int(m.dsym))
		}
	}
	return last
}

// storeCodes builds the meta-block's three prefix codes from the
// histograms and writes them.
func (e *brEncoder) storeCodes(w *bitWriter) {
	h := &e.huff
	e.litHist.seen = [len(e.litHist.seen)]uint64{}
	for i, c := range e.litCount {
		if c > 0 {
			e.litHist.seen[i/64] |= 1 << (i % 64)
		}
	}
	h.storeFor(w, &e.litHist, &e.lit, 8)
	h.storeFor(w, &e.cmdHist, &e.cmd, 10)
	h.storeFor(w, &e.distHist, &e.dist, 6)
	e.codes = &e.own
}

// writeCommands writes the coded commands of one meta-block whose data
// is src.
func (e *brEncoder) writeCommands(w *bitWriter, src []byte) {
	buf, acc, n := w.buf, w.acc, w.n
	lit, cmd, dist := &e.codes.lit.packed, &e.codes.cmd.packed, &e.codes.dist.packed
	pos := 0
	for i := range e.cmds {
		m := &e.cmds[i]
		// The symbol (≤ 15 bits) and the insert length's extra bits (≤ 24).
		c := cmd[m.sym]
		v, nb := uint64(c&0xFFFF), uint(c>>16)
		if x := uint(insExtra[m.ic]); x > 0 {
			v |= uint64(m.insert-insBase[m.ic]) << nb
			nb += x
		}
		acc |= v << n
		n += nb
		if n >= 32 {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(acc))
			acc >>= 32
			n -= 32
		}
		if x := uint(cpExtra[m.cc]); x > 0 && m.copy > 0 {
			acc |= uint64(m.copy-cpBase[m.cc]) << n
			n += x
			if n >= 32 {
				buf = binary.LittleEndian.AppendUint32(buf, uint32(acc))
				acc >>= 32
				n -= 32
			}
		}
		for _, b := range src[pos : pos+int(m.insert)] {
			c := lit[b]
			acc |= uint64(c&0xFFFF) << n
			n += uint(c >> 16)
			if n >= 32 {
				buf = binary.LittleEndian.AppendUint32(buf, uint32(acc))
				acc >>= 32
				n -= 32
			}
		}
		pos += int(m.insert + m.copy)
		if m.dsym < 0 {
			continue
		}
		// The distance symbol (≤ 15 bits) and its extra bits (≤ 23).
		c = dist[m.dsym]
		acc |= uint64(c&0xFFFF) << n
		n += uint(c >> 16)
		if n >= 32 {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(acc))
			acc >>= 32
			n -= 32
		}
		if m.dbits > 0 {
			acc |= uint64(m.dextra) << n
			n += uint(m.dbits)
			if n >= 32 {
				buf = binary.LittleEndian.AppendUint32(buf, uint32(acc))
				acc >>= 32
				n -= 32
			}
		}
	}
	w.buf, w.acc, w.n = buf, acc, n
}

// writeWindowBits writes the stream header: WBITS = lgwin (10..24).
func writeWindowBits(w *bitWriter, lgwin int) {
	switch {
	case lgwin == 16:
		w.write(1, 0)
	case lgwin == 17:
		w.write(7, 1)
	case lgwin > 17:
		w.write(4, uint64(lgwin-17)<<1|1)
	default:
		w.write(7, uint64(lgwin-8)<<4|1)
	}
}

// writeMetaBlockHeader writes a compressed meta-block's header up to its
// prefix codes: one block type of each category, NPOSTFIX 0, NDIRECT 0,
// literal context mode 0, one literal and one distance code.
func writeMetaBlockHeader(w *bitWriter, n int, last bool) {
	nibbles := 4
	for nibbles < 6 && n-1 >= 1<<(4*nibbles) {
		nibbles++
	}
	if last {
		w.write(2, 1) // ISLAST, not ISLASTEMPTY
	} else {
		w.write(1, 0)
	}
	w.write(2, uint64(nibbles-4))
	w.write(uint(4*nibbles), uint64(n-1))
	if !last {
		w.write(1, 0) // ISUNCOMPRESSED
	}
	// NBLTYPESL, NBLTYPESI, NBLTYPESD (1 each: one 0 bit), NPOSTFIX (2),
	// NDIRECT (4), the context mode (2), NTREESL and NTREESD (1 each).
	w.write(13, 0)
}

// bitWriter appends bits least significant first, as brotli packs them.
type bitWriter struct {
	buf []byte
	acc uint64
	n   uint
}

// write appends the low nbits (≤ 32) of v; v has no higher bits set.
func (w *bitWriter) write(nbits uint, v uint64) {
	w.acc |= v << w.n
	w.n += nbits
	if w.n >= 32 {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(w.acc))
		w.acc >>= 32
		w.n -= 32
	}
}

// flush pads to a byte boundary with zero bits and returns the buffer.
func (w *bitWriter) flush() []byte {
	for w.n > 0 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc >>= 8
		w.n = max(8, w.n) - 8
	}
	w.acc = 0
	return w.buf
}

// Insert and copy length codes (RFC 7932 §5): extra bits and base.
var (
	insExtra = [24]uint8{0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 7, 8, 9, 10, 12, 14, 24}
	insBase  = [24]uint32{0, 1, 2, 3, 4, 5, 6, 8, 10, 14, 18, 26, 34, 50, 66, 98, 130, 194, 322, 578, 1090, 2114, 6210, 22594}
	cpExtra  = [24]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 7, 8, 9, 10, 24}
	cpBase   = [24]uint32{2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 18, 22, 30, 38, 54, 70, 102, 134, 198, 326, 582, 1094, 2118}
)

func insCode(n uint32) int {
	switch {
	case n < 6:
		return int(n)
	case n < 130:
		nb := bits.Len32(n-2) - 2
		return nb<<1 + int((n-2)>>nb) + 2
	case n < 2114:
		return bits.Len32(n-66) - 1 + 10
	case n < 6210:
		return 21
	case n < 22594:
		return 22
	}
	return 23
}

func cpCode(n uint32) int {
	switch {
	case n < 10:
		return int(n) - 2
	case n < 134:
		nb := bits.Len32(n-6) - 2
		return nb<<1 + int((n-6)>>nb) + 4
	case n < 2118:
		return bits.Len32(n-70) - 1 + 12
	}
	return 23
}

// cmdCode combines an insert and a copy length code into an
// insert-and-copy symbol; lastDist selects the symbols that imply
// distance code 0 (when the lengths allow it).
func cmdCode(ins, cp int, lastDist bool) int {
	b := cp&7 | (ins&7)<<3
	if lastDist && ins < 8 && cp < 16 {
		if cp < 8 {
			return b
		}
		return b | 64
	}
	off := 2 * (cp>>3 + 3*(ins>>3))
	off = off<<5 + 0x40 + (0x520D40>>off)&0xC0
	return off | b
}

// distCode is the distance symbol (≥ 16, NPOSTFIX 0, NDIRECT 0) of a
// distance, with its extra bits.
func distCode(d uint32) (code int, nExtra uint, extra uint32) {
	x := d + 3
	nb := uint(bits.Len32(x) - 2)
	prefix := (x >> nb) & 1
	return int(2*(nb-1)+uint(prefix)) + 16, nb, x - (2+prefix)<<nb
}

// prefixCode is a canonical prefix code: per symbol its length and its
// bits, reversed for a least-significant-first writer. Symbols not in
// syms have length 0.
type prefixCode struct {
	depth [nCmd + 1]uint8 // + 1: room for a placeholder while building static codes
	bits  [nCmd + 1]uint16
	// packed is bits | depth<<16, for the writer.
	packed [nCmd + 1]uint32
	syms   []uint16 // the symbols with a code, in increasing order
}

// huffBuilder builds length-limited Huffman codes and stores them,
// reusing its scratch space.
type huffBuilder struct {
	items   [nCmd + 1]uint64 // count<<16 | symbol, sorted
	sortTmp [nCmd + 1]uint64
	cnt     [2*nCmd + 2]uint64
	parent  [2*nCmd + 2]uint16
	nd      [2*nCmd + 2]uint8
	rle     [nCmd]uint8 // a code's lengths, run-length coded
	extra   [nCmd]uint8
	clHist  histogram
	cl      prefixCode // the code-length code
}

// storeFor builds code for hist (no length above 15) and writes it, as a
// simple code when it has at most four symbols. An alphabet none of
// whose symbols is written (a meta-block without literals or without
// distances) still needs a code: symbol 0 alone.
func (h *huffBuilder) storeFor(w *bitWriter, hist *histogram, code *prefixCode, alphabetBits uint) {
	n := h.build(hist, 15, code)
	if n == 0 {
		n, code.syms = 1, append(code.syms, 0)
	}
	if n == 1 { // no bits at all
		code.bits[code.syms[0]], code.packed[code.syms[0]] = 0, 0
	} else {
		canonical(code)
	}
	if n > 4 {
		h.storeComplex(w, code)
		return
	}
	var syms [4]uint16
	copy(syms[:], code.syms)
	slices.SortFunc(syms[:n], func(a, b uint16) int { return int(code.depth[a]) - int(code.depth[b]) })
	w.write(2, 1) // HSKIP 1: a simple code
	w.write(2, uint64(n-1))
	for _, s := range syms[:n] {
		w.write(alphabetBits, uint64(s))
	}
	if n == 4 {
		tree := uint64(0) // lengths 2, 2, 2, 2
		if code.depth[syms[0]] == 1 {
			tree = 1 // lengths 1, 2, 3, 3
		}
		w.write(1, tree)
	}
}

// build makes code the Huffman code of hist's counts (no length above
// limit: small counts are raised until it fits; a lone symbol gets
// length 0) and returns how many symbols it has.
func (h *huffBuilder) build(hist *histogram, limit int, code *prefixCode) int {
	for _, s := range code.syms {
		code.depth[s] = 0
	}
	code.syms = hist.appendSeen(code.syms[:0])
	n := len(code.syms)
	if n < 2 {
		return n
	}
	items := h.items[:n]
	var most uint32
	for i, s := range code.syms {
		items[i] = uint64(hist.count[s])<<16 | uint64(s)
		most = max(most, hist.count[s])
	}
	h.sortByCount(items, most)
	for floor := uint64(1); ; floor *= 2 {
		for i, it := range items {
			h.cnt[i] = max(it>>16, floor)
		}
		// Two queues: leaves in order, then internal nodes, which are
		// made in nondecreasing order of count.
		li, ii, next := 0, n, n
		pick := func() int {
			if li < n && (ii >= next || h.cnt[li] <= h.cnt[ii]) {
				li++
				return li - 1
			}
			ii++
			return ii - 1
		}
		for next < 2*n-1 {
			a, b := pick(), pick()
			h.cnt[next] = h.cnt[a] + h.cnt[b]
			h.parent[a], h.parent[b] = uint16(next), uint16(next)
			next++
		}
		h.nd[2*n-2] = 0
		longest := uint8(0)
		for i := 2*n - 3; i >= 0; i-- {
			h.nd[i] = h.nd[h.parent[i]] + 1
			longest = max(longest, h.nd[i])
		}
		if int(longest) <= limit {
			break
		}
	}
	for i, it := range items {
		code.depth[it&0xFFFF] = h.nd[i]
	}
	return n
}

// sortByCount sorts items (count<<16 | symbol, in increasing symbol
// order) by count, keeping that order among equal counts: for many items
// a radix sort on the count's bytes, one pass per byte of most, the
// largest count.
func (h *huffBuilder) sortByCount(items []uint64, most uint32) {
	if len(items) < 128 { // a radix pass costs more than sorting so few
		slices.Sort(items) // the same order: count first, then symbol
		return
	}
	src, dst := items, h.sortTmp[:len(items)]
	for shift := uint(16); most > 0; shift, most = shift+8, most>>8 {
		var pos [257]int
		for _, it := range src {
			pos[(it>>shift)&0xFF+1]++
		}
		for i := 1; i < len(pos); i++ {
			pos[i] += pos[i-1]
		}
		for _, it := range src {
			d := (it >> shift) & 0xFF
			dst[pos[d]] = it
			pos[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &items[0] {
		copy(items, src)
	}
}

// canonical assigns code's symbols their canonical codes, bit-reversed.
func canonical(code *prefixCode) {
	var count, next [16]uint16
	for _, s := range code.syms {
		count[code.depth[s]]++
	}
	count[0] = 0
	c := uint16(0)
	for i := 1; i < 16; i++ {
		c = (c + count[i-1]) << 1
		next[i] = c
	}
	for _, s := range code.syms {
		d := code.depth[s]
		code.bits[s] = bits.Reverse16(next[d]) >> (16 - d)
		code.packed[s] = uint32(code.bits[s]) | uint32(d)<<16
		next[d]++
	}
}

// storeComplex writes a complex prefix code (RFC 7932 §3.5) for code:
// the lengths run-length coded with symbols 16 and 17, themselves coded
// with a code-length code.
func (h *huffBuilder) storeComplex(w *bitWriter, code *prefixCode) {
	syms, extra := h.rleDepths(code.depth[:code.syms[len(code.syms)-1]+1])
	if h.clHist.count == nil {
		h.clHist.count = make([]uint32, 18)
	}
	h.clHist.reset()
	for _, s := range syms {
		h.clHist.add(int(s))
	}
	if bits.OnesCount64(h.clHist.seen[0]) == 1 { // a complex code has two symbols at least; this one is never sent
		h.clHist.add(int(syms[0]+1) % 18)
	}
	h.build(&h.clHist, 5, &h.cl)
	canonical(&h.cl)
	order := [18]int{1, 2, 3, 4, 0, 5, 17, 6, 16, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	// The fixed code of the code-length code's lengths 0..5.
	lenBits := [6]uint64{0, 7, 3, 2, 1, 15}
	lenLen := [6]uint{2, 4, 3, 2, 2, 4}
	n := 18
	for n > 0 && h.cl.depth[order[n-1]] == 0 {
		n--
	}
	skip := 0
	if h.cl.depth[order[0]] == 0 && h.cl.depth[order[1]] == 0 {
		skip = 2
		if h.cl.depth[order[2]] == 0 {
			skip = 3
		}
	}
	w.write(2, uint64(skip))
	for _, sym := range order[skip:n] {
		d := h.cl.depth[sym]
		w.write(lenLen[d], lenBits[d])
	}
	for i, s := range syms {
		w.write(uint(h.cl.depth[s]), uint64(h.cl.bits[s]))
		switch s {
		case 16:
			w.write(2, uint64(extra[i]))
		case 17:
			w.write(3, uint64(extra[i]))
		}
	}
}

// rleDepths codes a list of code lengths with the repeat symbols 16
// (previous nonzero length, 3–6 times, chained) and 17 (zero, 3–10 times,
// chained). Trailing zeros are left out: the decoder stops once the code
// is complete.
func (h *huffBuilder) rleDepths(depth []uint8) (syms, extra []uint8) {
	n := len(depth)
	for n > 0 && depth[n-1] == 0 {
		n--
	}
	syms, extra = h.rle[:0], h.extra[:0]
	prev := uint8(8) // the decoder's initial "previous" length
	put := func(s, x uint8) { syms, extra = append(syms, s), append(extra, x) }
	// repeat writes reps (≥ 3) repetitions with the chained symbol s,
	// whose extra bits are bitsPer wide.
	repeat := func(s uint8, reps int, bitsPer uint) {
		start := len(syms)
		reps -= 3
		for {
			put(s, uint8(reps&(1<<bitsPer-1)))
			reps >>= bitsPer
			if reps == 0 {
				break
			}
			reps--
		}
		slices.Reverse(syms[start:])
		slices.Reverse(extra[start:])
	}
	for i := 0; i < n; {
		v := depth[i]
		reps := 1
		for i+reps < n && depth[i+reps] == v {
			reps++
		}
		i += reps
		if v == 0 {
			if reps == 11 {
				put(0, 0)
				reps--
			}
			if reps < 3 {
				for ; reps > 0; reps-- {
					put(0, 0)
				}
			} else {
				repeat(17, reps, 3)
			}
			continue
		}
		if v != prev {
			put(v, 0)
			reps--
			prev = v
		}
		if reps == 7 {
			put(v, 0)
			reps--
		}
		if reps < 3 {
			for ; reps > 0; reps-- {
				put(v, 0)
			}
		} else {
			repeat(16, reps, 2)
		}
	}
	return syms, extra
}

// brStaticMax is the largest meta-block written with the static codes:
// below it, building and storing codes for the frame would cost more
// than the frame's other work, and the stored codes would be a large
// part of the output.
const brStaticMax = 8 << 10

// brStaticCodes are prefix codes built once, from the commands the match
// finder makes of simulated small bundles, for every symbol the encoder
// can emit; header is them stored, as a bit string.
type brStaticCodes struct {
	codes          brCodes
	lit, cmd, dist prefixCode
	header         []uint32
	headerBits     uint
}

var (
	brStaticOnce sync.Once
	brStaticVal  *brStaticCodes
)

func brStatic() *brStaticCodes {
	brStaticOnce.Do(func() { brStaticVal = trainStatic() })
	return brStaticVal
}

// trainStatic counts symbols over simulated bundles of 1 to 4 events,
// both variants, and builds codes that also cover every symbol the
// encoder may emit and was not seen.
func trainStatic() *brStaticCodes {
	s := &Sim{opts: Options{Rooms: 1, Seed: 1, RedPocketEvery: -1}, byID: map[int64]*room{}}
	s.opts.setDefaults()
	s.buildRooms()
	x := newShard(s, 0)
	r := s.rooms[0]
	e := newBrEncoder()
	lit, cmd, dist := make([]uint32, nLit+1), make([]uint32, nCmd+1), make([]uint32, nDist+1)
	now := time.Date(2026, 1, 1, 20, 0, 0, 0, time.UTC)
	for i := 0; i < 400; i++ {
		b := &batch{room: r}
		x.b, x.full, x.anon = b, x.full[:0], x.anon[:0]
		for j := 0; j <= i%4; j++ {
			x.gen(r, b, now, true, true)
		}
		now = now.Add(time.Second)
		for _, src := range [][]byte{x.full, x.anon} {
			e.cmds = e.match(e.cmds[:0], src, 0, len(src), 1<<24)
			e.symbols(src, 4, true)
			e.advance(len(src))
			for c, n := range e.litCount {
				lit[c] += n
			}
			for _, h := range []struct {
				from *histogram
				to   []uint32
			}{{&e.cmdHist, cmd}, {&e.distHist, dist}} {
				for _, s := range h.from.appendSeen(nil) {
					h.to[s] += h.from.count[s]
				}
			}
		}
	}
	st := &brStaticCodes{}
	var hb huffBuilder
	allDist := func(s int) bool { return s == 0 || s >= 16 }
	all := func(int) bool { return true }
	// Symbols rarer than these shares of their alphabet's count share a
	// subtree with those never seen (chosen by the frame sizes they give
	// 1- to 6-event bundles).
	hb.staticCode(lit, all, &st.lit, 1000)
	hb.staticCode(cmd, all, &st.cmd, 30)
	hb.staticCode(dist, allDist, &st.dist, 30)
	var w bitWriter
	for _, c := range []*prefixCode{&st.lit, &st.cmd, &st.dist} {
		hb.storeComplex(&w, c)
	}
	st.header, st.headerBits = w.bits()
	st.codes = brCodes{&st.lit, &st.cmd, &st.dist}
	return st
}

// staticCode makes code a prefix code for the symbols counted in counts
// (its last entry is spare) and the allowed symbols rarer than
// 1/rareDiv of them all or never seen, which share one subtree with
// lengths that differ by one at most (runs of equal lengths cost little
// to store).
func (h *huffBuilder) staticCode(counts []uint32, allowed func(int) bool, code *prefixCode, rareDiv uint64) {
	n := len(counts) - 1
	var total uint64
	var unseen []uint16
	for _, c := range counts[:n] {
		total += uint64(c)
	}
	rare := uint32(total / rareDiv)
	hist := histogram{count: counts}
	for s, c := range counts[:n] {
		switch {
		case c > rare:
			hist.seen[s/64] |= 1 << (s % 64)
		case allowed(s):
			unseen = append(unseen, uint16(s))
		}
	}
	if len(unseen) > 0 {
		hist.seen[n/64] |= 1 << (n % 64)
	}
	k := bits.Len(uint(len(unseen))) - 1 // the subtree's depth below its root
	for weight := max(uint32(total/1000), 1); ; weight *= 2 {
		counts[n] = weight
		h.build(&hist, 15, code)
		if len(unseen) == 0 || int(code.depth[n])+k+1 <= 15 {
			break
		}
	}
	if len(unseen) > 0 {
		d := code.depth[n]
		code.depth[n] = 0
		code.syms = code.syms[:len(code.syms)-1]
		r := len(unseen)
		shallow := r // r = 2^k: all at d+k
		if r != 1<<k {
			shallow = 1<<(k+1) - r
		}
		for i, s := range unseen {
			code.depth[s] = d + uint8(k)
			if i >= shallow {
				code.depth[s]++
			}
		}
		code.syms = append(code.syms, unseen...)
		slices.Sort(code.syms)
	}
	canonical(code)
}

// bits returns what was written as 32-bit words and the bit count, for
// writeBits.
func (w *bitWriter) bits() ([]uint32, uint) {
	n := uint(len(w.buf))*8 + w.n
	b := w.flush()
	words := make([]uint32, (len(b)+3)/4)
	for i := range words {
		var x [4]byte
		copy(x[:], b[4*i:])
		words[i] = binary.LittleEndian.Uint32(x[:])
	}
	return words, n
}

// writeBits appends the first n bits of a bit string made by bits.
func (w *bitWriter) writeBits(words []uint32, n uint) {
	for _, x := range words {
		k := min(n, 32)
		w.write(k, uint64(x)&(1<<k-1))
		n -= k
	}
}
