package storage_test

import (
	"fmt"
	"testing"

	"github.com/danmakud/danmakud/protocol"
	"github.com/danmakud/danmakud/storage"
)

const guardStart = 1758000000 // unix s

// A purchase: GUARD_BUY (list price, no payflow_id, no unit), the
// USER_TOAST_MSG and the USER_TOAST_MSG_V2 pair (source 0 and 2) with the
// paid price and the payflow id.
func guardBuy(room, uid, start int64) *protocol.Guard {
	return &protocol.Guard{Base: protocol.Base{Kind: protocol.KindGuard, Cmd: "GUARD_BUY", RoomID: room, TsMs: start * 1000},
		UID: uid, Uname: "buyer", GuardLevel: 3, Num: 1, Price: 198000, GiftID: 10003, StartTime: start, EndTime: start}
}

func guardToast(cmd string, room, uid, start int64, payflow string, price, source int64) *protocol.Guard {
	return &protocol.Guard{Base: protocol.Base{Kind: protocol.KindGuard, Cmd: cmd, RoomID: room, TsMs: start * 1000},
		UID: uid, Uname: "buyer", GuardLevel: 3, Num: 1, Price: price, Unit: "月", StartTime: start, EndTime: start + 30*86400,
		PayflowID: payflow, Source: source}
}

type guardRow struct {
	Key, Unit, Payflow, Cmd, Source string
	Price, List, TsMs               int64
}

func guardRows(t *testing.T, db *storage.DB, room int64) []guardRow {
	t.Helper()
	rows, err := db.SQL.Query(`SELECT purchase_key, unit, payflow_id, (SELECT cmd FROM commands c WHERE c.cmd_id = g.cmd_id), price_source, price, list_price, ts_ms
 FROM guards_rows g WHERE room_id = ? ORDER BY ts_ms, rowid`, room)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []guardRow
	for rows.Next() {
		var g guardRow
		if err := rows.Scan(&g.Key, &g.Unit, &g.Payflow, &g.Cmd, &g.Source, &g.Price, &g.List, &g.TsMs); err != nil {
			t.Fatal(err)
		}
		out = append(out, g)
	}
	return out
}

// permutations calls f with every order of n items.
func permutations(n int, f func([]int)) {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			f(append([]int(nil), p...))
			return
		}
		for i := k; i < n; i++ {
			p[k], p[i] = p[i], p[k]
			rec(k + 1)
			p[k], p[i] = p[i], p[k]
		}
	}
	rec(0)
}

// TestGuardOnePurchaseAnyOrder: GUARD_BUY, USER_TOAST_MSG and the V2
// source-0/source-2 pair of one purchase, in every order, in one flush or
// one flush per message, are one row with the paid price, the list price
// and where the price came from.
func TestGuardOnePurchaseAnyOrder(t *testing.T) {
	db, _ := open(t)
	room := int64(1000)
	for _, perFlush := range []bool{false, true} {
		permutations(4, func(order []int) {
			room++
			msgs := []*protocol.Guard{
				guardBuy(room, 5, guardStart),
				guardToast("USER_TOAST_MSG", room, 5, guardStart, "pf-1", 138000, 0),
				guardToast("USER_TOAST_MSG_V2", room, 5, guardStart, "pf-1", 138000, 0),
				guardToast("USER_TOAST_MSG_V2", room, 5, guardStart, "pf-1", 138000, 2),
			}
			var recs []storage.Record
			for _, i := range order {
				recs = append(recs, ev(msgs[i]))
			}
			var dups int64
			if perFlush {
				for _, r := range recs {
					dups += write(t, db, r).Totals().Dups
				}
			} else {
				dups = write(t, db, recs...).Totals().Dups
			}
			got := guardRows(t, db, room)
			first := msgs[order[0]].Cmd
			wantSource := "USER_TOAST_MSG"
			if msgs[order[0]].Cmd == "USER_TOAST_MSG_V2" || (order[0] == 0 && msgs[order[1]].Cmd == "USER_TOAST_MSG_V2") {
				wantSource = "USER_TOAST_MSG_V2" // the first toast with a price supplies it
			}
			want := guardRow{Key: fmt.Sprintf("5:3:%d", guardStart), Unit: "月", Payflow: "pf-1", Cmd: first, Source: wantSource,
				Price: 138000, List: 198000, TsMs: guardStart * 1000}
			if len(got) != 1 || got[0] != want || dups != 3 {
				t.Errorf("order %v (flush per message %v): rows %+v, dups %d; want %+v, 3 dups", order, perFlush, got, dups, want)
			}
		})
	}
}

func TestGuardOnlyToasts(t *testing.T) {
	db, _ := open(t)
	// V2 only, source 2 first (arrival order is not guaranteed).
	write(t, db, ev(guardToast("USER_TOAST_MSG_V2", 1, 5, guardStart, "pf-9", 168000, 2)),
		ev(guardToast("USER_TOAST_MSG_V2", 1, 5, guardStart, "pf-9", 168000, 0)))
	got := guardRows(t, db, 1)
	want := guardRow{Key: "p:pf-9", Unit: "月", Payflow: "pf-9", Cmd: "USER_TOAST_MSG_V2", Source: "USER_TOAST_MSG_V2",
		Price: 168000, List: 0, TsMs: guardStart * 1000}
	if len(got) != 1 || got[0] != want {
		t.Errorf("V2 only: %+v, want %+v", got, want)
	}
}

func TestGuardBuyWithoutToast(t *testing.T) {
	db, _ := open(t)
	b := guardBuy(1, 5, guardStart)
	mx := write(t, db, ev(b), ev(b)) // and the same message again (a resend)
	got := guardRows(t, db, 1)
	want := guardRow{Key: fmt.Sprintf("5:3:%d", guardStart), Cmd: "GUARD_BUY", Source: "GUARD_BUY", Price: 198000, List: 198000,
		TsMs: guardStart * 1000}
	if len(got) != 1 || got[0] != want || mx.Totals().Dups != 1 {
		t.Errorf("GUARD_BUY only: %+v (dups %d), want %+v", got, mx.Totals().Dups, want)
	}
	// A repeat of a GUARD_BUY already joined by its toast is still one row.
	write(t, db, ev(guardToast("USER_TOAST_MSG", 1, 5, guardStart, "pf-2", 138000, 0)))
	write(t, db, ev(b))
	if got := guardRows(t, db, 1); len(got) != 1 || got[0].Price != 138000 || got[0].List != 198000 {
		t.Errorf("after toast and repeat: %+v", got)
	}
}

// TestGuardPurchasesStayApart: a month apart, the same buyer and level
// are two purchases; two purchases a minute apart interleaved (both
// GUARD_BUYs before both toasts) each link to the nearest.
func TestGuardPurchasesStayApart(t *testing.T) {
	db, _ := open(t)
	month := int64(30 * 86400)
	write(t, db,
		ev(guardBuy(1, 5, guardStart)), ev(guardToast("USER_TOAST_MSG_V2", 1, 5, guardStart, "pf-a", 138000, 0)),
		ev(guardBuy(1, 5, guardStart+month)), ev(guardToast("USER_TOAST_MSG_V2", 1, 5, guardStart+month, "pf-b", 168000, 0)))
	got := guardRows(t, db, 1)
	if len(got) != 2 || got[0].Payflow != "pf-a" || got[0].Price != 138000 || got[1].Payflow != "pf-b" || got[1].Price != 168000 ||
		got[0].List != 198000 || got[1].List != 198000 {
		t.Errorf("a month apart: %+v", got)
	}
	// Renewal toast a month later without its GUARD_BUY: its own row.
	write(t, db, ev(guardToast("USER_TOAST_MSG", 1, 5, guardStart+2*month, "pf-c", 198000, 0)))
	if got := guardRows(t, db, 1); len(got) != 3 || got[2].List != 0 || got[2].Payflow != "pf-c" {
		t.Errorf("third purchase: %+v", got)
	}

	write(t, db,
		ev(guardBuy(2, 5, guardStart)), ev(guardBuy(2, 5, guardStart+60)),
		ev(guardToast("USER_TOAST_MSG", 2, 5, guardStart+60, "pf-y", 168000, 0)),
		ev(guardToast("USER_TOAST_MSG", 2, 5, guardStart, "pf-x", 138000, 0)))
	got = guardRows(t, db, 2)
	if len(got) != 2 || got[0].Payflow != "pf-x" || got[0].Price != 138000 || got[1].Payflow != "pf-y" || got[1].Price != 168000 {
		t.Errorf("interleaved: %+v", got)
	}
	// Other buyers and levels never link.
	other := guardToast("USER_TOAST_MSG", 3, 6, guardStart, "pf-o", 138000, 0)
	level := guardBuy(3, 5, guardStart)
	level.GuardLevel = 2
	write(t, db, ev(guardBuy(3, 5, guardStart)), ev(other), ev(level))
	if got := guardRows(t, db, 3); len(got) != 3 {
		t.Errorf("different buyers or levels linked: %+v", got)
	}
}

// TestGuardMaskedBuyer: uid 0 (a masked buyer) links by time only at
// the very same start time.
func TestGuardMaskedBuyer(t *testing.T) {
	db, _ := open(t)
	write(t, db, ev(guardBuy(1, 0, guardStart)), ev(guardToast("USER_TOAST_MSG", 1, 0, guardStart, "pf-1", 138000, 0)),
		ev(guardBuy(1, 0, guardStart+60)), ev(guardToast("USER_TOAST_MSG", 1, 0, guardStart+61, "pf-2", 138000, 0)))
	got := guardRows(t, db, 1)
	if len(got) != 3 || got[0].Payflow != "pf-1" || got[0].List != 198000 || got[0].Price != 138000 {
		t.Errorf("masked buyers: %+v", got)
	}
}
