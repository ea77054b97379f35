import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { findObject } from '../catalog/objects.js';
import { compileRowMapper, objectTable } from '../catalog/schema.js';
import type { Column, Row, SqlValue } from '../catalog/types.js';
import { connectMysql } from '../destinations/mysql/mysql-connection.js';
import type { MysqlConnection } from '../destinations/mysql/mysql-connection.js';
import { MysqlDestination } from '../destinations/mysql/mysql-destination.js';
import { lastCopyPerId } from '../destinations/batch.js';
import { WRITE_STATE_SQL, quoteIdent, stampSql } from '../destinations/mysql/mysql-sql.js';
import { parseMysqlUrl } from '../destinations/mysql/mysql-url.js';
import type { MysqlTarget } from '../destinations/mysql/mysql-url.js';
import { mysqlEncoders, sqlList } from '../destinations/mysql/mysql-values.js';
import { userMessage } from '../errors.js';
import { DEFAULT_EPOCH } from '../simulator/index.js';
import { generateAccount } from '../simulator/generate.js';

/*
 * `npm run build && node dist/bench/mysql-load.js [--rows 100000] [--page 2000] [--repeat 3] [--url mysql://…/test]`
 *
 * The two ways of bulk loading a page into MySQL/MariaDB, on the same simulated time entries:
 * - insert: what the destination does — multi-row INSERT … ON DUPLICATE KEY UPDATE per page
 *   (MysqlDestination.writeBatch, state included);
 * - load-data: LOAD DATA LOCAL INFILE of the page, streamed as tab-separated text, into a temporary
 *   all-text staging table, then one INSERT … SELECT … ON DUPLICATE KEY UPDATE into the table (text
 *   staging, so that strict mode still refuses a bad value: LOAD DATA LOCAL turns errors into
 *   warnings), with the same stamp, counts and state as the destination.
 * Each loads the rows twice: into an empty table (all new), then again (all found unchanged). It
 * prints the best of --repeat turns (methods alternate, so a busy spell on the machine does not fall
 * on one only): rows/s of wall time spent writing, and the CPU seconds the writing took in this
 * process and, when the server is a MariaDB on this machine, in the server threads of its sessions
 * (CPU time is what a busy shared machine disturbs least).
 */

const table = objectTable(findObject('time_entries')!);

interface Options {
  readonly rows: number;
  readonly page: number;
  readonly repeat: number;
  readonly url: string;
}

/** One round of writing: wall seconds, CPU seconds here and in the server's session threads (null: unknown). */
interface Cost {
  readonly wall: number;
  readonly client: number;
  readonly server: number | null;
}

type Method = (url: string, pages: readonly Row[][]) => Promise<Cost[]>;

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
  const [rows, page, repeat] = [values.rows, values.page, values.repeat].map(Number);
  return { rows, page, repeat, url: values.url };
}

/** The pages, built once before anything is timed (simulator's generator, destination's encoders). */
function pages(columns: readonly Column[], count: number, size: number): Row[][] {
  const account = generateAccount({ seed: 1, scale: count / 10_000 + 1, epochMs: Date.parse(DEFAULT_EPOCH) });
  const entries = account.generated.get('time_entries')!;
  const map = compileRowMapper(columns, mysqlEncoders);
  const out: Row[][] = [];
  for (let start = 0; start < count; start += size) {
    const rows: Row[] = [];
    for (let i = start; i < Math.min(count, start + size); i++) rows.push(map(entries.render(i)));
    out.push(rows);
  }
  return out;
}

function withDatabase(url: string, suffix: string): string {
  const u = new URL(url);
  u.pathname = `${u.pathname.replace(/^\//, '')}_${suffix}`;
  return u.toString();
}

async function adminConnection(target: MysqlTarget): Promise<mysql.Connection> {
  const { host, port, user, password } = target;
  return mysql.createConnection({ host, port, user, password });
}

/** CPU seconds so far of the server threads serving the database's sessions (MariaDB on this machine). */
async function serverCpu(admin: mysql.Connection, database: string): Promise<number | null> {
  try {
    const [[server]] = await admin.query<Array<{ pid: string } & RowDataPacket>>('SELECT @@pid_file AS pid');
    const pid = readFileSync(server.pid, 'utf8').trim();
    const [threads] = await admin.query<Array<{ tid: number } & RowDataPacket>>(
      'SELECT TID AS tid FROM information_schema.PROCESSLIST WHERE DB = ?',
      [database],
    );
    let ticks = 0;
    for (const { tid } of threads) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    }
    return threads.length > 0 ? ticks / 100 : null;
  } catch {
    return null; // MySQL (no TID), or a server elsewhere
  }
}

/** Runs `write` over every page twice, measuring each round. */
async function rounds(
  url: string,
  pageCount: number,
  write: (page: number) => Promise<void>,
): Promise<Cost[]> {
  const target = parseMysqlUrl(url);
  const admin = await adminConnection(target);
  try {
    const costs: Cost[] = [];
    for (let round = 0; round < 2; round++) {
      const server = await serverCpu(admin, target.database);
      const client = process.cpuUsage();
      const started = performance.now();
      for (let page = 0; page < pageCount; page++) await write(page);
      const wall = (performance.now() - started) / 1000;
      const used = process.cpuUsage(client);
      const serverAfter = await serverCpu(admin, target.database);
      costs.push({
        wall,
        client: (used.user + used.system) / 1e6,
        server: server === null || serverAfter === null ? null : serverAfter - server,
      });
    }
    return costs;
  } finally {
    await admin.end();
  }
}

const viaInsert: Method = async (url, pages) => {
  const destination = new MysqlDestination(url);
  await destination.open();
  try {
    const columns = await destination.ensureTable(table);
    if (columns.length !== table.columns.length) throw new Error('unexpected columns');
    const state = { object: 'time_entries', cursor: null, pass: null, lastFullPassAt: null };
    return await rounds(url, pages.length, async (page) => {
      await destination.writeBatch({ table: 'time_entries', rows: pages[page], children: [], state });
    });
  } finally {
    await destination.close();
  }
};

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

/** The staging table and the statements of the load-data method. */
async function prepareStage(connection: MysqlConnection, columns: readonly Column[]) {
  const names = columns.map((c) => quoteIdent(c.name));
  await connection.query(
    `CREATE TEMPORARY TABLE stage (${names.map((n) => `${n} LONGTEXT`).join(', ')}) CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
  );
  const updates = names.filter((n) => n !== '`id`').map((n) => `${n} = VALUES(${n})`);
  return {
    load:
      "LOAD DATA LOCAL INFILE 'stage' INTO TABLE stage CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' " +
      `ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${names.join(', ')})`,
    merge:
      `INSERT INTO time_entries (${names.join(', ')}, _synced_at, _deleted_at) SELECT ${names.join(', ')}, NOW(6), NULL ` +
      `FROM stage ON DUPLICATE KEY UPDATE ${updates.join(', ')}, _deleted_at = NULL`,
  };
}

const viaLoadData: Method = async (url, pages) => {
  const setup = new MysqlDestination(url);
  await setup.open();
  const columns = await setup.ensureTable(table);
  await setup.close();
  const connection = await connectMysql(parseMysqlUrl(url), { connectTimeoutMs: 10_000, localFiles: true });
  try {
    const { load, merge } = await prepareStage(connection, columns);
    const idIndex = columns.findIndex((c) => c.name === 'id');
    return await rounds(url, pages.length, async (page) => {
      const rows = lastCopyPerId({ name: 'time_entries', width: columns.length, idIndex }, pages[page]);
      await connection.query('START TRANSACTION');
      await connection.query('DELETE FROM stage');
      await connection.query({ sql: load, infileStreamFactory: () => Readable.from(tsv(rows)) });
      await connection.query(stampSql('time_entries', sqlList(rows.map((r) => r[idIndex]))));
      await connection.query(merge);
      await connection.query(WRITE_STATE_SQL, ['time_entries', null, null, null]);
      await connection.query('COMMIT');
    });
  } finally {
    await connection.end();
  }
};

async function drop(url: string): Promise<void> {
  const target = parseMysqlUrl(url);
  const admin = await adminConnection(target);
  await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(target.database)}`);
  await admin.end();
}

const METHODS: ReadonlyArray<[string, Method]> = [
  ['insert', viaInsert],
  ['load-data', viaLoadData],
];

/** Each figure's best (lowest) of two turns, separately: the least disturbed measurement of each. */
function fastest(a: Cost, b: Cost): Cost {
  const server =
    a.server === null || b.server === null ? (a.server ?? b.server) : Math.min(a.server, b.server);
  return { wall: Math.min(a.wall, b.wall), client: Math.min(a.client, b.client), server };
}

function line(name: string, costs: readonly Cost[], rows: number): string {
  const cell = (c: Cost) =>
    `${Math.round(rows / c.wall)
      .toLocaleString('en-US')
      .padStart(7)} rows/s, CPU ${c.client.toFixed(1)} s here` +
    (c.server === null ? '' : ` + ${c.server.toFixed(1)} s server`);
  return `${name.padEnd(10)} new: ${cell(costs[0])}   again: ${cell(costs[1])}\n`;
}

async function main(): Promise<void> {
  const opts = options();
  process.stdout.write(
    `${opts.rows.toLocaleString('en-US')} time entries, ${opts.page} per page, best of ${opts.repeat} ` +
      `(load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores)\n`,
  );
  const data = pages(table.columns, opts.rows, opts.page);
  const best = new Map<string, Cost[]>();
  for (let turn = 0; turn < opts.repeat; turn++) {
    for (const [name, method] of METHODS) {
      const url = withDatabase(opts.url, `bench_${name.replace('-', '_')}`);
      await drop(url);
      try {
        const costs = await method(url, data);
        const previous = best.get(name) ?? costs;
        best.set(
          name,
          costs.map((c, i) => fastest(c, previous[i])),
        );
      } finally {
        await drop(url);
      }
    }
  }
  for (const [name, costs] of best) process.stdout.write(line(name, costs, opts.rows));
}

main().catch((error: unknown) => {
  process.stderr.write(`mysql-load: ${userMessage(error)}\n`);
  process.exit(1);
});
