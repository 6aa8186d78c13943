package storage

// Writability: the checks that keep SQLite from opening a file read-only.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// checkWritable: the file, its directory and any -wal/-shm beside it
// must be writable, so that SQLite never opens the file read-only (and
// then leaves a read-only -wal behind that breaks the next run).
func checkWritable(path string, fi os.FileInfo) error {
	if err := writableByMode(path, fi, "the database file"); err != nil {
		return err
	}
	for _, side := range []string{"-wal", "-shm"} {
		sfi, err := os.Stat(path + side)
		if err != nil {
			continue
		}
		if err := writableByMode(path+side, sfi, "the database's "+side+" file"); err != nil {
			return fmt.Errorf("%w; if %s is ours, make it writable (chmod u+w %s), do not delete it: it may hold data", err, path, path+side)
		}
	}
	return checkDirWritable(path)
}

// checkDirWritable: SQLite creates path-wal and path-shm in path's
// directory.
func checkDirWritable(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("storage: %s: directory %s: %w", path, dir, err)
	}
	if err := writableByMode(dir, fi, "its directory "+dir); err != nil {
		return fmt.Errorf("storage: %s: %w: %s is not writable, and SQLite needs to create %s-wal there", path, ErrReadOnly, dir, filepath.Base(path))
	}
	return nil
}

// writableByMode returns ErrReadOnly (naming what) when the process may
// not write name: by its mode bits (canWrite) or because its filesystem
// is mounted read-only.
func writableByMode(name string, fi os.FileInfo, what string) error {
	uid, gid := uint32(0), uint32(0)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		uid, gid = st.Uid, st.Gid
	}
	groups, _ := os.Getgroups()
	if !canWrite(fi.Mode(), uid, gid, os.Geteuid(), os.Getegid(), groups) {
		return fmt.Errorf("storage: %s: %w: %s has mode %v and is owned by uid %d (running as uid %d)",
			name, ErrReadOnly, what, fi.Mode().Perm(), uid, os.Geteuid())
	}
	if err := syscall.Access(name, 2 /* W_OK */); errors.Is(err, syscall.EROFS) {
		return fmt.Errorf("storage: %s: %w: %s is on a read-only filesystem", name, ErrReadOnly, what)
	}
	return nil
}

// canWrite decides from permission bits whether a process (euid, egid,
// supplementary groups) may write a file or directory with mode, owned
// by fuid:fgid, as access(2) does: the owner's bits for the owner, else
// the group's for a member, else the others'; a directory also needs
// search (x). Root passes every check except one: a regular file with no
// write bit at all is read-only by intent and refused for root too.
func canWrite(mode fs.FileMode, fuid, fgid uint32, euid, egid int, groups []int) bool {
	perm := mode.Perm()
	if euid == 0 {
		return mode.IsDir() || perm&0o222 != 0
	}
	var bits fs.FileMode
	switch {
	case uint32(euid) == fuid:
		bits = (perm >> 6) & 7
	case uint32(egid) == fgid || containsGroup(groups, fgid):
		bits = (perm >> 3) & 7
	default:
		bits = perm & 7
	}
	if mode.IsDir() {
		return bits&3 == 3
	}
	return bits&2 != 0
}

func containsGroup(groups []int, g uint32) bool {
	for _, x := range groups {
		if uint32(x) == g {
			return true
		}
	}
	return false
}
