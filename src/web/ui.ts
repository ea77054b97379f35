import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import type { Context } from 'hono';
import type { AppEnv } from '../server/middleware.js';
import { ICON_SVG, STYLESHEET } from './styles.js';

/*
 * The web UI: a thin client of the JSON API. The server's part is an HTML shell per page (the same
 * for every page but for `data-page`), the stylesheet, and the browser modules `tsc` compiles from
 * src/web/client/ to dist/web/client/. Every read and every change goes through /api with fetch, so
 * the API stays the only backend; the one route added here (destination contents) is read-only.
 */

export interface WebUiDeps {
  /** Where the compiled browser modules are; default: found next to this module. */
  readonly clientDir?: string;
}

/** Pages of the UI; the client reads `data-page` (and `data-ref`) to know what to draw. */
export type PageName = 'login' | 'pipelines' | 'wizard' | 'pipeline' | 'run' | 'tokens' | 'workers';

/**
 * The compiled client: dist/web/client beside dist/web/ui.js. When this module runs from src (tsx,
 * vitest), the .ts sources sit there instead, so the build output of the same checkout is used.
 */
export function defaultClientDir(): string {
  const beside = fileURLToPath(new URL('./client/', import.meta.url));
  if (existsSync(`${beside}main.js`)) return beside;
  return fileURLToPath(new URL('../../dist/web/client/', import.meta.url));
}

function loadClient(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  if (!existsSync(dir)) return files;
  for (const name of readdirSync(dir)) {
    // only what the browser loads: no maps, no declaration files, nothing outside the folder
    if (/^[a-z0-9-]+\.js$/.test(name))
      files.set(name, readFileSync(`${dir}${dir.endsWith('/') ? '' : '/'}${name}`, 'utf8'));
  }
  return files;
}

const escapeAttr = (value: string): string => value.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

export function pageHtml(page: PageName, options: { ref?: string; csrfToken?: string } = {}): string {
  const csrf = options.csrfToken
    ? `\n<meta name="csrf-token" content="${escapeAttr(options.csrfToken)}">`
    : '';
  const ref = options.ref ? ` data-ref="${escapeAttr(options.ref)}"` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">${csrf}
<title>harvest-sync</title>
<link rel="icon" href="/assets/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/app.css">
<script type="module" src="/assets/js/main.js"></script>
</head>
<body data-page="${page}"${ref}>
<a class="skip-link" href="#main">Skip to content</a>
<header class="site-header" id="site-header"><span class="brand">harvest-sync</span></header>
<main id="main" tabindex="-1">
<p class="loading" role="status">Loading…</p>
<noscript><p class="notice notice-error">The harvest-sync web UI needs JavaScript. The HTTP API works without it (see the README).</p></noscript>
</main>
</body>
</html>
`;
}

/** The UI's routes, to mount at the root of the app (`app.route('/', createWebUi(…))`), after createApp. */
export function createWebUi(deps: WebUiDeps = {}): Hono<AppEnv> {
  const clientDir = deps.clientDir ?? defaultClientDir();
  let client: Map<string, string> | null = null;
  const ui = new Hono<AppEnv>();

  const page = (name: PageName, ref?: (c: Context<AppEnv>) => string | undefined) => (c: Context<AppEnv>) => {
    const principal = c.get('principal');
    if (name === 'login') {
      if (principal !== undefined) return c.redirect('/', 303);
    } else if (principal === undefined) {
      return c.redirect(`/login?next=${encodeURIComponent(c.req.path)}`, 303);
    }
    // the page carries the session's CSRF token: it must never be cached or shared
    c.header('Cache-Control', 'no-store');
    return c.html(
      pageHtml(name, {
        ref: ref?.(c),
        csrfToken: principal?.kind === 'session' ? principal.session.csrfToken : undefined,
      }),
    );
  };

  ui.get('/', page('pipelines'));
  ui.get('/login', page('login'));
  ui.get('/pipelines/new', page('wizard'));
  ui.get('/tokens', page('tokens'));
  ui.get('/workers', page('workers'));
  ui.get(
    '/pipelines/:id{[0-9]{1,15}}',
    page('pipeline', (c) => c.req.param('id')),
  );
  ui.get(
    '/runs/:id{[0-9]{1,15}}',
    page('run', (c) => c.req.param('id')),
  );

  const asset = (body: string, type: string) => (c: Context<AppEnv>) =>
    c.body(body, 200, { 'Content-Type': type, 'Cache-Control': 'no-cache' });
  ui.get('/assets/app.css', asset(STYLESHEET, 'text/css; charset=utf-8'));
  ui.get('/assets/icon.svg', asset(ICON_SVG, 'image/svg+xml'));
  ui.get('/favicon.ico', asset(ICON_SVG, 'image/svg+xml'));
  ui.get('/assets/js/:file', (c) => {
    client ??= loadClient(clientDir);
    const body = client.get(c.req.param('file'));
    if (body === undefined) {
      return c.text(client.size === 0 ? 'the web UI is not built: run `npm run build`' : 'no such file', 404);
    }
    return c.body(body, 200, {
      'Content-Type': 'text/javascript; charset=utf-8',
      'Cache-Control': 'no-cache',
    });
  });

  return ui;
}
