import { ApiError, api } from './api.js';
import { dataTable, fill, h } from './dom.js';
import { busy, choiceGroup, inputField, messageArea } from './forms.js';
import { dateTime } from './format.js';

/*
 * API tokens: a read-only one for Prometheus and dashboards, admin ones for scripts. A new token is
 * shown once, right after it is made; the server keeps only its SHA-256.
 */

export interface ApiTokenView {
  readonly id: string;
  readonly name: string;
  readonly scope: 'read' | 'admin';
  readonly createdAt: string | null;
  readonly source: 'created' | 'first start' | 'environment';
  readonly revocable: boolean;
}

const SCOPE_TEXT = { read: 'Read only', admin: 'Admin' } as const;
const getTokens = () => api<{ tokens: ApiTokenView[] }>('GET', '/api/tokens');

function tokensTable(tokens: readonly ApiTokenView[], revoke: (t: ApiTokenView) => void): HTMLElement {
  return dataTable(
    'API tokens',
    [['Name', 'Scope', 'Created', 'Origin', 'Action'].map((t) => h('th', { scope: 'col' }, t))],
    tokens.map((t) =>
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, t.name),
        h('td', {}, SCOPE_TEXT[t.scope]),
        h('td', {}, t.createdAt ? dateTime(t.createdAt) : '—'),
        h('td', {}, t.source),
        h(
          'td',
          {},
          t.revocable
            ? h('button', { type: 'button', class: 'danger', onclick: () => revoke(t) }, `Revoke ${t.name}`)
            : h('span', { class: 'muted' }, 'set by the environment'),
        ),
      ),
    ),
  );
}

/** The revoke confirmation: a modal dialog; `open(t)` asks, and `done` runs after a revoke. */
function revokeDialog(
  message: ReturnType<typeof messageArea>,
  done: () => Promise<void>,
): { root: HTMLDialogElement; open(t: ApiTokenView): void } {
  const text = h('p');
  const confirm = h('button', { type: 'button', class: 'danger' }, 'Revoke token');
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const root = h(
    'dialog',
    { 'aria-labelledby': 'revoke-title' },
    h('h2', { id: 'revoke-title' }, 'Revoke this token?'),
    text,
    h('div', { class: 'actions' }, confirm, cancel),
  );
  let pending: ApiTokenView | null = null;
  cancel.addEventListener('click', () => root.close());
  confirm.addEventListener('click', () =>
    busy(confirm, 'Revoking…', async () => {
      if (pending === null) return;
      try {
        await api('DELETE', `/api/tokens/${encodeURIComponent(pending.id)}`);
        message.show('ok', `Token “${pending.name}” revoked.`);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        message.show('error', error.message);
      }
      root.close();
      await done();
    }),
  );
  const open = (t: ApiTokenView) => {
    pending = t;
    fill(text, `Anything using “${t.name}” is refused from now on.`);
    root.showModal();
    cancel.focus();
  };
  return { root, open };
}

/** The new-token form; the token made is shown once in `created`. */
function createForm(
  created: HTMLElement,
  message: ReturnType<typeof messageArea>,
  done: () => Promise<void>,
): HTMLFormElement {
  const name = inputField({ label: 'Token name', name: 'name', hint: 'What uses it, e.g. "Prometheus".' });
  const scope = choiceGroup({
    legend: 'Scope',
    name: 'scope',
    type: 'radio',
    choices: [
      {
        value: 'read',
        label: 'Read only',
        checked: true,
        note: 'GET routes and /metrics: for Prometheus and dashboards.',
      },
      {
        value: 'admin',
        label: 'Admin',
        note: 'Everything, including changing pipelines and tokens: for scripts.',
      },
    ],
  });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create token');
  const form = h(
    'form',
    { novalidate: true, 'aria-label': 'Create an API token' },
    name.root,
    scope.root,
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    name.setError(null);
    scope.setError(null);
    created.replaceChildren();
    await busy(submit, 'Creating…', async () => {
      try {
        const result = await api<{ token: ApiTokenView; secret: string }>('POST', '/api/tokens', {
          name: name.input.value,
          scope: scope.values()[0],
        });
        created.append(shownOnce(result.token, result.secret));
        name.input.value = '';
        await done();
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.fields.name) name.setError(error.fields.name);
        if (error.fields.scope) scope.setError(error.fields.scope);
        if (!error.fields.name && !error.fields.scope) message.show('error', error.message);
        (error.fields.name ? name.input : submit).focus();
      }
    });
  });
  return form;
}

function shownOnce(token: ApiTokenView, secret: string): HTMLElement {
  return h(
    'div',
    { class: 'notice notice-ok' },
    h(
      'p',
      {},
      `Token “${token.name}” (${SCOPE_TEXT[token.scope]}) created. Copy it now: it is shown only this once.`,
    ),
    h('p', {}, h('code', { class: 'secret', 'aria-label': 'New API token' }, secret)),
    h('p', {}, 'Send it as ', h('code', {}, 'Authorization: Bearer <token>'), '.'),
  );
}

export async function renderTokens(main: HTMLElement): Promise<void> {
  document.title = 'API tokens · harvest-sync';
  const listHost = h('div');
  const message = messageArea();
  const created = h('div', { role: 'status', 'aria-live': 'polite' });
  const refresh = async () => {
    const { tokens } = await getTokens();
    fill(listHost, tokensTable(tokens, dialog.open));
  };
  const dialog = revokeDialog(message, async () => {
    created.replaceChildren();
    await refresh();
  });
  fill(
    main,
    h('h1', {}, 'API tokens'),
    h(
      'p',
      {},
      'Tokens let scripts and Prometheus use the HTTP API without logging in. Each is shown once, when it is made; only its SHA-256 is kept.',
    ),
    message.root,
    listHost,
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'new-token-title' },
      h('h2', { id: 'new-token-title' }, 'New token'),
      createForm(created, message, refresh),
      created,
    ),
    dialog.root,
  );
  await refresh();
}
