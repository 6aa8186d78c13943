package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/storage"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite README.md's generated tables from the storage registry")

const readmePath = "../../README.md"

// section returns the text between <!-- name:begin --> and <!-- name:end -->.
func section(t *testing.T, doc, name string) (before, body, after string) {
	t.Helper()
	begin, end := "<!-- "+name+":begin -->\n", "<!-- "+name+":end -->"
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q … %q section", begin, end)
	}
	return doc[:i+len(begin)], doc[i+len(begin) : j], doc[j:]
}

// TestREADMEDataDictionary keeps the README's data dictionary and unique
// keys exactly what the storage registry declares (and so what the schema
// is: storage's own test holds the registry to PRAGMA table_info).
// `go test ./cmd/danmakud -run TestREADMEDataDictionary -update-readme`
// rewrites them.
func TestREADMEDataDictionary(t *testing.T) {
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, s := range []struct {
		name string
		want string
	}{{"data-dictionary", storage.DataDictionary()}, {"unique-keys", storage.UniqueKeys()}} {
		before, body, after := section(t, doc, s.name)
		if body == s.want {
			continue
		}
		if *updateREADME {
			doc = before + s.want + after
			continue
		}
		t.Errorf("README.md's %s differs from the storage registry; run: go test ./cmd/danmakud -run TestREADMEDataDictionary -update-readme", s.name)
	}
	if *updateREADME {
		if err := os.WriteFile(readmePath, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := fmt.Sprintf("schema version (%d)", storage.SchemaVersion()); !strings.Contains(doc, want) {
		t.Errorf("README.md does not say %q", want)
	}
}

var sqlBlock = regexp.MustCompile("(?s)```sql\n(.*?)```")

// TestREADMEQueries runs every example query of the README (the ```sql
// blocks between <!-- queries:begin --> and <!-- queries:end -->) against
// a database from a short logged-in collect run: each must run and return
// rows.
func TestREADMEQueries(t *testing.T) {
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := section(t, string(b), "queries")
	var queries []string
	for _, m := range sqlBlock.FindAllStringSubmatch(body, -1) {
		for _, q := range strings.Split(m[1], ";\n") {
			var lines []string
			for _, l := range strings.Split(q, "\n") {
				if !strings.HasPrefix(strings.TrimSpace(l), "--") && strings.TrimSpace(l) != "" {
					lines = append(lines, l)
				}
			}
			if q := strings.TrimSuffix(strings.TrimSpace(strings.Join(lines, "\n")), ";"); q != "" {
				queries = append(queries, q)
			}
		}
	}
	if len(queries) < 6 {
		t.Fatalf("found %d example queries in README.md", len(queries))
	}
	sim, err := livesim.New(livesim.Options{Rooms: 4, Rate: 400, Tick: 50 * time.Millisecond, Accounts: 1,
		AnonKeep: 0.1, HTTPRate: 1000, HTTPBurst: 1000, RedPocketEvery: time.Second, LiveFor: 3 * time.Second,
		OfflineFor: time.Second, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	path := filepath.Join(t.TempDir(), "readme.db")
	cfg := testkit.DaemonConfig(sim.URL(), path)
	cfg.Duration = 8 * time.Second
	cfg.Watchdog = time.Second
	cfg.Accounts = testkit.SimAccounts(t, sim, 1)
	cfg.RoomsPerAccount = 3 // three rooms logged in, one anonymous: both kinds of rows
	testkit.Collect(t, cfg)
	db, err := storage.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range queries {
		rows, err := db.SQL.Query(q)
		if err != nil {
			t.Errorf("README query fails: %v\n%s", err, q)
			continue
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			t.Errorf("README query fails: %v\n%s", err, q)
		}
		rows.Close()
		if n == 0 {
			t.Errorf("README query returns no rows on a demo database:\n%s", q)
		}
	}
}
