import { ApiError, api, getCatalog, getPipelines } from './api.js';
import type {
  CatalogObject,
  ConnectionTestResult,
  DestinationTestResult,
  Limit,
  PipelineView,
} from './api.js';
import { dataTable, fill, h, statusBadge } from './dom.js';
import { busy, choiceGroup, inputField, messageArea } from './forms.js';
import type { Field } from './forms.js';

/*
 * Create pipeline, in Hevo's order: source type → source settings (TEST & CONTINUE) → destination
 * (its own test) → objects and frequency → create. Each test blocks the next step until it passes;
 * the API's messages are shown beside the field they are about.
 */

const STEP_TITLES = ['Source type', 'Source settings', 'Destination', 'Objects & schedule'] as const;

function sqlitePathFor(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `${slug || 'harvest'}.db`;
}

export function objectResults(result: ConnectionTestResult): HTMLElement {
  return dataTable(
    'Objects the token can read',
    [['Object', 'Access', 'Reason'].map((t) => h('th', { scope: 'col' }, t))],
    result.objects.map((o) =>
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, h('code', {}, o.name)),
        h(
          'td',
          {},
          statusBadge(o.readable ? 'readable' : 'unreadable', o.readable ? 'Readable' : 'Not readable'),
        ),
        h('td', { class: 'error-cell' }, o.reason ?? ''),
      ),
    ),
  );
}

export async function renderWizard(main: HTMLElement): Promise<void> {
  document.title = 'New pipeline · harvest-sync';
  const { objects: catalog, defaultBaseUrl, limits } = await getCatalog();
  let step = 0;
  let connection: ConnectionTestResult | null = null;

  const stepItems = STEP_TITLES.map((title) => h('li', {}, title));
  const sections: HTMLElement[] = [];
  const section = (index: number, ...content: (Node | null)[]) => {
    const heading = h(
      'h2',
      { tabindex: -1 },
      `Step ${index + 1} of ${STEP_TITLES.length}: ${STEP_TITLES[index]}`,
    );
    const el = h(
      'section',
      { class: 'card', 'aria-label': STEP_TITLES[index], hidden: index !== 0 },
      heading,
      ...content,
    );
    sections[index] = el;
    return el;
  };
  const show = (index: number) => {
    step = index;
    sections.forEach((s, i) => (s.hidden = i !== index));
    stepItems.forEach((li, i) => {
      if (i === index) li.setAttribute('aria-current', 'step');
      else li.removeAttribute('aria-current');
      li.classList.toggle('done', i < index);
    });
    sections[index]?.querySelector<HTMLElement>('h2')?.focus();
  };

  // Step 1: source type
  const sourceType = choiceGroup({
    legend: 'Source type',
    name: 'sourceType',
    type: 'radio',
    choices: [
      {
        value: 'harvest',
        label: 'Harvest',
        checked: true,
        note: 'Time tracking, projects, invoices and expenses from getharvest.com.',
      },
    ],
  });
  const next1 = h('button', { type: 'submit', class: 'primary' }, 'Continue');
  const form1 = h(
    'form',
    { novalidate: true },
    sourceType.root,
    h(
      'div',
      { class: 'notice notice-info' },
      h('strong', {}, 'Where to find the token and account id: '),
      'in Harvest, open ',
      h('strong', {}, 'Settings → Developers'),
      ' and create a ',
      h('strong', {}, 'personal access token'),
      '. The page then shows the token and your ',
      h('strong', {}, 'Account ID'),
      '. An administrator’s token can read every object; other roles see fewer.',
    ),
    h('div', { class: 'actions' }, next1),
  );
  form1.addEventListener('submit', (e) => {
    e.preventDefault();
    show(1);
  });

  // Step 2: source settings, TEST & CONTINUE
  const name = inputField({
    label: 'Pipeline name',
    name: 'name',
    hint: 'Shown in lists and logs, e.g. "Harvest → warehouse".',
  });
  const token = inputField({
    label: 'Personal access token',
    name: 'token',
    type: 'password',
    autocomplete: 'new-password',
    hint: 'Stored encrypted; only its last 4 characters are ever shown again.',
  });
  const accountId = inputField({
    label: 'Account ID',
    name: 'accountId',
    inputmode: 'numeric',
    hint: 'Digits only, e.g. 1234567.',
  });
  const baseUrl = inputField({
    label: 'Harvest API URL',
    name: 'baseUrl',
    type: 'url',
    value: defaultBaseUrl,
    hint: 'Leave as it is unless you go through a proxy or use the simulator; with or without /v2.',
  });
  const testMessage = messageArea();
  const testResults = h('div');
  const test = h('button', { type: 'submit', class: 'primary' }, 'TEST & CONTINUE');
  const form2 = h(
    'form',
    { novalidate: true },
    name.root,
    token.root,
    accountId.root,
    h('details', {}, h('summary', {}, 'Advanced'), baseUrl.root),
    h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => show(0) }, 'Back'), test),
    testMessage.root,
    testResults,
  );

  // Step 3: destination
  const destType = choiceGroup({
    legend: 'Destination type',
    name: 'destinationType',
    type: 'radio',
    choices: [
      {
        value: 'sqlite',
        label: 'SQLite (embedded)',
        checked: true,
        note: 'A database file on the server; nothing to set up.',
      },
      {
        value: 'postgres',
        label: 'PostgreSQL',
        note: 'An existing PostgreSQL database; tables go in the schema "harvest" unless ?schema= says otherwise.',
      },
      {
        value: 'mysql',
        label: 'MySQL / MariaDB',
        note: 'A MySQL or MariaDB server; the database is created if it does not exist.',
      },
    ],
  });
  const sqlitePath = inputField({
    label: 'SQLite database path',
    name: 'sqlitePath',
    hint: 'Relative to the server’s data directory, or absolute inside it (or inside --sqlite-root).',
  });
  const postgresUrl = serverUrlField({
    label: 'PostgreSQL',
    name: 'postgresUrl',
    scheme: 'postgres',
    port: 5432,
  });
  const mysqlUrl = serverUrlField({
    label: 'MySQL / MariaDB',
    name: 'mysqlUrl',
    scheme: 'mysql',
    port: 3306,
  });
  const destFields: Record<string, Field> = { sqlite: sqlitePath, postgres: postgresUrl, mysql: mysqlUrl };
  const destKind = (): string => destType.values()[0] ?? 'sqlite';
  const destField = (): Field => destFields[destKind()] ?? sqlitePath;
  const destination = (): string => {
    const value = destField().input.value.trim();
    return destKind() !== 'sqlite' || value === '' ? value : `sqlite:${value}`;
  };
  const showDestField = (): void => {
    for (const [kind, field] of Object.entries(destFields)) field.root.hidden = kind !== destKind();
  };
  showDestField();
  for (const input of destType.inputs) input.addEventListener('change', showDestField);
  const connectionSummary = h('div');
  const destMessage = messageArea();
  const testDest = h('button', { type: 'submit', class: 'primary' }, 'TEST & CONTINUE');
  const form3 = h(
    'form',
    { novalidate: true },
    connectionSummary,
    destType.root,
    sqlitePath.root,
    postgresUrl.root,
    mysqlUrl.root,
    h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => show(1) }, 'Back'), testDest),
    destMessage.root,
  );

  // Step 4: objects and frequency, create
  const objectsHost = h('div');
  let objects = objectChoices(catalog, null);
  objectsHost.append(objects.root);
  const frequency = frequencyInput(
    limits.frequencyHours,
    limits.frequencyHours.default,
    ' Each run reads only what changed since the last one.',
  );
  const createMessage = messageArea();
  const create = h('button', { type: 'submit', class: 'primary' }, 'Create pipeline');
  const form4 = h(
    'form',
    { novalidate: true },
    objectsHost,
    frequency.root,
    h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => show(2) }, 'Back'), create),
    createMessage.root,
  );

  const fields: Record<
    string,
    { field: { setError(m: string | null): void; readonly input: HTMLElement }; step: number }
  > = {
    name: { field: name, step: 1 },
    token: { field: token, step: 1 },
    accountId: { field: accountId, step: 1 },
    baseUrl: { field: baseUrl, step: 1 },
    destination: {
      field: {
        setError: (m) => destField().setError(m),
        get input() {
          return destField().input;
        },
      },
      step: 2,
    },
    objects: {
      field: {
        setError: (m) => objects.setError(m),
        get input() {
          return objects.input;
        },
      },
      step: 3,
    },
    frequencyHours: { field: frequency, step: 3 },
  };
  const clearErrors = () => {
    for (const { field } of Object.values(fields)) field.setError(null);
    sqlitePath.setError(null);
    postgresUrl.setError(null);
  };
  /** Shows each message beside its field, on the earliest step that has one; false when none matched. */
  const showFieldErrors = (errors: Readonly<Record<string, string>>): boolean => {
    let first: { step: number; input: HTMLElement } | null = null;
    for (const [key, message] of Object.entries(errors)) {
      const target = fields[key];
      if (!target) continue;
      target.field.setError(message);
      if (target.field === baseUrl) baseUrl.root.closest('details')?.setAttribute('open', '');
      if (first === null || target.step < first.step)
        first = { step: target.step, input: target.field.input };
    }
    if (first === null) return false;
    if (first.step !== step) show(first.step);
    first.input.focus();
    return true;
  };

  form2.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors();
    testMessage.clear();
    testResults.replaceChildren();
    await busy(test, 'Testing…', async () => {
      const problems: Record<string, string> = {};
      const wanted = name.input.value.trim();
      if (wanted === '') problems.name = 'name is required';
      else if ((await getPipelines()).pipelines.some((p: PipelineView) => p.name === wanted))
        problems.name = `a pipeline named "${wanted}" already exists`;
      let result: ConnectionTestResult;
      try {
        result = await api<ConnectionTestResult>('POST', '/api/connection-test', {
          token: token.input.value,
          accountId: accountId.input.value,
          baseUrl: baseUrl.input.value,
        });
      } catch (error) {
        if (error instanceof ApiError) {
          showFieldErrors({ ...error.fields, ...problems });
          if (Object.keys(error.fields).length === 0) testMessage.show('error', error.message);
          return;
        }
        throw error;
      }
      if (!result.ok) {
        // blocked: the API's own message, and which objects failed and why
        testMessage.show('error', result.message);
        if (result.objects.length > 0) testResults.append(objectResults(result));
        showFieldErrors(problems);
        return;
      }
      if (showFieldErrors(problems)) {
        testMessage.show('ok', result.message);
        testResults.append(objectResults(result));
        return;
      }
      connection = result;
      testMessage.show('ok', result.message);
      testResults.append(objectResults(result));
      fill(
        connectionSummary,
        h('div', { class: 'notice notice-ok' }, h('strong', {}, 'Source: '), result.message),
        objectResults(result),
      );
      if (sqlitePath.input.value === '') sqlitePath.input.value = sqlitePathFor(wanted);
      const fresh = objectChoices(catalog, result);
      objects.root.replaceWith(fresh.root);
      objects = fresh;
      show(2);
    });
  });

  form3.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors();
    destMessage.clear();
    await busy(testDest, 'Testing…', async () => {
      const url = destination();
      if (url === '') {
        destField().setError(
          destKind() === 'sqlite'
            ? 'enter a path for the SQLite database'
            : `enter a ${destKind() === 'mysql' ? 'MySQL / MariaDB' : 'PostgreSQL'} URL`,
        );
        destField().input.focus();
        return;
      }
      try {
        const result = await api<DestinationTestResult>('POST', '/api/destination-test', {
          destination: url,
        });
        if (!result.ok) {
          destField().setError(result.message);
          destField().input.focus();
          return;
        }
        destMessage.show('ok', result.message);
        show(3);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (!showFieldErrors(error.fields)) destMessage.show('error', error.message);
      }
    });
  });

  form4.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors();
    createMessage.clear();
    if (connection === null) return show(1);
    await busy(create, 'Creating…', async () => {
      try {
        const { pipeline } = await api<{ pipeline: PipelineView }>('POST', '/api/pipelines', {
          name: name.input.value,
          token: token.input.value,
          accountId: accountId.input.value,
          baseUrl: baseUrl.input.value,
          destination: destination(),
          objects: objects.values(),
          frequencyHours: frequency.input.value,
        });
        location.assign(`/pipelines/${pipeline.id}`);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        // a name taken since the test comes back as a 409 without fields
        const errors =
          error.status === 409 && /already exists/.test(error.message)
            ? { name: error.message }
            : error.fields;
        if (!showFieldErrors(errors)) createMessage.show('error', error.message);
      }
    });
  });

  fill(
    main,
    h('h1', {}, 'Create a pipeline'),
    h('nav', { 'aria-label': 'Wizard steps' }, h('ol', { class: 'steps' }, stepItems)),
    section(0, form1),
    section(1, form2),
    section(2, form3),
    section(3, form4),
  );
  stepItems[0]?.setAttribute('aria-current', 'step');
}

const GROUP_TITLES: Readonly<Record<string, string>> = {
  core: 'Core',
  billing: 'Billing detail',
  rates: 'Rates',
  reports: 'Reports',
};

/** Object checkboxes by group: all but the reports checked, and none the connection test found unreadable. */
export function objectChoices(
  catalog: readonly CatalogObject[],
  connection: ConnectionTestResult | null,
  selected?: readonly string[],
) {
  const unreadable = new Map(
    (connection?.objects ?? []).filter((o) => !o.readable).map((o) => [o.name, o.reason ?? 'not readable']),
  );
  const buttons = h('div', { class: 'actions' });
  const group = choiceGroup({
    legend: 'Objects to replicate',
    name: 'objects',
    type: 'checkbox',
    columns: true,
    hint: 'One table each (invoices and estimates also fill a line-items table). Reports spend a budget of their own (100 calls per 15 minutes): pick them if you need them.',
    extra: buttons,
    choices: catalog.map((o) => ({
      value: o.name,
      label: o.name,
      group: GROUP_TITLES[o.group] ?? o.group,
      checked: selected ? selected.includes(o.name) : o.inDefaultSet && !unreadable.has(o.name),
      note: unreadable.has(o.name)
        ? `Not readable with this token: ${unreadable.get(o.name)}`
        : o.description,
    })),
  });
  const setAll = (checked: boolean) => () => group.inputs.forEach((i) => (i.checked = checked));
  buttons.append(
    h('button', { type: 'button', onclick: setAll(true) }, 'Select all'),
    h('button', { type: 'button', onclick: setAll(false) }, 'Select none'),
  );
  return group;
}

/** The "Run every (hours)" field, bounded as the API validates it. */
export function frequencyInput(limit: Limit, value: number, more = '') {
  return inputField({
    label: 'Run every (hours)',
    name: 'frequencyHours',
    type: 'number',
    value: String(value),
    min: limit.min,
    max: limit.max,
    inputmode: 'numeric',
    hint: `Whole hours from ${limit.min} to ${limit.max}.${more}`,
  });
}

/** A server database's URL field: its password, like the token, is kept encrypted. */
function serverUrlField(engine: { label: string; name: string; scheme: string; port: number }) {
  return inputField({
    label: `${engine.label} URL`,
    name: engine.name,
    placeholder: `${engine.scheme}://user:password@host:${engine.port}/database`,
    hint: 'The password is stored encrypted and never shown again.',
  });
}
