package storage

// The inputs of a merge: which files may be merged, and what they are.

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Errors of Merge (besides Open's for the output), each wrapped in a
// message naming the file and the cause.
var (
	// ErrOtherSchema means an input has an older schema version than
	// this build's: merge reads only files of its own version, and never
	// migrates an input (it does not write inputs).
	ErrOtherSchema = errors.New("database has another schema version")
	// ErrOverlap means files given together hold the same rows: two
	// copies of one database, a file and one it holds merged in, or (for
	// Merge) an input already in the output through another merged file.
	// Reading or merging both would count the rows without a unique key
	// twice.
	ErrOverlap = errors.New("the files overlap")
)

// mergeInput is one input file, checked and share-locked.
type mergeInput struct {
	path   string
	id     string
	nested []nestedInput // what the input holds merged from other files
	wal    bool          // a non-empty -wal: read through it (mode=ro)
	lock   *os.File      // holds a shared flock until close
	warn   []string
}

// nestedInput is a merged_inputs row of an input.
type nestedInput struct {
	id, path string
	finished sql.NullInt64
}

func (in *mergeInput) close() {
	if in.lock != nil {
		in.lock.Close() // also drops the flock
		in.lock = nil
	}
}

// uri is how SQLite opens the input: immutable (no locks, no side files)
// unless a -wal holds part of it.
func (in *mergeInput) uri() string {
	if in.wal {
		return "file:" + uriPath(in.path) + "?mode=ro"
	}
	return "file:" + uriPath(in.path) + "?immutable=1"
}

// openInput checks that path is a danmakud database of this build's
// schema version, without writing anything to it, and takes a shared
// lock on it: a collect cannot start on it while the merge reads it, and
// one that runs on it now makes openInput fail with ErrLocked. The
// checks, in order: a regular file; an SQLite header (else ErrNotOurs);
// a danmakud schema (ErrNotOurs, ErrNewerSchema); exactly this build's
// version (else ErrOtherSchema). The file is opened only read-only.
func openInput(path string) (_ *mergeInput, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("storage: merge input %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("storage: %s: %w: %s", path, ErrNotOurs, kindOf(fi))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("storage: merge input %w", err)
	}
	in := &mergeInput{path: path, lock: f}
	defer func() {
		if err != nil {
			in.close()
		}
	}()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("storage: %s: %w: merge it when that run has ended", path, ErrLocked)
		}
		return nil, fmt.Errorf("storage: lock %s: %w", path, err)
	}
	if fi.Size() == 0 {
		return nil, fmt.Errorf("storage: %s: %w: an empty file", path, ErrNotOurs)
	}
	if err := checkHeader(path, f, fi.Size()); err != nil {
		return nil, err
	}
	wfi, err := os.Stat(path + "-wal")
	in.wal = err == nil && wfi.Size() > 0
	if err := in.read(); err != nil {
		return nil, err
	}
	if ents, err := os.ReadDir(path + ".frames"); err == nil && len(ents) > 0 {
		in.warn = append(in.warn, fmt.Sprintf("%s has a frame journal (%s.frames): frames read by its last collect and not yet stored are not merged; run collect on it once to store them, then merge it again", path, path))
	}
	return in, nil
}

// read checks the schema and reads the input's id and what it holds
// merged.
func (in *mergeInput) read() error {
	db, err := sql.Open("sqlite", in.uri())
	if err != nil {
		return fmt.Errorf("storage: %s: %w", in.path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	fresh, err := checkSchema(in.path, db)
	if err != nil {
		return err
	}
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("storage: %s: %w", in.path, err)
	}
	switch {
	case fresh:
		return fmt.Errorf("storage: %s: %w: an empty database (no tables, schema version 0)", in.path, ErrNotOurs)
	case v != SchemaVersion():
		return fmt.Errorf("storage: %s: %w: schema version %d, merge reads version %d only: open it once with collect or reparse of this build to migrate it (merge never writes an input)",
			in.path, ErrOtherSchema, v, SchemaVersion())
	}
	if err := db.QueryRow("SELECT db_id FROM database_id").Scan(&in.id); err != nil {
		return fmt.Errorf("storage: %s: its id: %w", in.path, err)
	}
	rows, err := db.Query("SELECT input_id, path, finished_ms FROM merged_inputs ORDER BY rowid")
	if err != nil {
		return fmt.Errorf("storage: %s: %w", in.path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var n nestedInput
		if err := rows.Scan(&n.id, &n.path, &n.finished); err != nil {
			return fmt.Errorf("storage: %s: %w", in.path, err)
		}
		if !n.finished.Valid {
			in.warn = append(in.warn, fmt.Sprintf("%s holds an unfinished merge of %s: what that merge did not reach is missing here too", in.path, n.path))
		}
		in.nested = append(in.nested, n)
	}
	return rows.Err()
}

// mergedSet is what a merge output holds: its own id, and per merged
// input id the id of the file it came through ("" = merged directly)
// and its path.
type mergedSet struct {
	own  string
	via  map[string]string
	path map[string]string
}

func newMergedSet(own string) *mergedSet {
	return &mergedSet{own: own, via: map[string]string{}, path: map[string]string{}}
}

// check refuses an input that is the output, is in it through another
// file, or holds a file the output has otherwise (ErrOverlap).
func (m *mergedSet) check(in *mergeInput, out string) error {
	if in.id == m.own {
		return fmt.Errorf("storage: %s: %w: it is %s's own database (a copy of it)", in.path, ErrOverlap, out)
	}
	if v, ok := m.via[in.id]; ok && v != "" {
		return fmt.Errorf("storage: %s: %w: %s holds it already, merged from %s", in.path, ErrOverlap, out, m.path[v])
	}
	for _, n := range in.nested {
		if n.id == m.own {
			return fmt.Errorf("storage: %s: %w: it holds %s itself (merged into it earlier)", in.path, ErrOverlap, out)
		}
		if v, ok := m.via[n.id]; ok && v != in.id {
			how := "directly"
			if v != "" {
				how = "from " + m.path[v]
			}
			return fmt.Errorf("storage: %s: %w: it holds %s, which %s has already (merged %s): its rows without a unique key would count twice",
				in.path, ErrOverlap, n.path, out, how)
		}
	}
	return nil
}

// add records in as merged directly, and what it holds as through it.
func (m *mergedSet) add(in *mergeInput) {
	m.via[in.id], m.path[in.id] = "", in.path
	for _, n := range in.nested {
		m.via[n.id], m.path[n.id] = in.id, n.path
	}
}
