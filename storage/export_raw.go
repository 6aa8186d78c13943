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

// RoomsWithRows is the set of room ids that have at least one row in
// the named table (which must have a room_id column); with keyless, only
// rows whose dedup_key is NULL count (interactions without a trigger
// time, which the unique key does not hold).
func (d *DB) RoomsWithRows(ctx context.Context, table string, keyless bool) (map[int64]bool, error) {
	t := TableNamed(table)
	if t == nil {
		return nil, fmt.Errorf("storage: no table %q", table)
	}
	q := "SELECT DISTINCT room_id FROM " + t.Name
	if keyless {
		q += " WHERE dedup_key IS NULL"
	}
	rows, err := d.SQL.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("storage: rooms of %s: %w", t.Name, err)
	}
	defer rows.Close()
	set := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("storage: rooms of %s: %w", t.Name, err)
		}
		set[id] = true
	}
	return set, rows.Err()
}

// UnknownCmds is the set of commands unknown_commands counts.
func (d *DB) UnknownCmds(ctx context.Context) (map[string]bool, error) {
	rows, err := d.SQL.QueryContext(ctx, "SELECT cmd FROM unknown_commands")
	if err != nil {
		return nil, fmt.Errorf("storage: unknown_commands: %w", err)
	}
	defer rows.Close()
	set := map[string]bool{}
	for rows.Next() {
		var c sql.NullString
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("storage: unknown_commands: %w", err)
		}
		set[c.String] = true
	}
	return set, rows.Err()
}
