package livesim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danmakud/danmakud/internal/wbi"
)

// Bodies the real service answers with (PROTOCOL.md §6.1, samples/http).
const (
	body412 = `{"code":-412,"message":"请求被拦截","ttl":1,"data":null}`
	body352 = `{"code":-352,"message":"-352","ttl":1}`
)

func (s *Sim) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/sub", s.handleWS)
	mux.HandleFunc("/{$}", s.handleHome)
	mux.HandleFunc("/x/frontend/finger/spi", s.handleSPI)
	mux.HandleFunc("/x/web-frontend/getbuvid", s.handleGetBuvid)
	mux.HandleFunc("/x/web-interface/nav", s.handleNav)
	mux.HandleFunc("/room/v1/Room/room_init", s.handleRoomInit)
	mux.HandleFunc("/room/v1/Room/mobileRoomInit", s.handleRoomInit)
	mux.HandleFunc("/room/v1/Room/get_info", s.handleGetInfo)
	mux.HandleFunc("/xlive/web-room/v1/index/getDanmuInfo", s.wbiOnly(s.handleDanmuInfo))
	mux.HandleFunc("/xlive/web-room/v1/index/getInfoByRoom", s.wbiOnly(s.handleInfoByRoom))
	mux.HandleFunc("/xlive/web-room/v1/index/getRoomBaseInfo", s.handleRoomBaseInfo)
	mux.HandleFunc("/room/v1/Area/getListByAreaID", s.handleListByArea)
	mux.HandleFunc("/xlive/web-interface/v1/second/getList", s.wbiOnly(s.handleSecondList))
	mux.HandleFunc("/xlive/web-room/v1/dM/gethistory", s.handleHistory)
	mux.HandleFunc("/x/passport-login/web/qrcode/generate", s.handleQRGenerate)
	mux.HandleFunc("/x/passport-login/web/qrcode/poll", s.handleQRPoll)
	return s.budget(mux)
}

// budget applies the per-client request budget and the --http-412 fault
// to every HTTP request (not to the WebSocket upgrade).
func (s *Sim) budget(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sub" {
			next.ServeHTTP(w, r)
			return
		}
		s.stats.HTTPRequests.Add(1)
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		cl := s.clientFor(host)
		cl.request(r.URL.Path)
		if cl.refuse(s.opts.BanFor) || (s.opts.HTTP412 > 0 && s.chance(s.opts.HTTP412)) {
			s.stats.HTTP412.Add(1)
			cl.http412.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Server", "openresty")
			w.WriteHeader(http.StatusPreconditionFailed)
			_, _ = w.Write([]byte(body412))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// chance reports true with probability p.
func (s *Sim) chance(p float64) bool {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64() < p
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(b)
}

func (s *Sim) answer352(w http.ResponseWriter) {
	s.stats.HTTP352.Add(1)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write([]byte(body352))
}

// newBuvid returns a buvid3 in the real format (36-char uppercase UUID,
// 5 digits, "infoc") and remembers it as issued.
func (s *Sim) newBuvid() string {
	b := randBytes(16)
	u := strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
	v := u + fmt.Sprintf("%05d", binary.BigEndian.Uint32(randBytes(4))%100000) + "infoc"
	s.buvids.Store(v, true)
	return v
}

func (s *Sim) handleHome(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: "buvid3", Value: s.newBuvid(), Path: "/", Expires: time.Now().Add(365 * 24 * time.Hour)})
	http.SetCookie(w, &http.Cookie{Name: "b_nut", Value: strconv.FormatInt(time.Now().Unix(), 10), Path: "/"})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte("<!DOCTYPE html><html><head><title>哔哩哔哩 (゜-゜)つロ 干杯~-bilibili (livesim)</title></head><body></body></html>"))
}

func (s *Sim) handleSPI(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"code": 0, "message": "ok", "data": map[string]string{
		"b_3": s.newBuvid(), "b_4": strings.ToUpper(fmt.Sprintf("%x", randBytes(16))) + "-infoc"}})
}

func (s *Sim) handleGetBuvid(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"code": 0, "message": "0", "ttl": 1, "data": map[string]string{"buvid": s.newBuvid()}})
}

// loggedIn returns the mid of a simulator-issued SESSDATA cookie, or 0.
func (s *Sim) loggedIn(r *http.Request) int64 {
	c, err := r.Cookie("SESSDATA")
	if err != nil {
		return 0
	}
	if mid, ok := s.session.Load(c.Value); ok {
		return mid.(int64)
	}
	return 0
}

func (s *Sim) handleNav(w http.ResponseWriter, r *http.Request) {
	k := s.keys.Load()
	img := map[string]string{
		"img_url": "https://i0.hdslb.com/bfs/wbi/" + k.img + ".png",
		"sub_url": "https://i0.hdslb.com/bfs/wbi/" + k.sub + ".png",
	}
	if mid := s.loggedIn(r); mid != 0 {
		writeJSON(w, map[string]any{"code": 0, "message": "0", "ttl": 1, "data": map[string]any{
			"isLogin": true, "mid": mid, "uname": "livesim_" + strconv.FormatInt(mid, 10), "wbi_img": img}})
		return
	}
	writeJSON(w, map[string]any{"code": -101, "message": "账号未登录", "ttl": 1, "data": map[string]any{
		"isLogin": false, "wbi_img": img}})
}

// wbiOnly wraps endpoints that need a browser User-Agent, a buvid3 cookie
// the simulator issued, and a valid, fresh WBI signature; otherwise the
// answer is HTTP 200 with code -352.
func (s *Sim) wbiOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.opts.AllowAnyUA && !strings.HasPrefix(r.UserAgent(), "Mozilla/5.0") {
			s.answer352(w)
			return
		}
		c, err := r.Cookie("buvid3")
		if err != nil {
			s.answer352(w)
			return
		}
		if _, ok := s.buvids.Load(c.Value); !ok {
			s.answer352(w)
			return
		}
		if err := wbi.Verify(r.URL.Query(), s.keys.Load().mixin, time.Now(), s.opts.WtsSkew); err != nil {
			s.answer352(w)
			return
		}
		h(w, r)
	}
}

// token layout before base64url: room(8) mid(8) issued(8) random(86)
// HMAC-SHA256(32) — 142 bytes, 192 characters ending in "==" like the real
// ~190-character tokens.
const tokenRaw = 8 + 8 + 8 + 86 + 32

type token struct {
	room, mid int64
	issued    time.Time
}

func (s *Sim) newToken(room, mid int64) string {
	b := make([]byte, tokenRaw)
	binary.BigEndian.PutUint64(b[0:], uint64(room))
	binary.BigEndian.PutUint64(b[8:], uint64(mid))
	binary.BigEndian.PutUint64(b[16:], uint64(time.Now().Unix()))
	copy(b[24:110], randBytes(86))
	m := hmac.New(sha256.New, s.secret)
	m.Write(b[:110])
	copy(b[110:], m.Sum(nil))
	return base64.URLEncoding.EncodeToString(b)
}

func (s *Sim) parseToken(v string) (token, bool) {
	b, err := base64.URLEncoding.DecodeString(v)
	if err != nil || len(b) != tokenRaw {
		return token{}, false
	}
	m := hmac.New(sha256.New, s.secret)
	m.Write(b[:110])
	if !hmac.Equal(m.Sum(nil), b[110:]) {
		return token{}, false
	}
	return token{
		room:   int64(binary.BigEndian.Uint64(b[0:])),
		mid:    int64(binary.BigEndian.Uint64(b[8:])),
		issued: time.Unix(int64(binary.BigEndian.Uint64(b[16:])), 0),
	}, true
}

func (s *Sim) handleDanmuInfo(w http.ResponseWriter, r *http.Request) {
	if host, _, _ := net.SplitHostPort(r.RemoteAddr); s.clientFor(host).banned352() {
		s.answer352(w)
		return
	}
	id, err := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
	if err != nil || s.byID[id] == nil {
		writeJSON(w, map[string]any{"code": 1002002, "message": "房间号不存在", "ttl": 1})
		return
	}
	port := func(addr string) int {
		_, p, _ := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(p)
		return n
	}
	// Like the real list: several hosts, each with the raw TCP port, the
	// TLS WebSocket port and the plain one. The first is the host the
	// client reached this API on, so a simulator on another machine works.
	names := []string{"127.0.0.1", "localhost"}
	if h, _, err := net.SplitHostPort(r.Host); err == nil && h != "127.0.0.1" && h != "localhost" {
		names = []string{h, h}
	}
	tcpPort, wssPort, wsPort := port(s.TCPAddr()), port(s.TLSAddr()), port(s.Addr())
	hosts := []map[string]any{}
	for _, h := range names {
		hosts = append(hosts, map[string]any{"host": h, "port": tcpPort, "wss_port": wssPort, "ws_port": wsPort})
	}
	writeJSON(w, map[string]any{"code": 0, "message": "0", "ttl": 1, "data": map[string]any{
		"group": "live", "business_id": 0, "refresh_row_factor": 0.125, "refresh_rate": 100, "max_delay": 5000,
		"token": s.newToken(id, s.loggedIn(r)), "host_list": hosts}})
}

func (s *Sim) roomParam(r *http.Request, name string) *room {
	id, err := strconv.ParseInt(r.URL.Query().Get(name), 10, 64)
	if err != nil {
		return nil
	}
	return s.byID[id]
}

func liveStatus(rm *room) int {
	if rm.isLive() {
		return 1
	}
	return 0
}

func (s *Sim) handleRoomInit(w http.ResponseWriter, r *http.Request) {
	rm := s.roomParam(r, "id")
	if rm == nil {
		writeJSON(w, map[string]any{"code": 60004, "msg": "直播间不存在", "message": "直播间不存在", "data": map[string]any{}})
		return
	}
	rm.mu.Lock()
	liveTime := int64(-62170012800)
	if rm.live {
		liveTime = rm.liveTime
	}
	rm.mu.Unlock()
	writeJSON(w, map[string]any{"code": 0, "msg": "ok", "message": "ok", "data": map[string]any{
		"room_id": rm.id, "short_id": rm.short, "uid": rm.anchor.UID, "need_p2p": 0, "is_hidden": false,
		"is_locked": false, "is_portrait": false, "live_status": liveStatus(rm), "hidden_till": 0, "lock_till": 0,
		"encrypted": false, "pwd_verified": false, "live_time": liveTime, "room_shield": 0, "is_sp": 0, "special_type": 0}})
}

func (s *Sim) handleGetInfo(w http.ResponseWriter, r *http.Request) {
	rm := s.roomParam(r, "room_id")
	if rm == nil {
		writeJSON(w, map[string]any{"code": 1, "msg": "未找到该房间", "message": "未找到该房间", "data": nil})
		return
	}
	lt := liveTimeString(rm)
	writeJSON(w, map[string]any{"code": 0, "msg": "ok", "message": "ok", "data": map[string]any{
		"uid": rm.anchor.UID, "room_id": rm.id, "short_id": rm.short, "attention": rm.fans, "online": rm.online(),
		"is_portrait": false, "description": "", "live_status": liveStatus(rm), "area_id": rm.area.id,
		"parent_area_id": rm.area.parentID, "parent_area_name": rm.area.parentName, "area_name": rm.area.name,
		"title": rm.title, "user_cover": "https://i0.hdslb.com/bfs/live/user_cover.jpg",
		"keyframe": "https://i0.hdslb.com/bfs/live-key-frame/keyframe.jpg", "live_time": lt, "tags": ""}})
}

// liveTimeString is live_time as get_info and getRoomBaseInfo write it.
func liveTimeString(rm *room) string {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if !rm.live {
		return "0000-00-00 00:00:00"
	}
	return time.Unix(rm.liveTime, 0).Format(time.DateTime)
}

// handleInfoByRoom is getInfoByRoom (WBI-signed, used by recorders):
// data.room_info and data.anchor_info; an unknown room is 19002000.
func (s *Sim) handleInfoByRoom(w http.ResponseWriter, r *http.Request) {
	rm := s.roomParam(r, "room_id")
	if rm == nil {
		writeJSON(w, map[string]any{"code": 19002000, "message": "获取初始化数据失败", "ttl": 1, "data": nil})
		return
	}
	rm.mu.Lock()
	var start int64
	if rm.live {
		start = rm.liveTime
	}
	rm.mu.Unlock()
	writeJSON(w, map[string]any{"code": 0, "message": "0", "ttl": 1, "data": map[string]any{
		"room_info": map[string]any{
			"uid": rm.anchor.UID, "room_id": rm.id, "short_id": rm.short, "title": rm.title,
			"cover": "https://i0.hdslb.com/bfs/live/cover.jpg", "tags": "", "description": "",
			"online": rm.online(), "live_status": liveStatus(rm), "live_start_time": start,
			"lock_status": 0, "lock_time": 0, "hidden_status": 0, "hidden_time": 0,
			"area_id": rm.area.id, "area_name": rm.area.name, "parent_area_id": rm.area.parentID,
			"parent_area_name": rm.area.parentName, "keyframe": "https://i0.hdslb.com/bfs/live-key-frame/keyframe.jpg",
			"special_type": 0, "background": "", "live_id": 0, "live_id_str": "0",
		},
		"anchor_info": map[string]any{
			"base_info":     map[string]any{"uname": rm.anchor.Name, "face": "https://i0.hdslb.com/bfs/face/member/noface.jpg", "gender": "保密"},
			"relation_info": map[string]any{"attention": rm.fans},
		},
	}})
}

// handleRoomBaseInfo is the batch getRoomBaseInfo: data.by_room_ids keyed
// by the ids asked for (room_ids, repeated or comma-separated); unknown
// ids are left out, as the real one does with rooms it cannot find.
func (s *Sim) handleRoomBaseInfo(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var ids []string
	for _, k := range []string{"room_ids", "room_ids[]"} {
		for _, v := range q[k] {
			ids = append(ids, strings.Split(v, ",")...)
		}
	}
	by := map[string]any{}
	for _, idStr := range ids {
		id, err := strconv.ParseInt(strings.TrimSpace(idStr), 10, 64)
		rm := s.byID[id]
		if err != nil || rm == nil {
			continue
		}
		by[idStr] = map[string]any{
			"room_id": rm.id, "uid": rm.anchor.UID, "area_id": rm.area.id, "live_status": liveStatus(rm),
			"live_url":       "https://live.bilibili.com/" + strconv.FormatInt(rm.id, 10),
			"parent_area_id": rm.area.parentID, "title": rm.title, "parent_area_name": rm.area.parentName,
			"area_name": rm.area.name, "live_time": liveTimeString(rm), "description": "", "tags": "",
			"attention": rm.fans, "online": rm.online(), "short_id": rm.short, "uname": rm.anchor.Name,
			"cover": "https://i0.hdslb.com/bfs/live/cover.jpg", "background": "", "join_slide": 1,
			"live_id": 0, "live_id_str": "0",
		}
	}
	writeJSON(w, map[string]any{"code": 0, "message": "0", "ttl": 1, "data": map[string]any{"by_uids": map[string]any{}, "by_room_ids": by}})
}

// listItem is a room as the room lists describe it (field names exact).
func listItem(rm *room) map[string]any {
	onl := rm.online()
	return map[string]any{
		"roomid": rm.id, "uid": rm.anchor.UID, "uname": rm.anchor.Name, "title": rm.title, "online": onl,
		"face": "https://i0.hdslb.com/bfs/face/member/noface.jpg", "cover": "https://i0.hdslb.com/bfs/live/cover.jpg",
		"user_cover": "https://i0.hdslb.com/bfs/live/cover.jpg", "system_cover": "https://i0.hdslb.com/bfs/live/system.jpg",
		"area_id": rm.area.id, "area_name": rm.area.name, "parent_id": rm.area.parentID, "parent_name": rm.area.parentName,
		"area_v2_id": rm.area.id, "area_v2_name": rm.area.name, "area_v2_parent_id": rm.area.parentID,
		"area_v2_parent_name": rm.area.parentName, "link": "/" + strconv.FormatInt(rm.id, 10) + "?hotRank=0",
		"session_id": "", "verify": map[string]any{"role": 0, "desc": "", "type": -1},
		"watched_show": map[string]any{"switch": true, "num": onl * 3, "text_small": strconv.FormatInt(onl*3, 10),
			"text_large": strconv.FormatInt(onl*3, 10) + "人看过", "icon": "", "icon_location": 0, "icon_web": ""},
	}
}

func pageOf(rooms []*room, page, size int) []map[string]any {
	out := []map[string]any{}
	start := (page - 1) * size
	for i := start; i >= 0 && i < len(rooms) && i < start+size; i++ {
		out = append(out, listItem(rooms[i]))
	}
	return out
}

func atoiDefault(s string, d int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return d
}

// handleListByArea is /room/v1/Area/getListByAreaID: data is an array.
func (s *Sim) handleListByArea(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	areaID := int64(atoiDefault(q.Get("areaId"), 0))
	page := max(1, atoiDefault(q.Get("page"), 1))
	size := min(30, max(1, atoiDefault(q.Get("pageSize"), 30)))
	rooms := s.roomsSorted(func(rm *room) bool { return areaID == 0 || rm.area.id == areaID })
	writeJSON(w, map[string]any{"code": 0, "msg": "success", "message": "success", "data": pageOf(rooms, page, size)})
}

// handleSecondList is /xlive/web-interface/v1/second/getList (WBI).
func (s *Sim) handleSecondList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	parent := int64(atoiDefault(q.Get("parent_area_id"), 0))
	areaID := int64(atoiDefault(q.Get("area_id"), 0))
	page := max(1, atoiDefault(q.Get("page"), 1))
	const size = 30
	rooms := s.roomsSorted(func(rm *room) bool {
		return (parent == 0 || rm.area.parentID == parent) && (areaID == 0 || rm.area.id == areaID)
	})
	hasMore := 0
	if page*size < len(rooms) {
		hasMore = 1
	}
	writeJSON(w, map[string]any{"code": 0, "message": "0", "ttl": 1, "data": map[string]any{
		"banner": []any{}, "new_tags": []any{map[string]any{"id": 0, "name": "全部", "sort_type": "online"}},
		"list": pageOf(rooms, page, size), "count": len(rooms), "has_more": hasMore}})
}

// handleHistory is /xlive/web-room/v1/dM/gethistory: the room's last
// danmaku, whatever any connection was delivered.
func (s *Sim) handleHistory(w http.ResponseWriter, r *http.Request) {
	rm := s.roomParam(r, "roomid")
	if rm == nil {
		writeJSON(w, map[string]any{"code": 1, "msg": "房间不存在", "message": "房间不存在", "data": nil})
		return
	}
	rm.mu.Lock()
	items := []map[string]any{}
	n := min(rm.histN, histSize)
	for i := rm.histN - n; i < rm.histN; i++ {
		h := rm.hist[i%histSize]
		items = append(items, map[string]any{
			"text": h.text, "dm_type": 0, "uid": h.uid, "nickname": h.name, "uname_color": "",
			"timeline": time.Unix(h.ts, 0).Format(time.DateTime), "isadmin": 0, "vip": 0, "svip": 0,
			"medal": []any{}, "title": []string{"", ""}, "user_level": []any{h.medal.UserLevel, 0, 9868950, ">50000"},
			"rank": 10000, "teamid": 0, "rnd": strconv.FormatInt(h.rnd, 10), "user_title": "",
			"guard_level": h.medal.GuardLevel, "bubble": 0, "bubble_color": "", "lpl": 0, "yeah_space_url": "",
			"jump_to_url": "", "check_info": map[string]any{"ts": h.ts, "ct": h.ct}, "id_str": h.idStr,
		})
	}
	rm.mu.Unlock()
	writeJSON(w, map[string]any{"code": 0, "msg": "", "message": "", "data": map[string]any{"admin": []any{}, "room": items}})
}
