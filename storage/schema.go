package storage

import (
	"database/sql"
	"fmt"
)

// migrationChecks[v] runs in the migration's transaction before
// migrations[v-1] (the one to v): what the migration relies on and SQL
// cannot refuse by itself. An error leaves the file as it was.
var migrationChecks = map[int]func(*sql.Tx) error{
	4: func(tx *sql.Tx) error {
		// v4 stores an interaction's key as its parts: every key must be
		// <trigger_ns>:<msg_type>, as the writer made them.
		var n int64
		var example sql.NullString
		err := tx.QueryRow(`SELECT count(*), min(dedup_key) FROM interactions WHERE dedup_key IS NOT NULL
 AND CAST(CAST(substr(dedup_key, 1, instr(dedup_key, ':') - 1) AS INTEGER) AS TEXT) || ':' || msg_type IS NOT dedup_key`).Scan(&n, &example)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%d interactions rows have a dedup_key that is not <trigger_time_ns>:<msg_type> (e.g. %q)", n, example.String)
		}
		return nil
	},
}

// migrations[i] takes the schema from user_version i to i+1. Never edit a
// released migration; append a new one.
var migrations = []string{
	// v1
	`
CREATE TABLE runs (
  id          INTEGER PRIMARY KEY,
  started_ms  INTEGER NOT NULL,
  ended_ms    INTEGER,
  version     TEXT NOT NULL,
  args        TEXT NOT NULL,
  exit_status TEXT
);

CREATE TABLE rooms (
  room_id          INTEGER PRIMARY KEY,
  short_id         INTEGER NOT NULL DEFAULT 0,
  anchor_uid       INTEGER NOT NULL DEFAULT 0,
  anchor_name      TEXT NOT NULL DEFAULT '',
  title            TEXT NOT NULL DEFAULT '',
  area_id          INTEGER NOT NULL DEFAULT 0,
  area_name        TEXT NOT NULL DEFAULT '',
  parent_area_id   INTEGER NOT NULL DEFAULT 0,
  parent_area_name TEXT NOT NULL DEFAULT '',
  first_seen_ms    INTEGER NOT NULL,
  last_seen_ms     INTEGER NOT NULL
);

CREATE TABLE room_snapshots (
  run_id   INTEGER NOT NULL,
  round    INTEGER NOT NULL,
  at_ms    INTEGER NOT NULL,
  room_id  INTEGER NOT NULL,
  rank     INTEGER NOT NULL,
  online   INTEGER NOT NULL,
  watched  INTEGER NOT NULL DEFAULT 0,
  desired  INTEGER NOT NULL,
  fixed    INTEGER NOT NULL,
  absent_rounds INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, round, room_id)
);

CREATE TABLE connections (
  run_id      INTEGER NOT NULL,
  seq         INTEGER NOT NULL,
  room_id     INTEGER NOT NULL,
  host        TEXT NOT NULL DEFAULT '',
  started_ms  INTEGER NOT NULL,
  authed_ms   INTEGER,
  ended_ms    INTEGER,
  end_reason  TEXT,
  frames      INTEGER NOT NULL DEFAULT 0,
  events      INTEGER NOT NULL DEFAULT 0,
  bytes       INTEGER NOT NULL DEFAULT 0,
  bad_frames  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, seq)
);
CREATE INDEX connections_room ON connections (room_id, started_ms);

CREATE TABLE danmaku (
  room_id      INTEGER NOT NULL,
  dedup_key    TEXT NOT NULL,
  id_str       TEXT NOT NULL,
  ts_ms        INTEGER NOT NULL,
  recv_ms      INTEGER NOT NULL,
  uid          INTEGER NOT NULL,
  uname        TEXT NOT NULL,
  text         TEXT NOT NULL,
  mode         INTEGER NOT NULL,
  font_size    INTEGER NOT NULL,
  color        INTEGER NOT NULL,
  mid_hash     TEXT NOT NULL,
  dm_type      INTEGER NOT NULL,
  emoticon     TEXT NOT NULL,
  medal_level  INTEGER NOT NULL,
  medal_name   TEXT NOT NULL,
  medal_anchor_uid INTEGER NOT NULL,
  medal_room_id    INTEGER NOT NULL,
  guard_level  INTEGER NOT NULL,
  user_level   INTEGER NOT NULL,
  is_admin     INTEGER NOT NULL,
  reply_uid    INTEGER NOT NULL,
  reply_uname  TEXT NOT NULL,
  is_mirror    INTEGER NOT NULL,
  cmd          TEXT NOT NULL,
  UNIQUE (room_id, dedup_key)
);
CREATE INDEX danmaku_room_ts ON danmaku (room_id, ts_ms);

CREATE TABLE gifts (
  room_id     INTEGER NOT NULL,
  dedup_key   TEXT NOT NULL,
  tid         TEXT NOT NULL,
  ts_ms       INTEGER NOT NULL,
  recv_ms     INTEGER NOT NULL,
  uid         INTEGER NOT NULL,
  uname       TEXT NOT NULL,
  gift_id     INTEGER NOT NULL,
  gift_name   TEXT NOT NULL,
  num         INTEGER NOT NULL,
  price       INTEGER NOT NULL,
  total_coin  INTEGER NOT NULL,
  coin_type   TEXT NOT NULL,
  blind_gift_name TEXT NOT NULL,
  guard_level INTEGER NOT NULL,
  medal_level INTEGER NOT NULL,
  medal_name  TEXT NOT NULL,
  cmd         TEXT NOT NULL,
  UNIQUE (room_id, dedup_key)
);
CREATE INDEX gifts_room_ts ON gifts (room_id, ts_ms);

CREATE TABLE super_chats (
  room_id     INTEGER NOT NULL,
  sc_id       INTEGER NOT NULL,
  ts_ms       INTEGER NOT NULL,
  recv_ms     INTEGER NOT NULL,
  uid         INTEGER NOT NULL,
  uname       TEXT NOT NULL,
  price       INTEGER NOT NULL,
  message     TEXT NOT NULL,
  message_trans TEXT NOT NULL,
  duration_s  INTEGER NOT NULL,
  cmd         TEXT NOT NULL,
  deleted_ms  INTEGER,
  UNIQUE (room_id, sc_id)
);

CREATE TABLE guards (
  room_id      INTEGER NOT NULL,
  purchase_key TEXT NOT NULL,
  ts_ms        INTEGER NOT NULL,
  recv_ms      INTEGER NOT NULL,
  uid          INTEGER NOT NULL,
  uname        TEXT NOT NULL,
  guard_level  INTEGER NOT NULL,
  num          INTEGER NOT NULL,
  price        INTEGER NOT NULL,
  unit         TEXT NOT NULL,
  payflow_id   TEXT NOT NULL,
  cmd          TEXT NOT NULL,
  UNIQUE (room_id, purchase_key)
);

CREATE TABLE interactions (
  room_id     INTEGER NOT NULL,
  dedup_key   TEXT,
  ts_ms       INTEGER NOT NULL,
  recv_ms     INTEGER NOT NULL,
  uid         INTEGER NOT NULL,
  uname       TEXT NOT NULL,
  msg_type    INTEGER NOT NULL,
  medal_level INTEGER NOT NULL,
  medal_name  TEXT NOT NULL,
  cmd         TEXT NOT NULL,
  UNIQUE (room_id, dedup_key)
);
CREATE INDEX interactions_room_ts ON interactions (room_id, ts_ms);

CREATE TABLE counters (
  room_id INTEGER NOT NULL,
  ts_ms   INTEGER NOT NULL,
  recv_ms INTEGER NOT NULL,
  name    TEXT NOT NULL,
  value   INTEGER NOT NULL
);
CREATE INDEX counters_room ON counters (room_id, name, recv_ms);

CREATE TABLE room_events (
  room_id INTEGER NOT NULL,
  ts_ms   INTEGER NOT NULL,
  recv_ms INTEGER NOT NULL,
  cmd     TEXT NOT NULL,
  status  TEXT NOT NULL,
  title   TEXT NOT NULL,
  message TEXT NOT NULL,
  raw     TEXT NOT NULL
);
CREATE INDEX room_events_room ON room_events (room_id, recv_ms);

CREATE TABLE combos (
  room_id INTEGER NOT NULL,
  recv_ms INTEGER NOT NULL,
  uid     INTEGER NOT NULL,
  uname   TEXT NOT NULL,
  gift_id INTEGER NOT NULL,
  gift_name TEXT NOT NULL,
  combo_num INTEGER NOT NULL,
  combo_total_coin INTEGER NOT NULL,
  batch_combo_id TEXT NOT NULL
);

CREATE TABLE unknown_commands (
  cmd           TEXT PRIMARY KEY,
  count         INTEGER NOT NULL,
  first_seen_ms INTEGER NOT NULL,
  last_seen_ms  INTEGER NOT NULL,
  sample        TEXT NOT NULL
);

CREATE TABLE malformed (
  room_id INTEGER NOT NULL,
  recv_ms INTEGER NOT NULL,
  reason  TEXT NOT NULL,
  body    BLOB
);
`, // v2: the optional raw archive (collect --raw).
	`
CREATE TABLE raw_messages (
  room_id INTEGER NOT NULL,
  recv_ms INTEGER NOT NULL,
  cmd     TEXT NOT NULL,
  body    TEXT NOT NULL
);
CREATE INDEX raw_messages_room ON raw_messages (room_id, recv_ms);
`, // v3: who a connection was and how much of the room it got; the money
	// facts of guards and gifts; red pockets. Guard rows of v1/v2 kept the
	// first message's price: say which, and GUARD_BUY's is its list price.
	`
ALTER TABLE connections ADD COLUMN uid INTEGER;
ALTER TABLE connections ADD COLUMN anonymous INTEGER;
ALTER TABLE connections ADD COLUMN sampled INTEGER;
ALTER TABLE connections ADD COLUMN hist_seen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE connections ADD COLUMN hist_arrived INTEGER NOT NULL DEFAULT 0;
ALTER TABLE connections ADD COLUMN acks INTEGER NOT NULL DEFAULT 0;

ALTER TABLE guards ADD COLUMN list_price INTEGER NOT NULL DEFAULT 0;
ALTER TABLE guards ADD COLUMN price_source TEXT NOT NULL DEFAULT '';
UPDATE guards SET price_source = cmd;
UPDATE guards SET list_price = price WHERE cmd = 'GUARD_BUY';
CREATE INDEX guards_payflow ON guards (room_id, payflow_id);
CREATE INDEX guards_buyer ON guards (room_id, uid, guard_level, ts_ms);

ALTER TABLE gifts ADD COLUMN bag_gift INTEGER NOT NULL DEFAULT 0;
ALTER TABLE gifts ADD COLUMN blind_price INTEGER NOT NULL DEFAULT 0;
ALTER TABLE gifts ADD COLUMN prize_value INTEGER NOT NULL DEFAULT 0;

CREATE TABLE red_pockets (
  room_id  INTEGER NOT NULL,
  lot_id   INTEGER NOT NULL,
  ts_ms    INTEGER NOT NULL,
  recv_ms  INTEGER NOT NULL,
  uid      INTEGER NOT NULL,
  uname    TEXT NOT NULL,
  price    INTEGER NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms   INTEGER NOT NULL,
  cmd      TEXT NOT NULL,
  UNIQUE (room_id, lot_id)
);
`, // v4: the frame journal's committed position, in the same transaction
	// as the rows derived from the frames before it. And fewer bytes per
	// event: each event table becomes a view with its v3 columns over a
	// table <name>_rows that stores command and counter names as codes of
	// the lookup tables commands and counter_names, the dedup keys of
	// danmaku and gifts as 64-bit codes (DedupHash, computed here by
	// danmakud_dedup_hash) with the key text kept once (dedup_key only
	// where it is not id_str / tid), and an interaction's key as its parts
	// (trigger_ns, msg_type). The rows keep their rowids (export order).
	// migrationChecks[4] first makes sure every interactions key splits;
	// each view is the registry's (Table.viewSQL).
	// Also the bookkeeping of many files: the file's own id, the runs of
	// other files merged in (and their shard), what merge took from each
	// input, and the events collect --kinds received and did not store.
	`
ALTER TABLE runs ADD COLUMN shard TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN source_db TEXT;
ALTER TABLE runs ADD COLUMN source_run INTEGER;

CREATE TABLE database_id (
  db_id      TEXT NOT NULL PRIMARY KEY,
  created_ms INTEGER NOT NULL
);
INSERT INTO database_id (db_id, created_ms) VALUES (lower(hex(randomblob(16))), CAST(unixepoch('subsec') * 1000 AS INTEGER));

CREATE TABLE merged_inputs (
  input_id    TEXT NOT NULL PRIMARY KEY,
  path        TEXT NOT NULL,
  via         TEXT,
  started_ms  INTEGER NOT NULL,
  finished_ms INTEGER
);

CREATE TABLE merge_progress (
  input_id TEXT NOT NULL,
  tbl      TEXT NOT NULL,
  through  INTEGER NOT NULL,
  PRIMARY KEY (input_id, tbl)
);

CREATE TABLE unstored_events (
  run_id  INTEGER NOT NULL,
  room_id INTEGER NOT NULL,
  kind    TEXT NOT NULL,
  count   INTEGER NOT NULL,
  PRIMARY KEY (run_id, room_id, kind)
);

CREATE TABLE journal_position (
  journal_id   INTEGER PRIMARY KEY,
  seg          INTEGER NOT NULL,
  off          INTEGER NOT NULL,
  committed_ms INTEGER NOT NULL
);

CREATE TABLE commands (
  cmd_id INTEGER PRIMARY KEY,
  cmd    TEXT NOT NULL UNIQUE
);
INSERT INTO commands (cmd) SELECT cmd FROM (
  SELECT cmd FROM danmaku UNION ALL SELECT cmd FROM interactions UNION ALL SELECT cmd FROM gifts
  UNION ALL SELECT cmd FROM super_chats UNION ALL SELECT cmd FROM guards UNION ALL SELECT cmd FROM red_pockets
  UNION ALL SELECT cmd FROM room_events)
 GROUP BY cmd ORDER BY count(*) DESC, cmd;

CREATE TABLE counter_names (
  name_id INTEGER PRIMARY KEY,
  name    TEXT NOT NULL UNIQUE
);
INSERT INTO counter_names (name) SELECT name FROM counters GROUP BY name ORDER BY count(*) DESC, name;

CREATE TABLE medals (
  medal_id         INTEGER PRIMARY KEY,
  medal_name       TEXT NOT NULL,
  medal_anchor_uid INTEGER NOT NULL,
  medal_room_id    INTEGER NOT NULL,
  UNIQUE (medal_name, medal_anchor_uid, medal_room_id)
);
INSERT INTO medals (medal_name, medal_anchor_uid, medal_room_id) SELECT medal_name, medal_anchor_uid, medal_room_id FROM danmaku
 GROUP BY 1, 2, 3 ORDER BY count(*) DESC, 1, 2, 3;

CREATE TABLE danmaku_rows (
  room_id      INTEGER NOT NULL,
  dedup        INTEGER NOT NULL,
  dedup_key    TEXT,
  id_str       TEXT NOT NULL,
  ts_ms        INTEGER NOT NULL,
  recv_delta   INTEGER NOT NULL,
  uid          INTEGER NOT NULL,
  uname        TEXT NOT NULL,
  text         TEXT NOT NULL,
  mode         INTEGER NOT NULL,
  font_size    INTEGER NOT NULL,
  color        INTEGER NOT NULL,
  mid_hash     TEXT NOT NULL,
  dm_type      INTEGER NOT NULL,
  emoticon     TEXT NOT NULL,
  medal_level  INTEGER NOT NULL,
  medal_id     INTEGER NOT NULL,
  guard_level  INTEGER NOT NULL,
  user_level   INTEGER NOT NULL,
  is_admin     INTEGER NOT NULL,
  reply_uid    INTEGER NOT NULL,
  reply_uname  TEXT NOT NULL,
  is_mirror    INTEGER NOT NULL,
  cmd_id       INTEGER NOT NULL
);
INSERT INTO danmaku_rows (rowid, room_id, dedup, dedup_key, id_str, ts_ms, recv_delta, uid, uname, text, mode, font_size, color,
  mid_hash, dm_type, emoticon, medal_level, medal_id, guard_level, user_level, is_admin, reply_uid, reply_uname, is_mirror, cmd_id)
 SELECT x.rowid, room_id, danmakud_dedup_hash(dedup_key), nullif(dedup_key, id_str), danmakud_pack_hex(id_str), ts_ms, recv_ms - ts_ms,
  uid, uname, text, mode, font_size, color, danmakud_pack_hex(mid_hash), dm_type, emoticon, medal_level,
  (SELECT medal_id FROM medals m WHERE m.medal_name = x.medal_name AND m.medal_anchor_uid = x.medal_anchor_uid
   AND m.medal_room_id = x.medal_room_id), guard_level,
  user_level, is_admin, reply_uid, reply_uname, is_mirror, (SELECT cmd_id FROM commands c WHERE c.cmd = x.cmd)
 FROM danmaku x ORDER BY x.rowid;
DROP TABLE danmaku;
CREATE UNIQUE INDEX danmaku_key ON danmaku_rows (room_id, dedup);
CREATE INDEX danmaku_room_ts ON danmaku_rows (room_id, ts_ms);
CREATE VIEW danmaku AS SELECT
  room_id,
  coalesce(dedup_key, CASE WHEN typeof(id_str) = 'blob' THEN substr(lower(hex(id_str)), CASE WHEN substr(id_str, 1, 1) = x'01' THEN 4 ELSE 3 END) ELSE id_str END) AS dedup_key,
  CASE WHEN typeof(id_str) = 'blob' THEN substr(lower(hex(id_str)), CASE WHEN substr(id_str, 1, 1) = x'01' THEN 4 ELSE 3 END) ELSE id_str END AS id_str,
  ts_ms,
  ts_ms + recv_delta AS recv_ms,
  uid,
  uname,
  text,
  mode,
  font_size,
  color,
  CASE WHEN typeof(mid_hash) = 'blob' THEN substr(lower(hex(mid_hash)), CASE WHEN substr(mid_hash, 1, 1) = x'01' THEN 4 ELSE 3 END) ELSE mid_hash END AS mid_hash,
  dm_type,
  emoticon,
  medal_level,
  (SELECT medal_name FROM medals WHERE medal_id = danmaku_rows.medal_id) AS medal_name,
  (SELECT medal_anchor_uid FROM medals WHERE medal_id = danmaku_rows.medal_id) AS medal_anchor_uid,
  (SELECT medal_room_id FROM medals WHERE medal_id = danmaku_rows.medal_id) AS medal_room_id,
  guard_level,
  user_level,
  is_admin,
  reply_uid,
  reply_uname,
  is_mirror,
  (SELECT cmd FROM commands WHERE cmd_id = danmaku_rows.cmd_id) AS cmd
 FROM danmaku_rows;

CREATE TABLE gifts_rows (
  room_id     INTEGER NOT NULL,
  dedup       INTEGER NOT NULL,
  dedup_key   TEXT,
  tid         TEXT NOT NULL,
  ts_ms       INTEGER NOT NULL,
  recv_delta  INTEGER NOT NULL,
  uid         INTEGER NOT NULL,
  uname       TEXT NOT NULL,
  gift_id     INTEGER NOT NULL,
  gift_name   TEXT NOT NULL,
  num         INTEGER NOT NULL,
  price       INTEGER NOT NULL,
  total_coin  INTEGER NOT NULL,
  coin_type   TEXT NOT NULL,
  blind_gift_name TEXT NOT NULL,
  guard_level INTEGER NOT NULL,
  medal_level INTEGER NOT NULL,
  medal_name  TEXT NOT NULL,
  cmd_id      INTEGER NOT NULL,
  bag_gift    INTEGER NOT NULL DEFAULT 0,
  blind_price INTEGER NOT NULL DEFAULT 0,
  prize_value INTEGER NOT NULL DEFAULT 0
);
INSERT INTO gifts_rows (rowid, room_id, dedup, dedup_key, tid, ts_ms, recv_delta, uid, uname, gift_id, gift_name, num, price,
  total_coin, coin_type, blind_gift_name, guard_level, medal_level, medal_name, cmd_id, bag_gift, blind_price, prize_value)
 SELECT x.rowid, room_id, danmakud_dedup_hash(dedup_key), nullif(dedup_key, tid), tid, ts_ms, recv_ms - ts_ms, uid, uname, gift_id,
  gift_name, num, price, total_coin, coin_type, blind_gift_name, guard_level, medal_level, medal_name, (SELECT cmd_id FROM commands c WHERE c.cmd = x.cmd), bag_gift,
  blind_price, prize_value
 FROM gifts x ORDER BY x.rowid;
DROP TABLE gifts;
CREATE UNIQUE INDEX gifts_key ON gifts_rows (room_id, dedup);
CREATE INDEX gifts_room_ts ON gifts_rows (room_id, ts_ms);
CREATE VIEW gifts AS SELECT
  room_id,
  coalesce(dedup_key, tid) AS dedup_key,
  tid,
  ts_ms,
  ts_ms + recv_delta AS recv_ms,
  uid,
  uname,
  gift_id,
  gift_name,
  num,
  price,
  total_coin,
  coin_type,
  blind_gift_name,
  guard_level,
  medal_level,
  medal_name,
  (SELECT cmd FROM commands WHERE cmd_id = gifts_rows.cmd_id) AS cmd,
  bag_gift,
  blind_price,
  prize_value
 FROM gifts_rows;

CREATE TABLE interactions_rows (
  room_id     INTEGER NOT NULL,
  trigger_ns  INTEGER,
  ts_ms       INTEGER NOT NULL,
  recv_delta  INTEGER NOT NULL,
  uid         INTEGER NOT NULL,
  uname       TEXT NOT NULL,
  msg_type    INTEGER NOT NULL,
  medal_level INTEGER NOT NULL,
  medal_name  TEXT NOT NULL,
  cmd_id      INTEGER NOT NULL
);
INSERT INTO interactions_rows (rowid, room_id, trigger_ns, ts_ms, recv_delta, uid, uname, msg_type, medal_level, medal_name, cmd_id)
 SELECT x.rowid, room_id, CAST(substr(dedup_key, 1, instr(dedup_key, ':') - 1) AS INTEGER), ts_ms, recv_ms - ts_ms, uid, uname,
  msg_type, medal_level, medal_name, (SELECT cmd_id FROM commands c WHERE c.cmd = x.cmd)
 FROM interactions x ORDER BY x.rowid;
DROP TABLE interactions;
CREATE UNIQUE INDEX interactions_key ON interactions_rows (room_id, trigger_ns, msg_type);
CREATE INDEX interactions_room_ts ON interactions_rows (room_id, ts_ms);
CREATE VIEW interactions AS SELECT
  room_id,
  trigger_ns || ':' || msg_type AS dedup_key,
  ts_ms,
  ts_ms + recv_delta AS recv_ms,
  uid,
  uname,
  msg_type,
  medal_level,
  medal_name,
  (SELECT cmd FROM commands WHERE cmd_id = interactions_rows.cmd_id) AS cmd
 FROM interactions_rows;

CREATE TABLE counters_rows (
  room_id INTEGER NOT NULL,
  ts_ms   INTEGER NOT NULL,
  recv_ms INTEGER NOT NULL,
  name_id INTEGER NOT NULL,
  value   INTEGER NOT NULL
);
INSERT INTO counters_rows (rowid, room_id, ts_ms, recv_ms, name_id, value)
 SELECT x.rowid, room_id, ts_ms, recv_ms, (SELECT name_id FROM counter_names n WHERE n.name = x.name), value
 FROM counters x ORDER BY x.rowid;
DROP TABLE counters;
CREATE INDEX counters_room ON counters_rows (room_id, name_id, recv_ms);
CREATE VIEW counters AS SELECT
  room_id,
  ts_ms,
  recv_ms,
  (SELECT name FROM counter_names WHERE name_id = counters_rows.name_id) AS name,
  value
 FROM counters_rows;

CREATE TABLE super_chats_rows (
  room_id     INTEGER NOT NULL,
  sc_id       INTEGER NOT NULL,
  ts_ms       INTEGER NOT NULL,
  recv_ms     INTEGER NOT NULL,
  uid         INTEGER NOT NULL,
  uname       TEXT NOT NULL,
  price       INTEGER NOT NULL,
  message     TEXT NOT NULL,
  message_trans TEXT NOT NULL,
  duration_s  INTEGER NOT NULL,
  cmd_id      INTEGER NOT NULL,
  deleted_ms  INTEGER,
  UNIQUE (room_id, sc_id)
);
INSERT INTO super_chats_rows (rowid, room_id, sc_id, ts_ms, recv_ms, uid, uname, price, message, message_trans, duration_s, cmd_id, deleted_ms)
 SELECT x.rowid, room_id, sc_id, ts_ms, recv_ms, uid, uname, price, message, message_trans, duration_s, (SELECT cmd_id FROM commands c WHERE c.cmd = x.cmd), deleted_ms
 FROM super_chats x ORDER BY x.rowid;
DROP TABLE super_chats;
CREATE VIEW super_chats AS SELECT
  room_id,
  sc_id,
  ts_ms,
  recv_ms,
  uid,
  uname,
  price,
  message,
  message_trans,
  duration_s,
  (SELECT cmd FROM commands WHERE cmd_id = super_chats_rows.cmd_id) AS cmd,
  deleted_ms
 FROM super_chats_rows;

CREATE TABLE guards_rows (
  room_id      INTEGER NOT NULL,
  purchase_key TEXT NOT NULL,
  ts_ms        INTEGER NOT NULL,
  recv_ms      INTEGER NOT NULL,
  uid          INTEGER NOT NULL,
  uname        TEXT NOT NULL,
  guard_level  INTEGER NOT NULL,
  num          INTEGER NOT NULL,
  price        INTEGER NOT NULL,
  unit         TEXT NOT NULL,
  payflow_id   TEXT NOT NULL,
  cmd_id       INTEGER NOT NULL,
  list_price   INTEGER NOT NULL DEFAULT 0,
  price_source TEXT NOT NULL DEFAULT '',
  UNIQUE (room_id, purchase_key)
);
INSERT INTO guards_rows (rowid, room_id, purchase_key, ts_ms, recv_ms, uid, uname, guard_level, num, price, unit, payflow_id,
  cmd_id, list_price, price_source)
 SELECT x.rowid, room_id, purchase_key, ts_ms, recv_ms, uid, uname, guard_level, num, price, unit, payflow_id, (SELECT cmd_id FROM commands c WHERE c.cmd = x.cmd),
  list_price, price_source
 FROM guards x ORDER BY x.rowid;
DROP TABLE guards;
CREATE INDEX guards_payflow ON guards_rows (room_id, payflow_id);
CREATE INDEX guards_buyer ON guards_rows (room_id, uid, guard_level, ts_ms);
CREATE VIEW guards AS SELECT
  room_id,
  purchase_key,
  ts_ms,
  recv_ms,
  uid,
  uname,
  guard_level,
  num,
  price,
  unit,
  payflow_id,
  (SELECT cmd FROM commands WHERE cmd_id = guards_rows.cmd_id) AS cmd,
  list_price,
  price_source
 FROM guards_rows;

CREATE TABLE red_pockets_rows (
  room_id  INTEGER NOT NULL,
  lot_id   INTEGER NOT NULL,
  ts_ms    INTEGER NOT NULL,
  recv_ms  INTEGER NOT NULL,
  uid      INTEGER NOT NULL,
  uname    TEXT NOT NULL,
  price    INTEGER NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms   INTEGER NOT NULL,
  cmd_id   INTEGER NOT NULL,
  UNIQUE (room_id, lot_id)
);
INSERT INTO red_pockets_rows (rowid, room_id, lot_id, ts_ms, recv_ms, uid, uname, price, start_ms, end_ms, cmd_id)
 SELECT x.rowid, room_id, lot_id, ts_ms, recv_ms, uid, uname, price, start_ms, end_ms, (SELECT cmd_id FROM commands c WHERE c.cmd = x.cmd)
 FROM red_pockets x ORDER BY x.rowid;
DROP TABLE red_pockets;
CREATE VIEW red_pockets AS SELECT
  room_id,
  lot_id,
  ts_ms,
  recv_ms,
  uid,
  uname,
  price,
  start_ms,
  end_ms,
  (SELECT cmd FROM commands WHERE cmd_id = red_pockets_rows.cmd_id) AS cmd
 FROM red_pockets_rows;

CREATE TABLE room_events_rows (
  room_id INTEGER NOT NULL,
  ts_ms   INTEGER NOT NULL,
  recv_ms INTEGER NOT NULL,
  cmd_id  INTEGER NOT NULL,
  status  TEXT NOT NULL,
  title   TEXT NOT NULL,
  message TEXT NOT NULL,
  raw     TEXT NOT NULL
);
INSERT INTO room_events_rows (rowid, room_id, ts_ms, recv_ms, cmd_id, status, title, message, raw)
 SELECT x.rowid, room_id, ts_ms, recv_ms, (SELECT cmd_id FROM commands c WHERE c.cmd = x.cmd), status, title, message, raw
 FROM room_events x ORDER BY x.rowid;
DROP TABLE room_events;
CREATE INDEX room_events_room ON room_events_rows (room_id, recv_ms);
CREATE VIEW room_events AS SELECT
  room_id,
  ts_ms,
  recv_ms,
  (SELECT cmd FROM commands WHERE cmd_id = room_events_rows.cmd_id) AS cmd,
  status,
  title,
  message,
  raw
 FROM room_events_rows;
`,
}
