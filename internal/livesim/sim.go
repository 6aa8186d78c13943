package livesim

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danmakud/danmakud/internal/atomicfile"
	"github.com/danmakud/danmakud/protocol"
)

// Options configure a simulator. The zero value of every field means its
// documented default. Fault probabilities are in [0,1]; fault durations
// are mean intervals (exponentially distributed); every fault is off by
// default.
type Options struct {
	Listen string // address to listen on; default "127.0.0.1:0"
	// TLSListen and TCPListen are the TLS (wss_port, https) and raw TCP
	// (port) listeners; default the Listen host with a free port. With
	// bilibili host names pointed at the simulator (hosts file) and its
	// certificate trusted, TLSListen ":443" lets an unmodified client in.
	TLSListen, TCPListen string
	Rooms                int // number of rooms; default 20
	// Rate is messages/s summed over live rooms; default 200. Best
	// effort: a room whose batch is late by more than two batch intervals
	// makes up for two only.
	Rate float64
	Seed uint64 // randomness; 0 = random
	// Tick is how often each room's messages are batched into one frame
	// per connection; default 200ms.
	Tick time.Duration
	// ZipfS is the exponent of the room rate distribution; default 1.1.
	ZipfS float64

	DropEvery  time.Duration // each connection closed (TCP, no WS close frame) after ~this
	StallEvery time.Duration // each connection stalls after ~this
	Corrupt    float64       // fraction of frames made undecodable
	AuthReject float64       // fraction of auths refused (TCP close)
	Throttle   float64       // fraction of connections that get only part of the traffic
	HTTP412    float64       // fraction of HTTP requests answered 412
	RotateKeys time.Duration // WBI keys change every this; 0 = never

	// ThrottleKeep is the fraction of frames a throttled connection still
	// gets; default 0.3.
	ThrottleKeep float64
	// TrafficFor stops message generation after this long (connections
	// stay up, heartbeats are answered); 0 = never.
	TrafficFor time.Duration
	// AuthTimeout: the auth packet must arrive within this; default 5s.
	AuthTimeout time.Duration
	// HeartbeatTimeout: no heartbeat for this long closes the connection;
	// default 70s.
	HeartbeatTimeout time.Duration
	// HTTPRate and HTTPBurst are each source IP's own request budget;
	// above it the IP is answered 412 for BanFor (other IPs are not).
	// Defaults 20/s, 60, 60s.
	HTTPRate  float64
	HTTPBurst int
	BanFor    time.Duration
	// IPConnLimit is how many danmaku connections (WebSocket and raw TCP)
	// one source IP may have open at once; a connection beyond it is cut
	// right after its auth reply (Sim.IPStats counts it). 0 = no cap.
	IPConnLimit int
	// ReferenceIPs are the source IPs of a test's reference run: a client
	// that watches beside the clients under test and changes nothing they
	// see. No per-IP limit applies to these IPs (IPConnLimit, the HTTP
	// budget, the -352 ban that identity violations start; the faults
	// do, as to every client), and a frame written to them does not make
	// its events delivered in Truth, which stays what the other clients
	// were sent. IPStats counts them as any IP. Written as IPStats keys
	// them ("127.0.0.6"); New refuses one that is not an IP address.
	ReferenceIPs []string
	// LiveFor and OfflineFor are the mean durations of a room's live and
	// offline spells; 0 = rooms never change state (all start live).
	LiveFor, OfflineFor time.Duration
	// WtsSkew is how far wts may be from now; default 5 minutes.
	WtsSkew time.Duration
	// BrotliQuality for ver-3 bundles: 0 (the default) is the
	// simulator's own encoder (one meta-block with Huffman codes built
	// per frame and greedy LZ77: about quality 1's output for a fraction
	// of its CPU); 1–11 are andybalholm/brotli at that quality. ZlibLevel
	// is the zlib level for ver 2; default 1.
	BrotliQuality int
	ZlibLevel     int
	// AllowAnyUA turns off the browser User-Agent check on WBI endpoints.
	AllowAnyUA bool

	// AnonKeep is the share of its room's commands an anonymous (uid 0)
	// connection receives, each command sampled independently
	// (PROTOCOL.md §10.1: ~0.1 on the real service). 0 (the Go zero
	// value) or ≥ 1 keeps everything; the CLI's default is 0.1.
	AnonKeep float64
	// OfficialRooms is how many rooms, the busiest by rank order, give
	// anonymous connections everything (official relay rooms); negative
	// means 1 % of Rooms, rounded down.
	OfficialRooms int
	// Accounts is how many logged-in accounts exist from the start; with
	// CookieDir set, account i (from 1) is written to
	// CookieDir/account-<i>.txt (Netscape cookies.txt, mode 0600).
	Accounts  int
	CookieDir string
	// AccountRooms is how many rooms one account may watch at once in
	// full; its connections to further rooms are sampled like anonymous
	// ones (AnonKeep), names unmasked. 0 = no limit.
	AccountRooms int
	// QRExpire makes every QR login poll answer 86038 (expired).
	QRExpire bool
	// ResendUnacked re-sends, once, a p_msg_type-1 command that a
	// connection which announced support_ack did not acknowledge within
	// ResendAfter (default 5s).
	ResendUnacked bool
	ResendAfter   time.Duration
	// ViolationLimit identity violations (PROTOCOL.md §10.2) by one client
	// IP within ViolationWindow make getDanmuInfo answer -352 to it for
	// ViolationBan. Defaults 5, 1 minute, 2 minutes.
	ViolationLimit  int
	ViolationWindow time.Duration
	ViolationBan    time.Duration
	// RedPocketEvery is the mean time between the red pockets of a live
	// room (POPULARITY_RED_POCKET_V2_START); default 1 minute, negative =
	// none. A pocket's start is re-broadcast every RedPocketRepeat while
	// it lasts (3 × RedPocketRepeat): default 20s — the real ~10 minutes
	// scaled down so that a one-minute run sees a re-broadcast.
	RedPocketEvery  time.Duration
	RedPocketRepeat time.Duration
	// Ledger keeps, per connection, the SHA-256 and length of every
	// message written to it (Sim.Ledger): for tests that check what a
	// client read against what was sent. Off by default.
	Ledger bool
	// Titles replaces the titles of rooms by index (0 = the busiest), as
	// the room list and room_init give them: a test's hostile title.
	Titles map[int]string
	// Logger receives connection-level events; nil discards.
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Rooms <= 0 {
		o.Rooms = 20
	}
	if o.Rate <= 0 {
		o.Rate = 200
	}
	if o.Tick <= 0 {
		o.Tick = 200 * time.Millisecond
	}
	if o.ZipfS <= 0 {
		o.ZipfS = 1.1
	}
	if o.ThrottleKeep <= 0 {
		o.ThrottleKeep = 0.3
	}
	if o.AuthTimeout <= 0 {
		o.AuthTimeout = 5 * time.Second
	}
	if o.HeartbeatTimeout <= 0 {
		o.HeartbeatTimeout = 70 * time.Second
	}
	if o.HTTPRate <= 0 {
		o.HTTPRate = 20
	}
	if o.HTTPBurst <= 0 {
		o.HTTPBurst = 60
	}
	if o.BanFor <= 0 {
		o.BanFor = time.Minute
	}
	if o.WtsSkew <= 0 {
		o.WtsSkew = 5 * time.Minute
	}
	o.BrotliQuality = min(max(o.BrotliQuality, 0), 11)
	if o.ZlibLevel <= 0 {
		o.ZlibLevel = 1
	}
	if o.Seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		for _, c := range b {
			o.Seed = o.Seed<<8 | uint64(c)
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.AnonKeep <= 0 || o.AnonKeep > 1 {
		o.AnonKeep = 1
	}
	if o.OfficialRooms < 0 {
		o.OfficialRooms = o.Rooms / 100
	}
	if o.ResendAfter <= 0 {
		o.ResendAfter = 5 * time.Second
	}
	if o.ViolationLimit <= 0 {
		o.ViolationLimit = 5
	}
	if o.ViolationWindow <= 0 {
		o.ViolationWindow = time.Minute
	}
	if o.ViolationBan <= 0 {
		o.ViolationBan = 2 * time.Minute
	}
	if o.RedPocketEvery == 0 {
		o.RedPocketEvery = time.Minute
	}
	if o.RedPocketRepeat <= 0 {
		o.RedPocketRepeat = 20 * time.Second
	}
}

// Sim is a running simulator: one listener serving every HTTP path and the
// WebSocket endpoint /sub, the same routes over TLS on a second, and the
// raw TCP danmaku port on a third. Create with New, stop with Close. All
// methods are safe for concurrent use.
type Sim struct {
	opts   Options
	ln     net.Listener
	tls    net.Listener // the same routes over TLS (host_list "wss_port")
	cert   []byte       // PEM of tls's self-signed certificate
	tcp    net.Listener // raw TCP danmaku port
	srv    *http.Server
	base   string
	start  time.Time
	secret []byte

	rooms   []*room
	byID    map[int64]*room // real and short ids
	keys    atomic.Pointer[wbiKeys]
	buvids  sync.Map // issued buvid3 values
	session sync.Map // SESSDATA → mid
	clients sync.Map // client IP → *client
	qr      sync.Map // qrcode_key → *qrLogin

	acctMu     sync.Mutex
	accounts   []*account                    // index i-1 = account i
	acctRooms  map[int64]map[int64]*acctRoom // mid → room → its connections
	msgID      atomic.Int64                  // last msg_id number issued
	trafficEnd atomic.Int64                  // unix ns when generation stops; 0 = never
	lotID      atomic.Int64                  // last red-pocket lot_id issued

	ctx           context.Context
	cancel        context.CancelFunc
	wg            sync.WaitGroup
	conns         sync.Map // *conn → struct{}
	scID          atomic.Int64
	nShards       int
	shardsStopped atomic.Int32
	rngMu         sync.Mutex
	rng           *mrand.Rand
	// The lists' order (liveSorted): liveGen counts changes of rooms'
	// live state; listed was sorted at listedAt, at listedGen.
	liveGen   atomic.Int64
	listMu    sync.Mutex
	listed    []*room
	listedGen int64
	listedAt  time.Time
	// loginNotice is LOG_IN_NOTICE pre-encoded as a zlib [0] and a brotli
	// [1] bundle, sent to anonymous connections right after the auth reply.
	loginNotice [2][]byte

	ledgerMu sync.Mutex
	ledgers  []*connLedger // Options.Ledger: one per connection accepted

	stats Stats

	// reference holds Options.ReferenceIPs (read only after New).
	reference map[string]bool
}

// Stats are running totals, read with Sim.Stats.
type Stats struct {
	Generated      atomic.Int64 // messages generated (all rooms)
	FramesWritten  atomic.Int64 // op-5 frames written to connections
	MsgsWritten    atomic.Int64 // messages inside those frames
	FramesDropped  atomic.Int64 // frames not written: queue full, stall, throttle
	FramesCorrupt  atomic.Int64
	ConnsOpen      atomic.Int64
	AuthOK         atomic.Int64
	AuthRejected   atomic.Int64
	Drops          atomic.Int64 // drop-every closes
	Stalls         atomic.Int64
	HTTPRequests   atomic.Int64
	HTTP412        atomic.Int64
	HTTP352        atomic.Int64
	HeartbeatsSeen atomic.Int64
	Acks           atomic.Int64 // op-24 acks received
	Violations     atomic.Int64 // identity violations (PROTOCOL.md §10.2)
	Resent         atomic.Int64 // unacked commands re-sent
	Throttled      atomic.Int64 // connections given only part of the traffic
}

// StatsSnapshot is a plain copy of Stats.
type StatsSnapshot struct {
	Generated, FramesWritten, MsgsWritten, FramesDropped, FramesCorrupt int64
	ConnsOpen, AuthOK, AuthRejected, Drops, Stalls                      int64
	HTTPRequests, HTTP412, HTTP352, HeartbeatsSeen                      int64
	Acks, Violations, Resent, Throttled                                 int64
}

// Stats returns the running totals.
func (s *Sim) Stats() StatsSnapshot {
	st := &s.stats
	return StatsSnapshot{
		Generated: st.Generated.Load(), FramesWritten: st.FramesWritten.Load(), MsgsWritten: st.MsgsWritten.Load(),
		FramesDropped: st.FramesDropped.Load(), FramesCorrupt: st.FramesCorrupt.Load(),
		ConnsOpen: st.ConnsOpen.Load(), AuthOK: st.AuthOK.Load(), AuthRejected: st.AuthRejected.Load(),
		Drops: st.Drops.Load(), Stalls: st.Stalls.Load(), HTTPRequests: st.HTTPRequests.Load(),
		HTTP412: st.HTTP412.Load(), HTTP352: st.HTTP352.Load(), HeartbeatsSeen: st.HeartbeatsSeen.Load(),
		Acks: st.Acks.Load(), Violations: st.Violations.Load(), Resent: st.Resent.Load(),
		Throttled: st.Throttled.Load(),
	}
}

// Acks is the number of op-24 acks received from clients so far.
func (s *Sim) Acks() int64 { return s.stats.Acks.Load() }

// Violations is the number of identity violations so far: an auth whose
// uid is not the identity its token was fetched under, or a heartbeat
// before the auth (PROTOCOL.md §10.2). Auths refused by the AuthReject
// fault and malformed or foreign tokens are not violations.
func (s *Sim) Violations() int64 { return s.stats.Violations.Load() }

type wbiKeys struct {
	img, sub, mixin string
}

// New starts a simulator listening on opts.Listen. It returns once the
// listener is up; traffic starts at once.
func New(opts Options) (*Sim, error) {
	opts.setDefaults()
	reference := map[string]bool{}
	for _, ip := range opts.ReferenceIPs {
		if _, err := netip.ParseAddr(ip); err != nil {
			return nil, fmt.Errorf("livesim: ReferenceIPs: %q is not an IP address", ip)
		}
		reference[ip] = true
	}
	listenHost, _, _ := net.SplitHostPort(opts.Listen)
	tlsConf, certPEM, err := selfSigned(listenHost)
	if err != nil {
		return nil, fmt.Errorf("livesim: certificate: %w", err)
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("livesim: listen: %w", err)
	}
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	orFree := func(addr string) string {
		if addr == "" {
			return net.JoinHostPort(host, "0")
		}
		return addr
	}
	tcp, err := net.Listen("tcp", orFree(opts.TCPListen))
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("livesim: listen tcp: %w", err)
	}
	tlsLn, err := net.Listen("tcp", orFree(opts.TLSListen))
	if err != nil {
		ln.Close()
		tcp.Close()
		return nil, fmt.Errorf("livesim: listen tls: %w", err)
	}
	s := &Sim{opts: opts, ln: ln, tcp: tcp, tls: tls.NewListener(tlsLn, tlsConf), cert: certPEM, start: time.Now(),
		byID: map[int64]*room{}, acctRooms: map[int64]map[int64]*acctRoom{}, reference: reference}
	s.msgID.Store(26964930181741056)
	if opts.TrafficFor > 0 {
		s.trafficEnd.Store(s.start.Add(opts.TrafficFor).UnixNano())
	}
	s.lotID.Store(25109135)
	s.base = "http://" + ln.Addr().String()
	s.secret = randBytes(32)
	s.rng = mrand.New(mrand.NewPCG(opts.Seed, 7))
	s.rotateKeys()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.buildRooms()
	for i := 0; i < opts.Accounts; i++ {
		a := s.newAccount(true)
		if opts.CookieDir != "" {
			if err := a.writeCookieFile(opts.CookieDir, i+1); err != nil {
				ln.Close()
				tcp.Close()
				tlsLn.Close()
				return nil, fmt.Errorf("livesim: cookie file: %w", err)
			}
		}
	}
	enc := newShard(s, 0)
	inner := protocol.EncodePacket(protocol.VerJSON, protocol.OpMessage, 0, AppendLogInNotice(nil))
	s.loginNotice[0] = enc.encode(inner, protocol.VerZlib)
	s.loginNotice[1] = enc.encode(inner, protocol.VerBrotli)
	// net/http's own complaints (TLS handshakes a client abandoned, …) go
	// to the Logger at debug level, not to stderr.
	errLog := log.New(io.Discard, "", 0)
	if opts.Logger != nil {
		errLog = slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug)
	}
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.srv.Serve(ln)
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.srv.Serve(s.tls)
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.serveTCP(tcp)
	}()
	s.startTraffic()
	if opts.RotateKeys > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			t := time.NewTicker(opts.RotateKeys)
			defer t.Stop()
			for {
				select {
				case <-s.ctx.Done():
					return
				case <-t.C:
					s.rotateKeys()
				}
			}
		}()
	}
	return s, nil
}

// TrafficStopped reports whether TrafficFor has passed (or StopTraffic
// was called) and every generated frame has been queued to its
// connections.
func (s *Sim) TrafficStopped() bool {
	return s.trafficEnd.Load() != 0 && int(s.shardsStopped.Load()) == s.nShards
}

// StopTraffic stops message generation now, as TrafficFor does when it
// passes (connections stay up, heartbeats are answered). Idempotent.
func (s *Sim) StopTraffic() {
	now := time.Now().UnixNano()
	for {
		end := s.trafficEnd.Load()
		if end != 0 && end <= now {
			return
		}
		if s.trafficEnd.CompareAndSwap(end, now) {
			return
		}
	}
}

// trafficOn reports whether messages are still generated at now.
func (s *Sim) trafficOn(now time.Time) bool {
	end := s.trafficEnd.Load()
	return end == 0 || now.UnixNano() < end
}

// Idle reports whether traffic has stopped, every queued frame has been
// written (or dropped) and no re-send of an unacked command is pending. After Idle, a heartbeat reply a client receives
// comes after every frame the simulator wrote to it.
func (s *Sim) Idle() bool {
	if !s.TrafficStopped() {
		return false
	}
	idle := true
	s.conns.Range(func(k, _ any) bool {
		if c := k.(*conn); c.queued.Load() != 0 || c.unacked() != 0 {
			idle = false
		}
		return idle
	})
	return idle
}

// URL is the base URL of every HTTP path, e.g. "http://127.0.0.1:41234".
func (s *Sim) URL() string { return s.base }

// Addr is the listener's address (host:port); the WebSocket is at /sub.
func (s *Sim) Addr() string { return s.ln.Addr().String() }

// TLSAddr is the TLS listener (host_list "wss_port"): every HTTP path and
// /sub, as on Addr, behind the certificate CertPEM returns.
func (s *Sim) TLSAddr() string { return s.tls.Addr().String() }

// CertPEM is the TLS listener's self-signed certificate, made at New for
// the listen host, 127.0.0.1, ::1, localhost and Bilibili's API and
// danmaku host names. A client trusts it as a CA (e.g. Node's
// NODE_EXTRA_CA_CERTS, Python's SSL_CERT_FILE) to use wss:// and https://.
func (s *Sim) CertPEM() []byte { return s.cert }

// TCPAddr is the raw TCP danmaku listener (host_list "port").
func (s *Sim) TCPAddr() string { return s.tcp.Addr().String() }

// RoomIDs returns the real ids of all rooms, busiest first.
func (s *Sim) RoomIDs() []int64 {
	ids := make([]int64, len(s.rooms))
	for i, r := range s.rooms {
		ids[i] = r.id
	}
	return ids
}

// ShortIDs maps the rooms that have a short id to their real id.
func (s *Sim) ShortIDs() map[int64]int64 {
	m := map[int64]int64{}
	for _, r := range s.rooms {
		if r.short != 0 {
			m[r.short] = r.id
		}
	}
	return m
}

// NewSession issues a SESSDATA cookie value for a logged-in account with
// the given mid, as if the user had logged in with a browser.
func (s *Sim) NewSession(mid int64) string {
	v := hex.EncodeToString(randBytes(16)) + "%2C" + strconv.FormatInt(time.Now().Add(180*24*time.Hour).Unix(), 10)
	s.session.Store(v, mid)
	return v
}

// Close stops traffic, closes every connection (TCP close) and the
// listener, and waits for all goroutines. Truth stays readable.
func (s *Sim) Close() error {
	s.cancel()
	err := s.srv.Close()
	s.tcp.Close()
	s.conns.Range(func(k, _ any) bool {
		k.(*conn).kill()
		return true
	})
	s.wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Truth is the ground truth. Rooms: per room, per kind, the number of
// distinct events delivered intact at least once to an authenticated
// connection from an IP not among Options.ReferenceIPs (rooms with
// nothing delivered are left out; present rooms list all five kinds).
// Generated: per room, per kind, the events the room generated, whoever
// received them (rooms with nothing generated are left out). Violations:
// Sim.Violations. IPs: Sim.IPStats, per source IP.
//
// As JSON (MarshalJSON) a room's generated counts nest under its entry:
// {"rooms": {"<id>": {"danmaku": N, …, "generated": {"danmaku": N, …}}},
// "violations": N, "ips": {"<ip>": {"connections": N, …}}}; a room that
// generated but delivered nothing appears with zero delivered counts.
type Truth struct {
	Rooms      map[string]map[string]int64 `json:"rooms"`
	Generated  map[string]map[string]int64 `json:"-"`
	Violations int64                       `json:"violations"`
	IPs        map[string]IPStats          `json:"ips"`
}

// TruthKinds are the kinds counted in Truth, in a fixed order.
var TruthKinds = [...]string{"danmaku", "gift", "super_chat", "guard", "interact"}

// Truth returns the delivered and generated event counts so far.
func (s *Sim) Truth() Truth {
	t := Truth{Rooms: map[string]map[string]int64{}, Generated: s.Generated(), Violations: s.Violations(), IPs: s.IPStats()}
	for _, r := range s.rooms {
		if m := kindMap(r.truth.counts()); m != nil {
			t.Rooms[strconv.FormatInt(r.id, 10)] = m
		}
	}
	return t
}

// Generated returns, per room id and kind, how many events each room has
// generated so far (rooms with none are left out). A red pocket is not a
// counted kind.
func (s *Sim) Generated() map[string]map[string]int64 {
	g := map[string]map[string]int64{}
	for _, r := range s.rooms {
		if m := kindMap(r.truth.generated()); m != nil {
			g[strconv.FormatInt(r.id, 10)] = m
		}
	}
	return g
}

// DeliveredSince returns, per room id and kind, how many of the events
// generated after g — an earlier Generated — have been delivered (to an
// IP not among Options.ReferenceIPs, as in Truth); rooms with none are
// left out. Unlike a difference of two Truth snapshots, it counts no
// event generated before g that was still on its way then.
func (s *Sim) DeliveredSince(g map[string]map[string]int64) map[string]map[string]int64 {
	out := map[string]map[string]int64{}
	for _, r := range s.rooms {
		id := strconv.FormatInt(r.id, 10)
		var from [nTruth]int64
		for k, name := range TruthKinds {
			from[k] = g[id][name]
		}
		if m := kindMap(r.truth.since(from)); m != nil {
			out[id] = m
		}
	}
	return out
}

// FirstDelivered returns, per room id and kind, the sequence number of
// the first event delivered (to an IP not among Options.ReferenceIPs):
// the events before it were generated before any connection could get
// them. A kind with none delivered gives the number generated; rooms
// with nothing generated are left out. With DeliveredSince it says what
// a connection missed after it joined, however the events were queued.
func (s *Sim) FirstDelivered() map[string]map[string]int64 {
	out := map[string]map[string]int64{}
	for _, r := range s.rooms {
		if kindMap(r.truth.generated()) == nil {
			continue
		}
		m := map[string]int64{}
		for k, seq := range r.truth.first() {
			m[TruthKinds[k]] = seq
		}
		out[strconv.FormatInt(r.id, 10)] = m
	}
	return out
}

// kindMap names the counts by TruthKinds; nil when all are zero.
func kindMap(counts [nTruth]int64) map[string]int64 {
	var total int64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return nil
	}
	m := map[string]int64{}
	for k, name := range TruthKinds {
		m[name] = counts[k]
	}
	return m
}

// MarshalJSON writes the truth file's shape (see Truth).
func (t Truth) MarshalJSON() ([]byte, error) {
	rooms := map[string]map[string]any{}
	entry := func(id string) map[string]any {
		if rooms[id] == nil {
			rooms[id] = map[string]any{}
			for _, k := range TruthKinds {
				rooms[id][k] = int64(0)
			}
		}
		return rooms[id]
	}
	for id, kinds := range t.Rooms {
		e := entry(id)
		for k, n := range kinds {
			e[k] = n
		}
	}
	for id, kinds := range t.Generated {
		entry(id)["generated"] = kinds
	}
	return json.Marshal(struct {
		Rooms      map[string]map[string]any `json:"rooms"`
		Violations int64                     `json:"violations"`
		IPs        map[string]IPStats        `json:"ips"`
	}{rooms, t.Violations, t.IPs})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (t *Truth) UnmarshalJSON(b []byte) error {
	var v struct {
		Rooms      map[string]map[string]json.RawMessage `json:"rooms"`
		Violations int64                                 `json:"violations"`
		IPs        map[string]IPStats                    `json:"ips"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*t = Truth{Rooms: map[string]map[string]int64{}, Generated: map[string]map[string]int64{}, Violations: v.Violations, IPs: v.IPs}
	for id, fields := range v.Rooms {
		m := map[string]int64{}
		var total int64
		for k, raw := range fields {
			if k == "generated" {
				var g map[string]int64
				if err := json.Unmarshal(raw, &g); err != nil {
					return err
				}
				t.Generated[id] = g
				continue
			}
			var n int64
			if err := json.Unmarshal(raw, &n); err != nil {
				return err
			}
			m[k] = n
			total += n
		}
		if total > 0 {
			t.Rooms[id] = m
		}
	}
	return nil
}

// WriteTruth writes Truth as JSON to path, atomically (internal/atomicfile), mode 0644.
func (s *Sim) WriteTruth(path string) error {
	b, err := json.MarshalIndent(s.Truth(), "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}

// listFresh is how long the lists keep one popularity order: a client
// paging through thousands of rooms gets them sorted once a second, not
// once a page. A room going live or offline shows at once.
const listFresh = time.Second

// roomsSorted returns live rooms ordered by the lists' popularity figure.
func (s *Sim) roomsSorted(filter func(*room) bool) []*room {
	all := s.liveSorted()
	if filter == nil {
		return all
	}
	var out []*room
	for _, r := range all {
		if filter(r) {
			out = append(out, r)
		}
	}
	return out
}

// liveSorted returns every live room, busiest first, sorted at most
// listFresh ago and since the last change of a room's live state. The
// slice is shared: callers must not modify it.
func (s *Sim) liveSorted() []*room {
	s.listMu.Lock()
	defer s.listMu.Unlock()
	gen := s.liveGen.Load()
	if s.listed != nil && s.listedGen == gen && time.Since(s.listedAt) < listFresh {
		return s.listed
	}
	type ranked struct {
		r   *room
		onl int64
	}
	var rs []ranked
	for _, r := range s.rooms {
		if r.isLive() {
			rs = append(rs, ranked{r, r.online()})
		}
	}
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].onl > rs[j].onl })
	out := make([]*room, len(rs))
	for i, x := range rs {
		out[i] = x.r
	}
	s.listed, s.listedGen, s.listedAt = out, gen, time.Now()
	return out
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func (s *Sim) rotateKeys() {
	k := &wbiKeys{img: hex.EncodeToString(randBytes(16)), sub: hex.EncodeToString(randBytes(16))}
	k.mixin = mustMixin(k.img, k.sub)
	s.keys.Store(k)
}

// shards is how many goroutines generate traffic.
func shards() int { return max(1, min(4, runtime.GOMAXPROCS(0))) }
