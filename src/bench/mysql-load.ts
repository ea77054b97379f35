import { cpus, loadavg } from 'node:os';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { findObject } from '../catalog/objects.js';
import { compileRowMapper, objectTable } from '../catalog/schema.js';
import type { Column, Row, SqlValue } from '../catalog/types.js';
import { connectMysql } from '../destinations/mysql/mysql-connection.js';
import { MysqlDestination } from '../destinations/mysql/mysql-destination.js';
import { lastPerId } from '../destinations/mysql/mysql-rows.js';
import { WRITE_STATE_SQL, quoteIdent } from '../destinations/mysql/mysql-sql.js';
import { parseMysqlUrl } from '../destinations/mysql/mysql-url.js';
import { mysqlEncoders, sqlList } from '../destinations/mysql/mysql-values.js';
import { userMessage } from '../errors.js';
import { DEFAULT_EPOCH } from '../simulator/index.js';
import { generateAccount } from '../simulator/generate.js';

/*
 * `npm run build && node dist/bench/mysql-load.js [--rows 100000] [--page 2000] [--repeat 3] [--url mysql://…/test]`
 *
 * The two ways of bulk loading a page into MySQL/MariaDB, on the same simulated time entries:
 * - insert: what the destination does — one multi-row INSERT … ON DUPLICATE KEY UPDATE per page
 *   (MysqlDestination.writeBatch, state included);
 * - load-data: LOAD DATA LOCAL INFILE of the page, streamed as tab-separated text, into a temporary
 *   all-text staging table, then one INSERT … SELECT … ON DUPLICATE KEY UPDATE into the table (text
 *   staging, so that strict mode still refuses a bad value: LOAD DATA LOCAL turns errors into warnings).
 * Each loads every row twice: into an empty table (all new), then again (all updates). Prints rows/s,
 * counting only the time spent writing (not generating the records).
 */

const table = objectTable(findObject('time_entries')!);

interface Options {
  readonly rows: number;
  readonly page: number;
  readonly repeat: number;
  readonly url: string;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '100000' },
      page: { type: 'string', default: '2000' },
      repeat: { type: 'string', default: '3' },
      url: {
        type: 'string',
        default: process.env.HARVEST_SYNC_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test',
      },
    },
  });
  return {
    rows: Number(values.rows),
    page: Number(values.page),
    repeat: Number(values.repeat),
    url: values.url,
  };
}

/** Pages of rows from the simulator's generator (scale chosen to hold enough time entries). */
function* pages(columns: readonly Column[], count: number, size: number): Generator<Row[]> {
  const account = generateAccount({ seed: 1, scale: count / 10_000 + 1, epochMs: Date.parse(DEFAULT_EPOCH) });
  const entries = account.generated.get('time_entries')!;
  const map = compileRowMapper(columns, mysqlEncoders);
  for (let start = 0; start < count; start += size) {
    const rows: Row[] = [];
    for (let i = start; i < Math.min(count, start + size); i++) rows.push(map(entries.render(i)));
    yield rows;
  }
}

function withDatabase(url: string, suffix: string): string {
  const u = new URL(url);
  u.pathname = `${u.pathname.replace(/^\//, '')}_${suffix}`;
  return u.toString();
}

async function viaInsert(url: string, opts: Options): Promise<number[]> {
  const destination = new MysqlDestination(url);
  await destination.open();
  try {
    const columns = await destination.ensureTable(table);
    const times: number[] = [];
    for (let round = 0; round < 2; round++) {
      let seconds = 0;
      for (const rows of pages(columns, opts.rows, opts.page)) {
        const state = { object: 'time_entries', cursor: null, pass: null, lastFullPassAt: null };
        const started = performance.now();
        await destination.writeBatch({ table: 'time_entries', rows, children: [], state });
        seconds += (performance.now() - started) / 1000;
      }
      times.push(seconds);
    }
    return times;
  } finally {
    await destination.close();
  }
}

const TSV_SPECIAL = /[\\\t\n\r\0]/g;
const TSV_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  '\0': '\\0',
};

function tsvField(value: SqlValue): string {
  if (value === null) return '\\N';
  if (typeof value === 'string') return value.replace(TSV_SPECIAL, (ch) => TSV_ESCAPES[ch]);
  return typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
}

function* tsv(rows: readonly Row[]): Generator<Buffer> {
  for (let start = 0; start < rows.length; start += 256) {
    let chunk = '';
    for (const row of rows.slice(start, start + 256)) chunk += row.map(tsvField).join('\t') + '\n';
    yield Buffer.from(chunk);
  }
}

async function viaLoadData(url: string, opts: Options): Promise<number[]> {
  const setup = new MysqlDestination(url);
  await setup.open();
  const columns = await setup.ensureTable(table);
  await setup.close();
  const connection = await connectMysql(parseMysqlUrl(url), { connectTimeoutMs: 10_000 });
  try {
    const names = columns.map((c) => quoteIdent(c.name));
    await connection.query(
      `CREATE TEMPORARY TABLE stage (${names.map((n) => `${n} LONGTEXT`).join(', ')}) CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    );
    const updates = names.filter((n) => n !== '`id`').map((n) => `${n} = VALUES(${n})`);
    const merge =
      `INSERT INTO time_entries (${names.join(', ')}, _synced_at, _deleted_at) SELECT ${names.join(', ')}, NOW(6), NULL FROM stage ` +
      `ON DUPLICATE KEY UPDATE ${updates.join(', ')}, _synced_at = VALUES(_synced_at), _deleted_at = NULL`;
    const load =
      "LOAD DATA LOCAL INFILE 'stage' INTO TABLE stage CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' " +
      `ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${names.join(', ')})`;
    const idIndex = columns.findIndex((c) => c.name === 'id');
    const times: number[] = [];
    for (let round = 0; round < 2; round++) {
      let seconds = 0;
      for (const page of pages(columns, opts.rows, opts.page)) {
        const started = performance.now();
        const rows = lastPerId('time_entries', columns.length, idIndex, page);
        await connection.query('START TRANSACTION');
        await connection.query('DELETE FROM stage');
        await connection.query({ sql: load, infileStreamFactory: () => Readable.from(tsv(rows)) });
        await connection.query(
          `SELECT COUNT(*) FROM time_entries WHERE id IN ${sqlList(rows.map((r) => r[idIndex]))}`,
        );
        await connection.query(merge);
        await connection.query(WRITE_STATE_SQL, ['time_entries', null, null, null]);
        await connection.query('COMMIT');
        seconds += (performance.now() - started) / 1000;
      }
      times.push(seconds);
    }
    return times;
  } finally {
    await connection.end();
  }
}

async function drop(url: string): Promise<void> {
  const target = parseMysqlUrl(url);
  const connection = await mysql.createConnection({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
  });
  await connection.query(`DROP DATABASE IF EXISTS ${quoteIdent(target.database)}`);
  await connection.end();
}

const METHODS: ReadonlyArray<[string, (url: string, o: Options) => Promise<number[]>]> = [
  ['insert', viaInsert],
  ['load-data', viaLoadData],
];

async function main(): Promise<void> {
  const opts = options();
  process.stdout.write(
    `${opts.rows.toLocaleString('en-US')} time entries, ${opts.page} per page, best of ${opts.repeat} ` +
      `(load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores)\n`,
  );
  const best = new Map<string, number[]>();
  // methods take turns, so a busy spell on the machine does not fall on one of them only
  for (let rep = 0; rep < opts.repeat; rep++) {
    for (const [name, method] of METHODS) {
      const url = withDatabase(opts.url, `bench_${name.replace('-', '_')}`);
      await drop(url);
      try {
        const times = await method(url, opts);
        const previous = best.get(name) ?? times;
        best.set(
          name,
          times.map((t, i) => Math.min(t, previous[i])),
        );
      } finally {
        await drop(url);
      }
    }
  }
  for (const [name, times] of best) {
    const [load, reload] = times.map((s) => Math.round(opts.rows / s).toLocaleString('en-US'));
    process.stdout.write(
      `${name.padEnd(10)} new rows: ${load.padStart(7)} rows/s   same rows again: ${reload.padStart(7)} rows/s\n`,
    );
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`mysql-load: ${userMessage(error)}\n`);
  process.exit(1);
});
