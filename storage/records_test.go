package storage

import (
	"database/sql"
	"testing"
)

// TestPackHex: what packHex stores reads back (unhexSQL) as the very
// text, lowercase hex of either parity packed to about half, anything
// else kept as it is.
func TestPackHex(t *testing.T) {
	db, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("CREATE TABLE h (v TEXT)"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in   string
		size int // bytes stored
	}{
		{"068f8aa8c817677f44bf2f4eff67e6ea4262", 19}, {"0b41f6adaab21e97271beeb59267e6eb874", 19}, {"c1bf6338", 5},
		{"0", 2}, {"00", 2}, {"a", 2}, {"", 0}, {"ABCDEF12", 8}, {"c1bf633g", 8}, {"x:1:2", 5}, {"0A", 2}, {"é", 2},
	} {
		if _, err := db.Exec("DELETE FROM h; INSERT INTO h VALUES (?)", packHex(c.in)); err != nil {
			t.Fatal(err)
		}
		var out string
		var size int
		if err := db.QueryRow("SELECT "+unhexSQL("v")+", length(CAST(v AS BLOB)) FROM h").Scan(&out, &size); err != nil {
			t.Fatal(err)
		}
		if out != c.in || size != c.size {
			t.Errorf("%q: read back %q, %d bytes stored (want %d)", c.in, out, size, c.size)
		}
	}
}
