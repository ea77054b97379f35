import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_OBJECTS, OBJECTS } from '../../src/catalog/objects.js';
import { launchChromium, startUiStack } from '../../src/web/dev-stack.js';
import type { UiStack } from '../../src/web/dev-stack.js';
import type { TestServer } from '../harvest/helpers.js';
import { startHtmlNotFoundServer } from '../support/harvest-answers.js';

/*
 * The web UI in a real browser (Debian's chromium, driven by playwright-core) against a real
 * `harvest-sync serve` process and the Harvest simulator: the whole acceptance walk, at a laptop and
 * a phone width, failing on any console error or uncaught page error.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FREQUENCY_MESSAGE = 'frequency must be a whole number of hours from 1 to 24';

const WAIT_MS = 15_000;

/** Polls until the assertion holds (vitest's default of 1 s is too short for a browser). */
const poll = <T>(read: () => Promise<T>, timeout = WAIT_MS) => expect.poll(read, { timeout, interval: 100 });
const shown = (locator: Locator, timeout = WAIT_MS) => locator.first().waitFor({ state: 'visible', timeout });
const gone = (locator: Locator) => locator.first().waitFor({ state: 'hidden', timeout: WAIT_MS });

let stack: UiStack;
let browser: Browser;
let notHarvest: TestServer;

beforeAll(async () => {
  // `npm test` builds first; a lone `vitest run test/web` may find no build at all
  if (!existsSync(`${ROOT}dist/cli/main.js`) || !existsSync(`${ROOT}dist/web/client/main.js`)) {
    execFileSync(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json'], {
      cwd: ROOT,
    });
  }
  notHarvest = await startHtmlNotFoundServer();
  // allowed too: what the walk checks is what the wizard says when something else than Harvest answers
  stack = await startUiStack({ scale: 0.05, allowBaseUrls: [notHarvest.url] });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await notHarvest?.close();
});

interface Session {
  readonly page: Page;
  /** Console errors and uncaught exceptions seen so far. */
  /** Console errors and uncaught exceptions, but for the browser's own log line of a refused request. */
  readonly problems: string[];
  /** Every response with a 4xx/5xx status, as "METHOD /path STATUS". */
  readonly refused: string[];
  close(): Promise<void>;
}

async function openSession(viewport: { width: number; height: number }): Promise<Session> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems: string[] = [];
  const refused: string[] = [];
  page.on('console', (message) => {
    // Chrome logs every 4xx response this way; those are checked one by one through `refused`
    const network = /^Failed to load resource: the server responded with a status of 4\d\d/;
    if (message.type() === 'error' && !network.test(message.text()))
      problems.push(`console: ${message.text()}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) {
      const request = response.request();
      refused.push(`${request.method()} ${new URL(response.url()).pathname} ${response.status()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.setDefaultTimeout(15_000);
  return { page, problems, refused, close: () => context.close() };
}

/**
 * The few browser globals the in-page checks read: the tests compile without DOM types (those are
 * only in src/web/client/tsconfig.json), and code passed to page.evaluate runs in Chromium.
 */
interface InPage {
  readonly innerWidth: number;
  readonly document: {
    readonly documentElement: { readonly scrollWidth: number };
    querySelectorAll(selector: string): ArrayLike<InPageElement>;
  };
}
interface InPageElement {
  readonly tagName: string;
  readonly textContent: string | null;
  readonly outerHTML: string;
  readonly labels?: ArrayLike<unknown> | null;
  getAttribute(name: string): string | null;
}

/** The document is not wider than the window: nothing forces sideways scrolling of the whole page. */
async function expectNoPageOverflow(page: Page): Promise<void> {
  const { scroll, width } = await page.evaluate(() => {
    const window = globalThis as unknown as InPage;
    return { scroll: window.document.documentElement.scrollWidth, width: window.innerWidth };
  });
  expect(scroll).toBeLessThanOrEqual(width);
}

const visibleSection = (page: Page) => page.locator('main section:not([hidden])');

async function walk(session: Session, name: string, options: { checkWrongPassword: boolean }): Promise<void> {
  const { page } = session;
  const sim = stack.simulator;

  // every page is behind the login
  await page.goto(`${stack.url}/pipelines/new`);
  await expect.poll(() => new URL(page.url()).pathname).toBe('/login');
  await page.getByRole('button', { name: 'Log in' }).click();
  await shown(page.getByText('enter the admin password'));
  if (options.checkWrongPassword) {
    await page.getByLabel('Admin password').fill('not the password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await shown(page.getByText('wrong password'));
    await poll(() => page.getByLabel('Admin password').getAttribute('aria-invalid')).toBe('true');
  }
  await page.getByLabel('Admin password').fill(stack.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  // back where the login interrupted
  await page.getByRole('heading', { name: 'Create a pipeline' }).waitFor();
  await expectNoPageOverflow(page);

  // 1. source type, with the help text on where the token and account id are
  await shown(page.getByText('Settings → Developers'));
  await page.getByRole('button', { name: 'Continue' }).click();

  // 2. source settings: refused inputs show the API's messages beside their fields
  await page.getByRole('button', { name: 'TEST & CONTINUE' }).click();
  await shown(page.getByText('name is required'));
  await shown(page.getByText(/token must be a Harvest personal access token/));
  await poll(() => page.getByLabel('Account ID').getAttribute('aria-invalid')).toBe('true');

  await page.getByLabel('Pipeline name').fill(name);
  await page.getByLabel('Personal access token').fill('wrong-token');
  await page.getByLabel('Account ID').fill(sim.accountId);
  await page.getByText('Advanced').click();
  await page.getByLabel('Harvest API URL').fill(sim.url);
  await page.getByRole('button', { name: 'TEST & CONTINUE' }).click();
  await shown(page.getByRole('alert').filter({ hasText: 'Harvest rejected the access token' }));
  // blocked: still on the source step
  await shown(page.getByRole('heading', { name: /Step 2 of 4/ }));
  await gone(page.getByRole('heading', { name: /Step 3 of 4/ }));

  await page.getByLabel('Personal access token').fill(sim.adminToken);
  if (options.checkWrongPassword) {
    // something else than Harvest answers there (an HTML 404): blocked, with the one generic line
    await page.getByLabel('Harvest API URL').fill(notHarvest.url);
    await page.getByRole('button', { name: 'TEST & CONTINUE' }).click();
    await shown(page.getByRole('alert').filter({ hasText: `could not reach Harvest at ${notHarvest.url}` }));
    await shown(page.getByRole('heading', { name: /Step 2 of 4/ }));
    await gone(page.getByRole('heading', { name: /Step 3 of 4/ }));
  }
  // Harvest's documented form of the API root, with /v2 and a trailing slash
  await page.getByLabel('Harvest API URL').fill(`${sim.url}/v2/`);
  await page.getByRole('button', { name: 'TEST & CONTINUE' }).click();
  await page.getByRole('heading', { name: /Step 3 of 4/ }).waitFor();
  const step3 = visibleSection(page);
  // the test checks the objects a new pipeline reads: every one but the reports
  const checked = DEFAULT_OBJECTS.length;
  const all = OBJECTS.length;
  await shown(step3.getByText(new RegExp(`connected as .*${checked} of ${checked} objects readable`)));
  await poll(() => step3.getByText('Readable', { exact: true }).count()).toBe(checked);

  // 3. destination, with its own test
  await step3.getByLabel('PostgreSQL', { exact: true }).check();
  await step3.getByLabel('PostgreSQL URL').fill('mssql://root@localhost/harvest');
  await step3.getByRole('button', { name: 'TEST & CONTINUE' }).click();
  await shown(step3.getByText(/unknown destination scheme "mssql:"/));
  await step3.getByLabel('MySQL / MariaDB', { exact: true }).check();
  await step3.getByLabel('MySQL / MariaDB URL').fill('mysql://root@127.0.0.1/harvest?localInfile=true');
  await step3.getByRole('button', { name: 'TEST & CONTINUE' }).click();
  await shown(step3.getByText(/unsupported MySQL URL parameter "localInfile"/));
  await step3.getByLabel('SQLite (embedded)').check();
  const path = step3.getByLabel('SQLite database path');
  await poll(() => path.inputValue()).not.toBe('');
  await path.fill('../outside.db');
  await step3.getByRole('button', { name: 'TEST & CONTINUE' }).click();
  await shown(step3.getByText(/must not contain "\.\." segments/));
  await path.fill('/etc/outside.db');
  await step3.getByRole('button', { name: 'TEST & CONTINUE' }).click();
  await shown(step3.getByText(/must be inside/));
  await poll(() => path.getAttribute('aria-invalid')).toBe('true');
  await path.fill(`${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.db`);
  await step3.getByRole('button', { name: 'TEST & CONTINUE' }).click();

  // 4. objects (all but the reports by default), grouped, and frequency
  await page.getByRole('heading', { name: /Step 4 of 4/ }).waitFor();
  const step4 = visibleSection(page);
  await poll(() => step4.getByRole('checkbox').count()).toBe(all);
  for (const title of ['Core', 'Billing detail', 'Rates', 'Reports'])
    await shown(step4.getByRole('heading', { name: title, exact: true }));
  for (const box of await step4.getByRole('checkbox').all()) {
    const report = ((await box.getAttribute('value')) ?? '').startsWith('report_');
    await poll(() => box.isChecked()).toBe(!report);
  }
  const frequency = step4.getByLabel('Run every (hours)');
  await poll(() => frequency.inputValue()).toBe('1');
  await frequency.fill('25');
  await step4.getByRole('button', { name: 'Create pipeline' }).click();
  await shown(step4.getByText(FREQUENCY_MESSAGE));
  await poll(() => frequency.getAttribute('aria-invalid')).toBe('true');
  await frequency.fill('2');
  await step4.getByRole('button', { name: 'Create pipeline' }).click();

  // the pipeline page
  await page.waitForURL(/\/pipelines\/\d+$/);
  await page.getByRole('heading', { name, level: 1 }).waitFor();
  await shown(page.getByText(`••••${sim.adminToken.slice(-4)}`));
  expect(await page.content()).not.toContain(sim.adminToken);
  // stored normalised: the form given (…/v2/) reaches the same endpoints as the bare root
  await shown(page.getByText(sim.url, { exact: true }));
  await shown(page.getByText('every 2 hours'));
  // the scheduler starts a first run at once; wait for it to land before starting one by hand
  await shown(page.locator('.title-row').getByText('Healthy'), 30_000);
  await expectNoPageOverflow(page);

  // Run now, slowed down so the run page shows it live before it ends
  sim.setFaults({ slowRate: 1, slowMs: 300 });
  // the run page reads the run once, then follows its event stream: no polling, no reload
  const runRequests: string[] = [];
  page.on('request', (request) => {
    const path = new URL(request.url()).pathname;
    if (/^\/api\/runs\/\d+(\/events)?$/.test(path)) runRequests.push(`${request.resourceType()} ${path}`);
  });
  let loads = 0;
  page.on('load', () => loads++);
  let runId = '';
  try {
    await page.getByRole('button', { name: 'Run now' }).click();
    await page.getByRole('link', { name: 'Follow it' }).click();
    await page.getByRole('heading', { name: /^Run #\d+$/ }).waitFor();
    runId = /\/runs\/(\d+)$/.exec(page.url())![1];
    await shown(page.getByText(/Running: [\d,]+ rows read so far/));
    await shown(page.locator('.title-row').getByText('Succeeded'), 30_000);
  } finally {
    sim.setFaults(null);
  }
  // from running to its end without a reload or a second read: each change came on the stream
  expect(loads).toBe(1);
  expect(runRequests).toEqual([`fetch /api/runs/${runId}`, `eventsource /api/runs/${runId}/events`]);
  await gone(page.getByText(/Running: /));
  const runObjects = page.getByRole('region', { name: 'Objects of this run' });
  await poll(() => runObjects.locator('tbody tr').count()).toBe(DEFAULT_OBJECTS.length);
  await shown(runObjects.getByRole('rowheader', { name: 'time_entries' }));
  // a second run re-reads the roles in full: every one unchanged, none updated
  await shown(runObjects.getByRole('columnheader', { name: 'Unchanged' }));
  const roles = String([...sim.records('roles')].length);
  const rolesCells = runObjects
    .getByRole('row')
    .filter({ has: page.getByRole('rowheader', { name: 'roles' }) })
    .locator('td');
  // status, mode, read, inserted, updated, unchanged, deleted
  await poll(async () => (await rolesCells.allTextContents()).slice(2, 7)).toEqual([
    roles,
    '0',
    '0',
    roles,
    '0',
  ]);
  await expectNoPageOverflow(page);

  // back on the pipeline page: destination rows per object, history, chart
  await page.getByRole('link', { name: `← ${name}` }).click();
  await page.getByRole('heading', { name, level: 1 }).waitFor();
  const timeEntries = [...sim.records('time_entries')].length;
  const objects = page.getByRole('region', { name: 'Objects', exact: true });
  const timeEntriesRow = objects
    .getByRole('row')
    .filter({ has: page.getByRole('rowheader', { name: 'time_entries' }) });
  await poll(() => timeEntriesRow.textContent()).toContain(timeEntries.toLocaleString('en-US'));
  const history = page.getByRole('region', { name: 'Run history' });
  await poll(() => history.locator('tbody tr').count()).toBe(2);
  await shown(history.getByRole('columnheader', { name: 'Unchanged' }));
  await poll(() => page.locator('figure svg[role=img] rect').count()).toBe(2);

  // pause
  await page.getByRole('button', { name: 'Pause' }).click();
  await shown(page.locator('.title-row').getByText('Paused'));
  await shown(page.getByRole('button', { name: 'Resume' }));

  // edit frequency: a refused value first
  await page.getByRole('button', { name: 'Edit' }).click();
  const edit = page.getByRole('region', { name: 'Edit pipeline' });
  await edit.getByLabel('Run every (hours)').fill('25');
  await edit.getByRole('button', { name: 'Save changes' }).click();
  await shown(edit.getByText(FREQUENCY_MESSAGE));
  await edit.getByLabel('Run every (hours)').fill('6');
  await edit.getByRole('button', { name: 'Save changes' }).click();
  await shown(page.getByText('Changes saved.'));
  await shown(page.getByText('every 6 hours'));

  // a new Harvest API URL needs the token again, and must be on the allow-list
  await page.getByRole('button', { name: 'Edit' }).click();
  await edit.getByLabel('Harvest API URL').fill(sim.url.replace('127.0.0.1', 'localhost'));
  await edit.getByRole('button', { name: 'Save changes' }).click();
  const editError = (label: string) =>
    edit
      .locator('.field')
      .filter({ has: page.getByLabel(label, { exact: true }) })
      .locator('.field-error');
  await poll(() => editError('New access token').textContent()).toMatch(/enter the access token again/);
  await poll(() => editError('Harvest API URL').textContent()).toMatch(/not an allowed Harvest API URL/);
  await edit.getByRole('button', { name: 'Cancel' }).click();
  await shown(page.getByText(sim.url, { exact: true }));

  // delete, after confirmation
  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete this pipeline?' });
  await shown(dialog);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await gone(dialog);
  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  await dialog.getByRole('button', { name: 'Delete pipeline' }).click();
  await page.getByRole('heading', { name: 'Pipelines', level: 1 }).waitFor();
  await shown(page.getByText(`Pipeline “${name}” deleted.`));
  await poll(() => page.getByRole('link', { name, exact: true }).count()).toBe(0);
  await expectNoPageOverflow(page);

  // log out: the pages are closed again
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect.poll(() => new URL(page.url()).pathname).toBe('/login');
  await page.goto(`${stack.url}/`);
  await expect.poll(() => new URL(page.url()).pathname).toBe('/login');
}

describe('web UI routes without a browser', () => {
  it('keeps the destination contents route behind the login and serves only the compiled modules', async () => {
    const extra = await fetch(`${stack.url}/api/pipelines/1/destination`);
    expect(extra.status).toBe(401);
    const page = await fetch(`${stack.url}/pipelines/1`, { redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/login?next=%2Fpipelines%2F1');
    const module = await fetch(`${stack.url}/assets/js/main.js`);
    expect(module.status).toBe(200);
    expect(module.headers.get('content-type')).toMatch(/^text\/javascript/);
    for (const path of ['/assets/js/main.ts', '/assets/js/..%2Fui.js', '/assets/js/main.js.map']) {
      expect((await fetch(`${stack.url}${path}`)).status).toBe(404);
    }
  });
});

describe('web UI in chromium against serve and the simulator', () => {
  it('walks login, wizard (failed then good test), run, pause, edit, delete at laptop width', async () => {
    const session = await openSession({ width: 1280, height: 900 });
    try {
      await walk(session, 'Acme laptop', { checkWrongPassword: true });
    } finally {
      await session.close();
    }
    expect(session.problems).toEqual([]);
    // the only refused requests are the refused inputs the walk made on purpose
    expect(session.refused.filter((r) => !/^(POST|PATCH) \/api\/\S+ (400|401)$/.test(r))).toEqual([]);
    expect(session.refused.length).toBeGreaterThan(0);
  });

  it('walks the same flow at phone width without errors or sideways page scrolling', async () => {
    const session = await openSession({ width: 375, height: 812 });
    try {
      await walk(session, 'Acme phone', { checkWrongPassword: false });
    } finally {
      await session.close();
    }
    expect(session.problems).toEqual([]);
    // the only refused requests are the refused inputs the walk made on purpose
    expect(session.refused.filter((r) => !/^(POST|PATCH) \/api\/\S+ (400|401)$/.test(r))).toEqual([]);
    expect(session.refused.length).toBeGreaterThan(0);
  });

  it('sends the browser back only into the app after login, whatever `next` says', async () => {
    const session = await openSession({ width: 1280, height: 900 });
    const { page } = session;
    try {
      for (const next of [
        '/%09/evil.example',
        '//evil.example',
        '/%5Cevil.example',
        'https://evil.example/',
      ]) {
        await page.context().clearCookies();
        await page.goto(`${stack.url}/login?next=${next}`);
        await page.getByLabel('Admin password').fill(stack.password);
        await page.getByRole('button', { name: 'Log in' }).click();
        await page.getByRole('heading', { name: 'Pipelines', level: 1 }).waitFor();
        expect(new URL(page.url()).origin, next).toBe(stack.url);
        expect(new URL(page.url()).pathname, next).toBe('/');
      }
      // and a path of the app is where it goes
      await page.context().clearCookies();
      await page.goto(`${stack.url}/login?next=%2Ftokens`);
      await page.getByLabel('Admin password').fill(stack.password);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'API tokens', level: 1 }).waitFor();
    } finally {
      await session.close();
    }
    expect(session.problems).toEqual([]);
  });

  it('updates an open pipelines list from the event stream: a run started through the API shows, no reload, no polling', async () => {
    const session = await openSession({ width: 1280, height: 900 });
    const { page } = session;
    const name = 'Streamed list';
    try {
      // the page's timers run only when the test moves its clock on (no waiting out an interval)
      await page.clock.install();
      await page.goto(`${stack.url}/`);
      await page.getByLabel('Admin password').fill(stack.password);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'Pipelines', level: 1 }).waitFor();
      // the API through the page's own session (the request context shares its cookies)
      const auth = (await (await page.request.get(`${stack.url}/api/session`)).json()) as {
        csrfToken: string;
      };
      const call = async (method: 'GET' | 'POST' | 'DELETE', path: string, data?: object) => {
        const res = await page.request.fetch(`${stack.url}${path}`, {
          method,
          headers: { 'X-CSRF-Token': auth.csrfToken, Origin: new URL(stack.url).origin },
          ...(data ? { data } : {}),
        });
        expect(res.status(), await res.text()).toBeLessThan(300);
        return (await res.json()) as {
          pipeline?: { id: number };
          run?: { id: number; status: string; totals: { read: number } };
        };
      };
      const created = await call('POST', '/api/pipelines', {
        name,
        token: stack.simulator.adminToken,
        accountId: stack.simulator.accountId,
        baseUrl: stack.simulator.url,
        destination: 'sqlite:streamed-list.db',
        objects: ['clients'],
        frequencyHours: 24,
        enabled: false,
      });
      const pipelineId = created.pipeline?.id;

      // the list, open before the run
      const requests: string[] = [];
      page.on('request', (request) => {
        const path = new URL(request.url()).pathname;
        if (path.startsWith('/api/')) requests.push(`${request.resourceType()} ${request.method()} ${path}`);
      });
      let loads = 0;
      page.on('load', () => loads++);
      await page.reload();
      const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name }) });
      await shown(row.getByText('never'));
      await poll(async () => requests.includes('eventsource GET /api/events')).toBe(true);
      await page.clock.pauseAt(Date.now() + 1000);

      const started = await call('POST', `/api/pipelines/${pipelineId}/run`);
      const runId = started.run?.id ?? 0;
      await shown(row.locator(`a[href="/runs/${runId}"]`));
      let run = started.run;
      await poll(async () => (run = (await call('GET', `/api/runs/${runId}`)).run)?.status).toBe('succeeded');
      // its end came on the stream too: rows read, the pipeline's status again
      await poll(() => row.locator('td').allTextContents()).toEqual([
        'Paused',
        expect.stringMatching(/^.+took /),
        (run?.totals.read ?? -1).toLocaleString('en-US'),
        'paused',
        'every 24 hours',
      ]);

      // a minute of the page's time: what used to poll the list every 5 s asks nothing now
      await page.clock.runFor(60_000);
      await page.evaluate(async () => (await fetch('/api/session')).status);
      expect(loads).toBe(1);
      expect(requests.filter((r) => r !== 'fetch GET /api/session')).toEqual([
        'fetch GET /api/pipelines',
        'eventsource GET /api/events',
      ]);
      await call('DELETE', `/api/pipelines/${pipelineId}`);
    } finally {
      await session.close();
    }
    expect(session.problems).toEqual([]);
  });

  it('says on the workers page that serve runs every pipeline itself on the SQLite control store', async () => {
    const session = await openSession({ width: 1280, height: 900 });
    const { page } = session;
    try {
      await page.goto(`${stack.url}/workers`);
      await page.getByLabel('Admin password').fill(stack.password);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'Workers', level: 1 }).waitFor();
      await shown(page.getByText(/runs every one of them itself: there are no workers/));
      await shown(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Workers' }));
    } finally {
      await session.close();
    }
    expect(session.problems).toEqual([]);
  });

  it('creates a read-only API token shown once, which reads but cannot change, then revokes it', async () => {
    const session = await openSession({ width: 1280, height: 900 });
    const { page } = session;
    try {
      await page.goto(`${stack.url}/tokens`);
      await page.getByLabel('Admin password').fill(stack.password);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'API tokens', level: 1 }).waitFor();
      await page.getByRole('button', { name: 'Create token' }).click();
      await shown(page.getByText(/name must be 1 to 100 characters/));
      await page.getByLabel('Token name').fill('Prometheus');
      await page.getByLabel('Read only').check();
      await page.getByRole('button', { name: 'Create token' }).click();
      const secret = (await page.getByLabel('New API token', { exact: true }).textContent()) ?? '';
      expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      await shown(page.getByText(/shown only this once/));
      const table = page.getByRole('region', { name: 'API tokens' });
      await shown(table.getByRole('rowheader', { name: 'Prometheus' }));

      const call = (method: string, path: string) =>
        fetch(`${stack.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
          body: method === 'GET' ? undefined : '{}',
        }).then((r) => r.status);
      expect(await call('GET', '/api/pipelines')).toBe(200);
      expect(await call('GET', '/metrics')).toBe(200);
      expect(await call('POST', '/api/pipelines')).toBe(403);

      // shown once: a reload lists the token, never the token itself
      await page.reload();
      await shown(
        page.getByRole('region', { name: 'API tokens' }).getByRole('rowheader', { name: 'Prometheus' }),
      );
      expect(await page.content()).not.toContain(secret);

      await page.getByRole('button', { name: 'Revoke Prometheus' }).click();
      const dialog = page.getByRole('dialog', { name: 'Revoke this token?' });
      await dialog.getByRole('button', { name: 'Revoke token' }).click();
      await shown(page.getByText('Token “Prometheus” revoked.'));
      expect(await call('GET', '/api/pipelines')).toBe(401);
    } finally {
      await session.close();
    }
    expect(session.problems).toEqual([]);
    expect(session.refused).toEqual(['POST /api/tokens 400']);
  });

  it('labels every form control and names every button on each page', async () => {
    const session = await openSession({ width: 1280, height: 900 });
    const { page } = session;
    try {
      await page.goto(`${stack.url}/login`);
      const unlabelled = () =>
        page.evaluate(() =>
          Array.from(
            (globalThis as unknown as InPage).document.querySelectorAll(
              'input:not([type=hidden]):not([hidden]), select, textarea, button',
            ),
          )
            .filter((el) => {
              if (el.tagName === 'BUTTON') return (el.textContent ?? '').trim() === '';
              const labels = el.labels;
              return (
                (labels === null || labels === undefined || labels.length === 0) &&
                !el.getAttribute('aria-label')
              );
            })
            .map((el) => el.outerHTML),
        );
      expect(await unlabelled()).toEqual([]);
      await page.getByLabel('Admin password').fill(stack.password);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'Pipelines', level: 1 }).waitFor();
      await page.goto(`${stack.url}/pipelines/new`);
      await page.getByRole('heading', { name: 'Create a pipeline' }).waitFor();
      expect(await unlabelled()).toEqual([]);
      await page.goto(`${stack.url}/tokens`);
      await page.getByRole('heading', { name: 'API tokens', level: 1 }).waitFor();
      expect(await unlabelled()).toEqual([]);
      // a pipeline that does not exist: a message, not a broken page
      await page.goto(`${stack.url}/pipelines/999999`);
      await poll(() => page.getByRole('alert').textContent()).toBe('no such pipeline');
    } finally {
      await session.close();
    }
    expect(session.problems).toEqual([]);
    expect(session.refused).toEqual(['GET /api/pipelines/999999 404']);
  });
});
