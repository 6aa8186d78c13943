package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/storage"
	_ "modernc.org/sqlite"
)

// fileHash is the SHA-256 of a file's bytes, "" when it does not exist.
func fileHash(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// TestCollectHostileInput: bad input from a user, each case with a clear
// message (naming what was wrong) and a non-zero exit; where the --db
// file exists its bytes are the same afterwards (hashed) and no -wal or
// -shm is left beside it.
func TestCollectHostileInput(t *testing.T) {
	t.Parallel()
	sim, err := livesim.New(livesim.Options{Rooms: 3, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	dir := t.TempDir()
	file := func(name string, b []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Another program's SQLite file.
	foreign := filepath.Join(dir, "foreign.db")
	fdb, err := sql.Open("sqlite", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fdb.Exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep me')"); err != nil {
		t.Fatal(err)
	}
	fdb.Close()
	// A danmakud file with its header damaged, and one with a b-tree page
	// in the middle damaged (storage.Open's quick_check finds it).
	ours := filepath.Join(dir, "ours.db")
	d, err := storage.Open(ours)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2000; i++ { // ~100 pages of runs
		if _, err := d.StartRun(context.Background(), storage.RunInfo{Version: "test", Args: strings.Repeat("x", 200)}); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	good, _ := os.ReadFile(ours)
	badMiddle := append([]byte(nil), good...)
	mid := len(good) / 4096 / 2 * 4096
	copy(badMiddle[mid:], bytes.Repeat([]byte{0xff}, 12)) // the page's b-tree header
	corruptMiddle := file("corrupt-middle.db", badMiddle, 0o644)
	badHeader := append([]byte(nil), good...)
	copy(badHeader[16:24], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) // page size, versions
	corruptHeader := file("corrupt-header.db", badHeader, 0o644)
	text := file("notes.txt", []byte("just some text, not a database\n"), 0o644)
	notADir := file("plain", []byte("x"), 0o644)
	subdir := filepath.Join(dir, "adir")
	os.Mkdir(subdir, 0o755)
	noSess := file("nosess.txt", []byte("# Netscape HTTP Cookie File\n.bilibili.com\tTRUE\t/\tFALSE\t0\tbuvid3\tabc\n"), 0o600)
	loose := file("loose.txt", []byte("SESSDATA=secret-value-123"), 0o644)
	room := sim.RoomIDs()[0]
	var short int64
	for s := range sim.ShortIDs() {
		short = s
		break
	}
	api := []string{"--api-base", sim.URL(), "--duration", "2s", "--quiet"}
	fresh := func(name string) string { return filepath.Join(dir, name) }
	for _, tc := range []struct {
		name string
		args []string
		db   string // the --db file whose bytes must not change ("" = none)
		code int
		want string // in stderr
	}{
		{"nonexistent room only", []string{"--top", "0", "--room", "424242"}, "", exitUsage, "424242: no such room"},
		{"--top 0 without --room", []string{"--top", "0"}, "", exitUsage, "--top 0 and no --room"},
		{"negative --top", []string{"--top", "-1"}, "", exitUsage, "--top -1"},
		{"negative --duration", []string{"--duration", "-1s"}, "", exitUsage, "--duration -1s"},
		{"zero --flush-interval", []string{"--flush-interval", "0"}, "", exitUsage, "--flush-interval 0s"},
		{"negative --flush-interval", []string{"--flush-interval", "-5s"}, "", exitUsage, "--flush-interval -5s"},
		{"zero --refresh", []string{"--refresh", "0"}, "", exitUsage, "--refresh 0s"},
		{"zero --http-rate", []string{"--http-rate", "0"}, "", exitUsage, "--http-rate 0"},
		{"negative --http-rate", []string{"--http-rate", "-2"}, "", exitUsage, "--http-rate -2"},
		{"zero --heartbeat", []string{"--heartbeat", "0"}, "", exitUsage, "--heartbeat 0s"},
		{"negative --watchdog", []string{"--watchdog", "-1s"}, "", exitUsage, "--watchdog -1s"},
		{"zero --final-flush-timeout", []string{"--final-flush-timeout", "0"}, "", exitUsage, "--final-flush-timeout 0s"},
		{"negative --lock-wait", []string{"--lock-wait", "-1s"}, "", exitUsage, "--lock-wait -1s"},
		{"zero --rooms-per-account", []string{"--rooms-per-account", "0"}, "", exitUsage, "--rooms-per-account 0"},
		{"negative --room", []string{"--room", "-5"}, "", exitUsage, "--room -5"},
		{"not a number --duration", []string{"--duration", "soon"}, "", exitUsage, "soon"},
		{"empty area", []string{"--area", "99999", "--top", "10"}, "", exitUsage, "--area 99999 lists no live rooms"},
		{"db under a plain file", []string{"--db", filepath.Join(notADir, "x.db")}, "", exitFailure, notADir},
		{"db is a directory", []string{"--db", subdir}, "", exitUsage, subdir},
		{"another program's SQLite file", []string{"--db", foreign}, foreign, exitUsage, foreign},
		{"a text file", []string{"--db", text}, text, exitUsage, text},
		{"damaged header", []string{"--db", corruptHeader}, corruptHeader, exitFailure, "corrupt"},
		{"damaged page in the middle", []string{"--db", corruptMiddle}, corruptMiddle, exitFailure, corruptMiddle + ": database file is corrupt"},
		{"cookie file open to others", []string{"--cookie-file", loose}, "", exitUsage, "chmod 600"},
		{"cookie file without SESSDATA", []string{"--cookie-file", noSess}, "", exitUsage, "SESSDATA"},
		{"missing cookie file", []string{"--cookie-file", fresh("nope.txt")}, "", exitUsage, "nope.txt"},
		{"--shard K past N", []string{"--shard", "4/4"}, "", exitUsage, "--shard 4/4: K must be in 0…3"},
		{"--shard not K/N", []string{"--shard", "two"}, "", exitUsage, `--shard "two": want K/N`},
		{"--source-addr not an IP", []string{"--source-addr", "example.com"}, "", exitUsage, `--source-addr: "example.com" is not an IP address`},
		{"--source-addr not this machine's", []string{"--source-addr", "192.0.2.1"}, "", exitUsage, "--source-addr: 192.0.2.1 is not an address of this machine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"collect"}, api...)
			if !strings.Contains(strings.Join(tc.args, " "), "--db") {
				args = append(args, "--db", fresh(strings.ReplaceAll(tc.name, " ", "_")+".db"))
			}
			if !strings.Contains(strings.Join(tc.args, " "), "--cookie-file") {
				args = append(args, "--anonymous")
			}
			args = append(args, tc.args...)
			before := fileHash(t, tc.db)
			code, _, errs := runCLI(t, "", args...)
			t.Logf("exit %d: %s", code, strings.TrimSpace(errs))
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if !strings.Contains(errs, tc.want) {
				t.Errorf("stderr does not say %q", tc.want)
			}
			if strings.Contains(errs, "secret-value") {
				t.Errorf("a cookie value in the message")
			}
			if tc.db != "" {
				if after := fileHash(t, tc.db); after != before {
					t.Errorf("%s changed (sha256 %s… → %s…)", tc.db, before[:12], after[:12])
				}
				for _, side := range []string{"-wal", "-shm", "-journal"} {
					if _, err := os.Stat(tc.db + side); err == nil {
						t.Errorf("%s left behind", tc.db+side)
					}
				}
			}
		})
	}

	// A reader (stats: it reads the runs) names the file and says it is
	// corrupt when it reaches the damaged page; the file stays as it was.
	for _, args := range [][]string{{"stats", "--db", corruptMiddle}} {
		before := fileHash(t, corruptMiddle)
		code, _, errs := runCLI(t, "", args...)
		if code != exitFailure || !strings.Contains(errs, corruptMiddle) || !strings.Contains(errs, "corrupt") {
			t.Errorf("%s on a damaged file: exit %d, %q (want exit %d naming the file and \"corrupt\")", args[0], code, strings.TrimSpace(errs), exitFailure)
		}
		if fileHash(t, corruptMiddle) != before {
			t.Errorf("%s changed %s", args[0], corruptMiddle)
		}
	}

	// One nonexistent room among good ones (one given by its short id):
	// it is skipped, the others watched, exit 0.
	db := fresh("mixed.db")
	args := append([]string{"collect", "--db", db, "--anonymous", "--top", "0", "--room", "424242", "--room", strconv.FormatInt(room, 10)}, api...)
	if short != 0 {
		args = append(args, "--room", strconv.FormatInt(short, 10))
	}
	code, _, errs := runCLI(t, "", args...)
	if code != 0 || !strings.Contains(errs, "424242") {
		t.Errorf("one bad room among good ones: exit %d, %s", code, errs)
	}
	rd, err := storage.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var nGood, nBad int
	rd.SQL.QueryRow("SELECT count(*) FROM rooms WHERE room_id = ?", room).Scan(&nGood)
	rd.SQL.QueryRow("SELECT count(*) FROM rooms WHERE room_id = 424242").Scan(&nBad)
	if nGood != 1 || nBad != 0 {
		t.Errorf("rooms table: the good room %d times, the bad one %d times", nGood, nBad)
	}
}
