import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { expect } from 'vitest';
import { startSimulator } from '../../../src/simulator/index.js';
import type { Simulator } from '../../../src/simulator/index.js';
import { STACK_LINE } from '../../cli/cli-helpers.js';
import { PG_URL } from '../../support/databases.js';
import type { CliRun } from './cli-process.js';

/*
 * Issue 7, secrets: distinctive secrets go in through a surface (the CLI, or a real `serve`), and
 * everything that comes out or is left behind is collected — output, HTTP bodies and headers, every
 * file of the data directories, the destination files, pg_dump of every schema used — and swept:
 * none may hold a secret, in clear, base64 or URL-encoded.
 */

const rand = () => randomBytes(9).toString('hex');

export interface Seen {
  readonly where: string;
  readonly text: string;
}

/** The forms a secret could leak in: as is, URL-encoded, and base64/base64url at each alignment. */
export function encodings(secret: string): string[] {
  const forms = new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString('hex')]);
  for (let pad = 0; pad < 3; pad++) {
    for (const alphabet of ['base64', 'base64url'] as const) {
      const encoded = Buffer.from('x'.repeat(pad) + secret).toString(alphabet);
      // drop the characters that also depend on the padding bytes and on what follows
      const start = Math.ceil((pad * 4) / 3) + 1;
      forms.add(encoded.slice(start, start + Math.floor((secret.length * 4) / 3) - 4));
    }
  }
  return [...forms].filter((f) => f.length >= 12);
}

/** Every file under `dir`, as text. */
function filesUnder(dir: string): Seen[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((p) => statSync(p).isFile())
    .map((p) => ({ where: p, text: readFileSync(p).toString('latin1') + readFileSync(p).toString('utf8') }));
}

/**
 * One test file's secrets, its simulator (whose admin token is the Harvest secret), a PostgreSQL role
 * with a password and its schemas, and everything seen. `start` in beforeAll, `stop` in afterAll.
 */
export class SecretSweep<S extends string> {
  readonly secrets = {
    harvestToken: `pat-SECRET-${rand()}`,
    wrongToken: `pat-SECRET-wrong-${rand()}`,
    adminPassword: `admin-SECRET-${rand()}`,
    apiToken: `api-SECRET-${rand()}${rand()}`,
    pgPassword: `pgSECRET${rand()}`,
  };
  /** Secrets made along the way (a new password): swept like the others. */
  readonly more: Record<string, string> = {};
  /** API tokens created: each may appear once, in the answer that created it. */
  readonly shownOnce: Array<{ name: string; secret: string }> = [];
  readonly schemas: Readonly<Record<S, string>>;
  readonly seen: Seen[] = [];
  sim!: Simulator;
  root!: string;
  private readonly role: string;
  private admin: pg.Client | undefined;

  constructor(schemas: readonly S[]) {
    const suffix = rand().slice(0, 8);
    this.role = `hs_secret_${suffix}`;
    this.schemas = Object.fromEntries(
      schemas.map((s) => [s, `hs_sec_${s.toLowerCase()}_${suffix}`]),
    ) as Record<S, string>;
  }

  private get database(): string {
    return new URL(PG_URL).pathname.slice(1);
  }

  async start(): Promise<void> {
    this.root = mkdtempSync(join(tmpdir(), 'hs-secrets-'));
    this.sim = await startSimulator({ scale: 0.01, adminToken: this.secrets.harvestToken, rateLimit: null });
    this.admin = new pg.Client({ connectionString: PG_URL });
    await this.admin.connect();
    // a role with a password (trust auth would let it in without one; the password still travels in every URL)
    await this.admin.query(`CREATE ROLE ${this.role} LOGIN PASSWORD '${this.secrets.pgPassword}'`);
    await this.admin.query(`GRANT CREATE ON DATABASE ${this.database} TO ${this.role}`);
    for (const schema of Object.values<string>(this.schemas))
      await this.admin.query(`CREATE SCHEMA ${schema} AUTHORIZATION ${this.role}`);
  }

  async stop(): Promise<void> {
    await this.sim?.stop();
    if (this.admin) {
      for (const schema of Object.values<string>(this.schemas))
        await this.admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      // and what serve made of its own, such as the run queue's `<control schema>_queue`
      await this.admin.query(`DROP OWNED BY ${this.role} CASCADE`);
      await this.admin.query(`REVOKE ALL ON DATABASE ${this.database} FROM ${this.role}`);
      await this.admin.query(`DROP ROLE IF EXISTS ${this.role}`);
      await this.admin.end();
    }
    if (this.root) rmSync(this.root, { recursive: true, force: true });
  }

  keep(where: string, text: string): void {
    this.seen.push({ where, text });
  }

  keepRun(where: string, run: CliRun): void {
    this.keep(`${where} stdout`, run.stdout);
    this.keep(`${where} stderr`, run.stderr);
    expect(run.stdout + run.stderr, where).not.toMatch(STACK_LINE);
  }

  /** A PostgreSQL URL as the test role, with its password in it. */
  pgUrl(schema: S, port?: number): string {
    const url = new URL(PG_URL);
    url.username = this.role;
    url.password = this.secrets.pgPassword;
    if (port !== undefined) url.port = String(port);
    url.search = `?schema=${this.schemas[schema]}`;
    return url.toString();
  }

  /** What was seen, every file left under the root, and pg_dump of the schemas. */
  async everything(): Promise<{ everything: Seen[]; leftBehind: Seen[]; dump: string }> {
    const leftBehind = filesUnder(this.root);
    const dump = await promisify(execFile)(
      'pg_dump',
      // `<schema>*`: also what serve made beside a schema (the run queue's `<schema>_queue`)
      ['--no-owner', ...Object.values<string>(this.schemas).flatMap((s) => ['-n', `${s}*`]), PG_URL],
      { maxBuffer: 256 * 1024 * 1024 },
    );
    return {
      everything: [...this.seen, ...leftBehind, { where: 'pg_dump', text: dump.stdout }],
      leftBehind,
      dump: dump.stdout,
    };
  }

  /** Where any secret shows, in any form; a created API token may show once, in its creation. */
  leaks(everything: readonly Seen[]): string[] {
    const leaks: string[] = [];
    const sweep = (name: string, secret: string, shownIn?: Seen) => {
      const forms = encodings(secret);
      for (const entry of everything) {
        const form = forms.find((f) => entry.text.includes(f));
        if (form !== undefined && entry !== shownIn)
          leaks.push(`${name} in ${entry.where}${form === secret ? '' : ` (encoded: ${form})`}`);
      }
    };
    for (const [name, secret] of Object.entries({ ...this.secrets, ...this.more })) sweep(name, secret);
    for (const { name, secret } of this.shownOnce) {
      const creations = everything.filter(
        (e) => e.where.startsWith('POST /api/tokens 201 body') && e.text.includes(secret),
      );
      expect(creations, name).toHaveLength(1);
      sweep(name, secret, creations[0]);
    }
    return leaks;
  }

  /** One line on what the sweep covered. */
  summary(everything: readonly Seen[]): string {
    const mb = (everything.reduce((n, e) => n + e.text.length, 0) / 1e6).toFixed(1);
    const secrets = Object.keys(this.secrets).length + Object.keys(this.more).length;
    return `secrets sweep: ${everything.length} outputs and files (${mb} MB), ${secrets} secrets and ${this.shownOnce.length} API tokens shown once × their encodings`;
  }
}
