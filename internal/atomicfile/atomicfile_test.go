package atomicfile

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// entries lists dir's names.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestCommitReplacesTarget(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.txt")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Create(p, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("new content")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("target changed before Commit: %q", b)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new content" {
		t.Fatalf("after Commit: %q", b)
	}
	if err := f.Commit(); err != nil {
		t.Fatalf("second Commit: %v", err)
	}
	f.Abort() // after Commit: nothing
	if got := entries(t, dir); len(got) != 1 || got[0] != "out.txt" {
		t.Fatalf("directory holds %v", got)
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.txt")
	f, err := Create(p, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("partial"))
	f.Abort()
	if got := entries(t, dir); len(got) != 0 {
		t.Fatalf("abort left %v", got)
	}
	if err := f.Commit(); err != nil {
		t.Fatalf("Commit after Abort: %v", err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("Commit after Abort created the target: %v", err)
	}
	// An existing target keeps its content.
	os.WriteFile(p, []byte("old"), 0o644)
	f, err = Create(p, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("new"))
	f.Abort()
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("abort changed the target: %q", b)
	}
	if got := entries(t, dir); len(got) != 1 {
		t.Fatalf("abort left %v", got)
	}
}

func TestModeHonoured(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	old := umask(0o077)
	defer umask(old)
	dir := t.TempDir()
	for _, mode := range []os.FileMode{0o600, 0o644, 0o640} {
		p := filepath.Join(dir, mode.String())
		if err := WriteFile(p, []byte("x"), mode); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("mode %v: got %v, %v", mode, fi.Mode().Perm(), err)
		}
	}
	// Replacing a looser file leaves the mode asked for.
	p := filepath.Join(dir, "loose")
	os.WriteFile(p, []byte("x"), 0o666)
	os.Chmod(p, 0o666)
	if err := WriteFile(p, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("replaced file has mode %v", fi.Mode().Perm())
	}
}

// TestFailedCommitLeavesTarget: a rename that cannot happen (the target
// is a non-empty directory) fails, removes the temporary file and leaves
// the target as it was.
func TestFailedCommitLeavesTarget(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.MkdirAll(filepath.Join(target, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := Create(target, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("data"))
	if err := f.Commit(); err == nil {
		t.Fatal("Commit over a non-empty directory succeeded")
	}
	if got := entries(t, dir); len(got) != 1 || got[0] != "target" {
		t.Fatalf("directory holds %v after the failed Commit", got)
	}
	if got := entries(t, target); len(got) != 1 || got[0] != "inside" {
		t.Fatalf("target changed: %v", got)
	}
	// No directory: nothing is created anywhere.
	missing := filepath.Join(dir, "no", "such", "file")
	if err := WriteFile(missing, []byte("x"), 0o644); err == nil {
		t.Fatal("WriteFile into a missing directory succeeded")
	}
	if got := entries(t, dir); len(got) != 1 {
		t.Fatalf("directory holds %v", got)
	}
}
