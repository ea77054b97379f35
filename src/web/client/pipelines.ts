import { getPipelines } from './api.js';
import type { PipelineView, RunView } from './api.js';
import { fill, h, statusBadge, tableWrap } from './dom.js';
import { followRuns } from './events.js';
import { PIPELINE_STATUS_TEXT, count, dateTime, every, relative, runDuration } from './format.js';
import { takeFlash } from './flash.js';

/** Without the event stream: how often the list is read again. */
const REFRESH_MS = 5000;
/** How often the rows are drawn again from what the page holds, so "5 minutes ago" stays true. */
const REDRAW_MS = 30_000;
const HOUR_MS = 3_600_000;

function row(p: PipelineView): HTMLTableRowElement {
  const last = p.lastRun;
  return h(
    'tr',
    {},
    h('th', { scope: 'row', 'data-label': 'Name' }, h('a', { href: `/pipelines/${p.id}` }, p.name)),
    h('td', { 'data-label': 'Status' }, statusBadge(p.status, PIPELINE_STATUS_TEXT[p.status] ?? p.status)),
    h(
      'td',
      { 'data-label': 'Last run' },
      last
        ? [
            h('a', { href: `/runs/${last.id}`, title: dateTime(last.startedAt) }, relative(last.startedAt)),
            h('br'),
            h(
              'span',
              { class: 'muted' },
              last.status === 'running' ? 'running for ' : 'took ',
              runDuration(last),
            ),
          ]
        : h('span', { class: 'muted' }, 'never'),
    ),
    h('td', { class: 'num', 'data-label': 'Rows' }, last ? count(last.totals.read) : '—'),
    h(
      'td',
      { 'data-label': 'Next run' },
      p.enabled
        ? h('span', { title: dateTime(p.nextRunAt) }, relative(p.nextRunAt))
        : h('span', { class: 'muted' }, 'paused'),
    ),
    h('td', { 'data-label': 'Frequency' }, every(p.frequencyHours)),
  );
}

function table(pipelines: readonly PipelineView[]): HTMLElement {
  if (pipelines.length === 0) {
    return h(
      'div',
      { class: 'card' },
      h(
        'p',
        {},
        'No pipelines yet. A pipeline copies one Harvest account into SQLite, PostgreSQL or MySQL/MariaDB on a schedule.',
      ),
      h('p', {}, h('a', { class: 'button primary', href: '/pipelines/new' }, 'Create your first pipeline')),
    );
  }
  return tableWrap(
    'Pipelines',
    h(
      'table',
      { class: 'stack' },
      h(
        'caption',
        { class: 'visually-hidden' },
        `${pipelines.length} pipeline${pipelines.length === 1 ? '' : 's'}`,
      ),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Name'),
          h('th', { scope: 'col' }, 'Status'),
          h('th', { scope: 'col' }, 'Last run'),
          h('th', { scope: 'col', class: 'num' }, 'Rows (last run)'),
          h('th', { scope: 'col' }, 'Next run'),
          h('th', { scope: 'col' }, 'Frequency'),
        ),
      ),
      h('tbody', {}, pipelines.map(row)),
    ),
  );
}

export async function renderPipelines(main: HTMLElement): Promise<void> {
  document.title = 'Pipelines · harvest-sync';
  const flash = takeFlash();
  const list = h('div', { 'aria-live': 'off' });
  fill(
    main,
    h(
      'div',
      { class: 'title-row' },
      h('h1', {}, 'Pipelines'),
      h('a', { class: 'button primary', href: '/pipelines/new' }, '+ Create pipeline'),
    ),
    flash ? h('p', { class: 'notice notice-ok', role: 'status' }, flash) : null,
    list,
  );
  let pipelines: PipelineView[] = [];
  const draw = () => fill(list, table(pipelines));
  const refresh = async () => {
    pipelines = (await getPipelines()).pipelines;
    draw();
  };
  await refresh();
  const poll = () => {
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') refresh().catch(() => clearInterval(timer));
    }, REFRESH_MS);
  };
  // Runs start on their own (the schedule): each run's progress and end come on the event stream
  // and change its pipeline's row in place; the list is read again only for a pipeline it does not
  // hold, or when the tab comes back (a pipeline added, edited or paused elsewhere sends no event).
  const askedFor = new Set<number>();
  followRuns('/api/events', {
    onRun: (run) => {
      if (!pipelines.some((p) => p.id === run.pipelineId)) {
        // once per run: a run of a pipeline the list lacks even then is not asked about again
        if (!askedFor.has(run.id)) refresh().catch(() => undefined);
        askedFor.add(run.id);
        return;
      }
      pipelines = pipelines.map((p) => (p.id === run.pipelineId ? withRun(p, run) : p));
      draw();
    },
    onFail: poll,
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') refresh().catch(() => undefined);
  });
  setInterval(() => {
    if (document.visibilityState === 'visible') draw();
  }, REDRAW_MS);
}

/**
 * A pipeline's row after an event of one of its runs: that run as its last (unless an older one's
 * late news), its status and next run as the server derives them (pipelineStatus in
 * server/present.ts, nextRunAt in control/scheduler.ts).
 */
function withRun(p: PipelineView, run: RunView): PipelineView {
  if (p.lastRun !== null && run.id < p.lastRun.id) return p;
  const status =
    run.status === 'running'
      ? 'running'
      : !p.enabled
        ? 'paused'
        : run.status === 'failed'
          ? 'failing'
          : 'healthy';
  const next = p.enabled
    ? new Date(Math.max(Date.now(), Date.parse(run.startedAt) + p.frequencyHours * HOUR_MS)).toISOString()
    : null;
  return { ...p, lastRun: run, status, nextRunAt: next };
}
