package main

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/roomsource"
)

// TestLoginQR runs `danmakud login` against the simulator's scripted QR
// flow (not scanned, scanned, confirmed) and checks the cookie file it
// writes: mode 0600, accepted by collect's loader and by nav.
func TestLoginQR(t *testing.T) {
	sim, err := livesim.New(livesim.Options{Rooms: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	path := filepath.Join(t.TempDir(), "sub", "cookies.txt")
	code, out, errs := runCLI(t, "", "login", "--api-base", sim.URL(), "--cookie-file", path, "--poll", "10ms")
	if code != 0 {
		t.Fatalf("login: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "waiting for the code to be scanned") || !strings.Contains(errs, "confirm the login on the phone") {
		t.Errorf("progress not reported: %q", errs)
	}
	if !strings.Contains(out, "Logged in as uid ") || !strings.Contains(out, "▀") && !strings.Contains(out, "█") {
		t.Errorf("no QR code or no confirmation in the output:\n%s", out)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("cookie file mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	for _, ck := range []string{"SESSDATA", "bili_jct", "DedeUserID"} {
		if !bytes.Contains(b, []byte(ck)) {
			t.Errorf("cookie file lacks %s", ck)
		}
	}
	if _, err := roomsource.LoadCookieFile(path); err != nil {
		t.Errorf("collect cannot load what login wrote: %v", err)
	}
	// The secret is in the file only: never on the terminal.
	sess := cookieValue(t, string(b), "SESSDATA")
	if sess == "" || strings.Contains(out+errs, sess) {
		t.Errorf("SESSDATA printed (or missing from the file)")
	}
}

func cookieValue(t *testing.T, file, name string) string {
	t.Helper()
	for _, line := range strings.Split(file, "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 7 && f[5] == name {
			return f[6]
		}
	}
	return ""
}

func TestLoginQRExpired(t *testing.T) {
	sim, err := livesim.New(livesim.Options{Rooms: 1, QRExpire: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	path := filepath.Join(t.TempDir(), "cookies.txt")
	code, _, errs := runCLI(t, "", "login", "--api-base", sim.URL(), "--cookie-file", path, "--poll", "10ms", "--no-qr")
	if code != exitFailure || !strings.Contains(errs, "expired") {
		t.Errorf("exit %d, stderr %q; want 1 and 'expired'", code, errs)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("a cookie file was written for an expired code")
	}
}

// TestLoginRefusesForeignFile: a mistyped --cookie-file that names some
// other file is left byte-for-byte as it was.
func TestLoginRefusesForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, []byte("my thesis draft\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := sha256.Sum256([]byte("my thesis draft\n"))
	code, _, errs := runCLI(t, "", "login", "--api-base", "http://127.0.0.1:1", "--cookie-file", path)
	if code != exitUsage || !strings.Contains(errs, path) {
		t.Errorf("exit %d, stderr %q; want 2 naming the file", code, errs)
	}
	b, _ := os.ReadFile(path)
	if sha256.Sum256(b) != before {
		t.Error("the file was modified")
	}
}
