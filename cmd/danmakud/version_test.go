package main

import (
	"strings"
	"testing"
)

// TestVersionFlag: --version prints what runs.version records
// (internal/buildinfo composes it).
func TestVersionFlag(t *testing.T) {
	code, out, _ := runCLI(t, "", "--version")
	if code != 0 || out != "danmakud version "+version+"\n" || strings.Contains(out, "dev\n") {
		t.Errorf("exit %d, %q (version %q)", code, out, version)
	}
}
