import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulatorAccounts } from '../../src/simulator/index.js';
import type { SimulatorAccounts } from '../../src/simulator/index.js';

const UA = 'harvest-sync tests (dev@example.com)';
let sims: SimulatorAccounts;

beforeAll(async () => {
  sims = await startSimulatorAccounts({
    accounts: [
      { accountId: '501', seed: 1, scale: 0.01 },
      { accountId: '502', seed: 2, scale: 0.02 },
    ],
    rateLimit: null,
  });
});
afterAll(() => sims.stop());

async function get(path: string, account: string, token: string) {
  const res = await fetch(`${sims.url}${path}`, {
    headers: { Authorization: `Bearer ${token}`, 'Harvest-Account-Id': account, 'User-Agent': UA },
  });
  return { status: res.status, body: (await res.json().catch(() => null)) as Record<string, unknown> | null };
}

describe('several simulated accounts behind one origin', () => {
  it("serves each account's own data to its own token, and refuses another account's token", async () => {
    const a = await get('/v2/time_entries?per_page=1', '501', 'sim-admin-token-501');
    const b = await get('/v2/time_entries?per_page=1', '502', 'sim-admin-token-502');
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.body?.total_entries).toBe(100);
    expect(b.body?.total_entries).toBe(200);
    expect((await get('/v2/users/me', '501', 'sim-admin-token-502')).status).toBe(401);
    expect((await get('/v2/users/me', '999', 'sim-admin-token-501')).status).toBe(401);
  });

  it('points next-page links at the shared origin', async () => {
    const page = await get('/v2/clients?per_page=1', '502', 'sim-admin-token-502');
    const next = (page.body?.links as { next: string }).next;
    expect(next.startsWith(`${sims.url}/v2/clients`)).toBe(true);
    const res = await fetch(next, {
      headers: { Authorization: 'Bearer sim-admin-token-502', 'Harvest-Account-Id': '502', 'User-Agent': UA },
    });
    expect(res.status).toBe(200);
  });

  it('counts the rate limit per account', async () => {
    sims.setRateLimit({ requests: 3, windowMs: 60_000, variant: 'retry-after' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++)
        statuses.push((await get('/v2/users/me', '501', 'sim-admin-token-501')).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      expect((await get('/v2/users/me', '502', 'sim-admin-token-502')).status).toBe(200);
      expect(sims.account('501').counters.rateLimited).toBe(1);
      expect(sims.account('502').counters.rateLimited).toBe(0);
    } finally {
      sims.setRateLimit(null);
    }
  });
});
