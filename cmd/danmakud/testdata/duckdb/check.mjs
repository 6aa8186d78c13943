// Reads danmakud's Parquet segments (export --format parquet --partition
// day) with DuckDB and checks them against `stats --json` of the same
// files: the events per room and kind, each row in the directory of its
// UTC+8 receive day, and the TIMESTAMP columns beside the times.
//
//   node check.mjs SEGMENTS_DIR STATS_JSON KIND=TABLE,KIND=TABLE,...
//
// Prints {"compared": N, "days": [...], "rows": N} (rows: danmaku) and
// exits 0, or lists the differences on stderr and exits 1.
import { readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const [seg, statsPath, kindsArg] = process.argv.slice(2);
const stats = JSON.parse(readFileSync(statsPath, 'utf8'));
const kinds = kindsArg.split(',').map((p) => p.split('='));
const instance = await DuckDBInstance.create(':memory:');
const con = await instance.connect();
const query = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson();
const source = (table) => `read_parquet('${seg.replaceAll("'", "''")}/${table}/**/*.parquet', hive_partitioning = true)`;

const failures = [];
let compared = 0;
for (const [kind, table] of kinds) {
  const rows = await query(`SELECT room_id, count(*) AS n FROM ${source(table)} GROUP BY room_id`);
  const got = Object.fromEntries(rows.map((r) => [String(r.room_id), Number(r.n)]));
  for (const [room, counts] of Object.entries(stats.rooms)) {
    compared++;
    if ((got[room] ?? 0) !== counts[kind]) {
      failures.push(`${table}, room ${room}: DuckDB counts ${got[room] ?? 0}, stats ${counts[kind]}`);
    }
  }
  for (const room of Object.keys(got)) {
    if (!(room in stats.rooms)) failures.push(`${table}: DuckDB has room ${room}, stats does not`);
  }
}

const danmaku = source('danmaku');
const days = (await query(`SELECT DISTINCT CAST(day AS VARCHAR) AS day FROM ${danmaku} ORDER BY 1`)).map((r) => r.day);
const [wrong] = await query(`SELECT count(*) AS n FROM ${danmaku}
  WHERE epoch_ms(recv_at) <> recv_ms OR epoch_ms(ts_at) <> ts_ms
     OR strftime(make_timestamp((recv_ms + 8 * 3600 * 1000) * 1000), '%Y-%m-%d') <> CAST(day AS VARCHAR)`);
if (Number(wrong.n) !== 0) failures.push(`danmaku: ${wrong.n} rows whose TIMESTAMPs or day directory disagree with recv_ms/ts_ms`);
const [type] = await query(`SELECT typeof(recv_at) AS t FROM ${danmaku} LIMIT 1`);
if (type.t !== 'TIMESTAMP WITH TIME ZONE') failures.push(`danmaku.recv_at is ${type.t}, want TIMESTAMP WITH TIME ZONE (UTC)`);
const [total] = await query(`SELECT count(*) AS n FROM ${danmaku}`);

if (failures.length > 0) {
  console.error(failures.join('\n'));
  process.exit(1);
}
console.log(JSON.stringify({ compared, days, rows: Number(total.n) }));
