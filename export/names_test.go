package export

import (
	"fmt"
	"testing"

	"github.com/danmakud/danmakud/storage"
)

func TestNames(t *testing.T) {
	if got := fmt.Sprint(FormatNames(nil)); got != "[jsonl csv xml parquet]" {
		t.Errorf("all formats: %s", got)
	}
	if got := fmt.Sprint(FormatNames(Format.ToDir)); got != "[csv xml parquet]" {
		t.Errorf("directory formats: %s", got)
	}
	kinds := KindNames()
	if len(kinds) != len(storage.EventTables()) || len(kinds) == 0 {
		t.Fatalf("kinds %v", kinds)
	}
	for i, k := range kinds {
		if et := storage.EventTableFor(k); et == nil || et != storage.EventTables()[i] {
			t.Errorf("kind %q does not name event table %d", k, i)
		}
	}
}
