package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/danmakud/danmakud/protocol"
)

// ExportFilter selects the rows an export reads. The zero value selects
// everything.
type ExportFilter struct {
	// Rooms, when not empty, keeps only these real room ids.
	Rooms []int64
	// SinceMs and UntilMs bound recv_ms (the local receive time, unix ms,
	// which every event table has): SinceMs <= recv_ms < UntilMs. 0 means
	// unbounded.
	SinceMs, UntilMs int64
}

// where is the filter as an SQL condition over the given room and time
// columns (or expressions) ("" when it selects everything) and its
// arguments.
func (f ExportFilter) where(roomCol, timeCol string) (string, []any) {
	var conds []string
	var args []any
	if len(f.Rooms) > 0 {
		conds = append(conds, roomCol+" IN ("+strings.TrimSuffix(strings.Repeat("?,", len(f.Rooms)), ",")+")")
		for _, r := range f.Rooms {
			args = append(args, r)
		}
	}
	if f.SinceMs != 0 {
		conds = append(conds, timeCol+" >= ?")
		args = append(args, f.SinceMs)
	}
	if f.UntilMs != 0 {
		conds = append(conds, timeCol+" < ?")
		args = append(args, f.UntilMs)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// EventTable is a table that holds events, as `export` sees it: the
// one place that maps a table row to the canonical event JSON of
// protocol/event.go.
type EventTable struct {
	*Table
	// Columns are the table's columns as export reads them: its
	// ReadColumns (the stored Columns with codes read as their values and
	// derived columns left out), one per value of a ScanEvents row.
	Columns []Column
	// Kind is the canonical "kind" of the table's rows.
	Kind   protocol.Kind
	fields []jsonField
	cmdIdx int // index of the cmd column, -1 when the table has none
	roomTs [2]int
	// fixedCmd is the "cmd" of rows of a table without a cmd column.
	fixedCmd string
	// cmdOf derives "cmd" from a row when the table has no cmd column.
	cmdOf func(row []any) string
}

// jsonField is how one column appears in the JSON object.
type jsonField struct {
	col  int
	key  []byte // `"name":`
	how  fieldHow
	name string
}

type fieldHow uint8

const (
	asIs      fieldHow = iota // INTEGER → number, TEXT → string, NULL → null
	asBool                    // INTEGER 0/1 → false/true
	asRawJSON                 // TEXT holding JSON → embedded as is
	omitEmpty                 // TEXT, left out when "" (the canonical form's omitempty)
)

// exportSpec is how a table that stores events (Table.Kinds) appears in
// export: its place in the export order and what differs between its
// columns and protocol's canonical JSON. Columns not named keep their
// name and plain type; columns that have no canonical name (dedup keys,
// money facts the writer derives, deleted_ms, red pockets' start_ms and
// end_ms, which are in ms where the canonical start_time/end_time are in
// s) keep their column names: nothing stored is left out.
type exportSpec struct {
	// seq is the table's place in export order, from 1 (jsonl's table
	// order, the default --kind list). A new table takes the next number,
	// so that existing output keeps its order.
	seq int
	// skip, when set, says why the table's rows are not events to export
	// (seq is then 0).
	skip   string
	rename map[string]string   // column → canonical key
	how    map[string]fieldHow // column → how its value is written
	// For a table without a cmd column: fixedCmd is every row's cmd, or
	// cmdBy names a column whose value cmdOf maps to the cmd.
	fixedCmd string
	cmdBy    string
	cmdOf    map[string]string
}

// eventTables are the exported tables, in export order (built by the
// registry's init).
var eventTables []*EventTable

// buildEventTables checks every table's export declaration (checkExport)
// and returns the exported ones in export order, which their seq numbers
// must give without gaps or repeats.
func buildEventTables(tables []*Table) ([]*EventTable, error) {
	var out []*EventTable
	for _, t := range tables {
		if err := checkExport(t); err != nil {
			return nil, err
		}
		if t.export != nil && t.export.skip == "" {
			out = append(out, newEventTable(t))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].export.seq < out[j].export.seq })
	for i, et := range out {
		if et.export.seq != i+1 {
			return nil, fmt.Errorf("storage: export order: table %s has seq %d, want %d (seq runs 1, 2, … without gaps or repeats)", et.Name, et.export.seq, i+1)
		}
	}
	return out, nil
}

// checkExport is the registry's export rule: a table that stores events
// (Kinds) declares how they export, or why they do not; a table without
// Kinds declares nothing; a declaration names only the table's columns.
func checkExport(t *Table) error {
	x := t.export
	switch {
	case len(t.Kinds) == 0 && x == nil:
		return nil
	case len(t.Kinds) == 0:
		return fmt.Errorf("storage: table %s has an export mapping but stores no events (no Kinds)", t.Name)
	case x == nil:
		return fmt.Errorf("storage: table %s stores events (Kinds) but declares no export mapping: give it an exportSpec, or one with skip saying why its rows are not exported", t.Name)
	case x.skip != "" && x.seq != 0, x.skip == "" && x.seq <= 0:
		return fmt.Errorf("storage: table %s: an exportSpec has either a seq > 0 or a skip reason", t.Name)
	}
	if t.readCols == nil {
		if err := buildRead(t); err != nil {
			return err
		}
	}
	has := map[string]bool{}
	for _, c := range t.readCols {
		has[c.Name] = true
	}
	named := []string{x.cmdBy}
	for c := range x.rename {
		named = append(named, c)
	}
	for c := range x.how {
		named = append(named, c)
	}
	for _, c := range named {
		if c != "" && !has[c] {
			return fmt.Errorf("storage: table %s: export mapping names column %q, which it does not have", t.Name, c)
		}
	}
	if x.skip == "" && !has["room_id"] {
		return fmt.Errorf("storage: event table %s has no room_id", t.Name)
	}
	if x.skip == "" && !has["cmd"] && x.fixedCmd == "" && x.cmdOf == nil {
		return fmt.Errorf("storage: event table %s has no cmd column and declares no cmd for its rows", t.Name)
	}
	return nil
}

// newEventTable builds a checked table's export view.
func newEventTable(t *Table) *EventTable {
	s := t.export
	et := &EventTable{Table: t, Columns: t.readCols, Kind: t.Kinds[0], cmdIdx: -1, roomTs: [2]int{-1, -1}, fixedCmd: s.fixedCmd}
	cmdByIdx := -1
	for i, c := range et.Columns {
		switch c.Name {
		case "cmd":
			et.cmdIdx = i
			continue
		case "room_id":
			et.roomTs[0] = i
			continue
		case "ts_ms":
			et.roomTs[1] = i
			continue
		case s.cmdBy:
			cmdByIdx = i
		}
		name := c.Name
		if r, ok := s.rename[name]; ok {
			name = r
		}
		et.fields = append(et.fields, jsonField{col: i, key: []byte(`,"` + name + `":`), how: s.how[c.Name], name: name})
	}
	if s.cmdOf != nil && cmdByIdx >= 0 {
		et.cmdOf = func(row []any) string {
			n, _ := row[cmdByIdx].(string)
			return s.cmdOf[n]
		}
	}
	return et
}

// EventTables are the tables that hold events, in export order: danmaku,
// gifts, super_chats, guards, interactions, counters, room_events,
// combos, red_pockets. Shared; do not modify.
func EventTables() []*EventTable { return eventTables }

// EventTableFor returns the event table of a kind ("danmaku",
// "super_chat", …) or of a table name ("super_chats"), or nil.
func EventTableFor(name string) *EventTable {
	for _, et := range eventTables {
		if string(et.Kind) == name || et.Name == name {
			return et
		}
	}
	return nil
}

// JSONKeys are the object's keys in order (kind, cmd, room_id, ts_ms,
// then the columns' canonical names).
func (et *EventTable) JSONKeys() []string {
	keys := []string{"kind", "cmd", "room_id", "ts_ms"}
	for _, f := range et.fields {
		keys = append(keys, f.name)
	}
	return keys
}

// AppendJSON appends the canonical JSON object of one row (as
// ScanEvents passes it) to dst, without a newline: kind, cmd, room_id,
// ts_ms (0 when the table has no ts_ms), then every other column under
// its canonical name, recv_ms included.
func (et *EventTable) AppendJSON(dst []byte, row []any) []byte {
	dst = append(dst, `{"kind":`...)
	dst = appendJSONString(dst, string(et.Kind))
	dst = append(dst, `,"cmd":`...)
	switch {
	case et.cmdIdx >= 0:
		dst = appendJSONValue(dst, row[et.cmdIdx])
	case et.cmdOf != nil:
		dst = appendJSONString(dst, et.cmdOf(row))
	default:
		dst = appendJSONString(dst, et.fixedCmd)
	}
	dst = append(dst, `,"room_id":`...)
	dst = appendJSONValue(dst, row[et.roomTs[0]])
	dst = append(dst, `,"ts_ms":`...)
	if et.roomTs[1] >= 0 {
		dst = appendJSONValue(dst, row[et.roomTs[1]])
	} else {
		dst = append(dst, '0')
	}
	for _, f := range et.fields {
		v := row[f.col]
		switch f.how {
		case asBool:
			dst = append(dst, f.key...)
			if n, ok := v.(int64); ok {
				dst = strconv.AppendBool(dst, n != 0)
			} else {
				dst = append(dst, "null"...)
			}
		case asRawJSON:
			dst = append(dst, f.key...)
			if s, ok := v.(string); ok && s != "" && json.Valid([]byte(s)) {
				dst = append(dst, s...)
			} else {
				dst = appendJSONValue(dst, v)
			}
		case omitEmpty:
			if s, ok := v.(string); ok && s == "" {
				continue
			}
			dst = append(dst, f.key...)
			dst = appendJSONValue(dst, v)
		default:
			dst = append(dst, f.key...)
			dst = appendJSONValue(dst, v)
		}
	}
	return append(dst, '}')
}

func appendJSONValue(dst []byte, v any) []byte {
	switch v := v.(type) {
	case int64:
		return strconv.AppendInt(dst, v, 10)
	case string:
		return appendJSONString(dst, v)
	case []byte:
		return appendJSONString(dst, string(v))
	}
	return append(dst, "null"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, like encoding/json with
// SetEscapeHTML(false): control characters escaped, invalid UTF-8 as
// U+FFFD, U+2028/U+2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// ScanEvents calls fn for every row of t that f selects, in insertion
// order, one row at a time (constant memory). row holds one value per
// column of t.ReadColumns() as in ScanTable and is reused between calls.
func (d *DB) ScanEvents(ctx context.Context, t *Table, f ExportFilter, fn func(row []any) error) error {
	where, args := f.where("room_id", t.readExpr("recv_ms"))
	q := "SELECT " + t.readList() + " FROM " + t.Stored() + where + " ORDER BY rowid"
	return d.scanRows(ctx, t, q, args, fn)
}

// CountEvents is how many rows of t f selects.
func (d *DB) CountEvents(ctx context.Context, t *Table, f ExportFilter) (int64, error) {
	where, args := f.where("room_id", t.readExpr("recv_ms"))
	var n int64
	if err := d.SQL.QueryRowContext(ctx, "SELECT count(*) FROM "+t.Stored()+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("storage: count %s: %w", t.Name, err)
	}
	return n, nil
}

// scanRows runs q over t's columns and calls fn per row (see ScanTable
// for the row's values).
func (d *DB) scanRows(ctx context.Context, t *Table, q string, args []any, fn func(row []any) error) error {
	rows, err := d.SQL.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("storage: read %s: %w", t.Name, err)
	}
	defer rows.Close()
	dest := make([]any, len(t.readCols))
	for i, c := range t.readCols {
		switch c.Type {
		case "INTEGER":
			dest[i] = new(sql.NullInt64)
		case "TEXT":
			dest[i] = new(sql.NullString)
		default:
			dest[i] = new([]byte)
		}
	}
	row := make([]any, len(t.readCols))
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("storage: read %s: %w", t.Name, err)
		}
		for i, p := range dest {
			row[i] = nil
			switch v := p.(type) {
			case *sql.NullInt64:
				if v.Valid {
					row[i] = v.Int64
				}
			case *sql.NullString:
				if v.Valid {
					row[i] = v.String
				}
			case *[]byte:
				if *v != nil {
					row[i] = *v
				}
			}
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("storage: read %s: %w", t.Name, err)
	}
	return nil
}

// CheckExportable returns an error when the file's schema is older than
// this build's: a read-only handle cannot migrate it, and the registry
// names columns and tables it lacks. Opening it once for writing (collect,
// reparse) migrates it.
func (d *DB) CheckExportable(ctx context.Context) error {
	var v int
	if err := d.SQL.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("storage: %s: %w", d.path, err)
	}
	if v < SchemaVersion() {
		return fmt.Errorf("storage: %s has schema version %d, older than this build's %d: open it once with collect or reparse to migrate it", d.path, v, SchemaVersion())
	}
	return nil
}
