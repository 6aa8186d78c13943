package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	db := filepath.Join(t.TempDir(), "demo.db")
	code, out, errs := runCLI(t, "", "demo", "--db", db, "--rooms", "6", "--duration", "3s")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"logged in with 2 simulated accounts (5 rooms each)", db + ": 1 run(s)", "A first query to try"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	// Again: the database is replaced, not added to.
	code, out, errs = runCLI(t, "", "demo", "--db", db, "--rooms", "2", "--duration", "1s", "--anonymous")
	if code != exitOK || !strings.Contains(out, "collecting ANONYMOUSLY") || !strings.Contains(out, db+": 1 run(s)") {
		t.Errorf("second demo: exit %d\n%s\n%s", code, out, errs)
	}
}

func TestDemoRefusesForeignDB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, []byte("my thesis draft\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCLI(t, "", "demo", "--db", path, "--duration", "1s")
	if code != exitUsage || !strings.Contains(errs, "--db "+path+" exists and is not a danmakud database") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	if b, _ := os.ReadFile(path); string(b) != "my thesis draft\n" {
		t.Error("the file was modified")
	}
	code, _, errs = runCLI(t, "", "demo", "--rooms", "0")
	if code != exitUsage || !strings.Contains(errs, "--rooms and --duration must be > 0") {
		t.Errorf("--rooms 0: exit %d, stderr %q", code, errs)
	}
}
