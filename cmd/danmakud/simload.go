package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/danmakud/danmakud/internal/wbi"
	"github.com/danmakud/danmakud/protocol"
	"github.com/gorilla/websocket"
	"github.com/spf13/cobra"
)

// simload is a load client for measuring `danmakud sim` (scripts/simload.sh):
// many anonymous connections that authenticate, heartbeat and read every
// frame without decoding it, so that the simulator's own cost can be
// measured from outside its process.
func newSimLoadCmd() *cobra.Command {
	var base string
	var conns int
	var dur time.Duration
	cmd := &cobra.Command{
		Use:    "simload --url URL --conns N --for D",
		Short:  "Open many raw connections to a simulator and count what arrives",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ctx, cancel := context.WithTimeout(ctx, dur)
			defer cancel()
			return simLoad(ctx, cmd, base, conns)
		},
	}
	cmd.Flags().StringVar(&base, "url", "", "simulator base URL")
	cmd.Flags().IntVar(&conns, "conns", 1000, "connections to open")
	cmd.Flags().DurationVar(&dur, "for", 30*time.Second, "how long to run")
	return cmd
}

func simLoad(ctx context.Context, cmd *cobra.Command, base string, n int) error {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(path string, v any) error {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) simload")
		res, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		return json.NewDecoder(res.Body).Decode(v)
	}
	if _, err := hc.Get(base + "/"); err != nil {
		return err
	}
	u, _ := url.Parse(base)
	var buvid string
	for _, c := range jar.Cookies(u) {
		if c.Name == "buvid3" {
			buvid = c.Value
		}
	}
	var rooms []int64
	for page := 1; ; page++ {
		var res struct {
			Data []struct {
				RoomID int64 `json:"roomid"`
			} `json:"data"`
		}
		if err := get(fmt.Sprintf("/room/v1/Area/getListByAreaID?areaId=0&page=%d&pageSize=30", page), &res); err != nil {
			return err
		}
		if len(res.Data) == 0 {
			break
		}
		for _, r := range res.Data {
			rooms = append(rooms, r.RoomID)
		}
	}
	if len(rooms) == 0 {
		return fmt.Errorf("simload: no live rooms")
	}
	var navRaw struct {
		Data struct {
			W map[string]string `json:"wbi_img"`
		} `json:"data"`
	}
	if err := get("/x/web-interface/nav", &navRaw); err != nil {
		return err
	}
	mixin, err := wbi.MixinKey(wbi.KeyFromURL(navRaw.Data.W["img_url"]), wbi.KeyFromURL(navRaw.Data.W["sub_url"]))
	if err != nil {
		return err
	}
	tokens := map[int64]string{}
	for _, r := range rooms {
		p := url.Values{"id": {fmt.Sprint(r)}, "type": {"0"}}
		wbi.Sign(p, mixin, time.Now())
		var res struct {
			Code int `json:"code"`
			Data struct {
				Token string `json:"token"`
			} `json:"data"`
		}
		if err := get("/xlive/web-room/v1/index/getDanmuInfo?"+p.Encode(), &res); err != nil || res.Code != 0 {
			return fmt.Errorf("simload: getDanmuInfo %d: code %d %v", r, res.Code, err)
		}
		tokens[r] = res.Data.Token
	}
	var frames, bytesIn, open, lost atomic.Int64
	var wg sync.WaitGroup
	wsURL := "ws://" + u.Host + "/sub"
	for i := 0; i < n; i++ {
		room := rooms[i%len(rooms)]
		ws, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL, nil)
		if err != nil {
			return fmt.Errorf("simload: dial %d: %w", i, err)
		}
		auth := fmt.Sprintf(`{"uid":0,"roomid":%d,"protover":3,"buvid":%q,"platform":"web","type":2,"key":%q}`, room, buvid, tokens[room])
		if err := ws.WriteMessage(websocket.BinaryMessage, protocol.EncodePacket(1, protocol.OpAuth, 1, []byte(auth))); err != nil {
			return err
		}
		open.Add(1)
		wg.Add(2)
		go func() { // the only reader
			defer wg.Done()
			defer open.Add(-1)
			for {
				_, msg, err := ws.ReadMessage()
				if err != nil {
					if ctx.Err() == nil {
						lost.Add(1) // closed by the simulator
					}
					return
				}
				frames.Add(1)
				bytesIn.Add(int64(len(msg)))
			}
		}()
		go func() { // the only writer: heartbeats
			defer wg.Done()
			t := time.NewTicker(30 * time.Second)
			defer t.Stop()
			hb := protocol.EncodePacket(1, protocol.OpHeartbeat, 1, nil)
			for {
				select {
				case <-ctx.Done():
					ws.Close()
					return
				case <-t.C:
					_ = ws.WriteMessage(websocket.BinaryMessage, hb)
				}
			}
		}()
	}
	start := time.Now()
	f0 := frames.Load()
	fmt.Fprintf(cmd.ErrOrStderr(), "simload: %d connections open over %d rooms\n", open.Load(), len(rooms))
	<-ctx.Done()
	el := time.Since(start).Seconds()
	fmt.Fprintf(cmd.OutOrStdout(), "simload: conns=%d frames/s=%.0f MB/s=%.1f closed-by-server=%d\n",
		n, float64(frames.Load()-f0)/el, float64(bytesIn.Load())/el/1e6, lost.Load())
	wg.Wait()
	return nil
}
