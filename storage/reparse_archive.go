package storage

import (
	"context"
	"database/sql"
	"fmt"
)

// ScanRaw calls fn for every raw_messages row (collect --raw) in
// insertion order, one at a time. body is reused between calls; copy
// what you keep. Read the archive from a second, read-only handle
// (OpenReadOnly) when a Writer on the same file writes meanwhile: Open's
// handle has a single connection.
func (d *DB) ScanRaw(ctx context.Context, fn func(roomID, recvMs int64, cmd string, body []byte) error) error {
	rows, err := d.SQL.QueryContext(ctx, "SELECT room_id, recv_ms, cmd, body FROM raw_messages ORDER BY rowid")
	if err != nil {
		return fmt.Errorf("storage: read raw_messages: %w", err)
	}
	defer rows.Close()
	var room, recv int64
	var cmd string
	var body []byte
	for rows.Next() {
		if err := rows.Scan(&room, &recv, &cmd, &body); err != nil {
			return fmt.Errorf("storage: read raw_messages: %w", err)
		}
		if err := fn(room, recv, cmd, body); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("storage: read raw_messages: %w", err)
	}
	return nil
}

// distinctInts is the set of values of t's stored INTEGER column col,
// over the rows where (when not "").
func (d *DB) distinctInts(ctx context.Context, t *Table, col, where string) (map[int64]bool, error) {
	q := "SELECT DISTINCT " + col + " FROM " + t.Stored()
	if where != "" {
		q += " WHERE " + where
	}
	rows, err := d.SQL.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("storage: %s of %s: %w", col, t.Name, err)
	}
	defer rows.Close()
	set := map[int64]bool{}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("storage: %s of %s: %w", col, t.Name, err)
		}
		set[v] = true
	}
	return set, rows.Err()
}

// distinctStrings is the set of values of t's TEXT column col (NULL
// counts as "").
func (d *DB) distinctStrings(ctx context.Context, t *Table, col string) (map[string]bool, error) {
	rows, err := d.SQL.QueryContext(ctx, "SELECT DISTINCT "+col+" FROM "+t.Stored())
	if err != nil {
		return nil, fmt.Errorf("storage: %s of %s: %w", col, t.Name, err)
	}
	defer rows.Close()
	set := map[string]bool{}
	for rows.Next() {
		var v sql.NullString
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("storage: %s of %s: %w", col, t.Name, err)
		}
		set[v.String] = true
	}
	return set, rows.Err()
}
