package storage

import (
	"fmt"
	"strings"
)

// The bookkeeping of many files (merge, collect --kinds) in the
// registry, and how Merge combines each table's rows.

var tDatabaseID = &Table{
	Name: "database_id", RowDoc: "file (one row: its identity, which merge and many-file reading go by)",
	Columns: []Column{colT("db_id", "128 random bits in hex, made when the file was created (or migrated to schema 4); a copy of the file has the same"),
		colI("created_ms", "")},
	merge: mergeSpec{how: mergeNot, doc: "each file keeps its own id"},
}

var tMergedInputs = &Table{
	Name: "merged_inputs", RowDoc: "file merged into this one (`danmakud merge`)",
	Columns: []Column{colT("input_id", "its `database_id.db_id`"), colT("path", "its path as the merge was given it"),
		colNT("via", "NULL: merged directly; else the `db_id` of the merged file that held it"),
		colI("started_ms", "when its first merge began"),
		colNI("finished_ms", "when its last merge ended; NULL while one is unfinished (run it again to finish it)")},
	merge: mergeSpec{how: mergeCustom, doc: "the input is added (`via` NULL), and the files it holds merged come along with `via` = its id"},
}

var tMergeProgress = &Table{
	Name: "merge_progress", RowDoc: "table of a file merged in, for the tables whose rows are merged once",
	Columns: []Column{colT("input_id", ""), colT("tbl", "the table"),
		colI("through", "every row of the input's table up to this rowid is merged, committed with them")},
	merge: mergeSpec{how: mergeNot, doc: "the progress of merges into the input itself"},
}

var tUnstored = &Table{
	Name: "unstored_events", RowDoc: "kind of event a run received and did not store (`collect --kinds`), per room",
	Columns: []Column{colI("run_id", ""), colI("room_id", ""), colT("kind", "the `export --kind` name"),
		colI("count", "events received and not stored")},
	merge: mergeSpec{how: mergeLatest, key: []string{"run_id", "room_id", "kind"}},
}

// mergeHow is how Merge combines a table's rows from an input.
type mergeHow uint8

const (
	// mergeNot: the table is not merged (mergeSpec.doc says why).
	mergeNot mergeHow = iota + 1
	// mergeOnce: every row of the input is added once, in rowid order,
	// with the input's progress (merge_progress) in the same transaction;
	// a later merge of the same input adds only the rows after it. A row
	// whose unique key (KeyCols) is there already is left as it is, or
	// combined by the spec's key and set.
	mergeOnce
	// mergeLatest: every merge takes all of the input's rows again,
	// replacing the row with the same key (spec.key), or combining by set.
	mergeLatest
	// mergeLookup: a lookup's values are added, and the input's codes are
	// mapped to the merged file's.
	mergeLookup
	// mergeCustom: Merge has code of its own for the table (runs get new
	// ids; merged_inputs).
	mergeCustom
)

// mergeSpec is how Merge combines a table's rows (Table.merge).
type mergeSpec struct {
	how mergeHow
	// key is the conflict target: the columns a merged row is matched on
	// (mergeLatest; mergeOnce for a table without KeyCols whose rows
	// combine).
	key []string
	// set is the ON CONFLICT DO UPDATE SET list; "" for mergeLatest:
	// every column but the key takes the input's value.
	set string
	// doc says it in words for the docs (why, for mergeNot); "" = the
	// words of how.
	doc string
}

// checkMerge holds a table's merge declaration together.
func checkMerge(t *Table) error {
	m := t.merge
	switch {
	case m.how == 0:
		return fmt.Errorf("storage: table %s declares no merge rule", t.Name)
	case m.how == mergeNot && m.doc == "":
		return fmt.Errorf("storage: table %s is not merged and does not say why", t.Name)
	case m.how == mergeLatest && len(m.key) == 0:
		return fmt.Errorf("storage: table %s: a mergeLatest table needs a key", t.Name)
	case m.how == mergeOnce && len(m.key) > 0 && len(t.KeyCols) > 0:
		return fmt.Errorf("storage: table %s: rows with a unique key are kept as they are, not combined", t.Name)
	case m.how == mergeLookup && lookupOf(t) == nil:
		return fmt.Errorf("storage: table %s is merged as a lookup but is none", t.Name)
	}
	for _, k := range m.key {
		if t.column(k) == nil {
			return fmt.Errorf("storage: table %s: merge key column %q is not one of its columns", t.Name, k)
		}
	}
	return nil
}

// lookupOf is the lookup whose table t is, or nil.
func lookupOf(t *Table) *lookup {
	for _, l := range lookups {
		if l.Table == t.Name {
			return l
		}
	}
	return nil
}

// keepKnownSet is the SET list that merges a row of facts about one
// thing seen at different times (rooms): a known value (not ” or 0)
// from the row seen last (last) wins over one seen earlier, a known
// value over an unknown one; first and last take the earliest and latest.
func keepKnownSet(t *Table, key, first, last string) string {
	var set []string
	for _, c := range t.Columns {
		switch c.Name {
		case key:
		case first:
			set = append(set, c.Name+" = min("+c.Name+", excluded."+c.Name+")")
		case last:
			set = append(set, c.Name+" = max("+c.Name+", excluded."+c.Name+")")
		default:
			zero := "0"
			if c.Type == "TEXT" {
				zero = "''"
			}
			set = append(set, fmt.Sprintf("%[1]s = CASE WHEN excluded.%[1]s != %[2]s AND (%[1]s = %[2]s OR excluded.%[3]s >= %[3]s) THEN excluded.%[1]s ELSE %[1]s END",
				c.Name, zero, last))
		}
	}
	return strings.Join(set, ", ")
}

// MergeRules renders docs/data.md's table of how `danmakud merge`
// combines each table's rows, from the registry.
func MergeRules() string {
	var b strings.Builder
	b.WriteString("| table | merged |\n| --- | --- |\n")
	for _, t := range registry {
		m := t.merge
		var how string
		switch m.how {
		case mergeNot:
			how = "not merged: " + m.doc
		case mergeOnce:
			how = "each input row once (rows the input gains later come with the next merge)"
			switch {
			case len(t.KeyCols) > 0:
				how += "; a row whose unique key is there already is kept as it was"
			case len(m.key) > 0:
				how += "; rows with the same `(" + strings.Join(m.key, ", ") + ")` are combined"
			}
		case mergeLatest:
			how = "taken again at every merge: an input row replaces the row with the same `(" + strings.Join(m.key, ", ") + ")`"
			if m.set != "" {
				how = "taken again at every merge, an input row combined with the row with the same `(" + strings.Join(m.key, ", ") + ")`"
			}
		case mergeLookup:
			how = "the input's values added; the codes in its rows are translated to the merged file's"
		case mergeCustom:
			how = m.doc
		}
		if m.doc != "" && m.how != mergeNot && m.how != mergeCustom {
			how += ": " + m.doc
		}
		fmt.Fprintf(&b, "| `%s` | %s |\n", t.Name, how)
	}
	return b.String()
}

func init() {
	tRooms.merge.set = keepKnownSet(tRooms, "room_id", "first_seen_ms", "last_seen_ms")
}
