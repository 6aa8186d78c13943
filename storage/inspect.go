package storage

// What is in the file: the header, the schema and the quick checks made
// before a file is trusted as a danmakud database.

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
)

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
	want := currentTables()
	if v < len(migrations) {
		if want, err = tablesAt(v); err != nil {
			return false, fmt.Errorf("storage: schema v%d: %w", v, err)
		}
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
// "index", …; "table" includes views, which readers use as tables; "" =
// all types, shown as "type name"), without SQLite's own.
func schemaNames(db *sql.DB, typ string) ([]string, error) {
	rows, err := db.Query(`SELECT CASE WHEN ?1 = '' THEN type || ' ' || name ELSE name END FROM sqlite_master
		WHERE (?1 = '' OR type = ?1 OR (?1 = 'table' AND type = 'view')) AND name NOT LIKE 'sqlite_%' ORDER BY name`, typ)
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

// currentTables lists the tables and views of the current schema, from
// the registry (TestSchemaTables holds it equal to what the migrations
// make): a file of the current version is checked without running them.
func currentTables() []string {
	var names []string
	for _, t := range registry {
		names = append(names, t.Stored())
		if t.Store != "" {
			names = append(names, t.Name)
		}
	}
	sort.Strings(names)
	return names
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
