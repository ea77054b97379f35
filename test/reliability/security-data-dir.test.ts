import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../../src/control/secrets.js';
import { openSqliteControlStore } from '../../src/control/sqlite-store.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { runCliProcess } from './support/cli-process.js';
import { createAcmeArgs, loginOver, startServe } from './support/security.js';
import { runState } from '../support/waiting.js';

/*
 * Issue 15, what a hostile visitor found on disk and in sessions: a data directory created beforehand
 * with mode 0777 was used as it was, the SQLite control store files were 0644 (readable by every local
 * user), and `serve --set-password` left the sessions of a running daemon valid.
 */

const TOKEN = 'harvest.pt.SECRET-data-dir-test-0042';
const PASSWORD = 'first admin password';

let sim: Simulator;
let root: string;
beforeAll(async () => {
  sim = await startSimulator({ scale: 0.01, adminToken: TOKEN, rateLimit: null });
  root = mkdtempSync(join(tmpdir(), 'hs-data-dir-'));
  chmodSync(root, 0o755);
});
afterAll(async () => {
  await sim?.stop();
  rmSync(root, { recursive: true, force: true });
});

const mode = (path: string) => statSync(path).mode & 0o777;

/** Every file and directory under `dir` with its mode, as `name 0600`. */
function modes(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .sort()
    .map((name) => `${name} 0${mode(join(dir, name)).toString(8)}`);
}

describe('the data directory', () => {
  it('is tightened to owner-only, with every file in it, and says so', async () => {
    const dataDir = join(root, 'open');
    mkdirSync(join(dataDir, 'nested'), { recursive: true });
    chmodSync(dataDir, 0o777);
    writeFileSync(join(dataDir, 'left-behind.db'), 'x', { mode: 0o666 });
    chmodSync(join(dataDir, 'left-behind.db'), 0o666);
    writeFileSync(join(dataDir, 'nested', 'old.db'), 'x');
    chmodSync(join(dataDir, 'nested', 'old.db'), 0o644);
    const serve = await startServe(['--data-dir', dataDir, '--allow-base-url', sim.url], {
      HARVEST_SYNC_ADMIN_PASSWORD: PASSWORD,
    });
    let output: string;
    let whileRunning: string[] = [];
    try {
      const login = await loginOver(serve.url, PASSWORD);
      const headers = {
        cookie: login.cookies.join('; '),
        'x-csrf-token': login.csrf!,
        'content-type': 'application/json',
      };
      const created = await fetch(`${serve.url}/api/pipelines`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          name: 'acme',
          token: TOKEN,
          accountId: sim.accountId,
          baseUrl: sim.url,
          destination: 'sqlite:acme.db',
          objects: ['clients'],
          enabled: false,
        }),
      });
      expect(created.status).toBe(201);
      const { pipeline } = (await created.json()) as { pipeline: { id: number } };
      const run = (await (
        await fetch(`${serve.url}/api/pipelines/${pipeline.id}/run`, { method: 'POST', headers })
      ).json()) as {
        run: { id: number };
      };
      await runState({ url: serve.url, runId: run.run.id, headers });
      // the -wal and -shm files exist only while the databases are open
      whileRunning = modes(dataDir);
    } finally {
      await serve.stop();
      output = serve.output();
    }
    expect(output).toMatch(/tightened .*data directory.* 0777 .* 0700/);
    expect(mode(dataDir)).toBe(0o700);
    const all = [...new Set([...whileRunning, ...modes(dataDir)])];
    // what serve and the run made, and what was there before
    for (const name of [
      'control.db',
      'control.db-wal',
      'control.db-shm',
      'credentials.json',
      'secret.key',
      'acme.db',
      'left-behind.db',
      'nested/old.db',
    ])
      expect(all, name).toContain(`${name} 0600`);
    expect(all.filter((line) => !/ 0(600|700)$/.test(line))).toEqual([]);
  });

  it.skipIf(process.getuid?.() !== 0)(
    'is refused with a message when it cannot be made owner-only (another user runs the command)',
    async () => {
      const dataDir = join(root, 'not-mine');
      mkdirSync(dataDir);
      chmodSync(dataDir, 0o777);
      // root owns it; the command runs as nobody, who may write in it but not chmod it
      const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        void import('node:child_process').then(({ spawn }) => {
          const child = spawn(
            process.execPath,
            [join(import.meta.dirname, '../../dist/cli/main.js'), 'pipelines', 'list', '--data-dir', dataDir],
            {
              uid: 65534,
              gid: 65534,
              env: { PATH: process.env.PATH ?? '' },
              cwd: '/',
            },
          );
          let stderr = '';
          child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          child.on('close', (code) => resolve({ code, stderr }));
        });
      });
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(
        /^error: the data directory .*not-mine is open to other users \(mode 0777\) and cannot be made owner-only/,
      );
      expect(readdirSync(dataDir)).toEqual([]);
    },
  );

  it('gets owner-only files from the pipelines commands too', async () => {
    const dataDir = join(root, 'cli');
    const created = await runCliProcess(
      [...createAcmeArgs(TOKEN, sim.accountId, sim.url), '--data-dir', dataDir, '--allow-base-url', sim.url],
      { timeoutMs: 30_000 },
    );
    expect(created.code, created.stderr).toBe(0);
    const ran = await runCliProcess(
      ['pipelines', 'run', 'acme', '--data-dir', dataDir, '--allow-base-url', sim.url],
      {
        timeoutMs: 30_000,
      },
    );
    expect(ran.code, ran.stderr).toBe(0);
    expect(mode(dataDir)).toBe(0o700);
    expect(modes(dataDir).filter((line) => !/ 0600$/.test(line))).toEqual([]);
    expect(modes(dataDir)).toContain('acme.db 0600');
  });
});

describe('the SQLite control store', () => {
  it('keeps its files owner-only whatever the umask, and tightens files an older version left 0644', async () => {
    const dataDir = join(root, 'store');
    mkdirSync(dataDir, { mode: 0o700 });
    writeFileSync(join(dataDir, 'control.db-wal'), '');
    chmodSync(join(dataDir, 'control.db-wal'), 0o644);
    const previous = process.umask(0o022);
    try {
      const store = await openSqliteControlStore({ dataDir, secrets: new SecretBox(randomBytes(32)) });
      await store.listPipelines();
      expect(modes(dataDir).sort()).toEqual([
        'control.db 0600',
        'control.db-shm 0600',
        'control.db-wal 0600',
      ]);
      await store.close();
    } finally {
      process.umask(previous);
    }
  });
});

describe('serve --set-password', () => {
  it('ends every session of a running daemon at once', async () => {
    const dataDir = join(root, 'sessions');
    const serve = await startServe(['--data-dir', dataDir], { HARVEST_SYNC_ADMIN_PASSWORD: PASSWORD });
    try {
      const login = await loginOver(serve.url, PASSWORD);
      expect(login.status).toBe(200);
      const session = login.cookies.find((c) => c.startsWith('hs_session='))!;
      const read = () =>
        fetch(`${serve.url}/api/pipelines`, { headers: { cookie: session } }).then((r) => r.status);
      expect(await read()).toBe(200);
      const set = await runCliProcess(['serve', '--set-password', '--data-dir', dataDir], {
        input: 'the second admin password\n',
      });
      expect(set.code, set.stderr).toBe(0);
      expect(set.stdout).toMatch(/every session ended/);
      expect(await read()).toBe(401);
      expect((await loginOver(serve.url, PASSWORD)).status).toBe(401);
      expect((await loginOver(serve.url, 'the second admin password')).status).toBe(200);
    } finally {
      await serve.stop();
    }
  });

  it('--new-api-token shuts the old token out of a running daemon at once', async () => {
    const dataDir = join(root, 'tokens');
    const serve = await startServe(['--data-dir', dataDir], { HARVEST_SYNC_ADMIN_PASSWORD: PASSWORD });
    try {
      const old = /API token \(generated, shown only this once\): (\S+)/.exec(serve.output())?.[1];
      expect(old).toBeDefined();
      const read = (token: string) =>
        fetch(`${serve.url}/api/pipelines`, { headers: { authorization: `Bearer ${token}` } }).then(
          (r) => r.status,
        );
      expect(await read(old!)).toBe(200);
      const rotated = await runCliProcess(['serve', '--new-api-token', '--data-dir', dataDir]);
      expect(rotated.code).toBe(0);
      const fresh = /shown only this once\): (\S+)/.exec(rotated.stdout)?.[1];
      expect(await read(old!)).toBe(401);
      expect(await read(fresh!)).toBe(200);
    } finally {
      await serve.stop();
    }
  });
});
