package storage

import (
	"database/sql"
	"path/filepath"
	"testing"
)

// TestMigrateFromV1: a file written by schema v1 is upgraded in place.
func TestMigrateFromV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(migrations[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 1; INSERT INTO runs (started_ms, version, args) VALUES (1, 'old', '')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var v, runs, raw int
	d.SQL.QueryRow("PRAGMA user_version").Scan(&v)
	d.SQL.QueryRow("SELECT count(*) FROM runs").Scan(&runs)
	if err := d.SQL.QueryRow("SELECT count(*) FROM raw_messages").Scan(&raw); err != nil || v != len(migrations) || runs != 1 {
		t.Errorf("after migration: version %d, runs %d, raw_messages %v", v, runs, err)
	}
}
