package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// TestMetricsAddrInUse: an address that cannot be listened on is a usage
// error (exit 2) that names the flag, before any request is made.
func TestMetricsAddrInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, errs := runCLI(t, "", "collect", "--db", filepath.Join(t.TempDir(), "a.db"), "--anonymous",
		"--api-base", "http://127.0.0.1:1", "--metrics-addr", ln.Addr().String(), "--duration", "1s")
	if code != exitUsage || !strings.Contains(errs, "--metrics-addr "+ln.Addr().String()) {
		t.Errorf("address in use: exit %d, stderr %q", code, errs)
	}
}
