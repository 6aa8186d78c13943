package report

import (
	"context"
	"fmt"
	"time"

	"github.com/danmakud/danmakud/internal/atomicfile"
	"github.com/danmakud/danmakud/storage"
)

// Dataset is one or more database files read as one, for the HTML
// report: their summaries (as `stats` gives them) and their activity
// over time, summed.
type Dataset struct {
	Files   []string
	Summary *storage.Summary
	Act     *storage.Activity
}

// Load reads the database files at paths (read-only: they may be in use
// by a collect) into one Dataset: storage.Set's summary (the counts and
// coverage `stats` gives over the same files) and activity. Errors name
// the file.
func Load(ctx context.Context, paths []string) (*Dataset, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("report: no database file")
	}
	set, err := storage.OpenSet(ctx, paths)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer set.Close()
	s, err := set.Summarize(ctx)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	a, err := set.Activity(ctx)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return &Dataset{Files: paths, Summary: s, Act: a}, nil
}

// WriteFile reads the database files at paths (Load) and writes their
// report to out as a whole: under a temporary name, renamed when
// complete, so that a file with the final name is a finished report.
func WriteFile(ctx context.Context, paths []string, out string, now time.Time) error {
	ds, err := Load(ctx, paths)
	if err != nil {
		return err
	}
	f, err := atomicfile.Create(out, 0o644)
	if err != nil {
		return fmt.Errorf("report: -o %s: %w", out, err)
	}
	if err := ds.WriteHTML(f, now); err != nil {
		f.Abort()
		return err
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("report: -o %s: %w", out, err)
	}
	return nil
}
