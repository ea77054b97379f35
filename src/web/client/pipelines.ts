import { getPipelines } from './api.js';
import type { PipelineView } from './api.js';
import { fill, h, statusBadge, tableWrap } from './dom.js';
import { PIPELINE_STATUS_TEXT, count, dateTime, every, relative, runDuration } from './format.js';
import { takeFlash } from './flash.js';

const REFRESH_MS = 5000;

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
  const refresh = async () => fill(list, table((await getPipelines()).pipelines));
  await refresh();
  // statuses and "next run" change on their own (scheduled runs): keep the list current
  const timer = setInterval(() => {
    if (document.visibilityState === 'visible') refresh().catch(() => clearInterval(timer));
  }, REFRESH_MS);
}
