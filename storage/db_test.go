package storage

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fileHash is the SHA-256 of a file's bytes, or of a directory's listing.
func fileHash(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.IsDir() {
		return "dir:" + strings.Join(listDir(t, path), ",")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		fi, _ := e.Info()
		names = append(names, fmt.Sprintf("%s/%v", e.Name(), fi.Mode()))
	}
	sort.Strings(names)
	return names
}

// sqliteFile creates an SQLite file at path with the given statements,
// closed cleanly (no -wal left).
func sqliteFile(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(s, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// ourFile creates a danmakud database with enough rows for many pages,
// cleanly closed; unended leaves the last run without its end.
func ourFile(t *testing.T, path string, unended bool) {
	t.Helper()
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := d.SQL.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		if _, err := tx.Exec("INSERT INTO runs (started_ms, ended_ms, version, args) VALUES (?, ?, 'test', ?)",
			i, i+1, strings.Repeat("collect --top 100 ", 5)); err != nil {
			t.Fatal(err)
		}
	}
	if unended {
		tx.Exec("INSERT INTO runs (started_ms, version, args) VALUES (1, 'test', 'crashed')")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Fatalf("%s-wal left after a clean close", path)
	}
}

// scribble overwrites the middle of the file (b-tree pages) with junk.
func scribble(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	junk := []byte(strings.Repeat("\x0d\xff\xfe\x00junk", 512))
	for off := int64(4096 * 3); off < fi.Size()-4096; off += 4096 * 4 {
		if _, err := f.WriteAt(junk[:1024], off); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOpenRefusesFilesNotOurs: each file is refused with a message
// naming the path and the cause, and left byte-for-byte untouched, with
// nothing created beside it.
func TestOpenRefusesFilesNotOurs(t *testing.T) {
	cases := []struct {
		name  string
		make  func(t *testing.T, path string)
		want  error
		cause string
		opts  OpenOptions
	}{
		{"another program's SQLite file", func(t *testing.T, p string) {
			sqliteFile(t, p, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)", "INSERT INTO users VALUES (1, 'a')")
		}, ErrNotOurs, "another program", OpenOptions{}},
		{"another program's WAL-mode SQLite file", func(t *testing.T, p string) {
			sqliteFile(t, p, "PRAGMA journal_mode=WAL", "CREATE TABLE notes (body TEXT)", "INSERT INTO notes VALUES ('x')")
		}, ErrNotOurs, "another program", OpenOptions{}},
		{"another program's file with only a view", func(t *testing.T, p string) {
			sqliteFile(t, p, "CREATE VIEW v AS SELECT 1")
		}, ErrNotOurs, "view v", OpenOptions{}},
		{"another program's file that uses user_version", func(t *testing.T, p string) {
			sqliteFile(t, p, "CREATE TABLE posts (id INTEGER)", "PRAGMA user_version = 1")
		}, ErrNotOurs, "no table", OpenOptions{}},
		{"a newer danmakud's file", func(t *testing.T, p string) {
			ourFile(t, p, false)
			sqliteFile(t, p, fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion()+1))
		}, ErrNewerSchema, "newer danmakud", OpenOptions{}},
		{"a text file", func(t *testing.T, p string) {
			os.WriteFile(p, []byte("room_id,danmaku\n76,12\n"), 0o644)
		}, ErrNotOurs, "not an SQLite database", OpenOptions{}},
		{"a short file with the SQLite magic", func(t *testing.T, p string) {
			os.WriteFile(p, sqliteMagic, 0o644)
		}, ErrNotOurs, "not an SQLite database", OpenOptions{}},
		{"a truncated danmakud file", func(t *testing.T, p string) {
			ourFile(t, p, false)
			fi, _ := os.Stat(p)
			os.Truncate(p, fi.Size()/2)
		}, ErrCorrupt, "truncated", OpenOptions{}},
		{"a corrupted danmakud file", func(t *testing.T, p string) {
			ourFile(t, p, false)
			scribble(t, p)
		}, ErrCorrupt, "corrupt", OpenOptions{}},
		{"a large corrupted danmakud file after a crash", func(t *testing.T, p string) {
			ourFile(t, p, true)
			scribble(t, p)
		}, ErrCorrupt, "corrupt", OpenOptions{QuickCheckMax: 1}},
		{"a directory", func(t *testing.T, p string) {
			os.Mkdir(p, 0o755)
			os.WriteFile(filepath.Join(p, "keep"), []byte("x"), 0o644)
		}, ErrNotOurs, "directory", OpenOptions{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "data.db")
			c.make(t, path)
			before, listing := fileHash(t, path), listDir(t, dir)
			d, err := OpenWith(path, c.opts)
			if err == nil {
				d.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, c.want) {
				t.Errorf("error %v, want %v", err, c.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) || !strings.Contains(msg, c.cause) || strings.Contains(msg, ".lock") {
				t.Errorf("message %q: want the path %s and %q, no lock file", msg, path, c.cause)
			}
			if after := fileHash(t, path); after != before {
				t.Errorf("file changed: %s → %s", before, after)
			}
			if got := listDir(t, dir); strings.Join(got, " ") != strings.Join(listing, " ") {
				t.Errorf("directory was %v, now %v", listing, got)
			}
			// The read-only path refuses it too, and leaves it alone.
			if ro, err := OpenReadOnly(path); err == nil {
				ro.Close()
				if c.want != ErrCorrupt { // a scribbled file may still answer user_version
					t.Errorf("OpenReadOnly succeeded")
				}
			}
			if after := fileHash(t, path); after != before {
				t.Errorf("OpenReadOnly changed the file")
			}
		})
	}
}

// TestOpenNewEmptyAndOurs: a missing or empty file becomes a new
// database; our own file reopens (also after a crash left a -wal).
func TestOpenNewEmptyAndOurs(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{filepath.Join(dir, "new.db"), filepath.Join(dir, "empty.db"), filepath.Join(dir, "a?b#c%20.db")} {
		if strings.HasSuffix(p, "empty.db") {
			os.WriteFile(p, nil, 0o644)
		}
		d, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		var v int
		var mode string
		d.SQL.QueryRow("PRAGMA user_version").Scan(&v)
		d.SQL.QueryRow("PRAGMA journal_mode").Scan(&mode)
		if v != SchemaVersion() || mode != "wal" {
			t.Errorf("%s: user_version %d, journal_mode %s", p, v, mode)
		}
		d.Close()
		if _, err := os.Stat(p); err != nil {
			t.Errorf("database not at the given path: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "new.db.lock")); err == nil {
		t.Error("a .lock file was created")
	}
	// A run that died with rows only in the -wal: reopened through the WAL.
	p := filepath.Join(dir, "crashed.db")
	ourFile(t, p, true)
	sqliteFile(t, p, "PRAGMA journal_mode=WAL") // still ours
	d, err := OpenWith(p, OpenOptions{QuickCheckMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
}

// TestOpenAfterCrashWithWAL: a file whose migrations and rows are only in
// its -wal (the process died before a checkpoint) is ours, read through
// the WAL, and opens.
func TestOpenAfterCrashWithWAL(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "k.db")
	// A copy of a live database with its -wal, as a kill -9 leaves it.
	d, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.SQL.Exec("PRAGMA wal_autocheckpoint = 0; INSERT INTO runs (started_ms, version, args) VALUES (1, 'x', 'y')"); err != nil {
		t.Fatal(err)
	}
	copyDir := t.TempDir()
	cp := filepath.Join(copyDir, "k.db")
	for _, side := range []string{"", "-wal"} {
		b, err := os.ReadFile(p + side)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(cp+side, b, 0o644)
	}
	d.Close()
	if fi, err := os.Stat(cp + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("no -wal to test with: %v", err)
	}
	d2, err := OpenWith(cp, OpenOptions{QuickCheckMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	var n int
	if err := d2.SQL.QueryRow("SELECT count(*) FROM runs WHERE version = 'x'").Scan(&n); err != nil || n != 1 {
		t.Errorf("run from the WAL: %d, %v", n, err)
	}
}

// TestLockFollowsTheFile: a second Open through a hard link or a symlink
// of the same file is refused in the same process (without opening the
// file); a stale path.lock from older builds is ignored and kept.
func TestLockFollowsTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.db")
	os.WriteFile(path+".lock", []byte("old"), 0o644)
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	hard, sym := filepath.Join(dir, "hard.db"), filepath.Join(dir, "sym.db")
	if err := os.Link(path, hard); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(path, sym); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, hard, sym} {
		_, err := Open(p)
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), p) || strings.Contains(err.Error(), ".lock") {
			t.Errorf("Open(%s): %v, want ErrLocked naming it", p, err)
		}
	}
	if b, _ := os.ReadFile(path + ".lock"); string(b) != "old" {
		t.Errorf("old lock file changed: %q", b)
	}
	// The holder still works after the refused attempts, and its SQLite
	// still holds its POSIX lock: no refused Open opened and closed a
	// descriptor of the file.
	if _, err := d.SQL.Exec("INSERT INTO runs (started_ms, version, args) VALUES (1, 'x', '')"); err != nil {
		t.Fatal(err)
	}
	if !sqliteLocked(t, path) {
		t.Error("the holder's SQLite lost its POSIX lock")
	}
	// What that guards against: closing any other descriptor drops it.
	f, err := os.Open(hard)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if sqliteLocked(t, path) {
		t.Error("the probe sees a POSIX lock after a close of another descriptor; it cannot tell")
	}
}

// TestLockAcrossProcesses: another process holding the file refuses a
// second Open through a hard link and through a symlink (the flock).
func TestLockAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.db")
	hard, sym := filepath.Join(dir, "hard.db"), filepath.Join(dir, "sym.db")
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	os.Link(path, hard)
	os.Symlink(path, sym)
	for _, p := range []string{hard, sym} {
		out, err := helperOpen(t, p)
		if err != nil || !strings.Contains(out, "locked: storage: "+p+": database is in use") {
			t.Errorf("other process, Open(%s): %q, %v", p, out, err)
		}
	}
	d.Close()
	if out, err := helperOpen(t, sym); err != nil || !strings.HasPrefix(out, "opened") {
		t.Errorf("other process after Close: %q, %v", out, err)
	}
}

func helperOpen(t *testing.T, path string) (string, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperOpen$")
	cmd.Env = append(os.Environ(), "DANMAKUD_HELPER_OPEN="+path)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestHelperOpen is the other process of TestLockAcrossProcesses.
func TestHelperOpen(t *testing.T) {
	path := os.Getenv("DANMAKUD_HELPER_OPEN")
	if path == "" {
		t.Skip("helper process only")
	}
	d, err := Open(path)
	switch {
	case errors.Is(err, ErrLocked):
		fmt.Println("locked:", err)
	case err != nil:
		fmt.Println("error:", err)
	default:
		d.Close()
		fmt.Println("opened")
	}
}

// lockBusy installs testHookLockBusy; the channel receives (without
// blocking the waiter) each time Open is about to wait.
func lockBusy(t *testing.T) <-chan struct{} {
	ch := make(chan struct{}, 1)
	testHookLockBusy = func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	t.Cleanup(func() { testHookLockBusy = nil })
	return ch
}

// TestLockWait: a waiting Open gets the file when its holder closes it,
// in this process or in another (a plain flock on another descriptor);
// a holder that keeps it means ErrLocked after LockWait; ctx cancels.
func TestLockWait(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.db")

	t.Run("holder in this process closes", func(t *testing.T) {
		busy := lockBusy(t)
		holder, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan error, 1)
		go func() {
			d, err := OpenWith(filepath.Join(dir, "a.db"), OpenOptions{LockWait: time.Minute})
			if err == nil {
				d.Close()
			}
			got <- err
		}()
		<-busy // the waiter found it held
		holder.Close()
		if err := <-got; err != nil {
			t.Fatalf("waiter: %v", err)
		}
	})

	t.Run("holder in another process unlocks", func(t *testing.T) {
		busy := lockBusy(t)
		f, err := os.Open(path) // stands for another process's descriptor
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		got := make(chan *DB, 1)
		errs := make(chan error, 1)
		go func() {
			d, err := OpenWith(path, OpenOptions{LockWait: time.Minute})
			if err != nil {
				errs <- err
				return
			}
			got <- d
		}()
		<-busy
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		select {
		case d := <-got:
			d.Close()
		case err := <-errs:
			t.Fatalf("waiter: %v", err)
		}
		f.Close() // only after the waiter's SQLite has closed
	})

	t.Run("holder keeps it", func(t *testing.T) {
		holder, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer holder.Close()
		_, err = OpenWith(path, OpenOptions{LockWait: 300 * time.Millisecond})
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "waited 300ms") {
			t.Errorf("got %v, want ErrLocked after waiting", err)
		}
		f, _ := os.Open(path)
		syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) // fails: held
		holder.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			t.Errorf("lock not released by Close: %v", err)
		}
		f.Close()
	})

	t.Run("context cancelled", func(t *testing.T) {
		busy := lockBusy(t)
		holder, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer holder.Close()
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan error, 1)
		go func() {
			_, err := OpenContext(ctx, path, OpenOptions{LockWait: time.Hour})
			got <- err
		}()
		<-busy
		cancel()
		if err := <-got; !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	})
}

// TestOpenReadOnlyFile: a 0444 database (or a 0444 -wal left by an older
// build) is refused before SQLite creates anything, so that the retry
// after chmod works.
func TestOpenReadOnlyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ro.db")
	ourFile(t, path, false)
	os.Chmod(path, 0o444)
	before, listing := fileHash(t, path), listDir(t, dir)
	_, err := Open(path)
	if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "-r--r--r--") {
		t.Fatalf("got %v, want ErrReadOnly naming %s and its mode", err, path)
	}
	if fileHash(t, path) != before || strings.Join(listDir(t, dir), " ") != strings.Join(listing, " ") {
		t.Errorf("something changed: %v → %v", listing, listDir(t, dir))
	}
	os.Chmod(path, 0o644)
	os.WriteFile(path+"-wal", nil, 0o444)
	_, err = Open(path)
	if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), path+"-wal") {
		t.Fatalf("read-only -wal: %v", err)
	}
	os.Chmod(path+"-wal", 0o644)
	d, err := Open(path)
	if err != nil {
		t.Fatalf("after chmod: %v", err)
	}
	d.Close()
}

// TestOpenUnwritableDirectory needs a non-root user: root may write any
// directory (canWrite's rules are tested for every user below).
func TestOpenUnwritableDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root, which may write any directory; TestCanWrite covers the rule")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o555)
	defer os.Chmod(dir, 0o755)
	_, err := Open(filepath.Join(dir, "x.db"))
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("got %v, want ErrReadOnly", err)
	}
	if len(listDir(t, dir)) != 0 {
		t.Errorf("files created: %v", listDir(t, dir))
	}
}

func TestCanWrite(t *testing.T) {
	const owner, group, other = 1000, 100, 2000
	cases := []struct {
		mode   fs.FileMode
		euid   int
		egid   int
		groups []int
		want   bool
	}{
		{0o644, owner, 1, nil, true},
		{0o444, owner, 1, nil, false},
		{0o464, owner, group, nil, false}, // the owner's bits decide for the owner
		{0o464, other, group, nil, true},
		{0o464, other, 7, []int{group}, true}, // supplementary group
		{0o644, other, 7, nil, false},
		{0o646, other, 7, nil, true},
		{0o444, 0, 0, nil, false}, // no write bit: read-only even for root
		{0o200, 0, 0, nil, true},
		{0o600, 0, 0, nil, true},
		{fs.ModeDir | 0o755, owner, 1, nil, true},
		{fs.ModeDir | 0o555, owner, 1, nil, false},
		{fs.ModeDir | 0o655, owner, 1, nil, false}, // no search bit
		{fs.ModeDir | 0o775, other, group, nil, true},
		{fs.ModeDir | 0o755, other, group, nil, false},
		{fs.ModeDir | 0o555, 0, 0, nil, true}, // root writes any directory
	}
	for _, c := range cases {
		if got := canWrite(c.mode, owner, group, c.euid, c.egid, c.groups); got != c.want {
			t.Errorf("canWrite(%v, euid %d, egid %d, groups %v) = %v, want %v", c.mode, c.euid, c.egid, c.groups, got, c.want)
		}
	}
}

// TestSchemaTables: every version's table list comes from the
// migrations, and the latest has the tables a new file gets.
func TestSchemaTables(t *testing.T) {
	latest, err := tablesAt(SchemaVersion())
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open(filepath.Join(t.TempDir(), "n.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, err := schemaNames(d.SQL, "table")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != strings.Join(latest, ",") || !contains(latest, "runs") {
		t.Errorf("new file has %v, schema v%d lists %v", got, SchemaVersion(), latest)
	}
	if cur := currentTables(); strings.Join(cur, ",") != strings.Join(latest, ",") {
		t.Errorf("the registry lists %v, schema v%d %v", cur, SchemaVersion(), latest)
	}
}

// TestOpenWALOnlyFile: a database whose tables are all in its -wal (the
// main file holds only the empty schema, as a kill before the first
// checkpoint leaves it) is judged by the -wal's content: ours opens,
// another program's is refused and left alone.
func TestOpenWALOnlyFile(t *testing.T) {
	// snapshot copies a live database's main file and -wal.
	snapshot := func(t *testing.T, create func(db *sql.DB)) string {
		src := filepath.Join(t.TempDir(), "live.db")
		db, err := sql.Open("sqlite", "file:"+src+"?_pragma=journal_mode(WAL)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		create(db)
		dst := filepath.Join(t.TempDir(), "copy.db")
		for _, side := range []string{"", "-wal"} {
			b, err := os.ReadFile(src + side)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(dst+side, b, 0o644)
		}
		if fi, _ := os.Stat(dst + "-wal"); fi.Size() == 0 {
			t.Fatal("empty -wal")
		}
		// The main file alone (read ignoring the -wal) looks new.
		alone, err := sql.Open("sqlite", "file:"+dst+"?immutable=1")
		if err != nil {
			t.Fatal(err)
		}
		defer alone.Close()
		if names, err := schemaNames(alone, ""); err != nil || len(names) != 0 {
			t.Fatalf("main file alone has %v, %v; the case wants everything in the -wal", names, err)
		}
		return dst
	}
	foreign := snapshot(t, func(db *sql.DB) {
		db.Exec("PRAGMA wal_autocheckpoint = 0")
		if _, err := db.Exec("CREATE TABLE mail (id INTEGER)"); err != nil {
			t.Fatal(err)
		}
	})
	before := fileHash(t, foreign)
	if _, err := Open(foreign); !errors.Is(err, ErrNotOurs) {
		t.Errorf("foreign WAL-only file: %v, want ErrNotOurs", err)
	}
	if fileHash(t, foreign) != before {
		t.Error("foreign file changed")
	}
	ours := snapshot(t, func(db *sql.DB) {
		db.Exec("PRAGMA wal_autocheckpoint = 0")
		for i, m := range migrations {
			if _, err := db.Exec(m); err != nil {
				t.Fatal(err)
			}
			db.Exec(fmt.Sprintf("PRAGMA user_version = %d", i+1))
		}
	})
	d, err := Open(ours)
	if err != nil {
		t.Fatalf("our WAL-only file: %v", err)
	}
	d.Close()
}

// sqliteLocked reports whether /proc/locks shows a POSIX lock of this
// process on path's file (SQLite holds a shared one while it is open in
// WAL mode).
func sqliteLocked(t *testing.T, path string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		t.Skip("no /proc/locks:", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	ino := fi.Sys().(*syscall.Stat_t).Ino
	pid := fmt.Sprint(os.Getpid())
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		// 1: POSIX  ADVISORY  READ 1736 fe:00:9978069 1073741826 1073742335
		if len(f) >= 6 && f[1] == "POSIX" && f[4] == pid && strings.HasSuffix(f[5], fmt.Sprintf(":%d", ino)) {
			return true
		}
	}
	return false
}

// TestStartRunMarksUnendedRuns: a run that never recorded its end (a kill,
// or a full disk that refused EndRun) is marked NoEndRecorded by the next
// run, its ended_ms left NULL; ended runs keep their status.
func TestStartRunMarksUnendedRuns(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	ok, _ := d.StartRun(ctx, RunInfo{Version: "v", Args: "a"})
	if err := d.EndRun(ctx, ok, "ok"); err != nil {
		t.Fatal(err)
	}
	killed, _ := d.StartRun(ctx, RunInfo{Version: "v", Args: "b"})
	next, err := d.StartRun(ctx, RunInfo{Version: "v", Args: "c"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id     int64
		status string
		ended  bool
	}{{ok, "ok", true}, {killed, NoEndRecorded, false}, {next, "", false}} {
		var status sql.NullString
		var ended sql.NullInt64
		if err := d.SQL.QueryRow("SELECT exit_status, ended_ms FROM runs WHERE id = ?", c.id).Scan(&status, &ended); err != nil {
			t.Fatal(err)
		}
		if status.String != c.status || ended.Valid != c.ended {
			t.Errorf("run %d: status %q ended %v, want %q ended %v", c.id, status.String, ended.Valid, c.status, c.ended)
		}
	}
}
