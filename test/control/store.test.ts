import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecretBox, SecretDecryptionError } from '../../src/control/secrets.js';
import { openPostgresControlStore } from '../../src/control/postgres-store.js';
import { openSqliteControlStore } from '../../src/control/sqlite-store.js';
import {
  PipelineExistsError,
  PipelineNotFoundError,
  RunInProgressError,
  controlMigrations,
} from '../../src/control/store.js';
import type { RunObjectStats } from '../../src/control/types.js';
import { PG_URL, STORE_KINDS, TOKEN, makeStore, pipelineInput } from './helpers.js';
import type { StoreFixture } from './helpers.js';

function stats(object: string, n: number, status: RunObjectStats['status'] = 'succeeded'): RunObjectStats {
  return {
    object,
    status,
    mode: 'full',
    read: n,
    inserted: n - 1,
    updated: 1,
    unchanged: 3,
    deleted: 0,
    calls: 2,
    rateLimitWaits: 1,
    retries: 0,
    seconds: 1.5,
    reason: null,
  };
}

for (const kind of STORE_KINDS) {
  describe(`${kind} control store`, () => {
    let fx: StoreFixture;
    beforeEach(async () => {
      fx = await makeStore(kind);
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('creates a pipeline and returns it without its token', async () => {
      const created = await fx.store.createPipeline(pipelineInput());
      expect(created).toMatchObject({
        name: 'acme',
        tokenLast4: TOKEN.slice(-4),
        accountId: '123456',
        destination: 'sqlite:acme.db',
        objects: ['clients', 'projects'],
        frequencyHours: 1,
        fullRefreshHours: 24,
        enabled: true,
        since: null,
        lastFullRefreshAt: null,
      });
      expect(JSON.stringify(created)).not.toContain(TOKEN);
      expect(await fx.store.getPipeline(created.id)).toEqual(created);
      expect(await fx.store.listPipelines()).toEqual([created]);
    });

    it('finds a pipeline by exact name, by name in another case, and by id', async () => {
      const a = await fx.store.createPipeline(pipelineInput({ name: 'Acme Prod' }));
      expect((await fx.store.findPipeline('Acme Prod'))?.id).toBe(a.id);
      expect((await fx.store.findPipeline('acme prod'))?.id).toBe(a.id);
      expect((await fx.store.findPipeline(String(a.id)))?.id).toBe(a.id);
      expect(await fx.store.findPipeline('nope')).toBeNull();
      expect(await fx.store.findPipeline('999999')).toBeNull();
    });

    it('refuses a second pipeline of the same name, whatever its case', async () => {
      await fx.store.createPipeline(pipelineInput({ name: 'acme' }));
      await expect(fx.store.createPipeline(pipelineInput({ name: 'ACME' }))).rejects.toThrow(
        new PipelineExistsError('ACME'),
      );
      expect(await fx.store.listPipelines()).toHaveLength(1);
    });

    it('refuses a rename onto a taken name and keeps the pipeline as it was', async () => {
      await fx.store.createPipeline(pipelineInput({ name: 'one' }));
      const two = await fx.store.createPipeline(pipelineInput({ name: 'two' }));
      await expect(fx.store.updatePipeline(two.id, { name: 'one' })).rejects.toThrow(
        /a pipeline named "one" already exists/,
      );
      expect((await fx.store.getPipeline(two.id))?.name).toBe('two');
    });

    it('updates only the given fields and re-encrypts a new token', async () => {
      const p = await fx.store.createPipeline(pipelineInput());
      const updated = await fx.store.updatePipeline(p.id, {
        frequencyHours: 6,
        enabled: false,
        since: '2024-01-01',
        token: 'new-token-WXYZ',
      });
      expect(updated).toMatchObject({
        ...p,
        frequencyHours: 6,
        enabled: false,
        since: '2024-01-01',
        tokenLast4: 'WXYZ',
        updatedAt: updated.updatedAt,
      });
      expect((await fx.store.pipelineSecrets(p.id)).token).toBe('new-token-WXYZ');
      await expect(fx.store.updatePipeline(424242, { enabled: true })).rejects.toThrow(PipelineNotFoundError);
    });

    it('keeps the token and the destination password encrypted at rest', async () => {
      const password = 'pw-Zk82hQ-unique';
      const p = await fx.store.createPipeline(
        pipelineInput({ destination: `postgres://loader:${password}@db.example:5432/warehouse` }),
      );
      expect(p.destination).toBe('postgres://loader:***@db.example:5432/warehouse');
      const secrets = await fx.store.pipelineSecrets(p.id);
      expect(secrets).toEqual({
        token: TOKEN,
        destinationUrl: `postgres://loader:${password}@db.example:5432/warehouse`,
      });
      const dump = await fx.dump();
      expect(dump).toContain('db.example'); // the dump is readable: the absence below means something
      expect(dump).not.toContain(TOKEN);
      expect(dump).not.toContain(password);
    });

    it('reports a wrong secret key as a decryption error, not garbage', async () => {
      const p = await fx.store.createPipeline(pipelineInput());
      const other = await fx.reopen(new SecretBox(randomBytes(32)));
      await expect(other.pipelineSecrets(p.id)).rejects.toThrow(SecretDecryptionError);
      await expect(other.pipelineSecrets(p.id)).rejects.toThrow(/secret key is not the one/);
    });

    it('runs migrations once: reopening keeps the data', async () => {
      const p = await fx.store.createPipeline(pipelineInput());
      const again = await fx.reopen();
      expect(await again.getPipeline(p.id)).toEqual(p);
    });

    it('records a run, its live progress, its end and its totals', async () => {
      const p = await fx.store.createPipeline(pipelineInput());
      const run = await fx.store.startRun({
        pipelineId: p.id,
        trigger: 'manual',
        fullRefresh: true,
        startedAt: '2025-01-01T00:00:00.000Z',
      });
      expect(run).toMatchObject({
        pipelineId: p.id,
        status: 'running',
        trigger: 'manual',
        fullRefresh: true,
        finishedAt: null,
        objects: [],
      });
      await fx.store.updateRunProgress(run.id, [stats('projects', 3, 'running')]);
      expect((await fx.store.getRun(run.id))?.objects).toEqual([stats('projects', 3, 'running')]);
      const done = await fx.store.finishRun(run.id, {
        status: 'succeeded',
        finishedAt: '2025-01-01T00:01:00.000Z',
        error: null,
        objects: [stats('projects', 10), stats('clients', 5)],
      });
      expect(done.status).toBe('succeeded');
      expect(done.objects.map((o) => o.object)).toEqual(['clients', 'projects']); // catalog order
      expect(done.totals).toEqual({
        read: 15,
        inserted: 13,
        updated: 2,
        unchanged: 6,
        deleted: 0,
        calls: 4,
        rateLimitWaits: 2,
      });
      // A progress update arriving after the end changes nothing.
      await fx.store.updateRunProgress(run.id, [stats('projects', 1, 'running')]);
      expect(await fx.store.getRun(run.id)).toEqual(done);
    });

    it('refuses a second running run of one pipeline, also from another store on the same database', async () => {
      const p = await fx.store.createPipeline(pipelineInput());
      const first = await fx.store.startRun({
        pipelineId: p.id,
        trigger: 'schedule',
        fullRefresh: false,
        startedAt: '2025-01-01T00:00:00.000Z',
      });
      await expect(
        fx.store.startRun({
          pipelineId: p.id,
          trigger: 'manual',
          fullRefresh: false,
          startedAt: '2025-01-01T00:00:01.000Z',
        }),
      ).rejects.toThrow(RunInProgressError);
      const other = await fx.reopen();
      await expect(
        other.startRun({
          pipelineId: p.id,
          trigger: 'manual',
          fullRefresh: false,
          startedAt: '2025-01-01T00:00:01.000Z',
        }),
      ).rejects.toThrow(/already running \(run \d+\)/);
      await fx.store.finishRun(first.id, {
        status: 'failed',
        finishedAt: '2025-01-01T00:00:02.000Z',
        error: 'boom',
        objects: [],
      });
      const second = await other.startRun({
        pipelineId: p.id,
        trigger: 'manual',
        fullRefresh: false,
        startedAt: '2025-01-01T00:00:03.000Z',
      });
      expect(second.status).toBe('running');
    });

    it('lists runs newest first, per pipeline, with a limit, and knows the last one', async () => {
      const a = await fx.store.createPipeline(pipelineInput({ name: 'a' }));
      const b = await fx.store.createPipeline(pipelineInput({ name: 'b' }));
      const ids: number[] = [];
      for (let i = 0; i < 3; i++) {
        for (const p of [a, b]) {
          const run = await fx.store.startRun({
            pipelineId: p.id,
            trigger: 'schedule',
            fullRefresh: false,
            startedAt: `2025-01-0${i + 1}T00:00:00.000Z`,
          });
          await fx.store.finishRun(run.id, {
            status: 'succeeded',
            finishedAt: `2025-01-0${i + 1}T00:10:00.000Z`,
            error: null,
            objects: [stats('clients', i + 1)],
          });
          if (p === a) ids.push(run.id);
        }
      }
      const runs = await fx.store.listRuns({ pipelineId: a.id, limit: 2 });
      expect(runs.map((r) => r.id)).toEqual([ids[2], ids[1]]);
      expect(runs[0].objects).toEqual([stats('clients', 3)]);
      expect(await fx.store.listRuns()).toHaveLength(6);
      expect((await fx.store.lastRun(a.id))?.id).toBe(ids[2]);
      expect(await fx.store.lastRun(424242)).toBeNull();
    });

    it('marks runs left running by a dead process as interrupted', async () => {
      const p = await fx.store.createPipeline(pipelineInput());
      const run = await fx.store.startRun({
        pipelineId: p.id,
        trigger: 'schedule',
        fullRefresh: false,
        startedAt: '2025-01-01T00:00:00.000Z',
      });
      await fx.store.updateRunProgress(run.id, [stats('clients', 2, 'running')]);
      const other = await fx.reopen();
      expect(
        await other.interruptRunningRuns('the process running it stopped', '2025-01-01T01:00:00.000Z'),
      ).toBe(1);
      const after = await other.getRun(run.id);
      expect(after).toMatchObject({
        status: 'interrupted',
        error: 'the process running it stopped',
        finishedAt: '2025-01-01T01:00:00.000Z',
      });
      expect(after?.objects[0].status).toBe('interrupted');
    });

    it('lists running runs and interrupts one run only while it is running', async () => {
      const a = await fx.store.createPipeline(pipelineInput({ name: 'a' }));
      const b = await fx.store.createPipeline(pipelineInput({ name: 'b' }));
      const start = (pipelineId: number) =>
        fx.store.startRun({
          pipelineId,
          trigger: 'schedule',
          fullRefresh: false,
          startedAt: '2025-01-01T00:00:00.000Z',
          owner: 'host#1',
        });
      const ra = await start(a.id);
      const rb = await start(b.id);
      await fx.store.finishRun(rb.id, {
        status: 'succeeded',
        finishedAt: '2025-01-01T00:00:01.000Z',
        error: null,
        objects: [],
      });
      expect((await fx.store.listRuns({ status: 'running' })).map((r) => [r.id, r.owner])).toEqual([
        [ra.id, 'host#1'],
      ]);
      expect(await fx.store.interruptRun(rb.id, 'x', '2025-01-01T00:00:02.000Z')).toBe(false);
      expect(await fx.store.interruptRun(ra.id, 'gone', '2025-01-01T00:00:02.000Z')).toBe(true);
      expect(await fx.store.getRun(ra.id)).toMatchObject({ status: 'interrupted', error: 'gone' });
      expect(await fx.store.getRun(rb.id)).toMatchObject({ status: 'succeeded', error: null });
    });

    it('deletes a pipeline with its runs', async () => {
      const p = await fx.store.createPipeline(pipelineInput());
      const run = await fx.store.startRun({
        pipelineId: p.id,
        trigger: 'manual',
        fullRefresh: false,
        startedAt: '2025-01-01T00:00:00.000Z',
      });
      await fx.store.finishRun(run.id, {
        status: 'succeeded',
        finishedAt: '2025-01-01T00:00:01.000Z',
        error: null,
        objects: [stats('clients', 1)],
      });
      expect(await fx.store.deletePipeline(p.id)).toBe(true);
      expect(await fx.store.getPipeline(p.id)).toBeNull();
      expect(await fx.store.getRun(run.id)).toBeNull();
      expect(await fx.store.deletePipeline(p.id)).toBe(false);
    });
  });
}

describe('control store migrations', () => {
  it('lets several processes open a fresh PostgreSQL control store at once', async () => {
    const schema = `hs_control_race_${randomBytes(6).toString('hex')}`;
    const secrets = new SecretBox(randomBytes(32));
    const stores = await Promise.all(
      [1, 2, 3, 4].map(() => openPostgresControlStore({ url: PG_URL, schema, secrets })),
    );
    try {
      await stores[0].createPipeline(pipelineInput());
      for (const store of stores) expect((await store.listPipelines()).map((p) => p.name)).toEqual(['acme']);
    } finally {
      for (const store of stores) await store.close();
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    }
  });

  it('brings a version-1 SQLite control store up to date on open, keeping its data, and records each version once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hs-migrate-'));
    try {
      const old = new Database(join(dataDir, 'control.db'));
      old.exec(
        'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
      );
      const [v1] = controlMigrations('sqlite');
      for (const statement of v1.statements) old.exec(statement);
      old.prepare("INSERT INTO schema_migrations VALUES (1, ?, '2025-01-01T00:00:00.000Z')").run(v1.name);
      old.exec(`INSERT INTO pipelines (name, token_enc, token_last4, account_id, destination_display, objects, frequency_hours,
        full_refresh_hours, base_url, enabled, created_at, updated_at)
        VALUES ('legacy', 'x', 'abcd', '1', 'sqlite:a.db', '["clients"]', 1, 24, 'https://api.harvestapp.com', 1, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z')`);
      old.exec(
        `INSERT INTO runs (pipeline_id, trigger, status, started_at, full_refresh) VALUES (1, 'schedule', 'running', '2025-01-01T00:00:00.000Z', 0)`,
      );
      // a finished run of a version that counted every record that existed as updated
      old.exec(
        `INSERT INTO runs (pipeline_id, trigger, status, started_at, finished_at, full_refresh, total_read, total_updated)
         VALUES (1, 'schedule', 'succeeded', '2024-12-31T00:00:00.000Z', '2024-12-31T00:00:05.000Z', 0, 7, 7)`,
      );
      old.exec(`INSERT INTO run_objects (run_id, object, status, mode, records_read, inserted, updated, deleted, calls,
        rate_limit_waits, retries, seconds) VALUES (2, 'clients', 'succeeded', 'full', 7, 0, 7, 0, 1, 0, 0, 0.5)`);
      old.close();

      for (let open = 0; open < 2; open++) {
        const store = await openSqliteControlStore({ dataDir, secrets: new SecretBox(randomBytes(32)) });
        expect((await store.findPipeline('legacy'))?.objects).toEqual(['clients']);
        expect(await store.listRuns({ status: 'running' })).toMatchObject([{ pipelineId: 1, owner: null }]);
        // an old run's unchanged count is unknown, not 0
        const legacy = await store.getRun(2);
        expect(legacy?.totals).toMatchObject({ read: 7, updated: 7, unchanged: null });
        expect(legacy?.objects).toMatchObject([{ object: 'clients', updated: 7, unchanged: null }]);
        await store.close();
      }
      const db = new Database(join(dataDir, 'control.db'), { readonly: true });
      expect(db.prepare('SELECT version FROM schema_migrations ORDER BY version').all()).toEqual(
        controlMigrations('sqlite').map((m) => ({ version: m.version })),
      );
      db.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
