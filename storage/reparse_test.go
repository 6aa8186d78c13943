package storage

import (
	"context"
	"errors"
	"testing"

	"github.com/danmakud/danmakud/protocol"
)

// TestReparseNullKeyRows: an interaction without a trigger time has a
// NULL key, which the unique key does not refuse; reparse writes such
// rows only for rooms that have none, and keyed ones everywhere.
func TestReparseNullKeyRows(t *testing.T) {
	db := openInternal(t)
	old := &protocol.Interact{Base: protocol.Base{Kind: protocol.KindInteract, Cmd: "INTERACT_WORD", RoomID: 1}, UID: 9, MsgType: 1}
	noKey := []byte(`{"cmd":"INTERACT_WORD","data":{"uid":5,"uname":"a","msg_type":1}}`)
	keyed := []byte(`{"cmd":"INTERACT_WORD","data":{"uid":6,"uname":"b","msg_type":2,"trigger_time":1700000000000000000}}`)
	writeInternal(t, db, 0, Event{E: old, RecvMs: 1},
		Raw{RoomID: 1, RecvMs: 2, Cmd: "INTERACT_WORD", Body: noKey}, Raw{RoomID: 1, RecvMs: 3, Cmd: "INTERACT_WORD", Body: keyed},
		Raw{RoomID: 2, RecvMs: 2, Cmd: "INTERACT_WORD", Body: noKey})
	var last int64
	res, err := db.Reparse(context.Background(), ReparseOptions{Progress: func(n int64) { last = n }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Bodies != 3 || last != 3 || res.Skipped != 1 || res.Events != 2 || res.PerTable["interactions"] != 2 {
		t.Fatalf("result %+v, progress %d", res, last)
	}
	var got string
	if err := db.SQL.QueryRow(`SELECT group_concat(room_id || ':' || uid, ' ') FROM (SELECT room_id, uid FROM interactions ORDER BY room_id, uid)`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "1:6 1:9 2:5" {
		t.Fatalf("interactions %q, want the old keyless row and the keyed one for room 1, the archived one for room 2", got)
	}
}

// TestReparseInterrupted: when ctx ends, reparse stops at the next body,
// stores what it read and says it was interrupted.
func TestReparseInterrupted(t *testing.T) {
	db := openInternal(t)
	body := []byte(`{"cmd":"WATCHED_CHANGE","data":{"num":42}}`)
	writeInternal(t, db, 0, Raw{RoomID: 1, RecvMs: 2, Cmd: "WATCHED_CHANGE", Body: body},
		Raw{RoomID: 2, RecvMs: 2, Cmd: "WATCHED_CHANGE", Body: body}, Raw{RoomID: 3, RecvMs: 2, Cmd: "WATCHED_CHANGE", Body: body})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := db.Reparse(ctx, ReparseOptions{Progress: func(n int64) { cancel() }})
	if !errors.Is(err, ErrReparseInterrupted) || !errors.Is(err, context.Canceled) || res.Bodies != 1 || res.Rows != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
}
