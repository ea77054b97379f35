import { ApiError, api } from './api.js';
import { fill, h, mainElement } from './dom.js';
import { renderLogin } from './login.js';
import { renderPipeline } from './pipeline.js';
import { renderPipelines } from './pipelines.js';
import { renderRun } from './run.js';
import { renderTokens } from './tokens.js';
import { renderWizard } from './wizard.js';
import { renderWorkers } from './workers.js';

/*
 * Entry point of every page. The server has already checked the session (or sent the browser to the
 * login page) and says which page this is in <body data-page data-ref>.
 */

function header(): void {
  const el = document.getElementById('site-header');
  if (!el) return;
  const logout = h('button', { type: 'button' }, 'Log out');
  logout.addEventListener('click', async () => {
    logout.disabled = true;
    try {
      await api('POST', '/api/logout');
    } finally {
      location.assign('/login');
    }
  });
  fill(
    el,
    h('a', { href: '/', class: 'brand' }, 'harvest-sync'),
    h(
      'nav',
      { 'aria-label': 'Main' },
      h('a', { href: '/' }, 'Pipelines'),
      h('a', { href: '/pipelines/new' }, 'New pipeline'),
      h('a', { href: '/workers' }, 'Workers'),
      h('a', { href: '/tokens' }, 'API tokens'),
      logout,
    ),
  );
}

async function boot(): Promise<void> {
  const page = document.body.dataset.page ?? 'pipelines';
  const ref = document.body.dataset.ref ?? '';
  const main = mainElement();
  if (page !== 'login') header();
  try {
    switch (page) {
      case 'login':
        return renderLogin(main);
      case 'wizard':
        return await renderWizard(main);
      case 'pipeline':
        return await renderPipeline(main, ref);
      case 'run':
        return await renderRun(main, ref);
      case 'tokens':
        return await renderTokens(main);
      case 'workers':
        return await renderWorkers(main);
      default:
        return await renderPipelines(main);
    }
  } catch (error) {
    const message = error instanceof ApiError ? error.message : 'the page could not be shown';
    if (!(error instanceof ApiError)) console.warn(error);
    fill(
      main,
      h('h1', {}, 'Something went wrong'),
      h('p', { class: 'notice notice-error', role: 'alert' }, message),
      h('p', {}, h('a', { href: '/' }, 'Back to the pipelines')),
    );
  }
}

void boot();
