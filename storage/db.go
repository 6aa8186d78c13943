package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver: pure Go, no cgo
)

// ErrLocked means another collect holds the database.
var ErrLocked = errors.New("database is in use by another danmakud collect")

// DB is an open danmakud database file.
type DB struct {
	SQL  *sql.DB
	path string
	lock *os.File
}

// dsn builds a modernc.org/sqlite DSN with our pragmas: WAL (readers
// never block the writer), a busy timeout, NORMAL sync (durable at each
// checkpoint, safe against corruption in WAL mode), foreign keys off.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	if !readOnly {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
	} else {
		q.Set("mode", "ro")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the database for writing, takes the
// exclusive lock file <path>.lock (ErrLocked if another process has it)
// and migrates the schema. Close releases the lock.
func Open(path string) (*DB, error) {
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("storage: lock file: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("storage: %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("storage: lock %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		lock.Close()
		return nil, err
	}
	db.SetMaxOpenConns(1) // one writer
	d := &DB{SQL: db, path: path, lock: lock}
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
// without the lock; it works while a collect is writing.
func OpenReadOnly(path string) (*DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, err
	}
	d := &DB{SQL: db, path: path}
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		db.Close()
		return nil, fmt.Errorf("storage: %s: %w", path, err)
	}
	if v == 0 || v > len(migrations) {
		db.Close()
		return nil, fmt.Errorf("storage: %s: not a danmakud database (schema version %d)", path, v)
	}
	return d, nil
}

// Close closes the database and releases the lock.
func (d *DB) Close() error {
	err := d.SQL.Close()
	if d.lock != nil {
		_ = syscall.Flock(int(d.lock.Fd()), syscall.LOCK_UN)
		d.lock.Close()
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

// StartRun records a run and returns its id.
func (d *DB) StartRun(ctx context.Context, version, args string) (int64, error) {
	res, err := d.SQL.ExecContext(ctx, "INSERT INTO runs (started_ms, version, args) VALUES (?, ?, ?)",
		time.Now().UnixMilli(), version, args)
	if err != nil {
		return 0, fmt.Errorf("storage: start run: %w", err)
	}
	return res.LastInsertId()
}

// EndRun records how a run ended.
func (d *DB) EndRun(ctx context.Context, id int64, status string) error {
	_, err := d.SQL.ExecContext(ctx, "UPDATE runs SET ended_ms = ?, exit_status = ? WHERE id = ?", time.Now().UnixMilli(), status, id)
	return err
}
