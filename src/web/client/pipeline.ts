import { ApiError, api, getCatalog, getDestination, getPipeline, getRuns } from './api.js';
import type { DestinationReport, PipelineView, RunView } from './api.js';
import { runsChart } from './chart.js';
import { dataTable, fill, h, statusBadge } from './dom.js';
import { setFlash } from './flash.js';
import { busy, inputField, messageArea } from './forms.js';
import {
  PIPELINE_STATUS_TEXT,
  RUN_STATUS_TEXT,
  count,
  dateTime,
  every,
  relative,
  runDuration,
} from './format.js';
import { frequencyInput, objectChoices } from './wizard.js';
import { followRuns } from './events.js';

const RUNNING_REFRESH_MS = 1500;
const IDLE_REFRESH_MS = 15_000;
const HISTORY = 30;

function configList(p: PipelineView): HTMLElement {
  const item = (term: string, ...value: (Node | string)[]) => [h('dt', {}, term), h('dd', {}, ...value)];
  return h(
    'dl',
    { class: 'config' },
    item('Source', 'Harvest account ', h('code', {}, p.accountId)),
    item('Access token', h('code', { 'aria-label': `token ending in ${p.tokenLast4}` }, p.token)),
    item('Harvest API', h('code', {}, p.baseUrl)),
    item('Destination', h('code', {}, p.destination)),
    item(
      'Runs on',
      p.host === null ? 'any worker' : `the workers of host ${p.host} (its SQLite file is there)`,
    ),
    item('Objects', `${p.objects.length}: ${p.objects.join(', ')}`),
    item('Frequency', every(p.frequencyHours)),
    item('Next run', p.enabled ? `${dateTime(p.nextRunAt)} (${relative(p.nextRunAt)})` : 'none: paused'),
    item(
      'Full refresh',
      `every ${p.fullRefreshHours} h (re-reads everything to capture deletions); last ${dateTime(p.lastFullRefreshAt)}`,
    ),
    item('History from', p.since ?? 'the beginning'),
    item('Created', dateTime(p.createdAt)),
  );
}

const COUNT_HEADERS = ['Read', 'Inserted', 'Updated', 'Unchanged', 'Deleted'];

/** Cells under COUNT_HEADERS: `—` where there is no run, or a run recorded before unchanged was counted. */
function countCells(c: RunView['totals'] | undefined): HTMLElement[] {
  return [c?.read, c?.inserted, c?.updated, c?.unchanged, c?.deleted].map((n) =>
    h('td', { class: 'num' }, count(n)),
  );
}

export function runsTable(runs: readonly RunView[]): HTMLElement {
  if (runs.length === 0)
    return h('p', { class: 'empty card' }, 'No runs yet. Use “Run now” or wait for the schedule.');
  return dataTable(
    'Run history',
    [
      ['Run', 'Started', 'Trigger', 'Status', 'Duration'].map((t) => h('th', { scope: 'col' }, t)),
      COUNT_HEADERS.map((t) => h('th', { scope: 'col', class: 'num' }, t)),
      h('th', { scope: 'col' }, 'Error'),
    ],
    runs.map((r) =>
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, h('a', { href: `/runs/${r.id}` }, `#${r.id}`)),
        h('td', {}, dateTime(r.startedAt)),
        h('td', {}, r.trigger, r.fullRefresh ? ' (full refresh)' : ''),
        h('td', {}, statusBadge(r.status, RUN_STATUS_TEXT[r.status] ?? r.status)),
        h('td', {}, runDuration(r)),
        countCells(r.totals),
        h('td', { class: 'error-cell' }, r.error ?? ''),
      ),
    ),
  );
}

function objectsTable(
  p: PipelineView,
  report: DestinationReport | null,
  lastRun: RunView | null,
): HTMLElement {
  const stats = new Map((lastRun?.objects ?? []).map((o) => [o.object, o]));
  const tables = new Map((report?.objects ?? []).map((o) => [o.object, o]));
  return dataTable(
    'Objects',
    [
      h('th', { scope: 'col' }, 'Object'),
      h('th', { scope: 'col', class: 'num' }, 'Rows in destination'),
      h('th', { scope: 'col' }, 'Last cursor'),
      h('th', { scope: 'col' }, `Last run${lastRun ? ` (#${lastRun.id})` : ''}`),
      COUNT_HEADERS.map((t) => h('th', { scope: 'col', class: 'num' }, t)),
    ],
    p.objects.map((name) => {
      const t = tables.get(name);
      const s = stats.get(name);
      return h(
        'tr',
        {},
        h('th', { scope: 'row' }, h('code', {}, name)),
        h(
          'td',
          { class: 'num' },
          count(t?.rows),
          t?.deletedRows ? h('br') : null,
          t?.deletedRows ? h('span', { class: 'muted' }, `${count(t.deletedRows)} marked deleted`) : null,
          (t?.children ?? []).map((c) => [
            h('br'),
            h('span', { class: 'muted' }, `+ ${count(c.rows)} ${c.table}`),
          ]),
        ),
        h(
          'td',
          {},
          t?.cursor ? h('span', { title: t.cursor }, dateTime(t.cursor)) : '—',
          t?.passPending ? ' (a pass will resume)' : '',
        ),
        h(
          'td',
          {},
          s ? statusBadge(s.status, RUN_STATUS_TEXT[s.status] ?? s.status) : '—',
          s?.reason ? h('div', { class: 'muted' }, s.reason) : null,
        ),
        countCells(s),
      );
    }),
  );
}

export async function renderPipeline(main: HTMLElement, ref: string): Promise<void> {
  let pipeline = (await getPipeline(ref)).pipeline;
  const { objects: catalog, limits } = await getCatalog();

  const title = h('h1', {});
  const status = h('span');
  const message = messageArea();
  const runNow = h('button', { type: 'button', class: 'primary' }, 'Run now');
  const pauseResume = h('button', { type: 'button' }, 'Pause');
  const edit = h(
    'button',
    { type: 'button', 'aria-expanded': 'false', 'aria-controls': 'edit-pipeline' },
    'Edit',
  );
  const del = h('button', { type: 'button', class: 'danger' }, 'Delete');
  const config = h('div', { class: 'card' });
  const chart = h('div');
  const objectsHost = h('div');
  const runsHost = h('div');
  const editHost = h('section', {
    id: 'edit-pipeline',
    class: 'card',
    'aria-label': 'Edit pipeline',
    hidden: true,
  });
  const progress = h('p', { class: 'progress', role: 'status', 'aria-live': 'polite' });

  let runs: RunView[] = [];
  let report: DestinationReport | null = null;
  let reportKey = '';
  const refresh = async () => {
    const [p, r] = await Promise.all([getPipeline(ref), getRuns(ref, HISTORY)]);
    pipeline = p.pipeline;
    runs = r.runs;
    const last = runs[0] ?? null;
    // the destination is read again when a run lands rows, not on every poll of an idle pipeline
    const key = last ? `${last.id}:${last.status}:${last.totals.read}` : '';
    if (key !== reportKey) {
      reportKey = key;
      report = (await getDestination(ref)).destination;
    }
    draw();
    // without the event stream: poll fast while a run is live (progress), slowly otherwise
    clearTimeout(timer);
    if (!streaming)
      timer = setTimeout(tick, pipeline.status === 'running' ? RUNNING_REFRESH_MS : IDLE_REFRESH_MS);
  };
  const draw = () => {
    const last = runs[0] ?? null;
    document.title = `${pipeline.name} · harvest-sync`;
    fill(title, pipeline.name);
    fill(status, statusBadge(pipeline.status, PIPELINE_STATUS_TEXT[pipeline.status] ?? pipeline.status));
    pauseResume.textContent = pipeline.enabled ? 'Pause' : 'Resume';
    runNow.disabled = pipeline.status === 'running';
    fill(
      progress,
      last?.status === 'running'
        ? [
            'Running now: ',
            count(last.totals.read),
            ' rows read so far. ',
            h('a', { href: `/runs/${last.id}` }, `Follow run #${last.id}`),
          ]
        : '',
    );
    fill(config, h('h2', {}, 'Configuration'), configList(pipeline));
    fill(chart, runsChart(runs));
    fill(
      objectsHost,
      objectsTable(pipeline, report, last),
      report && !report.available && report.message
        ? h('p', { class: 'muted' }, `Destination: ${report.message}`)
        : null,
    );
    fill(runsHost, runsTable(runs));
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = () => {
    if (document.visibilityState === 'visible') refresh().catch(() => undefined);
    else timer = setTimeout(tick, IDLE_REFRESH_MS);
  };
  // Runs of every pipeline as they change (scheduled runs start on their own): a run's progress is
  // drawn as it comes; a new run or an end reloads the page's data (status, history, destination).
  let streaming = true;
  followRuns('/api/events', {
    onRun: (run, event) => {
      if (run.pipelineId !== pipeline.id) return;
      if (event === 'end' || !runs.some((r) => r.id === run.id)) {
        refresh().catch(() => undefined);
        return;
      }
      runs = runs.map((r) => (r.id === run.id ? run : r));
      draw();
    },
    onFail: () => {
      streaming = false;
      refresh().catch(() => undefined);
    },
  });

  runNow.addEventListener('click', () =>
    busy(runNow, 'Starting…', async () => {
      try {
        const { run } = await api<{ run: RunView }>('POST', `/api/pipelines/${pipeline.id}/run`);
        message.show(
          'info',
          h('span', {}, `Run #${run.id} started. `, h('a', { href: `/runs/${run.id}` }, 'Follow it')),
        );
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        message.show('error', error.message);
      }
      await refresh();
    }),
  );
  pauseResume.addEventListener('click', () => {
    const action = pipeline.enabled ? 'pause' : 'resume';
    return busy(pauseResume, action === 'pause' ? 'Pausing…' : 'Resuming…', async () => {
      try {
        await api('POST', `/api/pipelines/${pipeline.id}/${action}`);
        message.show(
          'ok',
          action === 'pause'
            ? 'Paused: no scheduled runs until you resume it.'
            : 'Resumed: the schedule is back on.',
        );
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        message.show('error', error.message);
      }
      await refresh();
    });
  });

  // Edit: frequency, objects, token
  const openEdit = () => {
    const frequency = frequencyInput(limits.frequencyHours, pipeline.frequencyHours);
    const objects = objectChoices(catalog, null, pipeline.objects);
    const token = inputField({
      label: 'New access token',
      name: 'token',
      type: 'password',
      autocomplete: 'new-password',
      hint: `Leave empty to keep the current one (${pipeline.token}); required when the Harvest API URL changes.`,
    });
    const baseUrl = inputField({
      label: 'Harvest API URL',
      name: 'baseUrl',
      type: 'url',
      value: pipeline.baseUrl,
      hint: 'The token is sent here on every run: changing it needs the access token again.',
    });
    const save = h('button', { type: 'submit', class: 'primary' }, 'Save changes');
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const formMessage = messageArea();
    const form = h(
      'form',
      { novalidate: true },
      frequency.root,
      objects.root,
      token.root,
      baseUrl.root,
      h('div', { class: 'actions' }, save, cancel),
      formMessage.root,
    );
    const close = () => {
      editHost.hidden = true;
      edit.setAttribute('aria-expanded', 'false');
      edit.focus();
    };
    cancel.addEventListener('click', close);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      for (const f of [frequency, objects, token, baseUrl]) f.setError(null);
      formMessage.clear();
      const update: Record<string, unknown> = {};
      if (frequency.input.value !== String(pipeline.frequencyHours))
        update.frequencyHours = frequency.input.value;
      const selected = objects.values();
      if (selected.join(',') !== pipeline.objects.join(',')) update.objects = selected;
      if (token.input.value !== '') update.token = token.input.value;
      if (baseUrl.input.value.trim() !== pipeline.baseUrl) update.baseUrl = baseUrl.input.value;
      if (Object.keys(update).length === 0) {
        formMessage.show('info', 'Nothing changed.');
        return;
      }
      await busy(save, 'Saving…', async () => {
        try {
          await api('PATCH', `/api/pipelines/${pipeline.id}`, update);
          message.show('ok', 'Changes saved.');
          close();
          await refresh();
        } catch (error) {
          if (!(error instanceof ApiError)) throw error;
          const targets: Record<string, { setError(m: string | null): void; input: HTMLElement }> = {
            frequencyHours: frequency,
            objects,
            token,
            baseUrl,
          };
          let focused = false;
          for (const [key, text] of Object.entries(error.fields)) {
            const target = targets[key];
            if (!target) continue;
            target.setError(text);
            if (!focused) target.input.focus();
            focused = true;
          }
          if (!focused) formMessage.show('error', error.message);
        }
      });
    });
    fill(editHost, h('h2', {}, 'Edit pipeline'), form);
    editHost.hidden = false;
    edit.setAttribute('aria-expanded', 'true');
    frequency.input.focus();
  };
  edit.addEventListener('click', () => (editHost.hidden ? openEdit() : (editHost.hidden = true)));

  // Delete, after confirmation in a modal dialog
  const confirmDelete = h('button', { type: 'button', class: 'danger' }, 'Delete pipeline');
  const cancelDelete = h('button', { type: 'button' }, 'Cancel');
  const dialogMessage = messageArea();
  const dialogText = h('p');
  const dialog = h(
    'dialog',
    { 'aria-labelledby': 'delete-title' },
    h('h2', { id: 'delete-title' }, 'Delete this pipeline?'),
    dialogText,
    dialogMessage.root,
    h('div', { class: 'actions' }, confirmDelete, cancelDelete),
  );
  del.addEventListener('click', () => {
    fill(
      dialogText,
      `“${pipeline.name}” and its run history will be deleted. The data already copied to `,
      h('code', {}, pipeline.destination),
      ' stays there.',
    );
    dialogMessage.clear();
    dialog.showModal();
    cancelDelete.focus();
  });
  cancelDelete.addEventListener('click', () => dialog.close());
  confirmDelete.addEventListener('click', () =>
    busy(confirmDelete, 'Deleting…', async () => {
      try {
        await api('DELETE', `/api/pipelines/${pipeline.id}`);
        setFlash(`Pipeline “${pipeline.name}” deleted. Its data stays in the destination.`);
        location.assign('/');
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        dialogMessage.show('error', error.message);
      }
    }),
  );

  fill(
    main,
    h('p', {}, h('a', { href: '/' }, '← Pipelines')),
    h('div', { class: 'title-row' }, title, status),
    h(
      'div',
      { class: 'actions', role: 'group', 'aria-label': 'Pipeline actions' },
      runNow,
      pauseResume,
      edit,
      del,
    ),
    message.root,
    progress,
    editHost,
    config,
    h('h2', {}, 'Rows loaded and duration per run'),
    chart,
    h('h2', {}, 'Objects'),
    objectsHost,
    h('h2', {}, 'Run history'),
    runsHost,
    dialog,
  );
  await refresh();
}
