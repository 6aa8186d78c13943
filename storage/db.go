package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"modernc.org/sqlite" // the "sqlite" driver: pure Go, no cgo
)

// danmakud_dedup_hash(key) is DedupHash and danmakud_pack_hex(text)
// packHex in SQL, for the migration to v4 (no schema object uses them:
// other programs read the file without them).
func init() {
	sqlite.MustRegisterDeterministicScalarFunction("danmakud_pack_hex", 1,
		func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			if s, ok := args[0].(string); ok {
				return packHex(s), nil
			}
			return args[0], nil
		})
	sqlite.MustRegisterDeterministicScalarFunction("danmakud_dedup_hash", 1,
		func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			switch k := args[0].(type) {
			case string:
				return DedupHash(k), nil
			case []byte:
				return DedupHash(string(k)), nil
			case nil:
				return nil, nil
			}
			return nil, fmt.Errorf("danmakud_dedup_hash: a key is text, not %T", args[0])
		})
}

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
		if check := migrationChecks[v+1]; check != nil {
			if err := check(tx); err != nil {
				tx.Rollback()
				return fmt.Errorf("storage: %s: cannot migrate to v%d (the file is left at v%d): %w", d.path, v+1, v, err)
			}
		}
		if _, err := tx.Exec(migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("storage: %s: cannot migrate to v%d (the file is left at v%d): %w", d.path, v+1, v, err)
		}
		if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("storage: %s: cannot migrate to v%d (the file is left at v%d): %w", d.path, v+1, v, err)
		}
	}
	return nil
}

// NoEndRecorded is the exit_status StartRun gives earlier runs that never
// recorded their end: killed, crashed, or unable to write it (a full
// disk). Their ended_ms stays NULL: when they stopped is unknown.
const NoEndRecorded = "no end recorded (killed, crashed, or the disk was full)"

// RunInfo is what a run records about itself (StartRun).
type RunInfo struct {
	Version string // the build (runs.version)
	Args    string // the command line, as the user gave it (runs.args)
	// Shard is "K/N" for `collect --shard K/N` (the caller checks the
	// form); "" when the run is not one shard of several.
	Shard string
}

// StartRun records a run and returns its id. It first marks every earlier
// run of this file without an exit_status as NoEndRecorded: the caller
// holds the file's lock (Open), so no such run is still going (runs
// merged from other files are left as their files said).
func (d *DB) StartRun(ctx context.Context, info RunInfo) (int64, error) {
	if _, err := d.SQL.ExecContext(ctx, "UPDATE runs SET exit_status = ? WHERE exit_status IS NULL AND source_db IS NULL", NoEndRecorded); err != nil {
		return 0, fmt.Errorf("storage: %s: start run: %w", d.path, err)
	}
	res, err := d.SQL.ExecContext(ctx, "INSERT INTO runs (started_ms, version, args, shard) VALUES (?, ?, ?, ?)",
		time.Now().UnixMilli(), info.Version, info.Args, info.Shard)
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
