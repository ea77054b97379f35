/*
 * The UI's one stylesheet and icon, kept in a module so that `tsc` is the whole build: no file to copy
 * into dist, nothing to fetch from elsewhere (the CSP allows 'self' only). System fonts; one breakpoint.
 * Status colours always come with the status word, never alone.
 */

export const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1f6f43"/><path d="M8 22V10h3v4.5h10V10h3v12h-3v-4.5H11V22z" fill="#fff"/></svg>`;

export const STYLESHEET = `
:root {
  --fg: #1d2125; --muted: #5b636b; --bg: #f6f7f8; --card: #fff; --line: #d8dde2;
  --accent: #1f6f43; --accent-fg: #fff; --danger: #b42318; --warn: #8a5a00; --info: #175cd3;
  --ok-bg: #e6f4ea; --fail-bg: #fdecea; --pause-bg: #fff4d6; --run-bg: #e8f0fe; --new-bg: #eef0f2;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 16px; line-height: 1.45; color: var(--fg); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
a { color: var(--info); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible,
[tabindex]:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.skip-link { position: absolute; left: -999px; top: 0; background: var(--card); padding: .5rem 1rem; z-index: 10; }
.skip-link:focus { left: .5rem; }
.site-header { display: flex; align-items: center; justify-content: space-between; gap: 1rem; flex-wrap: wrap;
  padding: .6rem 1.25rem; background: var(--accent); color: var(--accent-fg); }
.site-header a, .site-header .brand { color: var(--accent-fg); text-decoration: none; font-weight: 700; font-size: 1.1rem; }
.site-header nav { display: flex; gap: .75rem; align-items: center; }
.site-header nav a { font-weight: 500; font-size: 1rem; }
.site-header button { background: transparent; color: var(--accent-fg); border-color: rgba(255,255,255,.7); }
main { max-width: 1180px; margin: 0 auto; padding: 1.25rem; }
main:focus { outline: none; }
h1 { font-size: 1.6rem; margin: .25rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 1.75rem 0 .6rem; }
h3 { font-size: 1.05rem; margin: 1rem 0 .5rem; }
p { margin: .5rem 0; }
.muted, .hint { color: var(--muted); }
.hint { font-size: .9rem; margin: .25rem 0 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.25rem; margin: 0 0 1rem; }
.title-row { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: .75rem; }
.title-row h1 { margin: .25rem 0; overflow-wrap: anywhere; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; margin: .75rem 0; }

button, .button { font: inherit; display: inline-flex; align-items: center; justify-content: center; gap: .35rem;
  min-height: 2.5rem; padding: .45rem 1rem; border-radius: 6px; border: 1px solid #9aa4ad; background: var(--card);
  color: var(--fg); cursor: pointer; text-decoration: none; }
button:hover, .button:hover { filter: brightness(.96); }
button.primary, .button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-fg); font-weight: 600; }
button.danger { background: var(--danger); border-color: var(--danger); color: #fff; }
button[disabled] { opacity: .6; cursor: progress; }
button.link { border: none; background: none; color: var(--info); text-decoration: underline; padding: 0; min-height: 0; }

form { margin: 0; }
.field { margin: 0 0 1rem; max-width: 40rem; }
.field label, .field .label { display: block; font-weight: 600; margin-bottom: .25rem; }
input[type=text], input[type=password], input[type=number], input[type=url], select {
  font: inherit; width: 100%; max-width: 40rem; padding: .5rem .6rem; border: 1px solid #8d969e; border-radius: 6px; background: #fff; color: var(--fg); }
input[type=number] { max-width: 8rem; }
input[aria-invalid=true] { border-color: var(--danger); box-shadow: 0 0 0 1px var(--danger); }
.field-error { color: var(--danger); font-weight: 600; margin: .3rem 0 0; font-size: .95rem; }
.field-error::before { content: "Error: "; }
fieldset { border: 1px solid var(--line); border-radius: 8px; padding: .75rem 1rem; margin: 0 0 1rem; max-width: 48rem; }
legend { font-weight: 600; padding: 0 .3rem; }
.choice { display: flex; align-items: flex-start; gap: .5rem; margin: .35rem 0; }
.choice input { margin-top: .3rem; width: 1.1rem; height: 1.1rem; flex: none; }
.choice label { font-weight: 500; }
.choices { display: grid; grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr)); gap: .1rem 1rem; }
details { margin: .5rem 0 1rem; }
summary { cursor: pointer; color: var(--info); }

.notice { border-radius: 6px; padding: .6rem .9rem; margin: .75rem 0; border: 1px solid; overflow-wrap: anywhere; }
.notice-error { background: var(--fail-bg); border-color: #f1aeb5; color: #7a1a12; }
.notice-ok { background: var(--ok-bg); border-color: #a6d8b4; color: #14532d; }
.notice-info { background: var(--run-bg); border-color: #b3c9f2; color: #102a5c; }
.notice:empty { display: none; }

.status { display: inline-block; padding: .1rem .55rem; border-radius: 999px; font-size: .85rem; font-weight: 600;
  border: 1px solid transparent; white-space: nowrap; }
.status::before { content: "●"; margin-right: .3rem; font-size: .7rem; vertical-align: .1rem; }
.status-healthy, .status-succeeded, .status-readable { background: var(--ok-bg); color: #14532d; border-color: #a6d8b4; }
.status-failing, .status-failed, .status-unreadable { background: var(--fail-bg); color: #7a1a12; border-color: #f1aeb5; }
.status-paused, .status-interrupted, .status-skipped { background: var(--pause-bg); color: #5c3b00; border-color: #eccb7a; }
.status-running { background: var(--run-bg); color: #102a5c; border-color: #b3c9f2; }
.status-new { background: var(--new-bg); color: #374151; border-color: #cfd5db; }

.table-wrap { overflow-x: auto; background: var(--card); border: 1px solid var(--line); border-radius: 8px; margin: 0 0 1rem; }
table { border-collapse: collapse; width: 100%; font-size: .95rem; }
caption { text-align: left; padding: .6rem .75rem; font-weight: 600; }
th, td { text-align: left; padding: .5rem .75rem; border-top: 1px solid var(--line); vertical-align: top; }
thead th { background: #f0f2f4; border-top: none; font-size: .85rem; color: #374151; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.error-cell { max-width: 28rem; overflow-wrap: anywhere; }
.empty { padding: 1rem; color: var(--muted); }

dl.config { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1.25rem; margin: 0; }
dl.config dt { font-weight: 600; color: #374151; }
dl.config dd { margin: 0; overflow-wrap: anywhere; }
pre.error-text { white-space: pre-wrap; overflow-wrap: anywhere; background: var(--fail-bg); border: 1px solid #f1aeb5;
  padding: .75rem; border-radius: 6px; font-size: .9rem; margin: .5rem 0; }
td code, th code { white-space: nowrap; overflow-wrap: normal; }
.card > h2:first-child, section.card > h2:first-child { margin-top: 0; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; overflow-wrap: anywhere; }

ol.steps { list-style: none; display: flex; flex-wrap: wrap; gap: .5rem; padding: 0; margin: 0 0 1rem; counter-reset: step; }
ol.steps li { counter-increment: step; padding: .3rem .75rem; border-radius: 999px; background: var(--new-bg); color: #374151; font-size: .9rem; }
ol.steps li::before { content: counter(step) ". "; }
ol.steps li[aria-current=step] { background: var(--accent); color: var(--accent-fg); font-weight: 600; }
ol.steps li.done::after { content: " ✓"; }
ul.object-results { list-style: none; padding: 0; margin: .5rem 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(18rem, 1fr)); gap: .35rem 1rem; }
ul.object-results li { display: flex; gap: .5rem; align-items: baseline; flex-wrap: wrap; }

.chart-card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .75rem; margin: 0 0 1rem; }
.chart-card svg { width: 100%; height: auto; display: block; }
.chart-card .bar { fill: #4f9d69; }
.chart-card .bar.failed { fill: #d9534f; }
.chart-card .line { fill: none; stroke: #175cd3; stroke-width: 2; }
.chart-card .dot { fill: #175cd3; }
.chart-card .axis { stroke: #9aa4ad; stroke-width: 1; }
.chart-card .grid { stroke: #e5e8eb; stroke-width: 1; }
.chart-card text { font-size: 11px; fill: #4b5563; font-family: inherit; }
.legend { display: flex; flex-wrap: wrap; gap: 1rem; font-size: .9rem; margin: .4rem 0 0; padding: 0; list-style: none; }
.legend .swatch { display: inline-block; width: .9rem; height: .9rem; border-radius: 2px; vertical-align: -.1rem; margin-right: .3rem; }
.legend .swatch.bar { background: #4f9d69; }
.legend .swatch.failed { background: #d9534f; }
.legend .swatch.line { background: #175cd3; height: .25rem; vertical-align: .2rem; }

dialog { border: 1px solid var(--line); border-radius: 10px; padding: 1.25rem; max-width: min(30rem, calc(100vw - 2rem)); }
dialog::backdrop { background: rgba(0,0,0,.45); }
dialog h2 { margin-top: 0; }
.login { max-width: 24rem; margin: 3rem auto; }
.progress { font-weight: 600; }

@media (max-width: 640px) {
  :root { font-size: 15px; }
  main { padding: .75rem; }
  h1 { font-size: 1.35rem; }
  .card { padding: .75rem; }
  dl.config { grid-template-columns: 1fr; gap: 0 0; }
  dl.config dd { margin-bottom: .5rem; }
  .actions button, .actions .button { flex: 1 1 auto; }
  th, td { padding: .45rem .5rem; }
  /* the pipelines list becomes one card per pipeline: label beside each value */
  table.stack thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  table.stack tr { display: block; border-top: 1px solid var(--line); padding: .4rem 0; }
  table.stack th, table.stack td { display: flex; gap: .75rem; border: none; padding: .2rem .75rem; text-align: left; }
  table.stack [data-label]::before { content: attr(data-label); flex: 0 0 6.5rem; font-weight: 600; color: #374151; }
}
`;
