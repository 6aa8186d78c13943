package storage

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver: pure Go, no cgo
)

// Errors from Open; each is wrapped in a message that names the database
// path as the caller gave it and the cause, so errors.Is picks the class
// (collect maps ErrLocked to exit 4 and the others to a refusal).
var (
	// ErrLocked means another danmakud holds the database file.
	ErrLocked = errors.New("database is in use by another danmakud collect")
	// ErrNotOurs means the path is not a danmakud database: a directory,
	// not an SQLite file, or another program's SQLite file. Open left it
	// untouched.
	ErrNotOurs = errors.New("not a danmakud database")
	// ErrNewerSchema means the file was written by a newer danmakud
	// (schema version above SchemaVersion()).
	ErrNewerSchema = errors.New("database was written by a newer danmakud")
	// ErrCorrupt means the file is a damaged SQLite database (truncated,
	// or PRAGMA quick_check found errors). Open left it untouched.
	ErrCorrupt = errors.New("database file is corrupt")
	// ErrReadOnly means the file, its directory or a -wal/-shm beside it
	// cannot be written; Open refused before SQLite created anything.
	ErrReadOnly = errors.New("database is not writable")
)

// DB is an open danmakud database file.
type DB struct {
	SQL  *sql.DB
	path string
	lock *lockHandle // nil for OpenReadOnly
}

// OpenOptions tune Open.
type OpenOptions struct {
	// LockWait is how long Open waits for another danmakud that holds
	// the file to let go before it returns ErrLocked; 0 = do not wait.
	// While waiting it polls every lockPoll (100 ms).
	LockWait time.Duration
	// QuickCheckMax is the largest file (bytes) that gets a PRAGMA
	// quick_check at every open (it reads the whole file, ~300 MB/s);
	// larger files are checked only when their last run did not record
	// its end (a crash or kill). 0 = DefaultQuickCheckMax; < 0 = always.
	QuickCheckMax int64
}

// DefaultQuickCheckMax is OpenOptions.QuickCheckMax's default: 1 GiB,
// a few seconds of quick_check.
const DefaultQuickCheckMax = 1 << 30

// lockPoll is how often a waiting Open retries the lock.
const lockPoll = 100 * time.Millisecond

// sqliteMagic starts every SQLite 3 database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// dsn builds a modernc.org/sqlite DSN with our pragmas: WAL (readers
// never block the writer), a busy timeout, NORMAL sync (durable at each
// checkpoint, safe against corruption in WAL mode), foreign keys off.
func dsn(path string, readOnly bool) string {
	q := "_pragma=busy_timeout(10000)"
	if !readOnly {
		q += "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	} else {
		q += "&mode=ro"
	}
	return "file:" + uriPath(path) + "?" + q
}

// uriPath escapes the characters that would end or alter the path part
// of an SQLite file: URI.
func uriPath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

// Open opens the danmakud database at path for writing, creating it if
// it does not exist, with no lock wait. See OpenContext.
func Open(path string) (*DB, error) {
	return OpenContext(context.Background(), path, OpenOptions{})
}

// OpenWith is OpenContext without a context.
func OpenWith(path string, opts OpenOptions) (*DB, error) {
	return OpenContext(context.Background(), path, opts)
}

// OpenContext opens the danmakud database at path for writing.
//
// It never modifies a file that is not ours. Before SQLite writes
// anything (journal mode, migrations) it checks, in order:
//   - path is a regular file or does not exist (a missing or empty file
//     becomes a new database), else ErrNotOurs;
//   - the file, its directory and any -wal/-shm beside it are writable
//     (mode bits as access(2) reads them, except that a file without any
//     write bit counts as read-only even for root; and no read-only
//     mount), else ErrReadOnly, so no -wal is created for a read-only
//     file;
//   - it holds the exclusive lock: flock(2) on the database file itself,
//     so a hard link or symlink of the same file is the same lock, else it
//     waits up to opts.LockWait (or until ctx ends) and returns ErrLocked
//     (or ctx's error);
//   - the content, read with SQLite in read-only mode: an SQLite header
//     (else ErrNotOurs), a file not shorter than its header says (else
//     ErrCorrupt), user_version 0 with no tables (new) or 1..SchemaVersion()
//     with every table that version has (else ErrNotOurs; above
//     SchemaVersion() ErrNewerSchema), and PRAGMA quick_check "ok" (else
//     ErrCorrupt; see OpenOptions.QuickCheckMax).
//
// Only then is the file switched to WAL and migrated. Every error names
// path as given and the cause. The lock is held until Close. Open holds
// one descriptor of the file for the lock besides SQLite's and closes it
// only after SQLite has closed: in one process, a second Open of the
// same file (by any name) waits for or is refused by the first without
// opening the file, because closing any descriptor of a file drops the
// process's POSIX locks on it, which SQLite relies on.
//
// OpenContext is safe for concurrent use. It blocks at most about
// opts.LockWait (plus the checks: quick_check reads the file at roughly
// 300 MB/s), polling every 100 ms for a holder in another process and
// waking at once when a holder in this process closes.
func OpenContext(ctx context.Context, path string, opts OpenOptions) (*DB, error) {
	lk, err := acquire(ctx, path, opts.LockWait)
	if err != nil {
		return nil, err
	}
	if err := inspect(path, lk.f, opts.QuickCheckMax); err != nil {
		lk.release()
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		lk.release()
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // one writer
	d := &DB{SQL: db, path: path, lock: lk}
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		d.Close()
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		d.Close()
		return nil, fmt.Errorf("storage: %s: journal mode is %q, want wal", path, mode)
	}
	if err := d.migrate(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// OpenReadOnly opens an existing database for queries (stats, export)
// without the lock; it works while a collect is writing, in this process
// too. A file that is not an SQLite database or not ours is refused with
// ErrNotOurs, a newer one with ErrNewerSchema. The file is never written,
// but on a WAL-mode file SQLite may create the -wal and -shm beside it.
func OpenReadOnly(path string) (*DB, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("storage: %s: %w: %s", path, ErrNotOurs, kindOf(fi))
	}
	// No descriptor of our own here (SQLite judges the header): closing
	// one would drop the POSIX locks of every SQLite connection to the
	// file in this process.
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, err
	}
	fresh, err := checkSchema(path, db)
	if err == nil && fresh {
		err = fmt.Errorf("storage: %s: %w: an empty database (no tables, schema version 0)", path, ErrNotOurs)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return &DB{SQL: db, path: path}, nil
}

// Path is the database path as given to Open.
func (d *DB) Path() string { return d.path }

// Explain names the file in an error from a query on d, and marks an
// SQLite "malformed" or "not a database" error (a page damaged after
// Open's checks, which read only the structure, or a file changed under
// us) as ErrCorrupt. nil stays nil; an error already naming the file is
// returned as it is.
func (d *DB) Explain(err error) error {
	if err == nil || strings.Contains(err.Error(), d.path) {
		return err
	}
	var se interface{ Code() int }
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 11, 26: // SQLITE_CORRUPT, SQLITE_NOTADB
			return fmt.Errorf("storage: %s: %w: %v", d.path, ErrCorrupt, err)
		}
	}
	return fmt.Errorf("%s: %w", d.path, err)
}

// Close closes the database, then releases the lock.
func (d *DB) Close() error {
	err := d.SQL.Close()
	if d.lock != nil {
		d.lock.release()
		d.lock = nil
	}
	return err
}

// SchemaVersion is the PRAGMA user_version this build writes.
func SchemaVersion() int { return len(migrations) }

func (d *DB) migrate() error {
	var v int
	if err := d.SQL.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("storage: read schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("storage: %s has schema version %d, newer than this build's %d", d.path, v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		tx, err := d.SQL.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("storage: migrate to v%d: %w", v+1, err)
		}
		if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("storage: migrate to v%d: %w", v+1, err)
		}
	}
	return nil
}

// NoEndRecorded is the exit_status StartRun gives earlier runs that never
// recorded their end: killed, crashed, or unable to write it (a full
// disk). Their ended_ms stays NULL: when they stopped is unknown.
const NoEndRecorded = "no end recorded (killed, crashed, or the disk was full)"

// StartRun records a run and returns its id. It first marks every earlier
// run without an exit_status as NoEndRecorded: the caller holds the file's
// lock (Open), so no such run is still going.
func (d *DB) StartRun(ctx context.Context, version, args string) (int64, error) {
	if _, err := d.SQL.ExecContext(ctx, "UPDATE runs SET exit_status = ? WHERE exit_status IS NULL", NoEndRecorded); err != nil {
		return 0, fmt.Errorf("storage: %s: start run: %w", d.path, err)
	}
	res, err := d.SQL.ExecContext(ctx, "INSERT INTO runs (started_ms, version, args) VALUES (?, ?, ?)",
		time.Now().UnixMilli(), version, args)
	if err != nil {
		return 0, fmt.Errorf("storage: %s: start run: %w", d.path, err)
	}
	return res.LastInsertId()
}

// EndRun records how a run ended. When that cannot be written (a full
// disk), the error says so and the next StartRun marks the run
// NoEndRecorded.
func (d *DB) EndRun(ctx context.Context, id int64, status string) error {
	_, err := d.SQL.ExecContext(ctx, "UPDATE runs SET ended_ms = ?, exit_status = ? WHERE id = ?", time.Now().UnixMilli(), status, id)
	if err != nil {
		return fmt.Errorf("storage: %s: recording the end of run %d (%q) failed: %w; the next run will mark it %q", d.path, id, status, err, NoEndRecorded)
	}
	return nil
}

// ---- the lock ----

// fileKey identifies a file whatever name it is reached by.
type fileKey struct{ dev, ino uint64 }

func keyOf(fi os.FileInfo) (fileKey, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}, false
	}
	return fileKey{uint64(st.Dev), uint64(st.Ino)}, true
}

// holder is this process's claim on one database file.
type holder struct {
	released chan struct{} // closed when the claim ends
	parked   []*os.File    // descriptors of the file to close only after the holder's SQLite
}

// held maps the files this process has claimed (or is claiming) to their
// claim. A second Open of a held file waits on the claim instead of
// opening the file.
var held = struct {
	sync.Mutex
	m map[fileKey]*holder
}{m: map[fileKey]*holder{}}

// lockHandle is a held lock: the flock'ed descriptor and the claim.
type lockHandle struct {
	f   *os.File
	key fileKey
	h   *holder
}

// release closes the descriptors (call it after SQLite has closed the
// file), then ends the claim.
func (l *lockHandle) release() {
	held.Lock()
	parked := l.h.parked
	l.h.parked = nil
	held.Unlock()
	for _, f := range parked {
		f.Close()
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	held.Lock()
	if held.m[l.key] == l.h {
		delete(held.m, l.key)
	}
	held.Unlock()
	close(l.h.released)
}

// testHookLockBusy, when set, is called each time Open finds the lock
// taken and is about to wait (tests synchronise on it).
var testHookLockBusy func()

// acquire checks path's type and writability, creates it if missing,
// and takes the lock (see OpenContext).
func acquire(ctx context.Context, path string, wait time.Duration) (*lockHandle, error) {
	deadline := time.Now().Add(wait)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	// waitFor blocks until ch is closed, the next poll is due (ch nil),
	// the deadline passes (ErrLocked) or ctx ends.
	waitFor := func(ch <-chan struct{}) error {
		if testHookLockBusy != nil {
			testHookLockBusy()
		}
		left := time.Until(deadline)
		if left <= 0 {
			if wait > 0 {
				return fmt.Errorf("storage: %s: %w (waited %s)", path, ErrLocked, wait)
			}
			return fmt.Errorf("storage: %s: %w", path, ErrLocked)
		}
		if ch == nil {
			left = min(left, lockPoll)
		}
		if timer == nil {
			timer = time.NewTimer(left)
		} else {
			timer.Reset(left)
		}
		select {
		case <-ch:
		case <-timer.C:
		case <-ctx.Done():
			return fmt.Errorf("storage: %s: waiting for the lock: %w", path, ctx.Err())
		}
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("storage: %s: %w", path, err)
		}
		f, err := openForLock(path)
		if err != nil {
			return nil, err
		}
		if f == nil { // held in this process: wait without opening the file
			if err := waitClaimed(path, waitFor); err != nil {
				return nil, err
			}
			continue
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("storage: %s: %w", path, err)
		}
		key, _ := keyOf(fi)
		held.Lock()
		if h := held.m[key]; h != nil {
			// Claimed in this process since we looked: closing f now would
			// drop that holder's SQLite locks, so it closes f for us.
			h.parked = append(h.parked, f)
			held.Unlock()
			if err := waitFor(h.released); err != nil {
				return nil, err
			}
			continue
		}
		h := &holder{released: make(chan struct{})}
		held.m[key] = h
		held.Unlock()
		lk := &lockHandle{f: f, key: key, h: h}
		for {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
				break
			}
			if werr := waitFor(nil); werr != nil {
				lk.release()
				return nil, werr
			}
		}
		if err != nil {
			lk.release()
			return nil, fmt.Errorf("storage: lock %s: %w", path, err)
		}
		// The name may have been pointed at another file meanwhile (the
		// file replaced or removed): then start over with what it names now.
		if now, err := os.Stat(path); err != nil || !os.SameFile(now, fi) {
			lk.release()
			continue
		}
		return lk, nil
	}
}

// waitClaimed waits for this process's claim on path's file, if any.
func waitClaimed(path string, waitFor func(<-chan struct{}) error) error {
	fi, err := os.Stat(path)
	if err != nil {
		return nil // gone: the caller looks again
	}
	key, _ := keyOf(fi)
	held.Lock()
	h := held.m[key]
	held.Unlock()
	if h == nil {
		return nil
	}
	return waitFor(h.released)
}

// openForLock checks path and returns a descriptor of the file to lock,
// creating an empty file if none exists; nil (and no error) when this
// process already claims the file, which is then not opened.
func openForLock(path string) (*os.File, error) {
	for {
		fi, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			if err := checkDirWritable(path); err != nil {
				return nil, err
			}
			f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
			if errors.Is(err, fs.ErrExist) {
				continue // created by someone else meanwhile
			}
			if err != nil {
				return nil, fmt.Errorf("storage: create %s: %w", path, err)
			}
			return f, nil
		}
		if err != nil {
			return nil, fmt.Errorf("storage: %s: %w", path, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("storage: %s: %w: %s", path, ErrNotOurs, kindOf(fi))
		}
		if key, ok := keyOf(fi); ok {
			held.Lock()
			h := held.m[key]
			held.Unlock()
			if h != nil {
				return nil, nil
			}
		}
		if err := checkWritable(path, fi); err != nil {
			return nil, err
		}
		// Read-only: the descriptor only carries the flock and reads the
		// header; it can never change the file.
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("storage: %s: %w", path, err)
		}
		return f, nil
	}
}

func kindOf(fi os.FileInfo) string {
	switch m := fi.Mode(); {
	case m.IsDir():
		return "it is a directory"
	case m&fs.ModeNamedPipe != 0:
		return "it is a named pipe"
	case m&fs.ModeSocket != 0:
		return "it is a socket"
	case m&fs.ModeDevice != 0:
		return "it is a device"
	default:
		return "it is not a regular file"
	}
}

// ---- writability ----

// checkWritable: the file, its directory and any -wal/-shm beside it
// must be writable, so that SQLite never opens the file read-only (and
// then leaves a read-only -wal behind that breaks the next run).
func checkWritable(path string, fi os.FileInfo) error {
	if err := writableByMode(path, fi, "the database file"); err != nil {
		return err
	}
	for _, side := range []string{"-wal", "-shm"} {
		sfi, err := os.Stat(path + side)
		if err != nil {
			continue
		}
		if err := writableByMode(path+side, sfi, "the database's "+side+" file"); err != nil {
			return fmt.Errorf("%w; if %s is ours, make it writable (chmod u+w %s), do not delete it: it may hold data", err, path, path+side)
		}
	}
	return checkDirWritable(path)
}

// checkDirWritable: SQLite creates path-wal and path-shm in path's
// directory.
func checkDirWritable(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("storage: %s: directory %s: %w", path, dir, err)
	}
	if err := writableByMode(dir, fi, "its directory "+dir); err != nil {
		return fmt.Errorf("storage: %s: %w: %s is not writable, and SQLite needs to create %s-wal there", path, ErrReadOnly, dir, filepath.Base(path))
	}
	return nil
}

// writableByMode returns ErrReadOnly (naming what) when the process may
// not write name: by its mode bits (canWrite) or because its filesystem
// is mounted read-only.
func writableByMode(name string, fi os.FileInfo, what string) error {
	uid, gid := uint32(0), uint32(0)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		uid, gid = st.Uid, st.Gid
	}
	groups, _ := os.Getgroups()
	if !canWrite(fi.Mode(), uid, gid, os.Geteuid(), os.Getegid(), groups) {
		return fmt.Errorf("storage: %s: %w: %s has mode %v and is owned by uid %d (running as uid %d)",
			name, ErrReadOnly, what, fi.Mode().Perm(), uid, os.Geteuid())
	}
	if err := syscall.Access(name, 2 /* W_OK */); errors.Is(err, syscall.EROFS) {
		return fmt.Errorf("storage: %s: %w: %s is on a read-only filesystem", name, ErrReadOnly, what)
	}
	return nil
}

// canWrite decides from permission bits whether a process (euid, egid,
// supplementary groups) may write a file or directory with mode, owned
// by fuid:fgid, as access(2) does: the owner's bits for the owner, else
// the group's for a member, else the others'; a directory also needs
// search (x). Root passes every check except one: a regular file with no
// write bit at all is read-only by intent and refused for root too.
func canWrite(mode fs.FileMode, fuid, fgid uint32, euid, egid int, groups []int) bool {
	perm := mode.Perm()
	if euid == 0 {
		return mode.IsDir() || perm&0o222 != 0
	}
	var bits fs.FileMode
	switch {
	case uint32(euid) == fuid:
		bits = (perm >> 6) & 7
	case uint32(egid) == fgid || containsGroup(groups, fgid):
		bits = (perm >> 3) & 7
	default:
		bits = perm & 7
	}
	if mode.IsDir() {
		return bits&3 == 3
	}
	return bits&2 != 0
}

func containsGroup(groups []int, g uint32) bool {
	for _, x := range groups {
		if uint32(x) == g {
			return true
		}
	}
	return false
}

// ---- what is in the file ----

// checkHeader reads the 100-byte header through f (the lock's
// descriptor of path) and returns ErrNotOurs unless it is an SQLite 3
// database, or ErrCorrupt when the file is shorter than the header says
// and no non-empty -wal could account for it.
func checkHeader(path string, f *os.File, size int64) error {
	if size == 0 {
		return nil
	}
	hdr := make([]byte, 100)
	n, err := f.ReadAt(hdr, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("storage: %s: read header: %w", path, err)
	}
	hdr = hdr[:n]
	if n < 100 || !bytes.HasPrefix(hdr, sqliteMagic) {
		return fmt.Errorf("storage: %s: %w: not an SQLite database (it starts with %q); refusing to touch it", path, ErrNotOurs, printable(hdr[:min(n, 16)]))
	}
	pageSize := int64(binary.BigEndian.Uint16(hdr[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	pages := int64(binary.BigEndian.Uint32(hdr[28:32]))
	valid := bytes.Equal(hdr[24:28], hdr[92:96])
	if wfi, err := os.Stat(path + "-wal"); err == nil && wfi.Size() > 0 {
		return nil // the WAL holds newer pages; SQLite judges the pair
	}
	if valid && pages > 0 && pageSize >= 512 && size < pages*pageSize {
		return fmt.Errorf("storage: %s: %w: truncated: its header says %d pages of %d bytes (%d bytes), the file has %d bytes",
			path, ErrCorrupt, pages, pageSize, pages*pageSize, size)
	}
	return nil
}

func printable(b []byte) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '.'
		}
		return r
	}, string(b))
}

// inspect decides, under the lock and through a read-only SQLite
// connection, whether the file at path (whose descriptor f is) is a new
// or danmakud database we may write.
func inspect(path string, f *os.File, quickMax int64) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("storage: %s: %w", path, err)
	}
	// With a non-empty -wal SQLite must read it (mode=ro; it may add a
	// -shm beside it): a database created in WAL mode can be all in its
	// -wal, its main file still empty. Without one the file alone is the
	// database, and immutable=1 reads it without locks or side files.
	wfi, err := os.Stat(path + "-wal")
	hasWAL := err == nil && wfi.Size() > 0
	if fi.Size() == 0 && !hasWAL {
		return nil
	}
	if err := checkHeader(path, f, fi.Size()); err != nil {
		return err
	}
	q := "immutable=1"
	if hasWAL {
		q = "mode=ro&_pragma=busy_timeout(10000)"
	}
	ro, err := sql.Open("sqlite", "file:"+uriPath(path)+"?"+q)
	if err != nil {
		return fmt.Errorf("storage: %s: %w", path, err)
	}
	defer ro.Close()
	ro.SetMaxOpenConns(1)
	corrupt := func(err error) error {
		return fmt.Errorf("storage: %s: %w: %v; refusing to touch it", path, ErrCorrupt, err)
	}
	fresh, err := checkSchema(path, ro)
	if err != nil || fresh {
		return err
	}
	check := quickMax < 0 || fi.Size() <= cmp(quickMax, DefaultQuickCheckMax)
	if !check {
		var open bool
		err := ro.QueryRow("SELECT ended_ms IS NULL FROM runs ORDER BY id DESC LIMIT 1").Scan(&open)
		check = err != nil && !errors.Is(err, sql.ErrNoRows) || open
	}
	if check {
		rows, err := ro.Query("PRAGMA quick_check(5)")
		if err != nil {
			return corrupt(err)
		}
		var msgs []string
		for rows.Next() {
			var m string
			if err := rows.Scan(&m); err != nil {
				rows.Close()
				return corrupt(err)
			}
			msgs = append(msgs, m)
		}
		if err := rows.Close(); err != nil {
			return corrupt(err)
		}
		if err := rows.Err(); err != nil {
			return corrupt(err)
		}
		if len(msgs) != 1 || msgs[0] != "ok" {
			return corrupt(fmt.Errorf("quick_check: %s", strings.Join(msgs, "; ")))
		}
	}
	return nil
}

// checkSchema reads user_version and the schema through db: a file with
// nothing in it is fresh; else it must be a danmakud schema this build
// can write (ErrNotOurs, ErrNewerSchema, or ErrCorrupt when unreadable).
func checkSchema(path string, ro *sql.DB) (fresh bool, err error) {
	corrupt := func(err error) error {
		var se interface{ Code() int }
		if errors.As(err, &se) && se.Code()&0xff == 26 { // SQLITE_NOTADB
			return fmt.Errorf("storage: %s: %w: not an SQLite database (%v); refusing to touch it", path, ErrNotOurs, err)
		}
		return fmt.Errorf("storage: %s: %w: %v; refusing to touch it", path, ErrCorrupt, err)
	}
	var v int
	if err := ro.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		return false, corrupt(err)
	}
	tables, err := schemaNames(ro, "table")
	if err != nil {
		return false, corrupt(err)
	}
	objects, err := schemaNames(ro, "")
	if err != nil {
		return false, corrupt(err)
	}
	switch {
	case v == 0 && len(objects) == 0:
		return true, nil // new: created by us (or empty) and not migrated yet
	case v == 0:
		return false, fmt.Errorf("storage: %s: %w: an SQLite database of another program (user_version 0; %s); refusing to touch it",
			path, ErrNotOurs, listNames(objects))
	case v > len(migrations):
		return false, fmt.Errorf("storage: %s: %w: schema version %d, this build writes %d; use a newer danmakud",
			path, ErrNewerSchema, v, len(migrations))
	}
	want, err := tablesAt(v)
	if err != nil {
		return false, fmt.Errorf("storage: schema v%d: %w", v, err)
	}
	var missing []string
	for _, t := range want {
		if !contains(tables, t) {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return false, fmt.Errorf("storage: %s: %w: user_version %d but no table %s; refusing to touch it",
			path, ErrNotOurs, v, listNames(missing))
	}
	return false, nil
}

// cmp returns v, or def when v is 0.
func cmp(v, def int64) int64 {
	if v == 0 {
		return def
	}
	return v
}

// schemaNames lists the names in sqlite_master of one type ("table",
// "index", …; "" = all types, shown as "type name"), without SQLite's own.
func schemaNames(db *sql.DB, typ string) ([]string, error) {
	rows, err := db.Query(`SELECT CASE WHEN ?1 = '' THEN type || ' ' || name ELSE name END FROM sqlite_master
		WHERE (?1 = '' OR type = ?1) AND name NOT LIKE 'sqlite_%' ORDER BY name`, typ)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// listNames shows at most 5 names.
func listNames(names []string) string {
	if len(names) > 5 {
		return strings.Join(names[:5], ", ") + fmt.Sprintf(" and %d more", len(names)-5)
	}
	return strings.Join(names, ", ")
}

// schemaTables[v] lists the tables of schema version v (index 0 unused),
// found by running the migrations on an in-memory database once.
var schemaTables struct {
	once   sync.Once
	tables [][]string
	err    error
}

func tablesAt(v int) ([]string, error) {
	s := &schemaTables
	s.once.Do(func() {
		db, err := sql.Open("sqlite", "file::memory:")
		if err != nil {
			s.err = err
			return
		}
		defer db.Close()
		db.SetMaxOpenConns(1) // one in-memory database
		s.tables = make([][]string, len(migrations)+1)
		for i, m := range migrations {
			if _, err := db.Exec(m); err != nil {
				s.err = fmt.Errorf("migration %d: %w", i+1, err)
				return
			}
			names, err := schemaNames(db, "table")
			if err != nil {
				s.err = err
				return
			}
			sort.Strings(names)
			s.tables[i+1] = names
		}
	})
	if s.err != nil {
		return nil, s.err
	}
	return s.tables[v], nil
}
