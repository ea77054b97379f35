import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { APIRequestContext, Page } from 'playwright-core';
import { launchChromium, startUiStack } from './dev-stack.js';

/*
 * Makes the README's screenshots: starts the simulator and a real `serve`, creates pipelines with a
 * few runs through the API, and photographs the UI with Debian's chromium.
 *   npm run build && node dist/web/screenshots.js      (HARVEST_SYNC_CHROMIUM overrides /usr/bin/chromium)
 * Writes docs/screenshots/{pipelines,wizard,pipeline,run}.png.
 */

const OUT = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

async function waitForRun(request: APIRequestContext, base: string, runId: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const { run } = (await (await request.get(`${base}/api/runs/${runId}`)).json()) as {
      run: { status: string };
    };
    if (run.status !== 'running') return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`run ${runId} did not finish`);
}

async function lastRunId(request: APIRequestContext, base: string, ref: number): Promise<number | null> {
  const { runs } = (await (await request.get(`${base}/api/pipelines/${ref}/runs?limit=1`)).json()) as {
    runs: { id: number }[];
  };
  return runs[0]?.id ?? null;
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const stack = await startUiStack({ scale: 0.2 });
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 860 },
      deviceScaleFactor: 1,
    });
    const page = await context.newPage();
    const base = stack.url;
    const sim = stack.simulator;
    const login = await page.request.post(`${base}/api/login`, { data: { password: stack.password } });
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    // Origin as a browser sends it: hono/csrf refuses body-less POSTs without one
    const headers = { 'X-CSRF-Token': csrfToken, Origin: base };
    const create = async (data: Record<string, unknown>) => {
      const res = await page.request.post(`${base}/api/pipelines`, { data, headers });
      if (!res.ok()) throw new Error(`create failed: ${await res.text()}`);
      return ((await res.json()) as { pipeline: { id: number } }).pipeline.id;
    };
    const common = { accountId: sim.accountId, baseUrl: sim.url };

    const main = await create({
      ...common,
      name: 'Acme Studio → SQLite',
      token: sim.adminToken,
      destination: 'sqlite:acme.db',
    });
    const failing = await create({
      ...common,
      name: 'Old agency account',
      token: 'revoked-personal-access-token',
      destination: 'sqlite:agency.db',
      frequencyHours: 6,
    });
    const paused = await create({
      ...common,
      name: 'Finance (time entries, invoices)',
      token: sim.memberToken,
      destination: 'sqlite:finance.db',
      objects: ['time_entries', 'invoices', 'clients'],
      frequencyHours: 24,
    });
    // each new pipeline starts a first run at once
    for (const id of [main, failing, paused]) {
      for (let i = 0; i < 100 && (await lastRunId(page.request, base, id)) === null; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const runId = await lastRunId(page.request, base, id);
      if (runId !== null) await waitForRun(page.request, base, runId);
    }
    await page.request.post(`${base}/api/pipelines/${paused}/pause`, { headers });

    // a few manual runs with changes in between, so the history and the chart have something to show
    for (const changes of [40, 5, 120, 15]) {
      for (let i = 0; i < changes; i++) sim.create('time_entries');
      const res = await page.request.post(`${base}/api/pipelines/${main}/run`, { headers });
      if (!res.ok()) throw new Error(`run now failed: ${await res.text()}`);
      const { run } = (await res.json()) as { run: { id: number } };
      await waitForRun(page.request, base, run.id);
    }

    const shoot = async (p: Page, name: string, fullPage = false) => {
      await p.screenshot({ path: `${OUT}${name}.png`, fullPage });
      process.stdout.write(`wrote docs/screenshots/${name}.png\n`);
    };

    await page.goto(`${base}/`);
    await page.getByRole('link', { name: 'Acme Studio → SQLite' }).waitFor();
    await shoot(page, 'pipelines');

    await page.goto(`${base}/pipelines/${main}`);
    await page.locator('figure svg').waitFor();
    await shoot(page, 'pipeline', true);

    const runId = await lastRunId(page.request, base, main);
    await page.goto(`${base}/runs/${runId}`);
    await page.getByRole('region', { name: 'Objects of this run' }).waitFor();
    await shoot(page, 'run', true);

    await page.goto(`${base}/pipelines/new`);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Pipeline name').fill('Acme Studio → warehouse');
    await page.getByLabel('Personal access token').fill(sim.memberToken);
    await page.getByLabel('Account ID').fill(sim.accountId);
    await page.getByText('Advanced').click();
    await page.getByLabel('Harvest API URL').fill(sim.url);
    await page.getByRole('button', { name: 'TEST & CONTINUE' }).click();
    await page.getByRole('heading', { name: /Step 3 of 4/ }).waitFor();
    await shoot(page, 'wizard', true);
  } finally {
    await browser.close();
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `screenshots failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
