package wbi

import (
	"errors"
	"net/url"
	"testing"
	"time"
)

// The worked examples of docs/protocol.md §3.
const (
	imgKey = "7cd084941338484aae1ad9425b84077c"
	subKey = "4932caff0ff746eab6f01bf08b70ac45"
	mixin  = "ea1db124af3c7062474693fa704f4ff8"
)

func TestMixinKey(t *testing.T) {
	got, err := MixinKey(imgKey, subKey)
	if err != nil || got != mixin {
		t.Fatalf("MixinKey = %q, %v; want %q", got, err, mixin)
	}
	if _, err := MixinKey("short", subKey); !errors.Is(err, ErrBadKey) {
		t.Errorf("short key: %v", err)
	}
	if k := KeyFromURL("https://i0.hdslb.com/bfs/wbi/" + imgKey + ".png"); k != imgKey {
		t.Errorf("KeyFromURL = %q", k)
	}
}

func TestRidWorkedExamples(t *testing.T) {
	cases := []struct {
		params url.Values
		want   string
	}{
		{url.Values{"foo": {"114"}, "bar": {"514"}, "zab": {"1919810"}, "wts": {"1702204169"}}, "8f6f2b5b3d485fe1886cec6a0be8c5d4"},
		{url.Values{"id": {"5553263"}, "type": {"0"}, "wts": {"1776925721"}}, "2662a4f8479c442aa069cef32d60394b"},
	}
	for _, c := range cases {
		if got := Rid(c.params, mixin); got != c.want {
			t.Errorf("Rid(%v) = %s, want %s", c.params, got, c.want)
		}
	}
}

func TestEncodeExample(t *testing.T) {
	got := Encode(url.Values{"foo": {"one one four"}, "bar": {"五一四"}, "baz": {"1919810"}})
	want := "bar=%E4%BA%94%E4%B8%80%E5%9B%9B&baz=1919810&foo=one%20one%20four"
	if got != want {
		t.Errorf("Encode = %s\nwant     %s", got, want)
	}
	if got := Encode(url.Values{"a": {"x!'()*y"}}); got != "a=xy" {
		t.Errorf("filtered = %s", got)
	}
}

func TestSignVerify(t *testing.T) {
	now := time.Unix(1776925721, 0)
	p := url.Values{"id": {"5553263"}, "type": {"0"}}
	Sign(p, mixin, now)
	if p.Get("w_rid") != "2662a4f8479c442aa069cef32d60394b" {
		t.Fatalf("Sign: %v", p)
	}
	if err := Verify(p, mixin, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if err := Verify(p, mixin, now.Add(time.Hour), 5*time.Minute); !errors.Is(err, ErrStale) {
		t.Errorf("stale: %v", err)
	}
	p.Set("id", "1")
	if err := Verify(p, mixin, now, 5*time.Minute); !errors.Is(err, ErrBadSig) {
		t.Errorf("tampered: %v", err)
	}
	if err := Verify(url.Values{}, mixin, now, time.Minute); !errors.Is(err, ErrMissing) {
		t.Errorf("missing: %v", err)
	}
}
