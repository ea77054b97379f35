import { getWorkers } from './api.js';
import type { WorkerView } from './api.js';
import { dataTable, fill, h, statusBadge } from './dom.js';
import { dateTime, relative } from './format.js';

/*
 * The processes running pipelines on a PostgreSQL control store: workers and serve processes, how
 * alive each is, and what each runs now. With the SQLite control store, serve runs everything.
 */

/*
 * Polled, not streamed: what this page shows is mostly the workers' own state (heartbeats, lost or
 * stopped, which runs each has claimed, before a run exists), and no server event reports it; the
 * run event stream (GET /api/events) tells only runs' progress and ends.
 */
const POLL_MS = 5000;

function runsCell(w: WorkerView): HTMLElement {
  if (w.runsInProgress.length === 0) return h('td', { class: 'muted' }, 'none');
  return h(
    'td',
    {},
    w.runsInProgress.map((r, i) => [
      i > 0 ? ', ' : '',
      r.runId === null
        ? `${r.pipeline ?? r.pipelineId} (starting)`
        : h('a', { href: `/runs/${r.runId}` }, `${r.pipeline ?? r.pipelineId} (run ${r.runId})`),
    ]),
  );
}

function workersTable(workers: readonly WorkerView[]): HTMLElement {
  const columns = [
    'Worker',
    'Role',
    'Status',
    'Host',
    'PID',
    'Version',
    'Started',
    'Last heartbeat',
    'Runs in progress',
  ];
  return dataTable(
    'Workers',
    [columns.map((t) => h('th', { scope: 'col' }, t))],
    workers.map((w) =>
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, w.id),
        h(
          'td',
          {},
          w.role === 'serve'
            ? `serve (${w.maxRuns === 0 ? 'no runs' : `up to ${w.maxRuns} runs`})`
            : `worker (up to ${w.maxRuns} runs)`,
        ),
        h(
          'td',
          {},
          statusBadge(
            w.status === 'running' ? 'succeeded' : w.status === 'lost' ? 'failed' : 'interrupted',
            w.status,
          ),
        ),
        h('td', {}, w.host),
        h('td', { class: 'num' }, String(w.pid)),
        h('td', {}, w.version),
        h('td', {}, dateTime(w.startedAt)),
        h('td', {}, `${dateTime(w.lastHeartbeatAt)} (${relative(w.lastHeartbeatAt)})`),
        runsCell(w),
      ),
    ),
  );
}

export async function renderWorkers(main: HTMLElement): Promise<void> {
  const draw = async () => {
    const { mode, workers } = await getWorkers();
    fill(
      main,
      h('h1', {}, 'Workers'),
      mode === 'single-process'
        ? h(
            'p',
            {},
            'This server keeps its pipelines in SQLite and runs every one of them itself: there are no workers.',
          )
        : workers.length === 0
          ? h(
              'p',
              {},
              'No worker has joined yet. Start one with harvest-sync worker --control-store postgres://…',
            )
          : workersTable(workers),
    );
  };
  await draw();
  setInterval(() => {
    if (document.visibilityState === 'visible') draw().catch(() => undefined);
  }, POLL_MS);
}
