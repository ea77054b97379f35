import { h, nextId } from './dom.js';

/*
 * Form fields with their label, hint and error wired for screen readers (for/id, aria-describedby,
 * aria-invalid). Forms use `novalidate`: the API's messages are the ones shown, beside the field.
 */

export interface Field<E extends HTMLElement = HTMLInputElement> {
  readonly root: HTMLElement;
  readonly input: E;
  setError(message: string | null): void;
}

function describedBy(input: HTMLElement, ids: readonly string[]): void {
  if (ids.length > 0) input.setAttribute('aria-describedby', ids.join(' '));
  else input.removeAttribute('aria-describedby');
}

function errorSlot(input: HTMLElement, hintId: string | null) {
  const errorId = nextId('error');
  const error = h('p', { class: 'field-error', id: errorId, hidden: true });
  const setError = (message: string | null) => {
    error.textContent = message ?? '';
    error.hidden = message === null;
    if (message === null) input.removeAttribute('aria-invalid');
    else input.setAttribute('aria-invalid', 'true');
    describedBy(input, [...(message === null ? [] : [errorId]), ...(hintId ? [hintId] : [])]);
  };
  return { error, setError };
}

export interface InputOptions {
  readonly label: string;
  readonly name: string;
  readonly type?: 'text' | 'password' | 'number' | 'url';
  readonly value?: string;
  readonly hint?: string | Node;
  readonly autocomplete?: string;
  readonly placeholder?: string;
  readonly inputmode?: string;
  readonly min?: number;
  readonly max?: number;
}

export function inputField(options: InputOptions): Field {
  const id = nextId(options.name);
  const hintId = options.hint === undefined ? null : `${id}-hint`;
  const input = h('input', {
    id,
    name: options.name,
    type: options.type ?? 'text',
    value: options.value ?? '',
    autocomplete: options.autocomplete ?? 'off',
    placeholder: options.placeholder,
    inputmode: options.inputmode,
    min: options.min,
    max: options.max,
    spellcheck: 'false',
  });
  const { error, setError } = errorSlot(input, hintId);
  setError(null);
  const root = h(
    'div',
    { class: 'field' },
    h('label', { for: id }, options.label),
    input,
    error,
    hintId ? h('p', { class: 'hint', id: hintId }, options.hint) : null,
  );
  return { root, input, setError };
}

export interface Choice {
  readonly value: string;
  readonly label: string | Node;
  readonly note?: string | Node;
  readonly checked?: boolean;
  /** Choices with a group are shown under its heading, groups in the order they first appear. */
  readonly group?: string;
}

/** The choices' elements under a heading per group (one plain list when none has a group). */
function grouped(choices: readonly Choice[], items: readonly HTMLElement[], columns: boolean): HTMLElement[] {
  const cls = columns ? 'choices' : '';
  if (choices.every((c) => c.group === undefined)) return [h('div', { class: cls }, items)];
  const groups = new Map<string, HTMLElement[]>();
  choices.forEach((choice, i) => {
    const key = choice.group ?? '';
    groups.set(key, [...(groups.get(key) ?? []), items[i]]);
  });
  return [...groups].flatMap(([title, members]) => [
    h('h3', { class: 'choice-group' }, title),
    h('div', { class: cls }, members),
  ]);
}

/** A fieldset of checkboxes (or radios); its error is announced with the group. */
export function choiceGroup(options: {
  readonly legend: string;
  readonly name: string;
  readonly type: 'checkbox' | 'radio';
  readonly choices: readonly Choice[];
  readonly hint?: string | Node;
  readonly extra?: Node;
  readonly columns?: boolean;
}): Field<HTMLFieldSetElement> & { values(): string[]; inputs: HTMLInputElement[] } {
  const inputs: HTMLInputElement[] = [];
  const hintId = options.hint === undefined ? null : nextId('hint');
  const items = options.choices.map((choice) => {
    const id = nextId(options.name);
    const noteId = choice.note === undefined ? null : `${id}-note`;
    const input = h('input', {
      type: options.type,
      id,
      name: options.name,
      value: choice.value,
      checked: choice.checked ?? false,
      'aria-describedby': noteId,
    });
    inputs.push(input);
    return h(
      'div',
      { class: 'choice' },
      input,
      h(
        'div',
        {},
        h('label', { for: id }, choice.label),
        noteId ? h('p', { class: 'hint', id: noteId }, choice.note) : null,
      ),
    );
  });
  const fieldset = h('fieldset', {}, h('legend', {}, options.legend));
  const { error, setError } = errorSlot(fieldset, hintId);
  setError(null);
  fieldset.append(
    ...(hintId ? [h('p', { class: 'hint', id: hintId }, options.hint)] : []),
    ...(options.extra ? [options.extra] : []),
    ...grouped(options.choices, items, options.columns === true),
    error,
  );
  return {
    root: fieldset,
    input: fieldset,
    inputs,
    setError,
    values: () => inputs.filter((i) => i.checked).map((i) => i.value),
  };
}

/** A status line under a form: announced politely (info, ok) or assertively (errors). */
export function messageArea(): {
  root: HTMLElement;
  show(kind: 'ok' | 'error' | 'info', text: string | Node): void;
  clear(): void;
} {
  const root = h('div', { role: 'status', 'aria-live': 'polite' });
  return {
    root,
    show(kind, text) {
      root.replaceChildren(
        h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : null }, text),
      );
    },
    clear() {
      root.replaceChildren();
    },
  };
}

/** Disables the button while `work` runs, so a double click does not send twice. */
export async function busy<T>(button: HTMLButtonElement, text: string, work: () => Promise<T>): Promise<T> {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = text;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    // the work may have relabelled the button (Pause → Resume): keep that
    if (button.textContent === text) button.textContent = label;
  }
}
