import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BaseUrlPolicy } from '../../src/control/base-url-policy.js';
import { Cluster } from '../../src/control/cluster/cluster.js';
import { currentOwner } from '../../src/control/run-owner.js';
import { openPostgresControlStore } from '../../src/control/postgres-store.js';
import { SecretBox } from '../../src/control/secrets.js';
import type { ControlStore, Run } from '../../src/control/types.js';
import { startSimulatorAccounts } from '../../src/simulator/index.js';
import type { SimulatorAccounts } from '../../src/simulator/index.js';
import { PG_URL } from './helpers.js';

const schema = `hs_cluster_${randomBytes(5).toString('hex')}`;
const url = (() => {
  const u = new URL(PG_URL);
  u.searchParams.set('schema', schema);
  return u.toString();
})();
let store: ControlStore;
let sims: SimulatorAccounts;
let dataDir: string;
const clusters: Cluster[] = [];

async function until<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function open(id: string, work = true): Promise<Cluster> {
  const cluster = await Cluster.open({
    url,
    id,
    store,
    dataDir,
    role: 'worker',
    work,
    tickMs: 200,
    lostAfterMs: 3000,
    baseUrls: BaseUrlPolicy.from({ flags: [sims.url] }),
  });
  clusters.push(cluster);
  await cluster.start();
  return cluster;
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'hs-cluster-'));
  store = await openPostgresControlStore({ url, secrets: new SecretBox(randomBytes(32)) });
  sims = await startSimulatorAccounts({
    accounts: [
      { accountId: '7001', seed: 1, scale: 0.01 },
      { accountId: '7002', seed: 2, scale: 0.01 },
    ],
    rateLimit: null,
  });
});

afterAll(async () => {
  for (const cluster of clusters) await cluster.stop().catch(() => undefined);
  await store.close();
  await sims.stop();
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.query(`DROP SCHEMA IF EXISTS "${schema}_queue" CASCADE`);
  await client.end();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('pipelines run by workers sharing a PostgreSQL control store', () => {
  it('runs each due slot once across two workers, and a "Run now" through the queue', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) {
      const account = i % 2 === 0 ? '7001' : '7002';
      const p = await store.createPipeline({
        name: `p${i}`,
        token: `sim-admin-token-${account}`,
        accountId: account,
        destination: `sqlite:p${i}.db`,
        objects: ['clients', 'projects', 'tasks'],
        frequencyHours: 1,
        since: null,
        fullRefreshHours: 24,
        baseUrl: sims.url,
        enabled: true,
      });
      expect(p.host).not.toBeNull();
      ids.push(p.id);
    }
    const a = await open('test#a');
    const b = await open('test#b');
    const finished = await until('every pipeline to run', async () => {
      const runs = await store.listRuns({ limit: 100 });
      return runs.length >= 4 && runs.every((r) => r.status !== 'running') ? runs : null;
    });
    // a few more ticks of both: nothing is due again within the hour
    await new Promise((r) => setTimeout(r, 1000));
    const runs = await store.listRuns({ limit: 100 });
    expect(runs).toHaveLength(4);
    expect(finished.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(new Set(runs.map((r) => r.pipelineId))).toEqual(new Set(ids));
    expect(runs.every((r) => r.jobId !== null && r.trigger === 'schedule')).toBe(true);
    expect(runs.every((r) => r.owner === currentOwner())).toBe(true);

    const manual: Run = await a.runNow(ids[0]);
    // resolved once a worker started it (a small run may have ended by then)
    expect(manual).toMatchObject({ trigger: 'manual', pipelineId: ids[0] });
    expect(manual.jobId).not.toBeNull();
    const ended = await until('the manual run to end', async () => {
      const run = await store.getRun(manual.id);
      return run?.status === 'succeeded' ? run : null;
    });
    expect(ended.jobId).toBe(manual.jobId);
    const workers = await b.listWorkers();
    expect(workers.map((w) => w.id).sort()).toEqual(['test#a', 'test#b']);
    expect(workers.every((w) => w.status === 'running')).toBe(true);
  });
});

describe('draining a worker', () => {
  it('stops its run after the batch in progress and hands the job to another worker, which resumes it', async () => {
    for (const cluster of clusters.splice(0)) await cluster.stop();
    const slow = sims.account('7002');
    slow.setFaults({ seed: 1, slowRate: 1, slowMs: 300 });
    try {
      const pipeline = await store.createPipeline({
        name: 'drained',
        token: 'sim-admin-token-7002',
        accountId: '7002',
        destination: 'sqlite:drained.db',
        objects: ['clients', 'contacts', 'projects', 'tasks', 'users', 'time_entries'],
        frequencyHours: 1,
        since: null,
        fullRefreshHours: 24,
        baseUrl: sims.url,
        enabled: true,
      });
      const c = await open('test#c');
      const first = await until('a run in progress', async () => {
        const [run] = await store.listRuns({ pipelineId: pipeline.id, status: 'running' });
        return run && run.totals.calls > 0 ? run : null;
      });
      const d = await open('test#d');
      await c.stop();
      expect(await store.getRun(first.id)).toMatchObject({ status: 'interrupted' });
      const resumed = await until('the run to resume on the other worker', async () => {
        const runs = await store.listRuns({ pipelineId: pipeline.id });
        return runs.find((r) => r.id !== first.id && r.status === 'succeeded') ?? null;
      });
      expect(resumed.jobId).toBe(first.jobId);
      const workers = await d.listWorkers();
      expect(workers.find((w) => w.id === 'test#c')?.status).toBe('stopped');
    } finally {
      slow.setFaults(null);
    }
  });
});
