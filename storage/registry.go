package storage

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/danmakud/danmakud/protocol"
)

// Column is one column of a table as the current schema has it. The
// migrations create it; TestRegistryMatchesSchema holds the two equal.
type Column struct {
	Name string
	// Type is the declared SQL type, as PRAGMA table_info reports it:
	// "INTEGER", "TEXT" or "BLOB".
	Type string
	// Null: the column may hold NULL (it has no NOT NULL constraint).
	Null bool
	// Doc says what the column means, for the README's data dictionary;
	// "" when the name says it all.
	Doc string
	// code, when set: the column holds the code of a value kept in that
	// lookup table. A row function gives the value, the writer stores its
	// code, and the column is read as the value's columns.
	code *lookup
	// read, when set, is how the column is read (export, ScanTable) when
	// that is not as it is stored.
	read *readAs
}

// readAs is how a stored column is read.
type readAs struct {
	hidden bool   // not read at all: derived from the other columns (a hash)
	col    Column // the column as read: name, type, nullability
	expr   string // SQL over the table's columns that gives its value
}

// lookup is a table of values that other tables store as small integer
// codes: a command name costs a row one byte instead of ten or more, a
// fan medal (name, anchor, room) one or two instead of a dozen. The
// writer adds a value the first time it stores it; a code never changes.
type lookup struct {
	Table string // the lookup table
	// ID is its code column (INTEGER PRIMARY KEY), and the name of the
	// columns that hold its codes.
	ID string
	// Cols are the values a code stands for (UNIQUE together): a coded
	// column is read as these columns.
	Cols []Column

	insert, query string // add a value; read a value's code
}

// value checks v, a row's value for a column coded by l, and returns its
// parts (one per Cols) and a key that tells it from the others: a
// one-column lookup's value is that column's value, a wider one's a
// []any with one value per column.
func (l *lookup) value(v any) (parts []any, key string, err error) {
	if s, ok := v.(string); ok && len(l.Cols) == 1 && l.Cols[0].Type == "TEXT" {
		return []any{s}, s, nil // a name: the common case, kept cheap
	}
	parts = []any{v}
	if len(l.Cols) > 1 {
		parts, _ = v.([]any)
	}
	if len(parts) != len(l.Cols) {
		return nil, "", fmt.Errorf("%T is not a value of %s", v, l.Table)
	}
	var b strings.Builder
	for i, p := range parts {
		switch p := p.(type) {
		case string:
			if l.Cols[i].Type == "TEXT" {
				b.WriteString(strconv.Quote(p))
				continue
			}
		case int64:
			if l.Cols[i].Type == "INTEGER" {
				b.WriteString(strconv.FormatInt(p, 10) + ",")
				continue
			}
		}
		return nil, "", fmt.Errorf("%s.%s: %T", l.Table, l.Cols[i].Name, p)
	}
	return parts, b.String(), nil
}

// lookupTable is the registry's table of a lookup: its code, then its
// values. The writer adds a row the first time it stores a value.
func lookupTable(l *lookup, rowDoc string) *Table {
	return &Table{Name: l.Table, RowDoc: rowDoc, Columns: append([]Column{colNI(l.ID, "")}, l.Cols...), merge: mergeSpec{how: mergeLookup}}
}

// Table describes one table of the current schema: the single place
// that the writer, `stats`, the data dictionary and `export` read.
type Table struct {
	// Name is the name readers use. For a table stored in another shape
	// (Store) it is a view that reads the stored rows as ReadColumns.
	Name string
	// Store, when set, is the table that holds the rows, with Columns;
	// the view Name reads them (codes as the values they stand for, keys
	// as their text, derived columns left out). "": Name is the table
	// itself.
	Store string
	// RowDoc is what one row stands for ("chat message").
	RowDoc  string
	Columns []Column
	// Kinds are the protocol event kinds stored here (none: the table is
	// written from the writer's other records or by DB methods).
	Kinds []protocol.Kind
	// KeyCols are the columns of the unique key that makes duplicates
	// impossible (the schema's unique index or UNIQUE constraint); nil
	// for tables without one (time series, bookkeeping, lookups). A row
	// whose key has a NULL is not refused by it.
	KeyCols []string
	// Key says how the key's values are made; "" when the columns say it.
	Key string
	// Dedup: a record routed here that adds no row is counted in
	// WriterStats.Dups (the unique key ignored it as a duplicate). Set
	// exactly on the tables with KeyCols.
	Dedup bool
	// RoomKind, when set, is the per-room count's name in `stats`
	// (Summary.Rooms) for this table's rows.
	RoomKind string
	// Stats: `stats` counts the table's rows (Summary.Rows) and prints them.
	Stats bool

	idx    int
	insert string   // the INSERT statement, built from Columns
	skip   []string // columns the INSERT leaves to their default or a later UPDATE
	// row is the table's one row function: the row a record adds here,
	// one value per column of Columns (a lookup column's text, not its
	// code); nil when the record adds none. See Row.
	row func(runID int64, r Record) []any
	// put writes one record routed to this table; nil: insert its row.
	put func(s *stmts, t *Table, runID int64, r Record) error
	// readCols and readExprs are the columns as read (Columns without the
	// hidden ones, lookups and read mappings applied) and the SQL that
	// reads each.
	readCols  []Column
	readExprs []string
	// also: kinds routed here whose records add a row to another table
	// as well (a super chat delete is kept as a room event too).
	also map[protocol.Kind]*Table
	// nullKey, for a table whose key may hold NULL, says whether an
	// event's row will have a NULL key (and so no duplicate protection).
	nullKey func(protocol.Event) bool
	// export says how the rows appear in export; set exactly on the
	// tables with Kinds (see checkExport).
	export *exportSpec
	// merge says how Merge combines the table's rows from another file;
	// every table has one (checkMerge).
	merge mergeSpec
}

// Insert is the table's INSERT statement: every column but those the
// writer leaves to their default or fills later, in Columns order.
func (t *Table) Insert() string { return t.insert }

// stored is the name of the table that holds t's rows.
func (t *Table) Stored() string {
	if t.Store != "" {
		return t.Store
	}
	return t.Name
}

// viewSQL is the CREATE VIEW statement of a table with a Store, exactly
// as the migration that made it wrote it (TestRegistryMatchesSchema).
func (t *Table) viewSQL() string {
	var b strings.Builder
	b.WriteString("CREATE VIEW " + t.Name + " AS SELECT")
	for i, c := range t.readCols {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n  " + t.readExprs[i])
		if t.readExprs[i] != c.Name {
			b.WriteString(" AS " + c.Name)
		}
	}
	b.WriteString("\n FROM " + t.Store)
	return b.String()
}

// Row is the row that record r adds to t: one value per column of
// Columns, in order (int64, string, []byte or nil; a coded column holds
// the value it codes — a name, or a []any of a medal's parts — which a
// sink stores as it likes, the writer as its code), with runID for the
// records that do not carry their run. nil: r adds no
// row to t (it is not routed here, or it only updates rows: a super chat
// delete; or t is written by DB methods). Tables whose rows merge
// (rooms, connections, snapshots, guards, gifts, unknown_commands) give
// the row a record starts with; the writer merges later records into it.
func (t *Table) Row(runID int64, r Record) []any {
	if t.row == nil {
		return nil
	}
	return t.row(runID, r)
}

// ReadColumns are the columns as read by ScanTable, ScanEvents, export
// and the view: Columns with codes read as the values they stand for,
// derived columns (a dedup hash) left out, and key columns read as the
// key text. Shared; do not modify.
func (t *Table) ReadColumns() []Column { return t.readCols }

// ColumnNames lists the columns as read (ReadColumns), in order: the
// export columns.
func (t *Table) ColumnNames() []string {
	names := make([]string, len(t.readCols))
	for i, c := range t.readCols {
		names[i] = c.Name
	}
	return names
}

// readExpr is the SQL that reads t's column read as name.
func (t *Table) readExpr(name string) string {
	for i, c := range t.readCols {
		if c.Name == name {
			return t.readExprs[i]
		}
	}
	panic("storage: table " + t.Name + " reads no column " + name)
}

// readList is the SELECT list that reads ReadColumns.
func (t *Table) readList() string {
	var b strings.Builder
	for i, c := range t.readCols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.readExprs[i])
		if t.readExprs[i] != c.Name {
			b.WriteString(" AS " + c.Name)
		}
	}
	return b.String()
}

// Select is the query that reads every column as read, in row order.
func (t *Table) Select() string {
	return "SELECT " + t.readList() + " FROM " + t.Stored() + " ORDER BY rowid"
}

// ScanTable calls fn for every row of t in insertion order. row holds
// one value per column of t.ReadColumns(): int64 (INTEGER), string
// (TEXT), []byte (BLOB) or nil (NULL). row is reused between calls; copy
// what you keep. An error from fn stops the scan and is returned.
func (d *DB) ScanTable(ctx context.Context, t *Table, fn func(row []any) error) error {
	return d.scanRows(ctx, t, t.Select(), nil, fn)
}

// Tables returns the registry: every table of the current schema, in
// data-dictionary order, which is also the order a flush writes them in.
// The slice and its tables are shared; do not modify them.
func Tables() []*Table { return registry }

// TableNamed returns the table called name, or nil.
func TableNamed(name string) *Table {
	for _, t := range registry {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// kindTable routes events to their table by kind. Kinds absent from it
// and not in skippedKinds are an error (no table).
var kindTable = map[protocol.Kind]*Table{}

// skippedKinds are events that store nothing: auth and heartbeat
// bookkeeping lives in connections.
var skippedKinds = map[protocol.Kind]bool{protocol.KindControl: true}

func init() {
	for _, l := range lookups {
		var names, marks []string
		for _, c := range l.Cols {
			names = append(names, c.Name)
			marks = append(marks, c.Name+" = ?")
		}
		cols := strings.Join(names, ", ")
		l.insert = "INSERT INTO " + l.Table + " (" + cols + ") VALUES (" + strings.TrimSuffix(strings.Repeat("?,", len(names)), ",") +
			") ON CONFLICT (" + cols + ") DO NOTHING"
		l.query = "SELECT " + l.ID + " FROM " + l.Table + " WHERE " + strings.Join(marks, " AND ")
	}
	for i, t := range registry {
		if err := checkKey(t); err != nil {
			panic(err)
		}
		if err := checkMerge(t); err != nil {
			panic(err)
		}
		t.idx = i
		t.insert = buildInsert(t, t.Dedup, t.skip...)
		if err := buildRead(t); err != nil {
			panic(err)
		}
		for _, k := range t.Kinds {
			if kindTable[k] != nil {
				panic("storage: kind " + string(k) + " routed to two tables")
			}
			kindTable[k] = t
		}
	}
	var err error
	if eventTables, err = buildEventTables(registry); err != nil {
		panic(err)
	}
}

// checkKey holds a table's key declaration together: Dedup exactly
// when there are KeyCols, KeyCols naming columns, and a nullKey rule
// when one of them may be NULL.
func checkKey(t *Table) error {
	if t.Dedup != (len(t.KeyCols) > 0) {
		return fmt.Errorf("storage: table %s: Dedup is %v but it has %d key columns", t.Name, t.Dedup, len(t.KeyCols))
	}
	nullable := false
	for _, k := range t.KeyCols {
		c := t.column(k)
		if c == nil {
			return fmt.Errorf("storage: table %s: key column %q is not one of its columns", t.Name, k)
		}
		nullable = nullable || c.Null
	}
	if nullable != (t.nullKey != nil) {
		return fmt.Errorf("storage: table %s: a key that may be NULL needs nullKey, and only such a key has one", t.Name)
	}
	return nil
}

// buildRead fills t's columns as read, from Columns and their lookups
// and read mappings; the names read must be distinct.
func buildRead(t *Table) error {
	t.readCols, t.readExprs = nil, nil
	seen := map[string]bool{}
	for _, c := range t.Columns {
		col, expr := c, c.Name
		switch {
		case c.read != nil && c.read.hidden:
			continue
		case c.read != nil:
			col, expr = c.read.col, c.read.expr
		case c.code != nil:
			l := c.code
			for _, lc := range l.Cols {
				col := Column{Name: lc.Name, Type: lc.Type, Doc: lc.Doc}
				if len(l.Cols) == 1 {
					col.Doc = c.Doc
				}
				expr := "(SELECT " + lc.Name + " FROM " + l.Table + " WHERE " + l.ID + " = " + t.Stored() + "." + c.Name + ")"
				if err := t.addRead(seen, col, expr); err != nil {
					return err
				}
			}
			continue
		}
		if err := t.addRead(seen, col, expr); err != nil {
			return err
		}
	}
	return nil
}

// addRead appends one column as read; seen holds the names so far.
func (t *Table) addRead(seen map[string]bool, col Column, expr string) error {
	if seen[col.Name] {
		return fmt.Errorf("storage: table %s: two columns are read as %s", t.Name, col.Name)
	}
	seen[col.Name] = true
	t.readCols = append(t.readCols, col)
	t.readExprs = append(t.readExprs, expr)
	return nil
}

// column returns t's column called name, or nil.
func (t *Table) column(name string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

// tableFor is the table a record is routed to; nil for records that
// store nothing.
func tableFor(r Record) (*Table, error) {
	switch r := r.(type) {
	case Event:
		k := r.E.Common().Kind
		if t := kindTable[k]; t != nil {
			return t, nil
		}
		if skippedKinds[k] {
			return nil, nil
		}
		return nil, fmt.Errorf("storage: no table for %s event %s", k, r.E.Common().Cmd)
	case Conn:
		return tConnections, nil
	case Snapshot:
		return tSnapshots, nil
	case RoomMeta:
		return tRooms, nil
	case Raw:
		return tRaw, nil
	case Malformed:
		return tMalformed, nil
	}
	return nil, fmt.Errorf("storage: unknown record %T", r)
}

// DataDictionary renders the registry as the README's Markdown table:
// one line per table (or view) with what a row is and every column as
// read, with its meaning where the name does not say it; for a view, the
// table that stores its rows and the stored columns that differ from
// what the view shows.
func DataDictionary() string {
	var b strings.Builder
	b.WriteString("| table | one row per | columns |\n| --- | --- | --- |\n")
	for _, t := range registry {
		var cols []string
		for _, c := range t.readCols {
			cols = append(cols, colDoc(c.Name, c.Doc))
		}
		line := strings.Join(cols, ", ")
		if t.Store != "" {
			var stored []string
			for _, c := range t.Columns {
				doc := c.Doc
				switch l := c.code; {
				case l != nil:
					var names []string
					for _, lc := range l.Cols {
						names = append(names, "`"+lc.Name+"`")
					}
					doc = "the code of its " + strings.Join(names, ", ") + " in `" + l.Table + "`"
				case c.read == nil:
					continue // shown as it is stored
				}
				stored = append(stored, colDoc(c.Name, doc))
			}
			line = "a view; rows stored in `" + t.Store + "`, with " + strings.Join(stored, ", ") + ": " + line
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", t.Name, t.RowDoc, line)
	}
	return b.String()
}

// colDoc is a column's name in backquotes, with its doc when there is one.
func colDoc(name, doc string) string {
	if doc == "" {
		return "`" + name + "`"
	}
	return "`" + name + "` (" + doc + ")"
}

// UniqueKeys renders the README's table of the unique keys that make
// duplicates impossible: one line per table that has one.
func UniqueKeys() string {
	var b strings.Builder
	b.WriteString("| table | unique key |\n| --- | --- |\n")
	for _, t := range registry {
		if len(t.KeyCols) == 0 {
			continue
		}
		fmt.Fprintf(&b, "| `%s` | `(%s)`", t.Name, strings.Join(t.KeyCols, ", "))
		if t.Key != "" {
			b.WriteString(": " + t.Key)
		}
		b.WriteString(" |\n")
	}
	return b.String()
}

// Column constructors: I integer, T text, B blob; N… may be NULL.
func colI(name, doc string) Column  { return Column{Name: name, Type: "INTEGER", Doc: doc} }
func colT(name, doc string) Column  { return Column{Name: name, Type: "TEXT", Doc: doc} }
func colNI(name, doc string) Column { return Column{Name: name, Type: "INTEGER", Null: true, Doc: doc} }
func colNT(name, doc string) Column { return Column{Name: name, Type: "TEXT", Null: true, Doc: doc} }
func colNB(name, doc string) Column { return Column{Name: name, Type: "BLOB", Null: true, Doc: doc} }

// colL is a column holding the code of a value of lookup l (INTEGER NOT
// NULL), read as the value's columns.
func colL(name string, l *lookup, doc string) Column {
	return Column{Name: name, Type: "INTEGER", Doc: doc, code: l}
}

// hidden marks c as not read: derived from other columns.
func hidden(c Column) Column {
	c.read = &readAs{hidden: true}
	return c
}

// hexPacked is a TEXT column whose lowercase hex values are stored
// packed (packHex), read as the text.
func hexPacked(c Column) Column {
	return readAsExpr(c, Column{Name: c.Name, Type: c.Type, Null: c.Null, Doc: c.Doc}, unhexSQL(c.Name))
}

// readAsExpr says c is read as the column as, with the value of expr.
func readAsExpr(c Column, as Column, expr string) Column {
	c.read = &readAs{col: as, expr: expr}
	return c
}

// buildInsert is "INSERT [OR IGNORE] INTO t (columns…) VALUES (?…)"
// over t.Columns minus skip.
func buildInsert(t *Table, orIgnore bool, skip ...string) string {
	var cols []string
	for _, c := range t.Columns {
		skipped := false
		for _, s := range skip {
			if c.Name == s {
				skipped = true
			}
		}
		if !skipped {
			cols = append(cols, c.Name)
		}
	}
	verb := "INSERT INTO "
	if orIgnore {
		verb = "INSERT OR IGNORE INTO "
	}
	return verb + t.Stored() + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
}
