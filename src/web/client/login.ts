import { ApiError, api, setCsrfToken } from './api.js';
import { fill, h } from './dom.js';
import { busy, inputField, messageArea } from './forms.js';
import { safeNext } from './next.js';

export function renderLogin(main: HTMLElement): void {
  document.title = 'Log in · harvest-sync';
  const password = inputField({
    label: 'Admin password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    hint: 'Printed by `harvest-sync serve` on its first start, or set with `harvest-sync serve --set-password`.',
  });
  const message = messageArea();
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  // lets password managers file the password under a user name; there is one admin
  const user = h('input', {
    type: 'text',
    name: 'username',
    autocomplete: 'username',
    value: 'admin',
    hidden: true,
  });
  const form = h(
    'form',
    { novalidate: true, 'aria-label': 'Log in' },
    user,
    password.root,
    submit,
    message.root,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    password.setError(null);
    message.clear();
    if (password.input.value === '') {
      password.setError('enter the admin password');
      password.input.focus();
      return;
    }
    await busy(submit, 'Logging in…', async () => {
      try {
        const result = await api<{ csrfToken: string }>('POST', '/api/login', {
          password: password.input.value,
        });
        setCsrfToken(result.csrfToken);
        location.assign(safeNext(new URLSearchParams(location.search).get('next'), location.origin));
      } catch (error) {
        const text = error instanceof ApiError ? error.message : 'login failed';
        password.setError(text);
        password.input.focus();
      }
    });
  });
  fill(main, h('div', { class: 'login card' }, h('h1', {}, 'Log in to harvest-sync'), form));
  password.input.focus();
}
