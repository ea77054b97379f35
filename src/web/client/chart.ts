import type { RunView } from './api.js';
import { h, nextId, svg } from './dom.js';
import { count, durationMs, runDurationMs } from './format.js';

/*
 * Rows loaded (bars, left axis) and duration (line, right axis) per run, oldest on the left. Drawn as
 * SVG from the runs the API returns; colours come from the stylesheet. The run history table below it
 * carries the same numbers for anyone who cannot see the chart.
 */

const W = 720;
const H = 250;
const M = { left: 58, right: 58, top: 14, bottom: 38 };

/** A round upper bound for an axis: 1, 2 or 5 times a power of ten. */
export function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

/** Grid lines at round values: 1 and 5 split in fifths, 2 in quarters. */
function fractions(max: number): number[] {
  const leading = Math.round(max / 10 ** Math.floor(Math.log10(max)));
  const parts = leading === 2 ? 4 : 5;
  return Array.from({ length: parts + 1 }, (_, i) => i / parts);
}

const short = (n: number): string =>
  n >= 1e6 ? `${+(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${+(n / 1e3).toFixed(1)}k` : String(+n.toPrecision(2));

export function runsChart(runsNewestFirst: readonly RunView[]): HTMLElement {
  const runs = [...runsNewestFirst].reverse();
  const titleId = nextId('chart-title');
  const descId = nextId('chart-desc');
  if (runs.length === 0) {
    return h(
      'div',
      { class: 'chart-card' },
      h('p', { class: 'empty' }, 'No runs yet: the chart appears after the first run.'),
    );
  }
  const seconds = runs.map((r) => runDurationMs(r) / 1000);
  const rows = runs.map((r) => r.totals.read);
  const rowsMax = niceMax(Math.max(...rows));
  const secMax = niceMax(Math.max(...seconds));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const slot = plotW / runs.length;
  const barW = Math.max(2, Math.min(36, slot * 0.6));
  const x = (i: number) => M.left + slot * i + slot / 2;
  const yRows = (v: number) => M.top + plotH - (v / rowsMax) * plotH;
  const ySec = (v: number) => M.top + plotH - (v / secMax) * plotH;

  const grid = fractions(rowsMax).map((f) => {
    const y = M.top + plotH - f * plotH;
    return [
      svg('line', { class: f === 0 ? 'axis' : 'grid', x1: M.left, x2: W - M.right, y1: y, y2: y }),
      svg('text', { x: M.left - 6, y: y + 4, 'text-anchor': 'end' }, short(rowsMax * f)),
      svg('text', { x: W - M.right + 6, y: y + 4, 'text-anchor': 'start' }, `${short(secMax * f)} s`),
    ];
  });
  const labelEvery = Math.ceil(runs.length / 12);
  const bars = runs.map((run, i) =>
    svg(
      'rect',
      {
        class: run.status === 'failed' ? 'bar failed' : 'bar',
        x: x(i) - barW / 2,
        y: yRows(rows[i]),
        width: barW,
        height: Math.max(0, M.top + plotH - yRows(rows[i])),
      },
      svg(
        'title',
        {},
        `Run #${run.id}: ${count(rows[i])} rows, ${durationMs(seconds[i] * 1000)} (${run.status})`,
      ),
    ),
  );
  const labels = runs.map((run, i) =>
    i % labelEvery === 0
      ? svg('text', { x: x(i), y: H - M.bottom + 16, 'text-anchor': 'middle' }, `#${run.id}`)
      : null,
  );
  const points = runs.map((_, i) => `${x(i).toFixed(1)},${ySec(seconds[i]).toFixed(1)}`).join(' ');
  const dots = runs.map((_, i) => svg('circle', { class: 'dot', cx: x(i), cy: ySec(seconds[i]), r: 3 }));
  const total = rows.reduce((a, b) => a + b, 0);

  const chart = svg(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${titleId} ${descId}` },
    svg('title', { id: titleId }, 'Rows loaded and duration per run'),
    svg(
      'desc',
      { id: descId },
      `${runs.length} runs, ${count(total)} rows loaded in all; the most in one run: ${count(Math.max(...rows))}; ` +
        `the longest run: ${durationMs(Math.max(...seconds) * 1000)}.`,
    ),
    grid,
    bars,
    svg('polyline', { class: 'line', points }),
    dots,
    labels,
    svg(
      'text',
      {
        x: 12,
        y: M.top + plotH / 2,
        transform: `rotate(-90 12 ${M.top + plotH / 2})`,
        'text-anchor': 'middle',
      },
      'rows',
    ),
    svg('text', { x: W / 2, y: H - 4, 'text-anchor': 'middle' }, 'run'),
  );
  return h(
    'figure',
    { class: 'chart-card' },
    chart,
    h(
      'ul',
      { class: 'legend' },
      h('li', {}, h('span', { class: 'swatch bar' }), 'Rows loaded (left axis)'),
      h('li', {}, h('span', { class: 'swatch failed' }), 'Rows loaded by a failed run'),
      h('li', {}, h('span', { class: 'swatch line' }), 'Duration (right axis)'),
    ),
  );
}
