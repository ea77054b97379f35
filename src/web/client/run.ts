import { getRun } from './api.js';
import type { RunView } from './api.js';
import { dataTable, fill, h, statusBadge } from './dom.js';
import { followRuns } from './events.js';
import { RUN_STATUS_TEXT, count, dateTime, durationMs, runDurationMs } from './format.js';

/** Only when the browser cannot follow the run's event stream. */
const POLL_MS = 1000;

function summary(run: RunView): HTMLElement {
  const item = (term: string, ...value: (Node | string)[]) => [h('dt', {}, term), h('dd', {}, ...value)];
  return h(
    'dl',
    { class: 'config' },
    item(
      'Pipeline',
      run.pipeline ? h('a', { href: `/pipelines/${run.pipelineId}` }, run.pipeline) : 'deleted',
    ),
    item('Trigger', run.trigger === 'manual' ? 'manual (Run now)' : 'schedule'),
    item('Ran on', run.worker ?? 'not recorded'),
    item('Kind', run.fullRefresh ? 'full refresh (re-reads everything, captures deletions)' : 'incremental'),
    item('Started', dateTime(run.startedAt)),
    item('Finished', run.finishedAt ? dateTime(run.finishedAt) : 'still running'),
    item('Duration', durationMs(runDurationMs(run)), run.finishedAt ? '' : ' so far'),
    item(
      'Totals',
      `${count(run.totals.read)} read, ${count(run.totals.inserted)} inserted, ${count(run.totals.updated)} updated, ` +
        `${count(run.totals.unchanged)} unchanged, ${count(run.totals.deleted)} deleted; ` +
        `${count(run.totals.calls)} API calls, ${count(run.totals.rateLimitWaits)} rate-limit waits`,
    ),
  );
}

export function objectStatsTable(run: RunView): HTMLElement {
  if (run.objects.length === 0) return h('p', { class: 'empty card' }, 'No object has started yet.');
  const numbers = [
    'Read',
    'Inserted',
    'Updated',
    'Unchanged',
    'Deleted',
    'Calls',
    'Retries',
    '429 waits',
    'Time (s)',
  ];
  return dataTable(
    'Objects of this run',
    [
      h('th', { scope: 'col' }, 'Object'),
      h('th', { scope: 'col' }, 'Status'),
      h('th', { scope: 'col' }, 'Mode'),
      numbers.map((t) => h('th', { scope: 'col', class: 'num' }, t)),
      h('th', { scope: 'col' }, 'Reason'),
    ],
    run.objects.map((o) =>
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, h('code', {}, o.object)),
        h('td', {}, statusBadge(o.status, RUN_STATUS_TEXT[o.status] ?? o.status)),
        h('td', {}, o.mode),
        [o.read, o.inserted, o.updated, o.unchanged, o.deleted, o.calls, o.retries, o.rateLimitWaits].map(
          (n) => h('td', { class: 'num' }, count(n)),
        ),
        h('td', { class: 'num' }, o.seconds.toFixed(1)),
        h('td', { class: 'error-cell' }, o.reason ?? ''),
      ),
    ),
  );
}

export async function renderRun(main: HTMLElement, id: string): Promise<void> {
  const back = h('p');
  const title = h('h1', {});
  const status = h('span');
  const live = h('p', { class: 'progress', role: 'status', 'aria-live': 'polite' });
  const details = h('div', { class: 'card' });
  const error = h('div');
  const objects = h('div');
  fill(
    main,
    back,
    h('div', { class: 'title-row' }, title, status),
    live,
    details,
    error,
    h('h2', {}, 'Objects'),
    objects,
  );
  const draw = (run: RunView) => {
    document.title = `Run #${run.id} · harvest-sync`;
    fill(
      back,
      run.pipeline
        ? h('a', { href: `/pipelines/${run.pipelineId}` }, `← ${run.pipeline}`)
        : h('a', { href: '/' }, '← Pipelines'),
    );
    fill(title, `Run #${run.id}`);
    fill(status, statusBadge(run.status, RUN_STATUS_TEXT[run.status] ?? run.status));
    const running = run.objects.filter((o) => o.status === 'running').map((o) => o.object);
    fill(
      live,
      run.status === 'running'
        ? `Running: ${count(run.totals.read)} rows read so far${running.length > 0 ? `, now reading ${running.join(', ')}` : ''}. This page updates by itself.`
        : '',
    );
    fill(details, summary(run));
    // errors in full: the run's own line, and each object's reason in the table
    fill(error, run.error ? [h('h2', {}, 'Error'), h('pre', { class: 'error-text' }, run.error)] : null);
    fill(objects, objectStatsTable(run));
  };
  const first = (await getRun(id)).run;
  draw(first);
  if (first.status !== 'running') return;
  // the server sends each change and the end: no polling while the stream holds
  const stop = followRuns(`/api/runs/${encodeURIComponent(id)}/events`, {
    onRun: (run, event) => {
      draw(run);
      if (event === 'end') stop();
    },
    onFail: () => void poll(id, first, draw),
  });
}

/** The fallback: reads the run every POLL_MS until it ends. */
async function poll(id: string, first: RunView, draw: (run: RunView) => void): Promise<void> {
  let run = first;
  while (run.status === 'running') {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    try {
      run = (await getRun(id)).run;
      draw(run);
    } catch {
      // a failed poll (server restarting) is retried at the next tick
    }
  }
}
