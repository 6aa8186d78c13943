package main

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func sampleHex(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "samples", "frames", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestDecodeHexContinuesAfterBadLine(t *testing.T) {
	in := sampleHex(t, "zlib_danmu_1.hex") + "\nzz-not-hex\n" + "0000000a0010\n" + sampleHex(t, "heartbeat_reply_1.hex") + "\n"
	code, out, errs := runCLI(t, in, "decode", "--hex")
	if code != exitBadInput {
		t.Errorf("exit = %d, want %d", code, exitBadInput)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"kind":"danmaku"`) || !strings.Contains(lines[1], `"name":"popularity"`) {
		t.Errorf("stdout:\n%s", out)
	}
	if !strings.Contains(errs, "line 2: bad hex") || !strings.Contains(errs, "line 3:") || !strings.Contains(errs, "shorter than its header") {
		t.Errorf("stderr does not name the lines and reasons:\n%s", errs)
	}
}

func TestDecodeBinaryStream(t *testing.T) {
	var bin []byte
	for _, f := range []string{"auth_reply_1.hex", "heartbeat_reply_1.hex", "zlib_danmu_1.hex"} {
		b, _ := hex.DecodeString(sampleHex(t, f))
		bin = append(bin, b...)
	}
	path := filepath.Join(t.TempDir(), "capture.bin")
	if err := os.WriteFile(path, bin, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "", "decode", path)
	if code != exitOK || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if n := strings.Count(out, "\n"); n != 3 || !strings.Contains(out, `"text":"牛"`) {
		t.Errorf("stdout:\n%s", out)
	}
	// The same stream cut short: events before the cut, then an error.
	code, out, errs = runCLI(t, string(bin[:len(bin)-5]), "decode")
	if code != exitBadInput || strings.Count(out, "\n") != 2 || !strings.Contains(errs, "offset 61") {
		t.Errorf("truncated: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestDecodeMissingFile(t *testing.T) {
	code, _, errs := runCLI(t, "", "decode", filepath.Join(t.TempDir(), "nope"))
	if code != exitFailure || !strings.Contains(errs, "no such file") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}
