package storage

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
	// as the rows derived from the frames before it.
	`
CREATE TABLE journal_position (
  journal_id   INTEGER PRIMARY KEY,
  seg          INTEGER NOT NULL,
  off          INTEGER NOT NULL,
  committed_ms INTEGER NOT NULL
);
`,
}
