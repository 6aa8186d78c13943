package storage

// The lock: one writer per database file, across processes and within one.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"
)

// fileKey identifies a file whatever name it is reached by.
type fileKey struct{ dev, ino uint64 }

func keyOf(fi os.FileInfo) (fileKey, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}, false
	}
	return fileKey{uint64(st.Dev), uint64(st.Ino)}, true
}

// holder is this process's claim on one database file.
type holder struct {
	released chan struct{} // closed when the claim ends
	parked   []*os.File    // descriptors of the file to close only after the holder's SQLite
}

// held maps the files this process has claimed (or is claiming) to their
// claim. A second Open of a held file waits on the claim instead of
// opening the file.
var held = struct {
	sync.Mutex
	m map[fileKey]*holder
}{m: map[fileKey]*holder{}}

// lockHandle is a held lock: the flock'ed descriptor and the claim.
type lockHandle struct {
	f   *os.File
	key fileKey
	h   *holder
}

// release closes the descriptors (call it after SQLite has closed the
// file), then ends the claim.
func (l *lockHandle) release() {
	held.Lock()
	parked := l.h.parked
	l.h.parked = nil
	held.Unlock()
	for _, f := range parked {
		f.Close()
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	held.Lock()
	if held.m[l.key] == l.h {
		delete(held.m, l.key)
	}
	held.Unlock()
	close(l.h.released)
}

// testHookLockBusy, when set, is called each time Open finds the lock
// taken and is about to wait (tests synchronise on it).
var testHookLockBusy func()

// acquire checks path's type and writability, creates it if missing,
// and takes the lock (see OpenContext).
func acquire(ctx context.Context, path string, wait time.Duration) (*lockHandle, error) {
	deadline := time.Now().Add(wait)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	// waitFor blocks until ch is closed, the next poll is due (ch nil),
	// the deadline passes (ErrLocked) or ctx ends.
	waitFor := func(ch <-chan struct{}) error {
		if testHookLockBusy != nil {
			testHookLockBusy()
		}
		left := time.Until(deadline)
		if left <= 0 {
			if wait > 0 {
				return fmt.Errorf("storage: %s: %w (waited %s)", path, ErrLocked, wait)
			}
			return fmt.Errorf("storage: %s: %w", path, ErrLocked)
		}
		if ch == nil {
			left = min(left, lockPoll)
		}
		if timer == nil {
			timer = time.NewTimer(left)
		} else {
			timer.Reset(left)
		}
		select {
		case <-ch:
		case <-timer.C:
		case <-ctx.Done():
			return fmt.Errorf("storage: %s: waiting for the lock: %w", path, ctx.Err())
		}
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("storage: %s: %w", path, err)
		}
		f, err := openForLock(path)
		if err != nil {
			return nil, err
		}
		if f == nil { // held in this process: wait without opening the file
			if err := waitClaimed(path, waitFor); err != nil {
				return nil, err
			}
			continue
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("storage: %s: %w", path, err)
		}
		key, _ := keyOf(fi)
		held.Lock()
		if h := held.m[key]; h != nil {
			// Claimed in this process since we looked: closing f now would
			// drop that holder's SQLite locks, so it closes f for us.
			h.parked = append(h.parked, f)
			held.Unlock()
			if err := waitFor(h.released); err != nil {
				return nil, err
			}
			continue
		}
		h := &holder{released: make(chan struct{})}
		held.m[key] = h
		held.Unlock()
		lk := &lockHandle{f: f, key: key, h: h}
		for {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
				break
			}
			if werr := waitFor(nil); werr != nil {
				lk.release()
				return nil, werr
			}
		}
		if err != nil {
			lk.release()
			return nil, fmt.Errorf("storage: lock %s: %w", path, err)
		}
		// The name may have been pointed at another file meanwhile (the
		// file replaced or removed): then start over with what it names now.
		if now, err := os.Stat(path); err != nil || !os.SameFile(now, fi) {
			lk.release()
			continue
		}
		return lk, nil
	}
}

// waitClaimed waits for this process's claim on path's file, if any.
func waitClaimed(path string, waitFor func(<-chan struct{}) error) error {
	fi, err := os.Stat(path)
	if err != nil {
		return nil // gone: the caller looks again
	}
	key, _ := keyOf(fi)
	held.Lock()
	h := held.m[key]
	held.Unlock()
	if h == nil {
		return nil
	}
	return waitFor(h.released)
}

// openForLock checks path and returns a descriptor of the file to lock,
// creating an empty file if none exists; nil (and no error) when this
// process already claims the file, which is then not opened.
func openForLock(path string) (*os.File, error) {
	for {
		fi, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			if err := checkDirWritable(path); err != nil {
				return nil, err
			}
			f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
			if errors.Is(err, fs.ErrExist) {
				continue // created by someone else meanwhile
			}
			if err != nil {
				return nil, fmt.Errorf("storage: create %s: %w", path, err)
			}
			return f, nil
		}
		if err != nil {
			return nil, fmt.Errorf("storage: %s: %w", path, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("storage: %s: %w: %s", path, ErrNotOurs, kindOf(fi))
		}
		if key, ok := keyOf(fi); ok {
			held.Lock()
			h := held.m[key]
			held.Unlock()
			if h != nil {
				return nil, nil
			}
		}
		if err := checkWritable(path, fi); err != nil {
			return nil, err
		}
		// Read-only: the descriptor only carries the flock and reads the
		// header; it can never change the file.
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("storage: %s: %w", path, err)
		}
		return f, nil
	}
}

func kindOf(fi os.FileInfo) string {
	switch m := fi.Mode(); {
	case m.IsDir():
		return "it is a directory"
	case m&fs.ModeNamedPipe != 0:
		return "it is a named pipe"
	case m&fs.ModeSocket != 0:
		return "it is a socket"
	case m&fs.ModeDevice != 0:
		return "it is a device"
	default:
		return "it is not a regular file"
	}
}
