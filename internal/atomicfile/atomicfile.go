// Package atomicfile writes files so that a reader sees the old content
// or the new, never a part: the data goes to a temporary file in the
// target's directory, which is synced and then renamed over the target,
// and the directory is synced so that the rename survives a crash.
//
// Create returns a File to stream into (export writes gigabytes this
// way); WriteFile writes a byte slice in one call. Neither creates the
// target's directory.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// File is a file being written under a temporary name beside its target.
// Commit puts it in place; Abort (or a failed Commit) removes it and
// leaves the target as it was. A File is not safe for concurrent use.
type File struct {
	tmp  *os.File
	path string
	done bool
}

// Create starts writing path: it creates a temporary file named
// ".<base>.*.tmp" in path's directory with the given mode (set with
// chmod, so the umask does not narrow it; a secret given mode 0600 is
// never readable by others, not even while it is written).
func Create(path string, mode os.FileMode) (*File, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	return &File{tmp: tmp, path: path}, nil
}

// Write writes to the temporary file.
func (f *File) Write(p []byte) (int, error) { return f.tmp.Write(p) }

// Path is the target path, where Commit puts the file.
func (f *File) Path() string { return f.path }

// Commit syncs the temporary file to disk, closes it, renames it over
// the target and syncs the directory. On an error before the rename
// the temporary file is removed and the target is untouched; an error
// from syncing the directory comes after the rename (the new file is in
// place but may not survive a crash). Commit after Commit or Abort does
// nothing and returns nil.
func (f *File) Commit() error {
	if f.done {
		return nil
	}
	f.done = true
	err := f.tmp.Sync()
	if cerr := f.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.tmp.Name(), f.path)
	}
	if err != nil {
		os.Remove(f.tmp.Name())
		return err
	}
	return syncDir(filepath.Dir(f.path))
}

// Abort removes the temporary file; the target is untouched. It does
// nothing after Commit or Abort, so `defer f.Abort()` is the usual way
// to clean up on every error path.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.tmp.Close()
	os.Remove(f.tmp.Name())
}

// WriteFile writes data to path atomically with the given mode (see
// Create and Commit).
func WriteFile(path string, data []byte, mode os.FileMode) error {
	f, err := Create(path, mode)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}

// syncDir makes a rename in dir durable. Windows cannot sync a
// directory, and some file systems refuse to (EINVAL): there it is
// skipped.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
