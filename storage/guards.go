package storage

import (
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/danmakud/danmakud/protocol"
)

// GuardLinkWindow is how far apart the start times of two messages may be
// and still be linked as one purchase when payflow_id cannot link them
// (GUARD_BUY never carries one). Different purchases by one buyer at one
// level further apart than this always stay different rows. Ten
// seconds: the messages of one purchase arrive within a second of each other
// (PROTOCOL.md §10.4) and carry its start time; a wider window merged a
// GUARD_BUY that never got a toast with the same buyer's next purchase.
const GuardLinkWindow = 10 * time.Second

const cmdGuardBuy = "GUARD_BUY"

// GuardKey is the purchase_key a message gives the row it creates, and
// the identity by which an exact repeat of a GUARD_BUY (or of a toast
// without payflow_id) is recognised: for GUARD_BUY buyer, level and
// start time (the format rows of schema 1 and 2 have); for a toast
// "p:<payflow_id>", or "t:<uid>:<level>:<start>" without one.
func GuardKey(g *protocol.Guard) string {
	k := strconv.FormatInt(g.UID, 10) + ":" + strconv.FormatInt(g.GuardLevel, 10) + ":" + strconv.FormatInt(g.StartTime, 10)
	switch {
	case g.Cmd == cmdGuardBuy:
		return k
	case g.PayflowID != "":
		return "p:" + g.PayflowID
	}
	return "t:" + k
}

// guardRow is the part of a guards row that linking reads and merges.
type guardRow struct {
	rowid                 int64
	key, uname, unit, pf  string
	num, price, listPrice int64
	priceSource           string
}

// guardCols are the columns guardRow reads, then FROM.
const guardCols = `rowid, purchase_key, uname, unit, payflow_id, num, price, list_price, price_source FROM `

func scanGuard(row *sql.Row) (*guardRow, error) {
	var g guardRow
	err := row.Scan(&g.rowid, &g.key, &g.uname, &g.unit, &g.pf, &g.num, &g.price, &g.listPrice, &g.priceSource)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return &g, err
}

// priceRank orders where a guard's price came from: a toast's paid price
// beats GUARD_BUY's list price, which beats nothing. Between toasts the
// first one with a price wins.
func priceRank(source string) int {
	switch source {
	case "":
		return 0
	case cmdGuardBuy:
		return 1
	}
	return 2
}

// putGuard stores one row per purchase whatever the order its messages
// arrive in: GUARD_BUY (list price, no payflow_id), USER_TOAST_MSG and
// USER_TOAST_MSG_V2 (paid price, payflow_id; V2 comes as a source-0 and
// a source-2 copy). A message joins the row with its payflow_id, else the
// nearest row of the same buyer and level within GuardLinkWindow that
// lacks what the message brings (a GUARD_BUY joins a row without a list
// price, a toast a row without a payflow_id), else it makes a new row.
// A masked buyer (uid 0) links by time only at the very same start
// time: a purchase should not count twice, and two masked buyers at one
// level in one second are rarer than one purchase's two messages.
func putGuard(s *stmts, t *Table, runID int64, rec Record) error {
	r := rec.(Event)
	g := r.E.(*protocol.Guard)
	buy := g.Cmd == cmdGuardBuy
	key := GuardKey(g)
	at := guardAt(g, r.RecvMs)
	if buy || g.PayflowID == "" {
		var one int
		err := s.queryRow(`SELECT 1 FROM `+t.Stored()+` WHERE room_id = ? AND purchase_key = ?`, g.RoomID, key).Scan(&one)
		if err == nil {
			return nil // this very message again
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	var row *guardRow
	var err error
	if g.PayflowID != "" {
		row, err = scanGuard(s.queryRow(`SELECT `+guardCols+t.Stored()+` WHERE room_id = ? AND payflow_id = ? ORDER BY rowid LIMIT 1`, g.RoomID, g.PayflowID))
		if err != nil {
			return err
		}
	}
	if row == nil {
		lacks := "payflow_id = ''"
		if buy {
			lacks = "list_price = 0"
		}
		w := GuardLinkWindow.Milliseconds()
		if g.UID == 0 {
			w = 0 // masked buyers: only the very same start time
		}
		row, err = scanGuard(s.queryRow(`SELECT `+guardCols+t.Stored()+` WHERE room_id = ? AND uid = ? AND guard_level = ? AND `+lacks+`
 AND ts_ms BETWEEN ? AND ? ORDER BY abs(ts_ms - ?), rowid LIMIT 1`, g.RoomID, g.UID, g.GuardLevel, at-w, at+w, at))
		if err != nil {
			return err
		}
	}
	if row == nil {
		_, err := s.insert(t, t.row(runID, rec))
		return err
	}
	list, source := guardPrice(g)
	m := *row
	if m.uname == "" {
		m.uname = g.Uname
	}
	if m.unit == "" {
		m.unit = g.Unit
	}
	if m.pf == "" {
		m.pf = g.PayflowID
	}
	if m.num == 0 {
		m.num = g.Num
	}
	if buy && m.listPrice == 0 {
		m.listPrice, m.key = list, key
	}
	if source != "" && priceRank(source) > priceRank(m.priceSource) {
		m.price, m.priceSource = g.Price, source
	}
	if m == *row {
		return nil
	}
	_, err = s.update(`UPDATE `+t.Stored()+` SET purchase_key = ?, uname = ?, unit = ?, payflow_id = ?, num = ?, price = ?, list_price = ?,
 price_source = ? WHERE rowid = ?`, m.key, m.uname, m.unit, m.pf, m.num, m.price, m.listPrice, m.priceSource, m.rowid)
	return err
}

// guardAt is the time a guard message gives its purchase: its start
// time, else when it was received.
func guardAt(g *protocol.Guard, recvMs int64) int64 {
	if g.TsMs == 0 {
		return recvMs
	}
	return g.TsMs
}

// guardPrice is what a guard message says of the price: GUARD_BUY's is
// the list price (and the source of price until a toast says what was
// paid); a toast with a price is the source.
func guardPrice(g *protocol.Guard) (listPrice int64, source string) {
	if g.Cmd == cmdGuardBuy {
		return g.Price, cmdGuardBuy
	}
	if g.Price > 0 {
		return 0, g.Cmd
	}
	return 0, ""
}
