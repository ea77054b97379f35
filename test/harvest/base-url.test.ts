import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OBJECT_NAMES } from '../../src/catalog/objects.js';
import { ConfigError } from '../../src/errors.js';
import { DEFAULT_BASE_URL, baseUrlProblem, normaliseBaseUrl } from '../../src/harvest/base-url.js';
import { HarvestClient } from '../../src/harvest/client.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { spec } from './helpers.js';

/*
 * Harvest's docs give the API root as https://api.harvestapp.com/v2; the catalog's paths start with
 * /v2/. Every form a person may paste must reach the same endpoints, never /v2/v2/….
 */

describe('normaliseBaseUrl', () => {
  it.each([
    ['https://api.harvestapp.com', DEFAULT_BASE_URL],
    ['https://api.harvestapp.com/', DEFAULT_BASE_URL],
    ['https://api.harvestapp.com/v2', DEFAULT_BASE_URL],
    ['https://api.harvestapp.com/v2/', DEFAULT_BASE_URL],
    ['  https://api.harvestapp.com/v2//  ', DEFAULT_BASE_URL],
    ['https://api.harvestapp.com/api/v2', `${DEFAULT_BASE_URL}/api`],
    ['http://127.0.0.1:4010', 'http://127.0.0.1:4010'],
    ['http://proxy.local:8080/harvest/', 'http://proxy.local:8080/harvest'],
    ['http://proxy.local:8080/harvest/v2', 'http://proxy.local:8080/harvest'],
    ['http://proxy.local:8080/harvest/v2/', 'http://proxy.local:8080/harvest'],
    // only a whole trailing segment: a prefix that merely ends in "v2" is kept
    ['http://proxy.local/apiv2', 'http://proxy.local/apiv2'],
  ])('%s → %s', (input, expected) => {
    expect(normaliseBaseUrl(input)).toBe(expected);
  });

  it.each([
    ['ftp://api.harvestapp.com', 'must be an http(s) URL such as https://api.harvestapp.com'],
    ['api.harvestapp.com/v2', 'must be an http(s) URL such as https://api.harvestapp.com'],
    ['https://me:secret@api.harvestapp.com', 'must not hold a user name or password'],
    ['https://api.harvestapp.com/v2?access_token=x', 'must not have a query (?…) or a fragment (#…)'],
  ])('refuses %s with a ConfigError that does not repeat it', (input, problem) => {
    expect(baseUrlProblem(input)).toBe(problem);
    expect(() => normaliseBaseUrl(input)).toThrow(ConfigError);
    expect(() => normaliseBaseUrl(input)).toThrow(`the Harvest API root ${problem}`);
  });
});

describe('HarvestClient with every form of the base URL, against the simulator', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ scale: 0.01, rateLimit: null });
  });
  afterAll(async () => {
    await sim.stop();
  });
  beforeEach(() => sim.resetCounters());

  const forms = (url: string) => [
    url,
    `${url}/`,
    `${url}/v2`,
    `${url}/v2/`,
    `${url}/api/v2`,
    `${url}/api/v2/`,
  ];

  it('reads users/me, every object and a whole list the same way from each form', async () => {
    const clients = [...sim.records('clients')].length;
    for (const baseUrl of forms(sim.url)) {
      const client = new HarvestClient({ token: sim.adminToken, accountId: sim.accountId, baseUrl });
      const check = await client.checkConnection(OBJECT_NAMES.map(spec));
      expect(
        check.objects.filter((o) => !o.readable),
        baseUrl,
      ).toEqual([]);
      const page = await client.fetchPage(
        spec('clients'),
        client.firstPageUrl(spec('clients'), { perPage: 2000 }),
      );
      expect(page.records, baseUrl).toHaveLength(clients);
    }
    // no request ever went to a doubled /v2/v2 (the simulator answers those with an HTML 404)
    expect(Object.keys(sim.counters.byPath).filter((p) => p.includes('/v2/v2'))).toEqual([]);
    expect(sim.counters.byStatus['404']).toBeUndefined();
  });

  it('builds first-page URLs under the proxy prefix, once', () => {
    const client = new HarvestClient({ token: 't', accountId: '1', baseUrl: `${sim.url}/api/v2/` });
    expect(client.baseUrl).toBe(`${sim.url}/api`);
    expect(client.firstPageUrl(spec('tasks'), { perPage: 5 })).toBe(`${sim.url}/api/v2/tasks?per_page=5`);
  });
});
