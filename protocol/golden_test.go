package protocol_test

import (
	"bytes"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/danmakud/danmakud/protocol"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const samplesDir = "../testdata/samples"

// eventsJSONL renders events in the canonical form, one per line.
func eventsJSONL(t *testing.T, evs []protocol.Event) []byte {
	t.Helper()
	var out []byte
	for _, e := range evs {
		var err error
		out, err = protocol.AppendJSON(out, e)
		if err != nil {
			t.Fatalf("AppendJSON: %v", err)
		}
		out = append(out, '\n')
	}
	return out
}

// checkGolden compares got with testdata/golden/name, or rewrites it
// with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("..", "testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file missing (run go test ./protocol -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file\n got: %s\nwant: %s", name, got, want)
	}
}

// TestGoldenCommands decodes every captured command in testdata/samples,
// wrapped in an op-5 packet as the server sends it, with both the fast
// and the general decoder, and compares with the golden files.
func TestGoldenCommands(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(samplesDir, "*.json"))
	if err != nil || len(files) < 60 {
		t.Fatalf("samples: %d files, %v", len(files), err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			msg := protocol.EncodePacket(protocol.VerJSON, protocol.OpMessage, 0, body)
			var fd protocol.FrameDecoder
			evs, errs := fd.DecodeMessage(nil, msg, 0)
			if len(errs) > 0 || len(evs) == 0 {
				t.Fatalf("decode: %d events, errors %v", len(evs), errs)
			}
			got := eventsJSONL(t, evs)
			checkGolden(t, "commands/"+name+".jsonl", got)

			var slow protocol.FrameDecoder
			slow.Commands.SetSlowOnly(true)
			evs2, _ := slow.DecodeMessage(nil, msg, 0)
			if got2 := eventsJSONL(t, evs2); !bytes.Equal(got, got2) {
				t.Errorf("fast and general paths differ:\nfast:    %s\ngeneral: %s", got, got2)
			}
		})
	}
}

// TestGoldenFrames decodes every captured binary frame.
func TestGoldenFrames(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(samplesDir, "frames", "*.hex"))
	if err != nil || len(files) < 8 {
		t.Fatalf("frames: %d files, %v", len(files), err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".hex")
		t.Run(name, func(t *testing.T) {
			msg := readHex(t, f)
			var fd protocol.FrameDecoder
			evs, errs := fd.DecodeMessage(nil, msg, 0)
			if len(errs) > 0 || len(evs) == 0 {
				t.Fatalf("decode: %d events, errors %v", len(evs), errs)
			}
			checkGolden(t, "frames/"+name+".jsonl", eventsJSONL(t, evs))
		})
	}
}

func readHex(t testing.TB, path string) []byte {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(text)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
