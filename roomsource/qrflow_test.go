package roomsource_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/roomsource"
)

// qrRun records what a QRLogin's callbacks saw; opts polls fast.
type qrRun struct {
	codes      []roomsource.QRCode
	states     []int
	pollErrors int
}

func (r *qrRun) opts(path string) roomsource.QRLoginOptions {
	return roomsource.QRLoginOptions{CookieFile: path, Poll: time.Millisecond, Timeout: time.Minute,
		OnCode:      func(qr roomsource.QRCode) { r.codes = append(r.codes, qr) },
		OnState:     func(code int) { r.states = append(r.states, code) },
		OnPollError: func(error) { r.pollErrors++ }}
}

func TestQRLoginFlow(t *testing.T) {
	f := newFakeBili(t)
	failOnce := func(w http.ResponseWriter) { http.Error(w, "busy", http.StatusInternalServerError) }
	waiting := qrAnswer(roomsource.QRNotScanned, "未扫码")
	f.qrScript = []func(http.ResponseWriter){waiting, failOnce, waiting, qrAnswer(roomsource.QRScanned, "已扫码"), qrSuccess}
	f.set(func(f *fakeBili) { f.sessions[secretSess] = 9001 })
	c := newClient(t, f.srv.URL, roomsource.Config{})
	path := filepath.Join(t.TempDir(), "sub", "cookies.txt")
	var r qrRun
	mid, err := c.QRLogin(t.Context(), r.opts(path))
	if err != nil || mid != 9001 {
		t.Fatalf("QRLogin = %d, %v", mid, err)
	}
	if len(r.codes) != 1 || r.codes[0].Key != "k1" {
		t.Errorf("OnCode saw %v", r.codes)
	}
	// A state is reported when it changes; a failed poll is reported and
	// polling goes on.
	if fmt.Sprint(r.states) != fmt.Sprint([]int{roomsource.QRNotScanned, roomsource.QRScanned, roomsource.QRSuccess}) || r.pollErrors != 1 {
		t.Errorf("states %v, %d poll errors", r.states, r.pollErrors)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cookie file: %v %v", fi, err)
	}
	if _, err := roomsource.LoadCookieFile(path); err != nil {
		t.Errorf("the written file does not load: %v", err)
	}
}

func TestQRLoginErrors(t *testing.T) {
	cases := []struct {
		name   string
		script []func(http.ResponseWriter)
		login  bool // nav knows the session
		check  func(error) bool
		file   bool   // the cookie file is written
		text   string // the error's text begins so (PATH: the cookie file)
	}{
		{"expired", []func(http.ResponseWriter){qrAnswer(roomsource.QRExpired, "二维码已失效")}, true,
			func(err error) bool { return errors.Is(err, roomsource.ErrQRExpired) }, false,
			"login: the QR code expired; run danmakud login again"},
		{"unexpected", []func(http.ResponseWriter){qrAnswer(86000, "odd")}, true,
			func(err error) bool {
				var e *roomsource.QRUnexpectedError
				return errors.As(err, &e) && e.Code == 86000 && e.Message == "odd"
			}, false, "login: unexpected answer 86000 (odd)"},
		{"nav refuses", []func(http.ResponseWriter){qrSuccess}, false,
			func(err error) bool {
				var e *roomsource.QRStepError
				return errors.As(err, &e) && e.Step == roomsource.QRStepVerify && errors.Is(err, roomsource.ErrNotLoggedIn)
			}, true, "login: cookies saved to PATH, but nav does not accept them: "},
	}
	for _, tc := range cases {
		f := newFakeBili(t)
		f.qrScript = tc.script
		if tc.login {
			f.set(func(f *fakeBili) { f.sessions[secretSess] = 9001 })
		}
		c := newClient(t, f.srv.URL, roomsource.Config{})
		path := filepath.Join(t.TempDir(), "cookies.txt")
		var r qrRun
		_, err := c.QRLogin(t.Context(), r.opts(path))
		if !tc.check(err) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if err != nil {
			noSecret(t, tc.name, err.Error())
			if want := strings.ReplaceAll(tc.text, "PATH", path); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("%s: error %q, want it to begin %q", tc.name, err, want)
			}
		}
		if _, serr := os.Stat(path); (serr == nil) != tc.file {
			t.Errorf("%s: cookie file written = %v, want %v", tc.name, serr == nil, tc.file)
		}
	}
}

func TestQRLoginEnds(t *testing.T) {
	// Every poll fails: the login ends at its timeout.
	f := newFakeBili(t)
	c := newClient(t, f.srv.URL, roomsource.Config{})
	var r qrRun
	o := r.opts(filepath.Join(t.TempDir(), "cookies.txt"))
	o.Timeout = 50 * time.Millisecond
	if _, err := c.QRLogin(t.Context(), o); !errors.Is(err, roomsource.ErrQRTimedOut) ||
		err.Error() != "login: not confirmed within 50ms; run danmakud login again" {
		t.Errorf("timeout: %v", err)
	}
	// The caller's context ends it: interrupted.
	ctx, cancel := context.WithCancel(t.Context())
	o = r.opts(filepath.Join(t.TempDir(), "cookies.txt"))
	o.Poll = time.Hour
	o.OnCode = func(roomsource.QRCode) { cancel() }
	if _, err := c.QRLogin(ctx, o); !errors.Is(err, roomsource.ErrQRInterrupted) || err.Error() != "login: interrupted" {
		t.Errorf("cancelled: %v", err)
	}
	// No code to be had.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	c = newClient(t, dead.URL, roomsource.Config{})
	var step *roomsource.QRStepError
	if _, err := c.QRLogin(t.Context(), r.opts(filepath.Join(t.TempDir(), "c.txt"))); !errors.As(err, &step) || step.Step != roomsource.QRStepGenerate ||
		!strings.HasPrefix(err.Error(), "login: cannot get a QR code: ") {
		t.Errorf("no server: %v", err)
	}
}
