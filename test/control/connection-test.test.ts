import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OBJECT_NAMES } from '../../src/catalog/objects.js';
import { testConnection } from '../../src/control/connection-test.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';

describe('connection test against the simulator', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ scale: 0.01, rateLimit: null });
  });
  afterAll(async () => {
    await sim.stop();
  });

  it('passes for an administrator, with every object readable', async () => {
    const result = await testConnection({
      token: sim.adminToken,
      accountId: sim.accountId,
      baseUrl: sim.url,
    });
    expect(result).toMatchObject({ ok: true, admin: true });
    expect(result.user?.email).toMatch(/@/);
    expect(result.objects.map((o) => [o.name, o.readable])).toEqual(OBJECT_NAMES.map((n) => [n, true]));
    expect(result.message).toMatch(
      new RegExp(
        `^connected as .* \\(administrator\\): ${OBJECT_NAMES.length} of ${OBJECT_NAMES.length} objects readable$`,
      ),
    );
  });

  it('lists what a non-administrator cannot read, with the reason, and still passes', async () => {
    const result = await testConnection({
      token: sim.memberToken,
      accountId: sim.accountId,
      baseUrl: sim.url,
    });
    expect(result).toMatchObject({ ok: true, admin: false });
    const unreadable = result.objects.filter((o) => !o.readable);
    expect(unreadable.length).toBeGreaterThan(0);
    for (const o of unreadable) expect(o.reason).toBeTruthy();
  });

  it('checks only the selected objects', async () => {
    const result = await testConnection({
      token: sim.adminToken,
      accountId: sim.accountId,
      baseUrl: sim.url,
      objects: ['clients', 'users'],
    });
    expect(result.objects.map((o) => o.name)).toEqual(['clients', 'users']);
  });

  it('fails with a one-line reason for a wrong token, without echoing it', async () => {
    const result = await testConnection({
      token: 'nope-SECRET-9876',
      accountId: sim.accountId,
      baseUrl: sim.url,
    });
    expect(result).toMatchObject({ ok: false, user: null, objects: [] });
    expect(result.message).toMatch(/^connection test failed: .*401/);
    expect(result.message).not.toContain('nope-SECRET-9876');
    expect(result.message).not.toContain('\n');
  });

  it('fails for a wrong account id', async () => {
    const result = await testConnection({ token: sim.adminToken, accountId: '42', baseUrl: sim.url });
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/^connection test failed: /);
  });

  it('fails, never throws, when nothing answers', async () => {
    const result = await testConnection({ token: 'x', accountId: '1', baseUrl: 'http://127.0.0.1:1' });
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/^connection test failed: /);
  });
});
