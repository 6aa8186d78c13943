package livesim

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/danmakud/danmakud/internal/wbi"
	"github.com/danmakud/danmakud/protocol"
)

// Truth kinds, indexes into truthSet arrays (same order as TruthKinds).
const (
	tDanmaku = iota
	tGift
	tSuperChat
	tGuard
	tInteract
	nTruth
)

// truthRef names one logical event: its kind and its per-room sequence.
type truthRef struct {
	kind uint8
	seq  uint32
}

// truthSet records which logical events of a room were delivered at least
// once, as one bitset per kind.
type truthSet struct {
	mu   sync.Mutex
	next [nTruth]uint32
	bits [nTruth][]uint64
	n    [nTruth]int64
}

func (t *truthSet) newRef(kind int) truthRef {
	t.mu.Lock()
	seq := t.next[kind]
	t.next[kind]++
	t.mu.Unlock()
	return truthRef{kind: uint8(kind), seq: seq}
}

func (t *truthSet) deliver(refs []truthRef) {
	t.mu.Lock()
	for _, r := range refs {
		w := int(r.seq / 64)
		b := &t.bits[r.kind]
		for len(*b) <= w {
			*b = append(*b, 0)
		}
		m := uint64(1) << (r.seq % 64)
		if (*b)[w]&m == 0 {
			(*b)[w] |= m
			t.n[r.kind]++
		}
	}
	t.mu.Unlock()
}

func (t *truthSet) counts() [nTruth]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// since is, per kind, how many of the events from sequence number
// from[kind] on were delivered.
func (t *truthSet) since(from [nTruth]int64) [nTruth]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var n [nTruth]int64
	for k, words := range t.bits {
		for w, word := range words {
			if lo := int64(w) * 64; lo < from[k] {
				if from[k] >= lo+64 {
					continue
				}
				word &^= 1<<uint(from[k]-lo) - 1 // the events before from[k]
			}
			n[k] += int64(bits.OnesCount64(word))
		}
	}
	return n
}

// first is, per kind, the sequence number of the first event delivered
// (the number generated when none was).
func (t *truthSet) first() [nTruth]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var f [nTruth]int64
	for k, words := range t.bits {
		f[k] = int64(t.next[k])
		for w, word := range words {
			if word != 0 {
				f[k] = int64(w*64 + bits.TrailingZeros64(word))
				break
			}
		}
	}
	return f
}

// generated is how many events of each kind the room generated.
func (t *truthSet) generated() [nTruth]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var g [nTruth]int64
	for k, n := range t.next {
		g[k] = int64(n)
	}
	return g
}

// batch is one tick's messages of a room. Every variant (masked or not,
// brotli or zlib) carries the same logical events, so the first successful
// write of any variant marks them delivered.
type batch struct {
	room      *room
	refs      []truthRef
	cmds      []cmdMeta
	msgs      int
	delivered atomic.Bool
}

// cmdMeta locates one command of a batch: its inner packet in the full and
// the anonymous bundle, the events it carries (b.refs[refs[0]:refs[1]])
// and, when it expects an ack, its msg_id.
type cmdMeta struct {
	full, anon [2]int
	refs       [2]int
	msgID      string
}

func (b *batch) markDelivered() {
	if len(b.refs) > 0 && b.delivered.CompareAndSwap(false, true) {
		b.room.truth.deliver(b.refs)
	}
}

// frame is one encoded WebSocket message: a whole batch (b set), or one
// command of a batch for sampled connections and re-sends (refs are the
// events it carries). raw is shared by every connection it is sent to and
// never modified after encode.
type frame struct {
	b    *batch
	room *room
	refs []truthRef
	msgs int
	raw  []byte // the outer packet
	// sum is raw's SHA-256, for the ledger (digest).
	sum     [32]byte
	sumOnce sync.Once
}

// markDelivered records the frame's events as delivered.
func (f *frame) markDelivered() {
	switch {
	case f.b != nil:
		f.b.markDelivered()
	case len(f.refs) > 0:
		f.room.truth.deliver(f.refs)
	}
}

type area struct {
	id, parentID     int64
	name, parentName string
}

var areas = []area{
	{371, 9, "虚拟主播", "虚拟主播"}, {86, 2, "英雄联盟", "网游"}, {35, 3, "王者荣耀", "手游"},
	{216, 6, "我的世界", "单机游戏"}, {21, 1, "视频唱见", "娱乐"}, {207, 1, "舞见", "娱乐"},
	{190, 5, "唱见电台", "电台"}, {236, 6, "主机游戏", "单机游戏"},
}

// histItem is one danmaku as dM/gethistory reports it.
type histItem struct {
	text, name, idStr, ct string
	uid, ts, rnd          int64
	medal                 User
}

const histSize = 10

// room is one simulated live room.
type room struct {
	sim      *Sim
	id       int64
	short    int64
	anchor   User
	title    string
	area     area
	rate     float64
	official bool // anonymous connections get everything
	v2Only   bool // SEND_GIFT_V2 only (else alongside SEND_GIFT)
	mirror   bool // receives DANMU_MSG_MIRROR
	toastV2  bool // USER_TOAST_MSG_V2 (source 0, then 2) alongside USER_TOAST_MSG
	users    []User
	truth    truthSet
	baseOnl  int64
	onlineAt atomic.Int64

	mu       sync.Mutex
	live     bool
	flipAt   time.Time
	liveKey  string
	liveTime int64
	subs     map[*conn]struct{}
	acc      float64
	watched  int64
	likes    int64
	fans     int64
	lastTrig int64
	lastTick time.Time     // when this room last generated (shard goroutine only)
	interval time.Duration // how often this room's batches go out
	seq      int64
	hist     [histSize]histItem
	histN    int
	lastSC   []int64
	medal    string             // the room's fan medal name
	guardAt  map[[2]int64]int64 // (uid, level) → unix second of its last purchase
	pending  []pendingCmd       // state-change commands for the next tick
	pocket   redPocket
}

// redPocket is a room's current (or next) popularity red pocket.
type redPocket struct {
	lot        int64
	sender     User
	start, end time.Time // the pocket's life; zero before the first
	next       time.Time // next (re-)broadcast, or the next pocket's start
	price      int64
}

func (r *room) isLive() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live
}

func (r *room) online() int64 { return r.onlineAt.Load() }

var nameParts = []string{"星", "月", "雪", "风", "糖", "鱼", "猫", "橘子", "白", "夜", "冷", "残", "光", "影", "小", "大", "甜", "苦", "海", "山"}
var texts = []string{
	"哈哈哈哈哈", "主播好厉害", "来了来了", "？？？", "草", "awsl", "这波可以", "晚上好", "1111111", "好耶",
	"主播唱一首吧[热]", "还不睡吗", "[dog][dog]", "笑死", "下次一定", "打call", "前方高能", "好听！", "签到",
	"这是什么操作", "泪目", "hhhhhhhh", "冲冲冲", "晚安", "别急", `引号"和\反斜杠`, "emoji 🎉🎉", "gg",
}
var giftNames = []struct {
	id    int64
	name  string
	price int64
	coin  string
}{
	{31036, "小花花", 100, "gold"}, {31039, "牛哇牛哇", 100, "gold"}, {31738, "粉丝团灯牌", 1000, "gold"},
	{33987, "人气票", 0, "silver"}, {31164, "打call", 500, "gold"}, {32251, "小蛋糕", 5200, "gold"},
	{34919, "小丑气球", 9000, "gold"}, {31250, "这个好诶", 1000, "gold"},
}

// buildRooms creates the rooms with Zipf-distributed rates.
func (s *Sim) buildRooms() {
	rng := rand.New(rand.NewPCG(s.opts.Seed, 1))
	var wsum float64
	w := make([]float64, s.opts.Rooms)
	for i := range w {
		w[i] = 1 / math.Pow(float64(i+1), s.opts.ZipfS)
		wsum += w[i]
	}
	now := time.Now()
	shortIDs := []int64{1, 76, 510, 545, 3, 6, 7, 21}
	for i := 0; i < s.opts.Rooms; i++ {
		r := &room{
			sim:      s,
			id:       21000000 + int64(i)*7919 + rng.Int64N(7000),
			rate:     s.opts.Rate * w[i] / wsum,
			area:     areas[rng.IntN(len(areas))],
			official: i < s.opts.OfficialRooms,
			v2Only:   rng.Float64() < 0.3,
			mirror:   rng.Float64() < 0.15,
			toastV2:  rng.Float64() < 0.5,
			subs:     map[*conn]struct{}{},
			guardAt:  map[[2]int64]int64{},
			live:     true,
			watched:  1000 + rng.Int64N(100000),
			likes:    rng.Int64N(50000),
			fans:     1000 + rng.Int64N(500000),
		}
		if i%5 == 0 && i/5 < len(shortIDs) {
			r.short = shortIDs[i/5]
		}
		r.anchor = User{UID: 1000000 + rng.Int64N(3e15), Name: fmt.Sprintf("主播%s%d", nameParts[rng.IntN(len(nameParts))], i)}
		r.title = s.opts.titleOf(i, fmt.Sprintf("%s的直播间 #%d", r.anchor.Name, i))
		r.baseOnl = int64(r.rate*5000) + rng.Int64N(1000) + 100
		r.interval = s.opts.Tick
		if r.rate > 0 {
			r.interval = min(time.Second, max(s.opts.Tick, time.Duration(2/r.rate*float64(time.Second))))
		}
		r.onlineAt.Store(r.baseOnl)
		r.medal = "粉" + strconv.Itoa(i)
		r.users = make([]User, 64)
		for j := range r.users {
			r.users[j] = r.newViewer(rng)
		}
		if s.opts.RedPocketEvery > 0 {
			r.pocket.next = now.Add(expDur(rng, s.opts.RedPocketEvery))
		}
		if o := s.opts; o.LiveFor > 0 {
			off := max(o.OfflineFor, time.Second)
			r.live = rng.Float64() < float64(o.LiveFor)/float64(o.LiveFor+off)
			r.flipAt = now.Add(expDur(rng, map[bool]time.Duration{true: o.LiveFor, false: off}[r.live]))
		}
		if r.live {
			r.liveTime = now.Add(-time.Duration(rng.Int64N(int64(3 * time.Hour)))).Unix()
			r.liveKey = strconv.FormatInt(rng.Int64N(9e17)+1e17, 10)
		}
		s.rooms = append(s.rooms, r)
		s.byID[r.id] = r
		if r.short != 0 {
			s.byID[r.short] = r
		}
	}
}

func expDur(rng *rand.Rand, mean time.Duration) time.Duration {
	return time.Duration(rng.ExpFloat64() * float64(mean))
}

// shard generates the traffic of a subset of rooms.
type shard struct {
	s       *Sim
	rooms   []*room
	rng     *rand.Rand
	bre     *brEncoder     // ver 3 when BrotliQuality is 0
	out     []byte         // bre's output, before it is copied
	br      *brotli.Writer // ver 3 at BrotliQuality 1–11
	zw      *zlib.Writer
	zbuf    bytes.Buffer
	full    []byte // inner packets, unmasked
	anon    []byte // inner packets, masked for anonymous connections
	subs    []*conn
	stopped bool      // traffic has ended and the last batch is queued
	cmdBuf  []cmdMeta // the command list of the next batch
	gifts   []Gift    // the items of the gift being written
	// The batch being built and the events its next commands carry
	// (b.refs[refs[0]:refs[1]]); single-command frames of that batch by
	// 4*command + 2*variant + (protover 3).
	b         *batch
	refs      [2]int
	cmdFrames []*frame
}

func newShard(s *Sim, i int) *shard {
	zw, err := zlib.NewWriterLevel(nil, s.opts.ZlibLevel)
	if err != nil {
		zw = zlib.NewWriter(nil)
	}
	x := &shard{s: s, rng: rand.New(rand.NewPCG(s.opts.Seed, uint64(i)+100)), zw: zw}
	if s.opts.BrotliQuality == 0 {
		x.bre = newBrEncoder()
	} else {
		x.br = brotli.NewWriterLevel(nil, s.opts.BrotliQuality)
	}
	return x
}

func (s *Sim) startTraffic() {
	n := shards()
	s.nShards = n
	sh := make([]*shard, n)
	for i := range sh {
		sh[i] = newShard(s, i)
	}
	for i, r := range s.rooms {
		sh[i%n].rooms = append(sh[i%n].rooms, r)
	}
	for _, x := range sh {
		s.wg.Add(1)
		go func(x *shard) {
			defer s.wg.Done()
			x.run()
		}(x)
	}
}

func (x *shard) run() {
	t := time.NewTicker(x.s.opts.Tick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-x.s.ctx.Done():
			return
		case now := <-t.C:
			dt := now.Sub(last).Seconds()
			last = now
			traffic := x.s.trafficOn(now)
			worked := now // since the last yield
			for _, r := range x.rooms {
				// Quiet rooms batch over a longer interval (up to 1 s) so
				// a frame carries about two messages, as on the real
				// service; busy rooms go out every tick.
				if traffic && now.Sub(r.lastTick) < r.interval {
					continue
				}
				if r.lastTick.IsZero() {
					r.lastTick = now.Add(-time.Duration(dt * float64(time.Second)))
				}
				// A shard that falls behind (a loaded machine, the race
				// detector) generates less rather than ever larger
				// bundles that take ever longer to encode.
				x.tick(r, now, min(now.Sub(r.lastTick), 2*r.interval).Seconds(), traffic)
				r.lastTick = now
				// Yield now and then: a goroutine that runs for 10 ms is
				// preempted by a signal, which costs more than this.
				if t := time.Now(); t.Sub(worked) > time.Millisecond {
					runtime.Gosched()
					worked = t
				}
			}
			if !traffic && !x.stopped {
				// This tick sent nothing: every frame of this shard is
				// already queued to its connections.
				x.stopped = true
				x.s.shardsStopped.Add(1)
			}
		}
	}
}

// tick generates one batch for r and hands it to r's subscribers: the
// whole batch as one frame to full connections (shared by all of them),
// and to sampled ones (Conn.sampled) each command with probability
// AnonKeep, as its own single-command frame (shared too).
func (x *shard) tick(r *room, now time.Time, dt float64, traffic bool) {
	r.mu.Lock()
	if traffic {
		x.churn(r, now)
		x.redPocket(r, now)
	}
	n := 0
	if traffic && r.live {
		r.acc += r.rate * dt
		n = int(r.acc)
		r.acc -= float64(n)
	}
	if n == 0 && len(r.pending) == 0 {
		r.mu.Unlock()
		return
	}
	// Which variants do subscribers need?
	x.subs = x.subs[:0]
	var needFull, needAnon bool
	for c := range r.subs {
		x.subs = append(x.subs, c)
		if c.anon {
			needAnon = true
		} else {
			needFull = true
		}
	}
	b := &batch{room: r, cmds: x.cmdBuf[:0]}
	x.b = b
	x.full, x.anon = x.full[:0], x.anon[:0]
	for _, p := range r.pending {
		x.refs = [2]int{}
		x.putAck(needFull, needAnon, p.msgID, func(dst []byte) []byte { return append(dst, p.body...) }, nil)
		b.msgs++
	}
	r.pending = r.pending[:0]
	for i := 0; i < n; i++ {
		b.msgs += x.gen(r, b, now, needFull, needAnon)
	}
	online := r.baseOnl + int64(float64(r.baseOnl)*0.1*(x.rng.Float64()-0.5))
	r.onlineAt.Store(online)
	r.mu.Unlock()
	x.s.stats.Generated.Add(int64(b.msgs))
	if len(x.subs) > 0 && len(b.cmds) > 0 {
		x.deliver(b)
	}
	// The command list is only needed while the batch is sent: the next
	// batch reuses it.
	x.cmdBuf, b.cmds, x.b = b.cmds[:0], nil, nil
}

// deliver sends the batch b to its room's subscribers (x.subs).
func (x *shard) deliver(b *batch) {
	r := b.room
	x.cmdFrames = slices.Grow(x.cmdFrames[:0], 4*len(b.cmds))[:4*len(b.cmds)]
	clear(x.cmdFrames)
	keep := x.s.opts.AnonKeep
	var frames [2][4]*frame // [anon][protover]
	for _, c := range x.subs {
		v := 0
		if c.anon {
			v = 1
		}
		pv := c.protover
		if pv != 2 && pv != 3 {
			pv = 3
		}
		if c.sampled {
			for i := x.skip(keep); i < len(b.cmds); i += 1 + x.skip(keep) {
				f := x.cmdFrame(b, i, v, pv)
				if c.resend && b.cmds[i].msgID != "" {
					c.expect(b.cmds[i].msgID, f) // before the send: the ack may come at once
				}
				c.send(f)
			}
			continue
		}
		f := frames[v][pv]
		if f == nil {
			inner := x.full
			if c.anon {
				inner = x.anon
			}
			f = &frame{b: b, room: r, msgs: len(b.cmds), raw: x.encode(inner, uint16(pv))}
			frames[v][pv] = f
		}
		if c.resend {
			for i := range b.cmds {
				if b.cmds[i].msgID != "" {
					c.expect(b.cmds[i].msgID, x.cmdFrame(b, i, v, pv))
				}
			}
		}
		c.send(f)
	}
}

// skip returns how many commands a sampled connection skips before the
// next one it gets: geometric with success probability keep.
func (x *shard) skip(keep float64) int {
	if keep >= 1 {
		return 0
	}
	u := 1 - x.rng.Float64() // (0,1]
	return int(math.Log(u) / math.Log1p(-keep))
}

// cmdFrame returns the single-command frame of b's command i in variant
// v (0 full, 1 masked) and protover pv, encoding it on first use.
func (x *shard) cmdFrame(b *batch, i, v, pv int) *frame {
	k := 4*i + 2*v
	if pv == 3 {
		k++
	}
	if f := x.cmdFrames[k]; f != nil {
		return f
	}
	m := &b.cmds[i]
	inner := x.full[m.full[0]:m.full[1]]
	if v == 1 {
		inner = x.anon[m.anon[0]:m.anon[1]]
	}
	f := &frame{room: b.room, refs: b.refs[m.refs[0]:m.refs[1]], msgs: 1, raw: x.encode(inner, uint16(pv))}
	x.cmdFrames[k] = f
	return f
}

// churn flips r between live and offline and queues LIVE / PREPARING.
func (x *shard) churn(r *room, now time.Time) {
	o := &x.s.opts
	if o.LiveFor <= 0 || now.Before(r.flipAt) {
		return
	}
	r.live = !r.live
	x.s.liveGen.Add(1)
	if r.live {
		r.liveTime = now.Unix()
		r.liveKey = strconv.FormatInt(x.rng.Int64N(9e17)+1e17, 10)
		r.pending = append(r.pending, pendingCmd{body: AppendLive(nil, r.id, r.liveKey, r.liveTime, true)})
		r.pending = append(r.pending, pendingCmd{body: AppendLive(nil, r.id, r.liveKey, r.liveTime, false)})
		r.flipAt = now.Add(expDur(x.rng, o.LiveFor))
	} else {
		id := x.s.nextMsgID()
		r.pending = append(r.pending, pendingCmd{body: AppendPreparing(nil, r.id, id, now.UnixMilli()), msgID: id})
		r.flipAt = now.Add(expDur(x.rng, max(o.OfflineFor, time.Second)))
	}
}

// pendingCmd is a state-change command queued for the room's next tick.
type pendingCmd struct {
	body  []byte
	msgID string // set when it expects an ack
}

// redPocket starts, re-broadcasts and ends r's popularity red pockets
// (POPULARITY_RED_POCKET_V2_START, one lot_id per pocket). Called with
// r.mu held.
func (x *shard) redPocket(r *room, now time.Time) {
	o := &x.s.opts
	p := &r.pocket
	if o.RedPocketEvery <= 0 || !r.live || now.Before(p.next) {
		return
	}
	switch {
	case !p.start.IsZero() && !now.Before(p.end): // over: schedule the next
		p.start = time.Time{}
		p.next = now.Add(expDur(x.rng, o.RedPocketEvery))
		return
	case p.start.IsZero(): // a new pocket
		p.lot = x.s.lotID.Add(1)
		p.sender = *x.user(r)
		p.start, p.end = now, now.Add(3*o.RedPocketRepeat)
		p.price = []int64{1000, 2000, 8000, 20000}[x.rng.IntN(4)]
	}
	p.next = now.Add(o.RedPocketRepeat)
	r.pending = append(r.pending, pendingCmd{body: AppendRedPocketV2(nil, &RedPocket{
		LotID: p.lot, Sender: p.sender, Start: p.start.Unix(), End: p.end.Unix(), Now: now.Unix(), TotalPrice: p.price})})
}

// encode compresses one bundle of inner packets into an outer packet.
func (x *shard) encode(inner []byte, ver uint16) []byte {
	if ver == protocol.VerBrotli && x.bre != nil {
		// Compressed into scratch space, then copied to a buffer of its
		// size: the frame lives until every connection has written it.
		x.out = protocol.AppendPacket(x.out[:0], ver, protocol.OpMessage, 0, nil)
		x.out = x.bre.encode(x.out, inner)
		binary.BigEndian.PutUint32(x.out, uint32(len(x.out)))
		return bytes.Clone(x.out)
	}
	x.zbuf.Reset()
	var err error
	if ver == protocol.VerBrotli {
		x.br.Reset(&x.zbuf)
		_, err = x.br.Write(inner)
		if err == nil {
			err = x.br.Close()
		}
	} else {
		x.zw.Reset(&x.zbuf)
		_, err = x.zw.Write(inner)
		if err == nil {
			err = x.zw.Close()
		}
	}
	if err != nil {
		panic("livesim: compress to memory: " + err.Error())
	}
	return protocol.EncodePacket(ver, protocol.OpMessage, 0, x.zbuf.Bytes())
}

// put appends one command to the variants that are needed. enc writes
// the command; masked, when not nil, writes the anonymous variant.
// Commands are written straight into the bundles: no per-message copies.
// The command carries the events b.refs[x.refs[0]:x.refs[1]].
func (x *shard) put(full, anon bool, enc, masked func([]byte) []byte) {
	x.putAck(full, anon, "", enc, masked)
}

// putAck is put for a command with a top-level msg_id that expects an
// ack ("" = none).
func (x *shard) putAck(full, anon bool, msgID string, enc, masked func([]byte) []byte) {
	if !full && !anon {
		return
	}
	m := cmdMeta{refs: x.refs, msgID: msgID}
	if full {
		m.full[0] = len(x.full)
		x.full = appendCmd(x.full, enc)
		m.full[1] = len(x.full)
	}
	if anon {
		if masked == nil {
			masked = enc
		}
		m.anon[0] = len(x.anon)
		x.anon = appendCmd(x.anon, masked)
		m.anon[1] = len(x.anon)
	}
	x.b.cmds = append(x.b.cmds, m)
}

// appendCmd appends an inner packet (ver 0, op 5, seq 0) whose body enc
// writes in place; the header's length is patched afterwards.
func appendCmd(dst []byte, enc func([]byte) []byte) []byte {
	start := len(dst)
	dst = protocol.AppendPacket(dst, protocol.VerJSON, protocol.OpMessage, 0, nil)
	dst = enc(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start))
	return dst
}

func (x *shard) user(r *room) *User { return &r.users[x.rng.IntN(len(r.users))] }

// newViewer makes a viewer of r: a random uid, name, level and wealth,
// and for ~40 % the room's fan medal (~15 % of those a guard).
func (r *room) newViewer(rng *rand.Rand) User {
	u := User{UID: 10000 + rng.Int64N(4e15), UserLevel: rng.Int64N(60), Wealth: rng.Int64N(40)}
	u.Name = nameParts[rng.IntN(len(nameParts))] + nameParts[rng.IntN(len(nameParts))] + strconv.Itoa(rng.IntN(100000))
	if rng.Float64() < 0.4 {
		u.MedalLevel = 1 + rng.Int64N(40)
		u.MedalName = r.medal
		u.MedalOwner, u.MedalRoom, u.MedalRUID = r.anchor.Name, r.id, r.anchor.UID
		if rng.Float64() < 0.15 {
			u.GuardLevel = 1 + rng.Int64N(3)
		}
	}
	return u
}

func (x *shard) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[x.rng.IntN(16)]
	}
	return string(b)
}

// event records a new event of kind in b; the commands put next carry it
// (and only it).
func (x *shard) event(r *room, b *batch, kind int) {
	b.refs = append(b.refs, r.truth.newRef(kind))
	x.refs = [2]int{len(b.refs) - 1, len(b.refs)}
}

// noEvent makes the commands put next carry no counted event.
func (x *shard) noEvent() { x.refs = [2]int{} }

// gen appends one logical event (one or more commands) of r to the batch
// and returns how many commands it wrote. Called with r.mu held.
func (x *shard) gen(r *room, b *batch, now time.Time, full, anon bool) int {
	rng := x.rng
	p := rng.Float64() * 100
	r.seq++
	x.noEvent()
	switch {
	case p < 45: // danmaku
		u := x.user(r)
		d := Danmaku{User: *u, Text: texts[rng.IntN(len(texts))], TsMs: now.UnixMilli(), Rnd: rng.Int64N(1 << 31),
			Color: 16777215, Ct: hex8(rng.Uint32(), "0123456789ABCDEF")}
		d.IDStr = x.hex(32) + strconv.FormatInt(r.seq%10000+1000, 16)
		if u.GuardLevel > 0 {
			d.Color = 14893055
		}
		if rng.Float64() < 0.1 {
			d.Sticker = "upower_[" + d.Text + "]"
			d.StickerURL = "http://i0.hdslb.com/bfs/emote/4d066e650678fd68ba402d61c0db16c2656f9ab1.png"
		}
		if rng.Float64() < 0.05 {
			o := x.user(r)
			d.ReplyUID, d.ReplyName = o.UID, o.Name
		}
		if rng.Float64() < 0.05 {
			d.Suffix = ":4:0:2:2:2:0"
		}
		x.event(r, b, tDanmaku)
		// dM/gethistory reports what the room generated, whoever got it.
		r.hist[r.histN%histSize] = histItem{text: d.Text, name: u.Name, idStr: d.IDStr, ct: d.Ct, uid: u.UID, ts: now.Unix(), rnd: d.Rnd, medal: *u}
		r.histN++
		cmds := 1
		if r.mirror && rng.Float64() < 0.08 {
			// A mirrored danmaku; the same one (same id_str) sometimes
			// also arrives as a plain DANMU_MSG.
			if rng.Float64() < 0.3 {
				x.putDanmaku(&d, full, anon)
				cmds++
			}
			d.Mirror = true
		}
		x.putDanmaku(&d, full, anon)
		return cmds
	case p < 70: // enter / follow / share: INTERACT_WORD_V2 only (§10.6)
		e := Interact{User: *x.user(r), MsgType: 1, RoomID: r.id, TriggerTime: r.trigger(now)}
		if q := rng.Float64(); q < 0.12 {
			e.MsgType = 2
		} else if q < 0.15 {
			e.MsgType = 3
		}
		x.event(r, b, tInteract)
		x.putInteract(&e, full, anon)
		return 1
	case p < 76: // like click: real uid and name even when anonymous
		u := x.user(r)
		x.event(r, b, tInteract)
		x.put(full, anon, func(b []byte) []byte { return AppendLikeClick(b, u, false) }, nil)
		r.likes++
		return 1
	case p < 85: // gift
		return x.genGift(r, b, now, full, anon)
	case p < 86.5:
		g := giftNames[rng.IntN(len(giftNames))]
		gift := Gift{User: *x.user(r), ID: g.id, Name: g.name, Price: g.price, Anchor: r.anchor}
		combo := 2 + rng.Int64N(20)
		x.put(full, anon, func(b []byte) []byte { return AppendCombo(b, &gift, combo) }, nil)
		return 1
	case p < 88.5:
		u, trig := x.user(r), r.trigger(now)
		x.put(full, anon, func(b []byte) []byte { return AppendEntryEffect(b, u, r.anchor.UID, trig) }, nil)
		return 1
	case p < 91.5:
		onl := r.online()
		id := x.s.nextMsgID()
		ms := now.UnixMilli()
		x.putAck(full, anon, id, func(b []byte) []byte { return AppendOnlineRankCount(b, onl/20+1, onl/4+1, id, ms) }, nil)
		return 1
	case p < 93:
		r.watched += 1 + rng.Int64N(20)
		x.put(full, anon, func(b []byte) []byte { return AppendWatched(b, r.watched) }, nil)
		return 1
	case p < 95:
		x.put(full, anon, func(b []byte) []byte { return AppendLikeUpdate(b, r.likes) }, nil)
		return 1
	case p < 96:
		top := []User{*x.user(r), *x.user(r), *x.user(r)}
		x.put(full, anon, func(b []byte) []byte { return AppendOnlineRankV3(b, top) }, nil)
		return 1
	case p < 96.5: // super chat, sometimes followed by its _JPN twin
		sc := SuperChat{User: *x.user(r), ID: x.s.nextSCID(), Price: []int64{30, 50, 100, 500, 1000}[rng.IntN(5)],
			Message: texts[rng.IntN(len(texts))], Start: now.Unix(), Duration: 60, RoomID: r.id,
			SendTimeM: now.UnixMilli(), MsgID: x.s.nextMsgID()}
		x.event(r, b, tSuperChat)
		r.lastSC = append(r.lastSC[max(0, len(r.lastSC)-4):], sc.ID)
		x.putAck(full, anon, sc.MsgID, func(b []byte) []byte { return AppendSuperChat(b, &sc) }, nil)
		if rng.Float64() < 0.2 {
			jpn := sc
			jpn.JPN, jpn.MsgID = true, x.s.nextMsgID()
			x.putAck(full, anon, jpn.MsgID, func(b []byte) []byte { return AppendSuperChat(b, &jpn) }, nil)
			return 2
		}
		return 1
	case p < 96.55:
		if len(r.lastSC) > 0 {
			x.put(full, anon, func(b []byte) []byte { return AppendSuperChatDelete(b, r.id, r.lastSC[0]) }, nil)
			r.lastSC = r.lastSC[1:]
			return 1
		}
		x.put(full, anon, func(b []byte) []byte { return AppendRealTime(b, r.id, r.fans) }, nil)
		return 1
	case p < 96.85: // guard purchase
		return x.genGuard(r, b, now, full, anon)
	case p < 97.35:
		r.fans += rng.Int64N(5)
		x.put(full, anon, func(b []byte) []byte { return AppendRealTime(b, r.id, r.fans) }, nil)
		return 1
	case p < 97.65:
		x.put(full, anon, func(b []byte) []byte { return AppendNotice(b, r.id, r.anchor.Name) }, nil)
		return 1
	case p < 97.85:
		ids := []int64{x.s.rooms[rng.IntN(len(x.s.rooms))].id, 24380902, 22735090}
		x.put(full, anon, func(b []byte) []byte { return AppendStopLiveRoomList(b, ids) }, nil)
		return 1
	case p < 98.05:
		x.put(full, anon, func(b []byte) []byte { return AppendUnknown(b, r.seq) }, nil)
		return 1
	case p < 98.2:
		switch rng.IntN(4) {
		case 0:
			x.put(full, anon, func(b []byte) []byte { return AppendWarning(b, r.id, "图片内容不适宜，请立即调整") }, nil)
		case 1:
			on := rng.IntN(2) == 0
			x.put(full, anon, func(b []byte) []byte { return AppendSilent(b, on, now.Add(10*time.Minute).Unix()) }, nil)
		case 2:
			target := rng.Int64N(1e9)
			x.put(full, anon, func(b []byte) []byte { return AppendRecall(b, target) }, nil)
		default:
			u := x.user(r)
			x.put(full, anon, func(b []byte) []byte { return AppendBlock(b, u) }, nil)
		}
		return 1
	default: // the last 1.8%: follows
		e := Interact{User: *x.user(r), MsgType: 2, RoomID: r.id, TriggerTime: r.trigger(now)}
		x.event(r, b, tInteract)
		x.putInteract(&e, full, anon)
		return 1
	}
}

// genGift writes one gift event: a normal, bag or blind-box gift as
// SEND_GIFT (one per item) and/or SEND_GIFT_V2 (all items), by the room.
func (x *shard) genGift(r *room, b *batch, now time.Time, full, anon bool) int {
	rng := x.rng
	u := x.user(r)
	g := giftNames[rng.IntN(len(giftNames))]
	items := 1
	var blind Gift
	bag := false
	switch q := rng.Float64(); {
	case q < 0.1:
		items = 1 + rng.IntN(3)
		blind = Gift{BlindName: "心动盲盒", BlindID: 32368, BlindCost: 15000}
	case q < 0.25 && g.coin == "gold":
		bag = true
	}
	x.gifts = slices.Grow(x.gifts[:0], items)[:items]
	gifts := x.gifts // only used while the commands are written
	first := len(b.refs)
	for i := range gifts {
		if blind.BlindName != "" {
			g = giftNames[rng.IntN(len(giftNames))]
		}
		gifts[i] = Gift{User: *u, ID: g.id, Name: g.name, Num: 1 + rng.Int64N(3)*rng.Int64N(2), Price: g.price,
			CoinType: g.coin, Timestamp: now.Unix(), Anchor: r.anchor, Bag: bag,
			BlindName: blind.BlindName, BlindID: blind.BlindID, BlindCost: blind.BlindCost}
		if blind.BlindName != "" {
			gifts[i].CoinType = "gold"
		}
		gifts[i].TID = giftTID(now.Unix(), r.seq)
		r.seq++
		b.refs = append(b.refs, r.truth.newRef(tGift))
	}
	cmds := 0
	if full || anon {
		if !r.v2Only {
			for i := range gifts {
				x.refs = [2]int{first + i, first + i + 1}
				gifts[i].MsgID, gifts[i].SendTimeMs = x.s.nextMsgID(), now.UnixMilli()
				g, m := gifts[i], gifts[i]
				m.Masked = true
				x.putAck(full, anon, g.MsgID, func(b []byte) []byte { return AppendSendGift(b, &g) },
					func(b []byte) []byte { return AppendSendGift(b, &m) })
				cmds++
			}
		}
		x.refs = [2]int{first, len(b.refs)}
		x.put(full, anon, func(b []byte) []byte { return AppendSendGiftV2(b, gifts, false) },
			func(b []byte) []byte { return AppendSendGiftV2(b, gifts, true) })
		cmds++
	}
	return max(cmds, 1)
}

// giftTID is a gift's tid: the unix second, then the room's sequence
// number in nine digits.
func giftTID(unix, seq int64) string {
	var b [32]byte
	var d [12]byte
	t := strconv.AppendInt(b[:0], unix, 10)
	n := strconv.AppendInt(d[:0], seq%1e9, 10)
	for range 9 - len(n) {
		t = append(t, '0')
	}
	return string(append(t, n...))
}

// guardRepeat is how soon (seconds) one viewer may buy the same guard
// level again in one room: not within a minute.
const guardRepeat = 60

// guardDraws is how many viewers genGuard draws before it adds one.
const guardDraws = 8

// genGuard writes one guard purchase the way 2026 rooms announce it
// (PROTOCOL.md §10.4): GUARD_BUY with the list price first; then, unless
// this GUARD_BUY gets no toast (~18 %), USER_TOAST_MSG with the price
// paid and, in toastV2 rooms, USER_TOAST_MSG_V2 with source 0 and then 2.
// ~15 % of purchases come only as the two USER_TOAST_MSG_V2.
func (x *shard) genGuard(r *room, b *batch, now time.Time, full, anon bool) int {
	rng := x.rng
	g := Guard{User: *x.user(r), Level: 1 + rng.Int64N(3), Num: 1, Start: now.Unix(), Anchor: r.anchor, Unit: "月"}
	g.ListPrice = guardList[g.Level]
	g.Price = g.ListPrice
	if g.Level == 3 {
		g.Price = []int64{138000, 168000, 198000}[rng.IntN(3)]
	}
	// A viewer does not buy the same level again within guardRepeat (a
	// purchase covers num months): so no two purchases share uid, level
	// and a start time less than a minute apart, and a collector that
	// links a GUARD_BUY to its toast by those (within seconds) never
	// links two purchases. A room that buys so fast that a few draws find
	// nobody free gets a new viewer: its pool grows with its rate.
	for try := 0; now.Unix()-r.guardAt[[2]int64{g.User.UID, g.Level}] < guardRepeat; try++ {
		if try == guardDraws {
			r.users = append(r.users, r.newViewer(rng))
			g.User = r.users[len(r.users)-1]
			break
		}
		g.User = *x.user(r)
	}
	r.guardAt[[2]int64{g.User.UID, g.Level}] = now.Unix()
	g.PayflowID = now.Format("060102150405") + fmt.Sprintf("%013d", rng.Int64N(1e13))
	x.event(r, b, tGuard)
	v2only := rng.Float64() < 0.15
	cmds := 0
	if !v2only {
		x.put(full, anon, func(b []byte) []byte { return AppendGuardBuy(b, &g) }, nil)
		cmds++
		if rng.Float64() < 0.18 {
			return cmds
		}
		g.MsgID = x.s.nextMsgID()
		x.putAck(full, anon, g.MsgID, func(b []byte) []byte { return AppendUserToast(b, &g) }, nil)
		cmds++
	}
	if v2only || r.toastV2 {
		for _, src := range []int64{0, 2} {
			x.put(full, anon, func(b []byte) []byte { return AppendUserToastV2(b, &g, src) }, nil)
			cmds++
		}
	}
	return cmds
}

func (x *shard) putDanmaku(d *Danmaku, full, anon bool) {
	m := *d
	m.Masked = true
	d.Masked = false
	x.put(full, anon, func(b []byte) []byte { return AppendDanmaku(b, d) }, func(b []byte) []byte { return AppendDanmaku(b, &m) })
}

// putInteract writes an INTERACT_WORD_V2; only enters are masked on an
// anonymous link (follows and shares keep the real uid and name, §10.1).
func (x *shard) putInteract(e *Interact, full, anon bool) {
	var masked func([]byte) []byte
	if e.MsgType == 1 {
		m := *e
		m.Masked = true
		masked = func(b []byte) []byte { return AppendInteractWordV2(b, &m) }
	}
	x.put(full, anon, func(b []byte) []byte { return AppendInteractWordV2(b, e) }, masked)
}

// trigger returns a strictly increasing nanosecond timestamp: the unique
// trigger_time of an INTERACT_WORD in this room.
func (r *room) trigger(now time.Time) int64 {
	t := now.UnixNano()
	if t <= r.lastTrig {
		t = r.lastTrig + 1
	}
	r.lastTrig = t
	return t
}

func (s *Sim) nextSCID() int64 { return 12000000 + s.scID.Add(1) }

// nextMsgID returns a new top-level msg_id ("<n>:1000:1000", §2.7).
func (s *Sim) nextMsgID() string {
	return strconv.FormatInt(s.msgID.Add(1), 10) + ":1000:1000"
}

func mustMixin(img, sub string) string {
	k, err := wbi.MixinKey(img, sub)
	if err != nil {
		panic(err)
	}
	return k
}
