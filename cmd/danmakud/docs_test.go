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
	"unicode"

	"github.com/danmakud/danmakud/internal/livesim"
	"github.com/danmakud/danmakud/internal/testkit"
	"github.com/danmakud/danmakud/internal/testrun"
	"github.com/danmakud/danmakud/storage"
)

var update = flag.Bool("update", false, "rewrite docs/data.md's generated tables from the storage registry")

// The documents the tests below read, relative to this package.
const (
	repoRoot          = "../.."
	readmePath        = repoRoot + "/README.md"
	dataDocPath       = repoRoot + "/docs/data.md"
	operationsDocPath = repoRoot + "/docs/operations.md"
	readmeMaxLines    = 200
)

// section returns the text of doc (read from path) around and between
// <!-- name:begin --> and <!-- name:end -->.
func section(t *testing.T, path, doc, name string) (before, body, after string) {
	t.Helper()
	begin, end := "<!-- "+name+":begin -->\n", "<!-- "+name+":end -->"
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q … %q section", path, begin, end)
	}
	return doc[:i+len(begin)], doc[i+len(begin) : j], doc[j:]
}

// TestDocsDataDictionary keeps docs/data.md's data dictionary, unique
// keys and merge rules exactly what the storage registry declares (and so what the schema
// is: storage's own test holds the registry to PRAGMA table_info).
// `go test ./cmd/danmakud -run TestDocsDataDictionary -update` rewrites
// them.
func TestDocsDataDictionary(t *testing.T) {
	b, err := os.ReadFile(dataDocPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, s := range []struct {
		name string
		want string
	}{{"data-dictionary", storage.DataDictionary()}, {"unique-keys", storage.UniqueKeys()}, {"merge-rules", storage.MergeRules()}} {
		before, body, after := section(t, dataDocPath, doc, s.name)
		if body == s.want {
			continue
		}
		if *update {
			doc = before + s.want + after
			continue
		}
		t.Errorf("docs/data.md's %s differs from the storage registry; run: go test ./cmd/danmakud -run TestDocsDataDictionary -update", s.name)
	}
	if *update {
		if err := os.WriteFile(dataDocPath, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := fmt.Sprintf("schema version (%d)", storage.SchemaVersion()); !strings.Contains(doc, want) {
		t.Errorf("docs/data.md does not say %q", want)
	}
}

var sqlBlock = regexp.MustCompile("(?s)```sql\n(.*?)```")

// TestDocsQueries runs every example query of docs/data.md (the ```sql
// blocks between <!-- queries:begin --> and <!-- queries:end -->) against
// a database from a short logged-in collect run: each must run and return
// rows.
func TestDocsQueries(t *testing.T) {
	b, err := os.ReadFile(dataDocPath)
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := section(t, dataDocPath, string(b), "queries")
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
		t.Fatalf("found %d example queries in docs/data.md", len(queries))
	}
	sim, err := livesim.New(livesim.Options{Rooms: 4, Rate: 400, Tick: 50 * time.Millisecond, Accounts: 1,
		AnonKeep: 0.1, HTTPRate: 1000, HTTPBurst: 1000, RedPocketEvery: time.Second, LiveFor: 3 * time.Second,
		OfflineFor: time.Second, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	path := filepath.Join(t.TempDir(), "docs.db")
	cfg := testrun.Config(sim.URL(), path)
	cfg.Watchdog = time.Second
	cfg.Accounts = testkit.SimAccounts(t, sim, 1)
	cfg.RoomsPerAccount = 3 // three rooms logged in, one anonymous: both kinds of rows
	// Until every query has rows (a guard or a red pocket may take a
	// while on a busy machine), looked at once a second.
	var last time.Time
	testrun.CollectUntil(t, cfg, 2*time.Minute, func() bool {
		if time.Since(last) < time.Second {
			return false
		}
		last = time.Now()
		empty, err := emptyQueries(path, queries)
		return err == nil && len(empty) == 0
	})
	empty, err := emptyQueries(path, queries)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range empty {
		t.Errorf("docs/data.md query returns no rows on a demo database:\n%s", q)
	}
}

// emptyQueries runs each query on the database at path (read-only) and
// returns those that give no rows; an error names the query that failed.
func emptyQueries(path string, queries []string) ([]string, error) {
	db, err := storage.OpenReadOnly(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var empty []string
	for _, q := range queries {
		rows, err := db.SQL.Query(q)
		if err != nil {
			return nil, fmt.Errorf("docs/data.md query fails: %v\n%s", err, q)
		}
		n := 0
		for rows.Next() {
			n++
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("docs/data.md query fails: %v\n%s", err, q)
		}
		if n == 0 {
			empty = append(empty, q)
		}
	}
	return empty, nil
}

// TestREADMELength keeps the README a page a newcomer reads in a few
// minutes; the details belong in docs/.
func TestREADMELength(t *testing.T) {
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n > readmeMaxLines {
		t.Errorf("README.md has %d lines, at most %d: move details into docs/", n, readmeMaxLines)
	}
}

// linkedDocs lists the Markdown files whose links TestDocsLinks checks,
// relative to the repository root.
func linkedDocs(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("no docs/*.md found")
	}
	for _, f := range []string{"README.md", "CONTRIBUTING.md", "BENCHMARKS.md"} {
		docs = append(docs, filepath.Join(repoRoot, f))
	}
	return docs
}

var (
	mdLink     = regexp.MustCompile(`\]\(([^()\s]+)\)`)
	codeSpan   = regexp.MustCompile("`[^`\n]*`")
	mdHeading  = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	linkScheme = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// proseLines returns the lines of a Markdown document outside fenced
// code blocks.
func proseLines(doc string) []string {
	var out []string
	fenced := false
	for _, l := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			out = append(out, l)
		}
	}
	return out
}

// githubAnchor is the anchor GitHub gives a heading: lower case, spaces
// to '-', every other character that is not a letter, digit, '-' or '_'
// dropped.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors returns the anchors of every heading of a Markdown document;
// a repeated anchor gets -1, -2, … as on GitHub.
func anchors(doc string) map[string]bool {
	set := map[string]bool{}
	seen := map[string]int{}
	for _, l := range proseLines(doc) {
		m := mdHeading.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		a := githubAnchor(m[1])
		if n := seen[a]; n > 0 {
			set[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			set[a] = true
		}
		seen[a]++
	}
	return set
}

func TestDocsGithubAnchor(t *testing.T) {
	for heading, want := range map[string]string{
		"10.1 Anonymous connections are a ~10 % sample":  "101-anonymous-connections-are-a-10--sample",
		"Watching a long run: `/metrics` and `/healthz`": "watching-a-long-run-metrics-and-healthz",
		"How complete is my data?":                       "how-complete-is-my-data",
		"`decode`, `demo`, `login`, `sim`":               "decode-demo-login-sim",
		"snake_case and 中文":                              "snake_case-and-中文",
	} {
		if got := githubAnchor(heading); got != want {
			t.Errorf("githubAnchor(%q) = %q, want %q", heading, got, want)
		}
	}
	got := anchors("# A\n\n```sh\n# not a heading\n```\n## A\n### B #\n")
	for _, want := range []string{"a", "a-1", "b"} {
		if !got[want] {
			t.Errorf("anchors: no %q in %v", want, got)
		}
	}
	if got["not-a-heading"] {
		t.Errorf("anchors: a comment in a code block was taken as a heading")
	}
}

// TestDocsLinks checks every relative link of the README, CONTRIBUTING,
// BENCHMARKS and docs/*.md: the file it names exists, and an #anchor in
// it names a heading of the target.
func TestDocsLinks(t *testing.T) {
	headings := map[string]map[string]bool{} // by cleaned path
	anchorsOf := func(path string) (map[string]bool, error) {
		if a, ok := headings[path]; ok {
			return a, nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		headings[path] = anchors(string(b))
		return headings[path], nil
	}
	checked := 0
	for _, doc := range linkedDocs(t) {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(repoRoot, doc)
		for _, l := range proseLines(string(b)) {
			for _, m := range mdLink.FindAllStringSubmatch(codeSpan.ReplaceAllString(l, "``"), -1) {
				target := m[1]
				if linkScheme.MatchString(target) {
					continue // a URL, not a file of this repository
				}
				checked++
				file, frag, _ := strings.Cut(target, "#")
				path := filepath.Clean(doc)
				if file != "" {
					path = filepath.Join(filepath.Dir(doc), file)
					if _, err := os.Stat(path); err != nil {
						t.Errorf("%s: link %q: no such file", name, target)
						continue
					}
				}
				if frag == "" {
					continue
				}
				if !strings.HasSuffix(path, ".md") {
					t.Errorf("%s: link %q: an anchor into a file that is not Markdown", name, target)
					continue
				}
				a, err := anchorsOf(path)
				if err != nil {
					t.Errorf("%s: link %q: %v", name, target, err)
					continue
				}
				if !a[frag] {
					t.Errorf("%s: link %q: no heading with anchor #%s in %s", name, target, frag, file)
				}
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d relative links found: is the link pattern still right?", checked)
	}
}
