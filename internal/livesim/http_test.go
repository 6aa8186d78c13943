package livesim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/internal/wbi"
)

func TestBuvidAndNav(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 3})
	c := newClient(t, s)
	buvid := c.bootstrap()
	if !regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\d{5}infoc$`).MatchString(buvid) {
		t.Errorf("buvid3 %q is not in the real format", buvid)
	}
	var spi struct {
		Data struct {
			B3 string `json:"b_3"`
			B4 string `json:"b_4"`
		} `json:"data"`
	}
	c.get("/x/frontend/finger/spi", &spi)
	if spi.Data.B3 == "" || spi.Data.B4 == "" {
		t.Errorf("finger/spi: %+v", spi)
	}
	var nav struct {
		Code int `json:"code"`
		Data struct {
			IsLogin bool  `json:"isLogin"`
			Mid     int64 `json:"mid"`
		} `json:"data"`
	}
	c.get("/x/web-interface/nav", &nav)
	if nav.Code != -101 || nav.Data.IsLogin {
		t.Errorf("anonymous nav: %+v", nav)
	}
	// Logged in with a simulator-issued SESSDATA.
	sess := s.NewSession(777)
	u, _ := url.Parse(s.URL())
	c.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "SESSDATA", Value: sess}})
	c.get("/x/web-interface/nav", &nav)
	if nav.Code != 0 || !nav.Data.IsLogin || nav.Data.Mid != 777 {
		t.Errorf("logged-in nav: %+v", nav)
	}
}

func TestRoomInitAndGetInfo(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 6})
	c := newClient(t, s)
	var short, real int64
	for k, v := range s.ShortIDs() {
		short, real = k, v
	}
	if short == 0 {
		t.Fatal("no room has a short id")
	}
	var ri struct {
		Code int `json:"code"`
		Data struct {
			RoomID     int64 `json:"room_id"`
			ShortID    int64 `json:"short_id"`
			LiveStatus int   `json:"live_status"`
		} `json:"data"`
	}
	c.get(fmt.Sprintf("/room/v1/Room/room_init?id=%d", short), &ri)
	if ri.Code != 0 || ri.Data.RoomID != real || ri.Data.ShortID != short || ri.Data.LiveStatus != 1 {
		t.Errorf("room_init(short): %+v", ri)
	}
	var env envelope
	c.get("/room/v1/Room/room_init?id=99", &env)
	if env.Code != 60004 {
		t.Errorf("room_init(unknown) code %d, want 60004", env.Code)
	}
	c.get("/room/v1/Room/get_info?room_id=99", &env)
	if env.Code != 1 {
		t.Errorf("get_info(unknown) code %d, want 1", env.Code)
	}
	var gi struct {
		Data struct {
			RoomID int64  `json:"room_id"`
			Title  string `json:"title"`
		} `json:"data"`
	}
	c.get(fmt.Sprintf("/room/v1/Room/get_info?room_id=%d", short), &gi)
	if gi.Data.RoomID != real || gi.Data.Title == "" {
		t.Errorf("get_info: %+v", gi)
	}
}

func TestDanmuInfoRequiresSignatureCookieAndUA(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 2})
	room := s.RoomIDs()[0]
	c := newClient(t, s)
	params := func() url.Values { return url.Values{"id": {fmt.Sprint(room)}, "type": {"0"}} }
	var env envelope
	// No buvid3 cookie yet, even with a good signature.
	mix := newClient(t, s)
	mix.bootstrap()
	c.mixin = mix.mixin
	c.get(c.signed("/xlive/web-room/v1/index/getDanmuInfo", params()), &env)
	if env.Code != -352 {
		t.Errorf("without buvid3: code %d, want -352", env.Code)
	}
	c.bootstrap()
	c.get("/xlive/web-room/v1/index/getDanmuInfo?"+params().Encode(), &env)
	if env.Code != -352 || env.Message != "-352" {
		t.Errorf("unsigned: %+v, want -352", env)
	}
	bad := params()
	wbi.Sign(bad, c.mixin, time.Now())
	bad.Set("w_rid", "00000000000000000000000000000000")
	c.get("/xlive/web-room/v1/index/getDanmuInfo?"+bad.Encode(), &env)
	if env.Code != -352 {
		t.Errorf("bad signature: code %d", env.Code)
	}
	stale := params()
	wbi.Sign(stale, c.mixin, time.Now().Add(-time.Hour))
	c.get("/xlive/web-room/v1/index/getDanmuInfo?"+stale.Encode(), &env)
	if env.Code != -352 {
		t.Errorf("stale wts: code %d", env.Code)
	}
	c.ua = "curl/8.0"
	c.get(c.signed("/xlive/web-room/v1/index/getDanmuInfo", params()), &env)
	if env.Code != -352 {
		t.Errorf("script User-Agent: code %d", env.Code)
	}
	c.ua = browserUA
	c.get(c.signed("/xlive/web-room/v1/index/getDanmuInfo", params()), &env)
	var d danmuInfo
	json.Unmarshal(env.Data, &d)
	if env.Code != 0 || len(d.Token) < 180 || len(d.HostList) == 0 || d.HostList[0].WsPort == 0 {
		t.Fatalf("signed: code %d, token %d chars, hosts %+v", env.Code, len(d.Token), d.HostList)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]+=*$`).MatchString(d.Token) {
		t.Errorf("token is not URL-safe base64: %q", d.Token)
	}
	c.get(c.signed("/xlive/web-room/v1/index/getDanmuInfo", url.Values{"id": {"5"}, "type": {"0"}}), &env)
	if env.Code == 0 {
		t.Errorf("unknown room got a token")
	}
}

func TestRotateKeys(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 2, RotateKeys: 300 * time.Millisecond})
	c := newClient(t, s)
	c.bootstrap()
	old := c.mixin
	testkit.Poll(t, 5*time.Second, "key rotation", func() bool {
		fresh := newClient(t, s)
		fresh.bootstrap()
		return fresh.mixin != old
	})
	var env envelope
	c.get(c.signed("/xlive/web-room/v1/index/getDanmuInfo", url.Values{"id": {fmt.Sprint(s.RoomIDs()[0])}, "type": {"0"}}), &env)
	if env.Code != -352 {
		t.Errorf("stale keys: code %d, want -352", env.Code)
	}
	c.bootstrap() // nav again: fresh keys
	c.token(s.RoomIDs()[0])
}

type listItem struct {
	RoomID      int64  `json:"roomid"`
	UID         int64  `json:"uid"`
	Uname       string `json:"uname"`
	Title       string `json:"title"`
	Online      int64  `json:"online"`
	AreaID      int64  `json:"area_id"`
	AreaName    string `json:"area_name"`
	ParentID    int64  `json:"parent_id"`
	ParentName  string `json:"parent_name"`
	WatchedShow struct {
		Num int64 `json:"num"`
	} `json:"watched_show"`
}

func TestRoomLists(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 70})
	c := newClient(t, s)
	var all []listItem
	for page := 1; ; page++ {
		var res struct {
			Code int        `json:"code"`
			Data []listItem `json:"data"`
		}
		c.get(fmt.Sprintf("/room/v1/Area/getListByAreaID?areaId=0&sort=online&page=%d&pageSize=50", page), &res)
		if res.Code != 0 {
			t.Fatalf("page %d: code %d", page, res.Code)
		}
		if len(res.Data) > 30 {
			t.Fatalf("page size %d exceeds the server's 30", len(res.Data))
		}
		if len(res.Data) == 0 {
			break
		}
		all = append(all, res.Data...)
	}
	if len(all) != 70 {
		t.Fatalf("listed %d rooms, want 70", len(all))
	}
	seen := map[int64]bool{}
	for i, it := range all {
		if seen[it.RoomID] || it.UID == 0 || it.Uname == "" || it.Title == "" || it.AreaName == "" || it.ParentName == "" {
			t.Errorf("item %d: %+v", i, it)
		}
		seen[it.RoomID] = true
	}
	// second/getList: WBI-signed, data.list and data.has_more.
	c.bootstrap()
	var res struct {
		Code int `json:"code"`
		Data struct {
			List    []listItem `json:"list"`
			HasMore int        `json:"has_more"`
		} `json:"data"`
	}
	c.get(c.signed("/xlive/web-interface/v1/second/getList", url.Values{"platform": {"web"}, "parent_area_id": {"0"}, "area_id": {"0"}, "sort_type": {"online"}, "page": {"1"}}), &res)
	if res.Code != 0 || len(res.Data.List) == 0 || res.Data.HasMore != 1 {
		t.Errorf("second/getList: code %d, %d items, has_more %d", res.Code, len(res.Data.List), res.Data.HasMore)
	}
	c.get("/xlive/web-interface/v1/second/getList?platform=web&page=1", &res)
	if res.Code != -352 {
		t.Errorf("unsigned second/getList: code %d", res.Code)
	}
}

func TestListsFollowLiveState(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 12, Rate: 50, LiveFor: 150 * time.Millisecond, OfflineFor: 150 * time.Millisecond,
		Tick: 20 * time.Millisecond, HTTPRate: 100000, HTTPBurst: 100000})
	c := newClient(t, s)
	sets := map[string]bool{}
	testkit.Poll(t, 10*time.Second, "the live set to change", func() bool {
		var res struct {
			Code int        `json:"code"`
			Data []listItem `json:"data"`
		}
		if st := c.get("/room/v1/Area/getListByAreaID?areaId=0&page=1&pageSize=30", &res); st != 200 || res.Code != 0 {
			t.Fatalf("list: HTTP %d, code %d", st, res.Code)
		}
		key := ""
		for _, it := range res.Data {
			key += strconv.FormatInt(it.RoomID, 10) + ","
		}
		sets[key] = true
		return len(sets) >= 3 && len(res.Data) < 12
	})
}

func TestHistory(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, Rate: 200, Tick: 20 * time.Millisecond})
	c := newClient(t, s)
	var res struct {
		Data struct {
			Room []struct {
				Text      string `json:"text"`
				UID       int64  `json:"uid"`
				Nickname  string `json:"nickname"`
				Timeline  string `json:"timeline"`
				IDStr     string `json:"id_str"`
				CheckInfo struct {
					Ts int64  `json:"ts"`
					Ct string `json:"ct"`
				} `json:"check_info"`
			} `json:"room"`
		} `json:"data"`
	}
	testkit.Poll(t, 10*time.Second, "10 danmaku in history", func() bool {
		c.get(fmt.Sprintf("/xlive/web-room/v1/dM/gethistory?roomid=%d&room_type=0", s.RoomIDs()[0]), &res)
		return len(res.Data.Room) == 10
	})
	for _, h := range res.Data.Room {
		if h.Text == "" || h.UID == 0 || h.Nickname == "" || h.CheckInfo.Ts == 0 || len(h.CheckInfo.Ct) != 8 || len(h.IDStr) < 34 {
			t.Errorf("history item %+v", h)
		}
		if _, err := time.Parse(time.DateTime, h.Timeline); err != nil {
			t.Errorf("timeline %q: %v", h.Timeline, err)
		}
	}
}

func TestHTTPBudget412(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, HTTPRate: 1, HTTPBurst: 5, BanFor: time.Hour})
	c := newClient(t, s)
	codes := map[int]int{}
	for i := 0; i < 10; i++ {
		var env envelope
		codes[c.get("/room/v1/Room/room_init?id=1", &env)]++
		if env.Code == -412 && env.Message != "请求被拦截" {
			t.Errorf("412 body: %+v", env)
		}
	}
	if codes[200] != 5 || codes[412] != 5 {
		t.Errorf("status counts %v, want 5×200 then 5×412", codes)
	}
}

func TestHTTP412Fault(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 1, HTTP412: 1})
	c := newClient(t, s)
	var env envelope
	if st := c.get("/x/web-interface/nav", &env); st != 412 || env.Code != -412 {
		t.Errorf("status %d code %d, want 412/-412", st, env.Code)
	}
}

// getInfoByRoom (WBI, recorders use it) and the batch getRoomBaseInfo
// resolve short ids and describe the room in their own shapes.
func TestInfoByRoomAndRoomBaseInfo(t *testing.T) {
	s := newSim(t, livesim.Options{Rooms: 6})
	c := newClient(t, s)
	var short, real int64
	for k, v := range s.ShortIDs() {
		short, real = k, v
	}
	var env envelope
	c.get(fmt.Sprintf("/xlive/web-room/v1/index/getInfoByRoom?room_id=%d", short), &env)
	if env.Code != -352 {
		t.Errorf("unsigned getInfoByRoom code %d, want -352", env.Code)
	}
	c.bootstrap()
	var ir struct {
		Code int `json:"code"`
		Data struct {
			RoomInfo struct {
				RoomID     int64  `json:"room_id"`
				ShortID    int64  `json:"short_id"`
				UID        int64  `json:"uid"`
				LiveStatus int    `json:"live_status"`
				Title      string `json:"title"`
			} `json:"room_info"`
			AnchorInfo struct {
				BaseInfo struct {
					Uname string `json:"uname"`
				} `json:"base_info"`
			} `json:"anchor_info"`
		} `json:"data"`
	}
	c.get(c.signed("/xlive/web-room/v1/index/getInfoByRoom", url.Values{"room_id": {fmt.Sprint(short)}}), &ir)
	if ri := ir.Data.RoomInfo; ir.Code != 0 || ri.RoomID != real || ri.ShortID != short || ri.UID == 0 || ri.LiveStatus != 1 || ri.Title == "" || ir.Data.AnchorInfo.BaseInfo.Uname == "" {
		t.Errorf("getInfoByRoom(short): %+v", ir)
	}
	c.get(c.signed("/xlive/web-room/v1/index/getInfoByRoom", url.Values{"room_id": {"99"}}), &env)
	if env.Code != 19002000 {
		t.Errorf("getInfoByRoom(unknown) code %d, want 19002000", env.Code)
	}
	var bi struct {
		Code int `json:"code"`
		Data struct {
			ByRoomIDs map[string]struct {
				RoomID   int64  `json:"room_id"`
				ShortID  int64  `json:"short_id"`
				LiveTime string `json:"live_time"`
			} `json:"by_room_ids"`
		} `json:"data"`
	}
	c.get(fmt.Sprintf("/xlive/web-room/v1/index/getRoomBaseInfo?room_ids=%d&room_ids=%d&room_ids=99&req_biz=video", real, short), &bi)
	got := bi.Data.ByRoomIDs
	if bi.Code != 0 || len(got) != 2 || got[fmt.Sprint(real)].RoomID != real || got[fmt.Sprint(short)].RoomID != real ||
		got[fmt.Sprint(short)].ShortID != short || len(got[fmt.Sprint(real)].LiveTime) != len("2006-01-02 15:04:05") {
		t.Errorf("getRoomBaseInfo: %+v", bi)
	}
}
