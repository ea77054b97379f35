import Database from 'better-sqlite3';
import { request } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { findObject } from '../../src/catalog/objects.js';
import type { ObjectSpec } from '../../src/catalog/types.js';
import { HarvestClient } from '../../src/harvest/client.js';
import { launchSimulator } from '../../src/simulator/index.js';
import type { SimulatorServer } from '../../src/simulator/server.js';
import { selfSignedCertificate } from '../support/certificate.js';
import { simRecords } from '../sync/support/simulator-helpers.js';
import { syncSqlite, tempDir } from '../sync/support/sqlite-helpers.js';
import { runCli } from './cli-helpers.js';

/*
 * An https API root, as Harvest's is: the CLI's node:https transport trusts what Node trusts, so a
 * company's own certificate authority is added the Node way, NODE_EXTRA_CA_CERTS. The simulator sits
 * behind a TLS front with a throwaway certificate (a real process, real TLS).
 */

const dir = tempDir();
const certificate = selfSignedCertificate(dir.dir);

let sim: SimulatorServer;
let front: Server;
let url = '';
/** TLS handshakes the front saw fail (the client refusing its certificate). */
let refusedHandshakes = 0;

beforeAll(async () => {
  if (certificate === null) return;
  sim = await launchSimulator({ scale: 0.01, seed: 5, rateLimit: null, timersGrow: false });
  const backend = new URL(sim.url);
  front = createServer({ key: certificate.key, cert: certificate.cert }, (req, res) => {
    const upstream = request(
      { host: backend.hostname, port: backend.port, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  front.on('tlsClientError', () => refusedHandshakes++);
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(front.address() as AddressInfo).port}`;
  // next-page links point at the front, as Harvest's point at its own origin
  sim.setPublicUrl(url);
});
afterAll(async () => {
  if (certificate !== null) {
    front.closeAllConnections();
    await new Promise((resolve) => front.close(resolve));
    await sim.stop();
  }
  dir.cleanup();
});

describe.skipIf(certificate === null)(
  'run against an https API root (skipped without the openssl binary to make a certificate)',
  () => {
    it('syncs over TLS when NODE_EXTRA_CA_CERTS trusts the certificate', async () => {
      const db = join(dir.dir, 'tls.db');
      const result = await runCli(
        ['run', '--objects', 'clients,projects', '--per-page', '2', '--destination', `sqlite:${db}`],
        {
          HARVEST_ACCESS_TOKEN: sim.adminToken,
          HARVEST_ACCOUNT_ID: sim.accountId,
          HARVEST_BASE_URL: url,
          NODE_EXTRA_CA_CERTS: certificate?.certPath ?? '',
        },
      );
      expect(result.code, result.stderr).toBe(0);
      const replica = new Database(db, { readonly: true });
      try {
        for (const object of ['clients', 'projects']) {
          const { n } = replica.prepare(`SELECT count(*) AS n FROM ${object}`).get() as { n: number };
          // more than one page each: links.next was followed over TLS too
          expect(n).toBeGreaterThan(2);
          expect(n).toBe(simRecords(sim, object).length);
        }
      } finally {
        replica.close();
      }
    });

    it('without it, stops at the first attempt with one line naming the reason and NODE_EXTRA_CA_CERTS', async () => {
      const before = refusedHandshakes;
      const result = await runCli(
        ['run', '--objects', 'clients', '--destination', `sqlite:${join(dir.dir, 'refused.db')}`],
        { HARVEST_ACCESS_TOKEN: sim.adminToken, HARVEST_ACCOUNT_ID: sim.accountId, HARVEST_BASE_URL: url },
      );
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(
        `the TLS certificate of ${url} was refused (DEPTH_ZERO_SELF_SIGNED_CERT: the certificate is self-signed)`,
      );
      expect(result.stderr).toContain('NODE_EXTRA_CA_CERTS=/path/to/ca.pem');
      expect(result.stderr).not.toContain(sim.adminToken);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(refusedHandshakes - before).toBe(1);
    });

    /*
     * The engine on its own (in this process, Node's own trust, so the certificate is refused):
     * a refused certificate stops the whole run like a 401. Objects that start after it make no
     * attempt; only requests already in flight when it comes meet the refusal themselves, so the
     * handshakes are at most the run's concurrency (requests in flight), and one at concurrency 1.
     */
    const OBJECTS = [
      'clients',
      'projects',
      'tasks',
      'users',
      'roles',
      'expense_categories',
      'contacts',
      'estimate_item_categories',
    ];
    const specs = (): ObjectSpec[] =>
      OBJECTS.map((name) => {
        const spec = findObject(name);
        if (!spec) throw new Error(`no object ${name}`);
        return spec;
      });

    for (const concurrency of [1, 3]) {
      it(`in-process engine, concurrency ${concurrency}: a refused certificate fails every object with one message, at most ${concurrency} handshake(s)`, async () => {
        const before = refusedHandshakes;
        const client = new HarvestClient({
          token: sim.adminToken,
          accountId: sim.accountId,
          baseUrl: url,
          userAgent: 'harvest-sync tests (dev@example.com)',
          rateLimit: { requests: 100_000, windowMs: 1_000 },
        });
        const { result } = await syncSqlite(join(dir.dir, `refused-${concurrency}.db`), client, {
          objects: specs(),
          concurrency,
        });
        expect(result.status).toBe('failed');
        expect(result.error).toMatch(
          new RegExp(
            `^\\w+: the TLS certificate of ${url.replace(/[.]/g, '\\.')} was refused \\(DEPTH_ZERO_SELF_SIGNED_CERT`,
          ),
        );
        expect(result.objects.map((o) => o.object)).toEqual(OBJECTS);
        const own = result.objects.filter((o) => !o.reason?.startsWith('not finished: '));
        for (const o of result.objects) {
          expect(o.status, o.object).toBe('failed');
          // an object that met the refusal itself names it; every other one stopped on the run's message
          if (own.includes(o))
            expect(o.reason, o.object).toMatch(new RegExp(`^${o.object}: the TLS certificate of `));
          else expect(o.reason, o.object).toBe(`not finished: ${result.error}`);
        }
        // calls the client started (each a handshake the front refused): at most one per request
        // in flight when the first refusal came; one at concurrency 1. An object whose call was
        // in flight may see the run stop before its own refusal, and report `not finished: …`.
        const calls = result.objects.reduce((n, o) => n + o.calls, 0);
        expect(own.length).toBeGreaterThanOrEqual(1);
        expect(own.length).toBeLessThanOrEqual(calls);
        expect(calls).toBeLessThanOrEqual(concurrency);
        if (concurrency === 1) expect(calls).toBe(1);
        await vi.waitFor(() => expect(refusedHandshakes - before).toBe(calls), { timeout: 5_000 });
        // the objects after those never made a call
        expect(result.objects.filter((o) => o.calls === 0).length).toBeGreaterThanOrEqual(
          OBJECTS.length - concurrency,
        );
      });
    }
  },
);
