import Database from 'better-sqlite3';
import { request } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchSimulator } from '../../src/simulator/index.js';
import type { SimulatorServer } from '../../src/simulator/server.js';
import { selfSignedCertificate } from '../support/certificate.js';
import { simRecords } from '../sync/support/simulator-helpers.js';
import { tempDir } from '../sync/support/sqlite-helpers.js';
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
  },
);
