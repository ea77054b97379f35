import type { JsonObject, JsonValue } from '../catalog/types.js';
import { generatePerParent } from './generate-more.js';
import type { Rng } from './random.js';
import { hash32, hex, intBelow, pick, rng, round2, unit } from './random.js';
import {
  ADDRESSES,
  CLIENT_NAMES,
  CURRENCIES,
  FIRST_NAMES,
  LAST_NAMES,
  PROJECT_NAMES,
  TASK_NAMES,
  TIMEZONES,
  notes,
} from './text.js';

/*
 * The simulated account. Reference data (users, clients, projects, assignments, categories…) is
 * small and built once. Time entries, expenses, invoices and estimates are never materialised: each
 * record is rebuilt from (seed, index) when a page needs it, in O(1). Index 0 is the newest record;
 * the business date never increases and the id strictly decreases with the index, so the API's
 * newest-first order is index order and a date range is an index range found by binary search.
 */

export const DAY_MS = 86_400_000;
const YEAR_DAYS = 365;

// formatting dates is a large share of building a record: days are few, so their text is cached
const dayText = new Map<number, string>();
const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

export function dayToDate(day: number): string {
  let text = dayText.get(day);
  if (text === undefined) {
    text = new Date(day * DAY_MS).toISOString().slice(0, 10);
    if (dayText.size < 100_000) dayText.set(day, text);
  }
  return text;
}

/** ISO 8601 UTC at second precision, as Harvest sends timestamps. */
export function isoSeconds(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  const seconds = Math.floor((ms - day * DAY_MS) / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return `${dayToDate(day)}T${pad2(h)}:${pad2(m)}:${pad2(seconds % 60)}Z`;
}

/** A record built from (seed, index) on demand. */
export interface GeneratedObject {
  readonly count: number;
  idOf(index: number): number;
  /** The index of a generated id, or -1. */
  indexOfId(id: number): number;
  /** Business date as days since 1970-01-01; never increases with the index. */
  dayOf(index: number): number;
  /** updated_at in ms, without building the record (for updated_since scans). */
  updatedAtOf(index: number): number;
  render(index: number): JsonObject;
  /**
   * The only indices (ascending) whose records can match the list filter `param=raw`, when known
   * without rendering them; undefined when any record may.
   */
  candidates?(param: string, raw: string): readonly number[] | undefined;
}

export interface Account {
  readonly epochMs: number;
  readonly company: JsonObject;
  readonly adminUserId: number;
  readonly memberUserId: number;
  readonly managerUserId: number;
  /** Projects where the manager's user assignment says is_project_manager. */
  readonly managedProjectIds: ReadonlySet<number>;
  /** Users assigned to the manager as teammates (the member). */
  readonly teammateIds: ReadonlySet<number>;
  /** Small objects, ascending id (= creation order). */
  readonly materialized: ReadonlyMap<string, JsonObject[]>;
  readonly generated: ReadonlyMap<string, GeneratedObject>;
  /** Records listed per parent (invoice payments…), by object; built on the first call. */
  readonly perParent: () => ReadonlyMap<string, JsonObject[]>;
}

export interface GenerateOptions {
  readonly seed: number;
  readonly scale: number;
  readonly epochMs: number;
  /** Sub-permissions of the manager (user 2), after `manager` in its access_roles. */
  readonly managerPermissions?: readonly string[];
}

/** The user indices the three tokens belong to. */
const ADMIN = 0;
const MEMBER = 1;
const MANAGER = 2;
/** Only the newest few time entries can be running timers (one per user at most, as in Harvest). */
const RUNNING_WINDOW = 6;

/** Record counts for a scale: time entries grow linearly, reference data with √scale beyond 1. */
export function countsFor(scale: number): Record<string, number> {
  const entries = Math.round(10_000 * scale);
  const f = scale <= 1 ? scale : Math.sqrt(scale);
  const n = (base: number, min: number) => Math.max(min, Math.round(base * f));
  return {
    time_entries: entries,
    expenses: Math.max(6, Math.round(entries / 20)),
    invoices: Math.max(6, Math.round(entries / 50)),
    estimates: Math.max(5, Math.round(entries / 200)),
    users: n(24, 5),
    roles: Math.min(12, n(5, 3)),
    clients: n(30, 4),
    contacts: n(45, 5),
    tasks: Math.min(40, n(14, 5)),
    projects: n(60, 6),
    expense_categories: Math.min(20, n(8, 4)),
    invoice_item_categories: Math.min(12, n(5, 3)),
    estimate_item_categories: Math.min(12, n(4, 3)),
  };
}

// Streams keep one object's draws independent of another's.
const S = {
  company: 1,
  users: 2,
  roles: 3,
  clients: 4,
  contacts: 5,
  tasks: 6,
  projects: 7,
  ua: 8,
  ta: 9,
  expcat: 10,
  iic: 11,
  eic: 12,
  te: 13,
  teTs: 14,
  ex: 15,
  exTs: 16,
  inv: 17,
  invTs: 18,
  est: 19,
  estTs: 20,
  jitter: 21,
} as const;

/** Ids ascending with creation order, a little irregular like real ones. */
function idAt(seed: number, stream: number, base: number, step: number, seq: number): number {
  return base + seq * step + (hash32(seed, S.jitter, stream, seq) % step);
}

/** created_at/updated_at of reference data, spread over the years before the history starts. */
function refTimes(r: Rng, start: number, end: number, seq: number, n: number, epochMs: number) {
  const created = start + Math.floor(((seq + r()) * (end - start)) / Math.max(1, n));
  const x = r();
  const updated = x < 0.5 ? created : created + Math.floor(r() * (epochMs - 1000 - created));
  return { created_at: isoSeconds(created), updated_at: isoSeconds(updated) };
}

/** Invoice or estimate item categories: the names reused, numbered, past the end of the list. */
function itemCategories(
  list: {
    seed: number;
    stream: number;
    base: number;
    count: number;
    names: readonly string[];
    times: (r: Rng, seq: number, n: number) => { created_at: string; updated_at: string };
  },
  more: (i: number) => JsonObject = () => ({}),
): JsonObject[] {
  const { seed, stream, names } = list;
  return Array.from({ length: list.count }, (_, i) => {
    const t = list.times(rng(seed, stream, i), i, list.count);
    return {
      id: idAt(seed, stream, list.base, 3, i),
      name: names[i % names.length] + (i >= names.length ? ` ${i}` : ''),
      ...more(i),
      created_at: t.created_at,
      updated_at: t.updated_at,
    };
  });
}

/** The tax and discount fields invoices and estimates share, from their computed totals. */
function taxAndDiscount(t: {
  tax: number | null;
  taxAmount: number;
  discount: number | null;
  discountAmount: number;
}): JsonObject {
  return {
    tax: t.tax,
    tax_amount: t.taxAmount,
    tax2: null,
    tax2_amount: 0,
    discount: t.discount,
    discount_amount: t.discountAmount,
  };
}

function maybe<T>(r: Rng, p: number, value: () => T): T | null {
  return r() < p ? value() : null;
}

export function generateAccount(options: GenerateOptions): Account {
  const { seed, epochMs } = options;
  const counts = countsFor(options.scale);
  const endDay = Math.floor(epochMs / DAY_MS) - 1;
  // reference data predates the history, so every time entry finds its project already there
  const refStart = epochMs - 8 * YEAR_DAYS * DAY_MS;
  const refEnd = epochMs - (3 * YEAR_DAYS + 60) * DAY_MS;
  const times = (r: Rng, seq: number, n: number) => refTimes(r, refStart, refEnd, seq, n, epochMs);

  const company: JsonObject = (() => {
    const r = rng(seed, S.company);
    const sub = `sim${seed}`;
    return {
      base_uri: `https://${sub}.harvestapp.com`,
      full_domain: `${sub}.harvestapp.com`,
      name: pick(r, ['Example Corp', 'Café & Co — Simulated', 'Ünïcödé Studio 🎨']),
      is_active: true,
      week_start_day: pick(r, ['Monday', 'Sunday', 'Saturday']),
      wants_timestamp_timers: true,
      time_format: pick(r, ['decimal', 'hours_minutes']),
      date_format: pick(r, ['%Y-%m-%d', '%m/%d/%Y', '%d.%m.%Y']),
      plan_type: 'simple-v4',
      expense_feature: true,
      invoice_feature: true,
      estimate_feature: true,
      approval_feature: true,
      team_feature: true,
      clock: '24h',
      currency_code_display: 'iso_code_none',
      currency_symbol_display: 'symbol_before',
      decimal_symbol: '.',
      thousands_separator: ',',
      color_scheme: 'orange',
      weekly_capacity: 144000,
    };
  })();

  // --- roles and users (roles first: users.roles mirrors roles.user_ids)
  const userIds = Array.from({ length: counts.users }, (_, i) => idAt(seed, S.users, 3_300_000, 5, i));
  const roles: JsonObject[] = [];
  const roleNames = ['Designers', 'Developers', 'Contractors', 'Management', 'Équipe «Support»', 'QA 🧪'];
  const roleMembers = new Map<number, string[]>();
  for (let i = 0; i < counts.roles; i++) {
    const r = rng(seed, S.roles, i);
    const name = roleNames[i % roleNames.length] + (i >= roleNames.length ? ` ${i}` : '');
    // the first role stays empty: `user_ids: []` is a real case
    const members = i === 0 ? [] : userIds.filter(() => r() < 0.3);
    for (const id of members) roleMembers.set(id, [...(roleMembers.get(id) ?? []), name]);
    roles.push({
      id: idAt(seed, S.roles, 810_000, 3, i),
      name,
      ...times(r, i, counts.roles),
      user_ids: members,
    });
  }

  const users: JsonObject[] = userIds.map((id, i) => {
    const r = rng(seed, S.users, i);
    const first = FIRST_NAMES[(i + seed) % FIRST_NAMES.length];
    const last = LAST_NAMES[(i * 7 + seed) % LAST_NAMES.length];
    const access =
      i === ADMIN
        ? ['administrator']
        : i === MEMBER
          ? ['member']
          : i === MANAGER
            ? ['manager', ...(options.managerPermissions ?? [])]
            : r() < 0.3
              ? ['manager', 'project_creator', 'time_and_expenses_manager']
              : ['member'];
    const t = times(r, i, counts.users);
    return {
      id,
      first_name: first,
      last_name: last,
      email: i % 5 === 3 ? `user${i + 1}+harvest@example.com` : `user${i + 1}@example.com`,
      telephone: r() < 0.6 ? '' : `+1 555 01${String(i % 100).padStart(2, '0')}`,
      timezone: pick(r, TIMEZONES),
      has_access_to_all_future_projects: i === 0 || r() < 0.2,
      is_contractor: r() < 0.1,
      is_active: i < 2 || r() < 0.85,
      created_at: t.created_at,
      updated_at: t.updated_at,
      weekly_capacity: pick(r, [126000, 144000, 72000]),
      default_hourly_rate: i === 0 ? null : maybe(r, 0.7, () => 80 + intBelow(r, 12) * 10),
      cost_rate: i === 0 ? null : maybe(r, 0.6, () => round2(30 + r() * 50)),
      roles: roleMembers.get(id) ?? [],
      access_roles: access,
      avatar_url: `https://cache.harvestapp.com/assets/profile_images/sim-${i}.png?${1600000000 + i}`,
    };
  });
  const userName = (u: JsonObject) => `${u.first_name as string} ${u.last_name as string}`;

  // --- clients, contacts
  const clients: JsonObject[] = Array.from({ length: counts.clients }, (_, i) => {
    const r = rng(seed, S.clients, i);
    const base = CLIENT_NAMES[i % CLIENT_NAMES.length];
    const t = times(r, i, counts.clients);
    const x = r();
    return {
      id: idAt(seed, S.clients, 9_100_000, 7, i),
      name: i < CLIENT_NAMES.length ? base : `${base} ${Math.floor(i / CLIENT_NAMES.length) + 1}`,
      is_active: r() < 0.85,
      address: x < 0.3 ? null : x < 0.5 ? '' : pick(r, ADDRESSES),
      statement_key: hex(r, 32),
      created_at: t.created_at,
      updated_at: t.updated_at,
      currency: pick(r, CURRENCIES),
    };
  });
  const contacts: JsonObject[] = Array.from({ length: counts.contacts }, (_, i) => {
    const r = rng(seed, S.contacts, i);
    const client = clients[i % clients.length];
    const t = times(r, i, counts.contacts);
    return {
      id: idAt(seed, S.contacts, 7_300_000, 11, i),
      title: maybe(r, 0.5, () => pick(r, ['CTO', 'Head of "Growth"', 'Directrice générale', ''])),
      first_name: pick(r, FIRST_NAMES),
      last_name: pick(r, LAST_NAMES),
      email: r() < 0.2 ? '' : `contact${i + 1}@client.example.com`,
      phone_office: r() < 0.6 ? '' : '+44 20 7946 0000',
      phone_mobile: r() < 0.5 ? '' : '+44 7700 900123',
      fax: '',
      created_at: t.created_at,
      updated_at: t.updated_at,
      client: { id: client.id, name: client.name },
    };
  });

  // --- tasks, projects
  const tasks: JsonObject[] = Array.from({ length: counts.tasks }, (_, i) => {
    const r = rng(seed, S.tasks, i);
    const base = TASK_NAMES[i % TASK_NAMES.length];
    const billable = r() < 0.7;
    const t = times(r, i, counts.tasks);
    return {
      id: idAt(seed, S.tasks, 12_000_000, 3, i),
      name: i < TASK_NAMES.length ? base : `${base} ${Math.floor(i / TASK_NAMES.length) + 1}`,
      billable_by_default: billable,
      default_hourly_rate: billable && r() < 0.7 ? 100 + intBelow(r, 8) * 10 : null,
      is_default: i < 3,
      is_active: r() < 0.9,
      created_at: t.created_at,
      updated_at: t.updated_at,
    };
  });

  const projects: JsonObject[] = Array.from({ length: counts.projects }, (_, i) => {
    const r = rng(seed, S.projects, i);
    const client = clients[i % clients.length];
    const base = PROJECT_NAMES[i % PROJECT_NAMES.length];
    const billable = r() < 0.85;
    const fixed = billable && r() < 0.15;
    const billBy = !billable ? 'none' : pick(r, ['Project', 'Tasks', 'People']);
    const budget = maybe(r, 0.5, () => 40 + intBelow(r, 40) * 10);
    const t = times(r, i, counts.projects);
    const x = r();
    return {
      id: idAt(seed, S.projects, 45_000_000, 13, i),
      name: i < PROJECT_NAMES.length ? base : `${base} #${i}`,
      code: x < 0.2 ? null : x < 0.35 ? '' : `P-${100 + i}`,
      is_active: r() < 0.85,
      bill_by: billBy,
      budget,
      budget_by: budget === null ? 'none' : pick(r, ['project', 'project_cost', 'task', 'person']),
      budget_is_monthly: r() < 0.1,
      notify_when_over_budget: r() < 0.5,
      over_budget_notification_percentage: 80.0,
      over_budget_notification_date: null,
      show_budget_to_all: r() < 0.3,
      created_at: t.created_at,
      updated_at: t.updated_at,
      starts_on: maybe(r, 0.6, () => t.created_at.slice(0, 10)),
      ends_on: maybe(r, 0.2, () => dayToDate(Math.floor(epochMs / DAY_MS) + intBelow(r, 400))),
      is_billable: billable,
      is_fixed_fee: fixed,
      notes: notes(r, 200),
      client: { id: client.id, name: client.name, currency: client.currency },
      cost_budget: maybe(r, 0.2, () => 5000 + intBelow(r, 20) * 500),
      cost_budget_include_expenses: r() < 0.2,
      hourly_rate: billBy === 'Project' ? 100 + intBelow(r, 9) * 10 : null,
      fee: fixed ? round2(5000 + r() * 20000) : null,
    };
  });
  const projectRef = (p: JsonObject) => ({ id: p.id, name: p.name, code: p.code });

  // --- assignments: each project gets 2–4 users and 2–4 tasks; the member is on two projects in
  // three, the manager manages one in three and is a plain assignee on another
  const userAssignments: JsonObject[] = [];
  const taskAssignments: JsonObject[] = [];
  const uaByProject: JsonObject[][] = [];
  const taByProject: JsonObject[][] = [];
  projects.forEach((project, p) => {
    const r = rng(seed, S.ua, p);
    const chosen = new Set<number>();
    if (p % 3 !== 2) chosen.add(MEMBER);
    if (p % 3 !== 2) chosen.add(MANAGER);
    const k = 2 + intBelow(r, 3);
    while (chosen.size < Math.min(k, users.length)) chosen.add(intBelow(r, users.length));
    const projectCreated = Date.parse(project.created_at as string);
    const mine: JsonObject[] = [];
    for (const u of [...chosen].sort((a, b) => a - b)) {
      const seq = userAssignments.length;
      const user = users[u];
      const at = isoSeconds(projectCreated + (mine.length + 1) * 60_000);
      const ua: JsonObject = {
        id: idAt(seed, S.ua, 520_000_000, 3, seq),
        is_project_manager: u === ADMIN || (u === MANAGER ? p % 3 === 0 : u !== MEMBER && r() < 0.1),
        is_active: (project.is_active as boolean) && r() < 0.95,
        use_default_rates: r() < 0.7,
        budget: maybe(r, 0.1, () => 20 + intBelow(r, 10) * 5),
        created_at: at,
        updated_at: r() < 0.7 ? at : isoSeconds(projectCreated + Math.floor(r() * (refEnd - projectCreated))),
        hourly_rate: maybe(r, 0.6, () => 90 + intBelow(r, 10) * 10),
        project: projectRef(project),
        user: { id: user.id, name: userName(user) },
      };
      userAssignments.push(ua);
      mine.push(ua);
    }
    uaByProject.push(mine);

    const rt = rng(seed, S.ta, p);
    const taskIdx = new Set<number>();
    const kt = 2 + intBelow(rt, 3);
    while (taskIdx.size < Math.min(kt, tasks.length)) taskIdx.add(intBelow(rt, tasks.length));
    const mineT: JsonObject[] = [];
    for (const ti of [...taskIdx].sort((a, b) => a - b)) {
      const seq = taskAssignments.length;
      const task = tasks[ti];
      const at = isoSeconds(projectCreated + (mineT.length + 1) * 90_000);
      const ta: JsonObject = {
        id: idAt(seed, S.ta, 700_000_000, 3, seq),
        billable: (task.billable_by_default as boolean) && (project.is_billable as boolean),
        is_active: rt() < 0.95,
        created_at: at,
        updated_at: at,
        hourly_rate: maybe(rt, 0.6, () => 100 + intBelow(rt, 9) * 10),
        budget: maybe(rt, 0.1, () => 10 + intBelow(rt, 10) * 5),
        project: projectRef(project),
        task: { id: task.id, name: task.name },
      };
      taskAssignments.push(ta);
      mineT.push(ta);
    }
    taByProject.push(mineT);
  });

  // --- categories
  const expenseCategories: JsonObject[] = Array.from({ length: counts.expense_categories }, (_, i) => {
    const r = rng(seed, S.expcat, i);
    const names = ['Transportation', 'Mileage', 'Lodging', 'Meals 🍽️', 'Software & "SaaS"', 'Entertainment'];
    const perUnit = i === 1 || r() < 0.15;
    const t = times(r, i, counts.expense_categories);
    return {
      id: idAt(seed, S.expcat, 6_200_000, 3, i),
      name: names[i % names.length] + (i >= names.length ? ` ${i}` : ''),
      unit_name: perUnit ? pick(r, ['mile', 'km']) : null,
      unit_price: perUnit ? pick(r, [0.67, 0.3, 1]) : null,
      is_active: r() < 0.9,
      created_at: t.created_at,
      updated_at: t.updated_at,
    };
  });
  const invoiceItemCategories = itemCategories(
    {
      seed,
      stream: S.iic,
      base: 2_700_000,
      count: counts.invoice_item_categories,
      names: ['Service', 'Product', 'Hosting', 'Expense', 'Licence ©'],
      times,
    },
    (i) => ({ use_as_service: i === 0, use_as_expense: i === 3 }),
  );
  const estimateItemCategories = itemCategories({
    seed,
    stream: S.eic,
    base: 1_800_000,
    count: counts.estimate_item_categories,
    names: ['Service', 'Product', 'Discovery', 'Maintenance'],
    times,
  });

  // --- embedded copies, shared by every generated record that points at them (frozen: never mutated)
  const freeze = <T extends JsonObject>(o: T): T => Object.freeze(o);
  const userEmbed = users.map((u) => freeze({ id: u.id, name: userName(u) }));
  const userIndex = new Map(users.map((u, i) => [u.id as number, i]));
  const projectIndex = new Map(projects.map((p, i) => [p.id as number, i]));
  /** A user assignment drawn for a record (time entry, expense), with its project and that one's index. */
  const drawAssignment = (r: Rng) => {
    const uaI = intBelow(r, userAssignments.length);
    const ua = userAssignments[uaI];
    const p = projectIndex.get((ua.project as JsonObject).id as number) as number;
    return { uaI, ua, p, project: projects[p] };
  };
  const clientEmbed = new Map(
    clients.map((c) => [c.id as number, freeze({ id: c.id, name: c.name, currency: c.currency })]),
  );
  const clientEmbedShort = new Map(clients.map((c) => [c.id as number, freeze({ id: c.id, name: c.name })]));
  const projectEmbed = projects.map((p) => freeze(projectRef(p)));
  const uaEmbed = (ua: JsonObject, withDefaultRates: boolean): JsonObject => {
    const base: JsonObject = {
      id: ua.id,
      is_project_manager: ua.is_project_manager,
      is_active: ua.is_active,
    };
    if (withDefaultRates) base.use_default_rates = ua.use_default_rates;
    return freeze({
      ...base,
      budget: ua.budget,
      created_at: ua.created_at,
      updated_at: ua.updated_at,
      hourly_rate: ua.hourly_rate,
    });
  };
  const uaEmbedTime = userAssignments.map((ua) => uaEmbed(ua, true));
  // the expenses example and docs show the embedded assignment without use_default_rates
  const uaEmbedExpense = userAssignments.map((ua) => uaEmbed(ua, false));
  const taEmbed = new Map(
    taskAssignments.map((ta) => [
      ta.id as number,
      freeze({
        id: ta.id,
        billable: ta.billable,
        is_active: ta.is_active,
        created_at: ta.created_at,
        updated_at: ta.updated_at,
        hourly_rate: ta.hourly_rate,
        budget: ta.budget,
      }),
    ]),
  );
  const taskEmbed = new Map(tasks.map((t) => [t.id as number, freeze({ id: t.id, name: t.name })]));
  const creators = users.filter((u) => (u.access_roles as string[])[0] !== 'member');
  const projectsByClient = new Map<number, number[]>();
  projects.forEach((p, i) => {
    const cid = (p.client as JsonObject).id as number;
    projectsByClient.set(cid, [...(projectsByClient.get(cid) ?? []), i]);
  });

  /** Shared shape of the four big objects: index → (date, id, timestamps). */
  function dated(
    count: number,
    spanDays: number,
    idBase: number,
    idStep: number,
    tsStream: number,
  ): Omit<GeneratedObject, 'render'> & { timesOf(i: number): { created: number; updated: number } } {
    const idOf = (i: number) => idBase + (count - 1 - i) * idStep + (hash32(seed, tsStream, i, 7) % idStep);
    const dayOf = (i: number) => endDay - Math.floor((i * spanDays) / Math.max(1, count));
    const timesOf = (i: number) => {
      const r = rng(seed, tsStream, i);
      let created = dayOf(i) * DAY_MS + 7 * 3_600_000 + Math.floor(r() * 11 * 3_600_000);
      // about one record in ten is entered days after the fact
      if (r() < 0.1) created += Math.floor(r() * 20) * DAY_MS;
      created = Math.min(created, epochMs - 60_000);
      const x = r();
      const later = x < 0.6 ? 0 : x < 0.9 ? r() * 2 * DAY_MS : r() * 200 * DAY_MS;
      const updated = Math.min(created + Math.floor(later), epochMs - 1000);
      return { created, updated };
    };
    return {
      count,
      idOf,
      dayOf,
      timesOf,
      updatedAtOf: (i) => timesOf(i).updated,
      indexOfId: (id) => {
        const seq = Math.floor((id - idBase) / idStep);
        const i = count - 1 - seq;
        return i >= 0 && i < count && idOf(i) === id ? i : -1;
      },
    };
  }

  const span = 3 * YEAR_DAYS;
  const invoiceShape = dated(counts.invoices, span, 41_200_000, 7, S.invTs);
  const estimateShape = dated(counts.estimates, span, 2_900_000, 5, S.estTs);
  const invoiceNumber = (j: number) => String(1000 + counts.invoices - j);
  const invoiceRef = (r: Rng): JsonObject => {
    const j = intBelow(r, counts.invoices);
    return { id: invoiceShape.idOf(j), number: invoiceNumber(j) };
  };

  // --- time entries
  const teShape = dated(counts.time_entries, span, 2_400_000_000, 3, S.teTs);
  const clock12 = (minutes: number) => {
    const h = Math.floor(minutes / 60) % 24;
    const m = String(minutes % 60).padStart(2, '0');
    return `${h % 12 === 0 ? 12 : h % 12}:${m}${h < 12 ? 'am' : 'pm'}`;
  };
  const clock24 = (minutes: number) =>
    `${String(Math.floor(minutes / 60) % 24).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
  // a running timer per user at most, among the newest entries; the newest is always running
  const runningIndices = new Set<number>();
  const runningUsers = new Set<JsonValue>();
  for (let i = 0; i < Math.min(RUNNING_WINDOW, counts.time_entries); i++) {
    const ua = userAssignments[intBelow(rng(seed, S.te, i), userAssignments.length)];
    const user = (ua.user as JsonObject).id;
    if ((i === 0 || unit(seed, S.te, i, 0x7e) < 0.4) && !runningUsers.has(user)) {
      runningIndices.add(i);
      runningUsers.add(user);
    }
  }
  const runningOrder = [...runningIndices].sort((a, b) => a - b);
  const timeEntries: GeneratedObject = {
    ...teShape,
    // is_running=true asks for a handful of the newest entries: no need to render a million
    candidates: (param, raw) => (param === 'is_running' && raw === 'true' ? runningOrder : undefined),
    render(i) {
      const r = rng(seed, S.te, i);
      const { uaI, ua, p, project } = drawAssignment(r);
      const ta = pick(r, taByProject[p]);
      const user = userEmbed[userIndex.get((ua.user as JsonObject).id as number) as number];
      const userRecord = users[userIndex.get(user.id as number) as number];
      const { created, updated } = teShape.timesOf(i);
      const day = teShape.dayOf(i);
      const hours = r() < 0.3 ? 1 + intBelow(r, 8) : round2(0.05 + r() * 7.95);
      const running = runningIndices.has(i);
      const timed = r() < 0.5;
      const start = 7 * 60 + intBelow(r, 10 * 60);
      const fmt = r() < 0.15 ? clock12 : clock24;
      const billable = ta.billable as boolean;
      const old = day < endDay - 60;
      const billed = billable && old && r() < 0.6;
      const locked = billed || (day < endDay - YEAR_DAYS && r() < 0.3);
      const status = pick(r, ['unsubmitted', 'submitted', 'approved', 'approved']);
      const record: JsonObject = {
        id: teShape.idOf(i),
        spent_date: dayToDate(day),
        user,
        client: clientEmbed.get((project.client as JsonObject).id as number) as JsonObject,
        project: projectEmbed[p],
        task: taskEmbed.get((ta.task as JsonObject).id as number) as JsonObject,
        user_assignment: uaEmbedTime[uaI],
        task_assignment: taEmbed.get(ta.id as number) as JsonObject,
        hours,
        hours_without_timer: running ? round2(Math.max(0, hours - 0.25)) : hours,
        rounded_hours: Math.ceil(hours * 4) / 4,
        notes: notes(r, 1500),
        created_at: isoSeconds(created),
        updated_at: isoSeconds(updated),
        is_locked: locked,
        locked_reason: billed
          ? 'Item Invoiced and Locked for this Time Period'
          : locked
            ? 'Locked by timesheet approval'
            : null,
        is_closed: status === 'approved',
      };
      // vintage accounts leave it out (see vintage.ts): presence is the account's, not the record's
      record.approval_status = status;
      record.is_billed = billed;
      record.timer_started_at = running ? isoSeconds(created) : null;
      record.started_time = timed || running ? fmt(start) : null;
      record.ended_time = timed && !running ? fmt(start + Math.round(hours * 60)) : null;
      record.is_running = running;
      record.invoice = billed ? invoiceRef(r) : null;
      record.external_reference =
        r() < 0.08
          ? {
              id: `PROJ-${1 + intBelow(r, 999)}`,
              group_id: String(10000 + intBelow(r, 90000)),
              account_id: `acct-${1 + intBelow(r, 9)}`,
              permalink: 'https://tracker.example.com/browse/PROJ-1',
              service: 'tracker.example.com',
              service_icon_url: 'https://tracker.example.com/favicon.png',
            }
          : null;
      record.billable = billable;
      record.budgeted = project.budget !== null;
      record.billable_rate = billable
        ? ((ta.hourly_rate ?? ua.hourly_rate ?? project.hourly_rate ?? 100) as number)
        : null;
      record.cost_rate = userRecord.cost_rate;
      return record;
    },
  };

  // --- expenses
  const exShape = dated(counts.expenses, span, 31_000_000, 5, S.exTs);
  const expenses: GeneratedObject = {
    ...exShape,
    render(i) {
      const r = rng(seed, S.ex, i);
      const { uaI, ua, p, project } = drawAssignment(r);
      const category = pick(r, expenseCategories);
      const unitPrice = category.unit_price as number | null;
      const units = unitPrice === null ? 1 : 1 + intBelow(r, 300);
      const id = exShape.idOf(i);
      const { created, updated } = exShape.timesOf(i);
      const day = exShape.dayOf(i);
      const billable = (project.is_billable as boolean) && r() < 0.7;
      const billed = billable && day < endDay - 60 && r() < 0.6;
      const status = pick(r, ['unsubmitted', 'submitted', 'approved']);
      const record: JsonObject = {
        id,
        notes: notes(r, 500),
        total_cost: unitPrice === null ? round2(5 + r() * 800) : round2(units * unitPrice),
        units,
        is_closed: status === 'approved',
      };
      record.approval_status = status;
      Object.assign(record, {
        is_locked: billed,
        is_billed: billed,
        locked_reason: billed ? 'Item Invoiced and Locked for this Time Period' : null,
        spent_date: dayToDate(day),
        created_at: isoSeconds(created),
        updated_at: isoSeconds(updated),
        billable,
        receipt:
          r() < 0.6
            ? {
                url: `${company.base_uri as string}/expenses/${id}/receipt`,
                file_name: pick(r, ['ticket.pdf', 'reçu été.jpg', 'IMG_0001.HEIC', 'receipt (1).png']),
                file_size: 1000 + intBelow(r, 5_000_000),
                content_type: pick(r, ['application/pdf', 'image/jpeg', 'image/heic', 'image/png']),
              }
            : null,
        user: userEmbed[userIndex.get((ua.user as JsonObject).id as number) as number],
        user_assignment: uaEmbedExpense[uaI],
        project: projectEmbed[p],
        expense_category: {
          id: category.id,
          name: category.name,
          unit_price: unitPrice,
          unit_name: category.unit_name,
        },
        client: clientEmbed.get((project.client as JsonObject).id as number) as JsonObject,
        invoice: billed ? invoiceRef(r) : null,
      } satisfies JsonObject);
      return record;
    },
  };

  // --- invoices and estimates, with their line items
  function lineItems(
    r: Rng,
    idBase: number,
    kinds: readonly JsonObject[],
    projectsOfClient: readonly number[] | undefined,
    withProject: boolean,
  ): JsonObject[] {
    // an invoice without lines is rare but real
    const n = r() < 0.03 ? 0 : 1 + intBelow(r, 5);
    return Array.from({ length: n }, (_, k) => {
      const quantity = r() < 0.5 ? 1 + intBelow(r, 40) : round2(r() * 40);
      const unitPrice = r() < 0.1 ? 0 : 50 + intBelow(r, 30) * 5;
      const item: JsonObject = {
        id: idBase + k,
        kind: pick(r, kinds).name as string,
        description: r() < 0.2 ? '' : (notes(r, 400) ?? ''),
        quantity,
        unit_price: unitPrice,
        amount: round2(quantity * unitPrice),
        taxed: r() < 0.5,
        taxed2: r() < 0.1,
      };
      if (withProject) {
        item.project =
          projectsOfClient && projectsOfClient.length > 0 && r() < 0.8
            ? projectEmbed[pick(r, projectsOfClient)]
            : null;
      }
      return item;
    });
  }
  const totals = (items: JsonObject[], r: Rng) => {
    const subtotal = items.reduce((s, it) => s + (it.amount as number), 0);
    const taxedBase = items.reduce((s, it) => s + (it.taxed ? (it.amount as number) : 0), 0);
    const tax = r() < 0.5 ? pick(r, [8, 8.5, 20, 25]) : null;
    const discount = r() < 0.15 ? pick(r, [5, 10]) : null;
    const taxAmount = tax === null ? 0 : round2((taxedBase * tax) / 100);
    const discountAmount = discount === null ? 0 : round2((subtotal * discount) / 100);
    return {
      tax,
      taxAmount,
      discount,
      discountAmount,
      amount: round2(subtotal + taxAmount - discountAmount),
    };
  };

  const invoices: GeneratedObject = {
    ...invoiceShape,
    render(j) {
      const r = rng(seed, S.inv, j);
      const client = pick(r, clients);
      const cid = client.id as number;
      const seq = counts.invoices - 1 - j;
      const items = lineItems(
        r,
        230_000_000 + seq * 8,
        invoiceItemCategories,
        projectsByClient.get(cid),
        true,
      );
      const t = totals(items, r);
      const day = invoiceShape.dayOf(j);
      const { created, updated } = invoiceShape.timesOf(j);
      const age = endDay - day;
      const state =
        age < 20
          ? pick(r, ['draft', 'open'])
          : age < 90
            ? pick(r, ['open', 'paid'])
            : pick(r, ['paid', 'paid', 'closed']);
      const term = pick(r, [
        ['upon receipt', 0],
        ['net 15', 15],
        ['net 30', 30],
        ['net 60', 60],
      ] as const);
      const sent = state !== 'draft' ? isoSeconds(created + 3_600_000) : null;
      const paidDay = day + intBelow(r, 30);
      const x = r();
      const creator = pick(r, creators);
      const record: JsonObject = {
        id: invoiceShape.idOf(j),
        client_key: hex(r, 40),
        number: invoiceNumber(j),
        purchase_order: r() < 0.7 ? '' : `PO-${intBelow(r, 99999)}`,
        amount: t.amount,
        due_amount: state === 'paid' || state === 'closed' ? 0 : t.amount,
        ...taxAndDiscount(t),
        subject: x < 0.2 ? '' : x < 0.3 ? null : `Invoice for ${client.name as string}`,
        notes: notes(r, 300),
        state,
        period_start: r() < 0.5 ? dayToDate(day - 30) : null,
        period_end: null,
        issue_date: dayToDate(day),
        due_date: dayToDate(day + term[1]),
        payment_term: term[0],
        sent_at: sent,
        paid_at: state === 'paid' ? isoSeconds(paidDay * DAY_MS + 43_200_000) : null,
        paid_date: state === 'paid' ? dayToDate(paidDay) : null,
        closed_at: state === 'closed' ? isoSeconds(updated) : null,
        recurring_invoice_id: r() < 0.1 ? 4_000_000 + intBelow(r, 1000) : null,
        created_at: isoSeconds(created),
        updated_at: isoSeconds(updated),
        currency: client.currency,
      };
      if (record.period_start !== null) record.period_end = dayToDate(day - 1);
      record.payment_options = pick(r, [[], ['credit_card'], ['ach', 'credit_card', 'paypal']]);
      record.client = clientEmbedShort.get(cid) as JsonObject;
      record.estimate =
        counts.estimates > 0 && r() < 0.2 ? { id: estimateShape.idOf(intBelow(r, counts.estimates)) } : null;
      record.retainer = r() < 0.05 ? { id: 300_000 + intBelow(r, 1000) } : null;
      record.creator = { id: creator.id, name: userName(creator) };
      record.line_items = items;
      return record;
    },
  };

  const estimates: GeneratedObject = {
    ...estimateShape,
    render(j) {
      const r = rng(seed, S.est, j);
      const client = pick(r, clients);
      const seq = counts.estimates - 1 - j;
      const items = lineItems(r, 610_000_000 + seq * 8, estimateItemCategories, undefined, false);
      const t = totals(items, r);
      const day = estimateShape.dayOf(j);
      const { created, updated } = estimateShape.timesOf(j);
      const state = pick(r, ['draft', 'sent', 'accepted', 'declined']);
      const creator = pick(r, creators);
      const x = r();
      return {
        id: estimateShape.idOf(j),
        client_key: hex(r, 40),
        number: `EST-${String(seq + 1).padStart(4, '0')}`,
        purchase_order: x < 0.5 ? null : x < 0.8 ? '' : `PO-${intBelow(r, 9999)}`,
        amount: t.amount,
        ...taxAndDiscount(t),
        subject: r() < 0.2 ? null : `Estimate — ${client.name as string}`,
        notes: notes(r, 300),
        state,
        issue_date: dayToDate(day),
        sent_at: state === 'draft' ? null : isoSeconds(created + 600_000),
        created_at: isoSeconds(created),
        updated_at: isoSeconds(updated),
        accepted_at: state === 'accepted' ? isoSeconds(updated) : null,
        declined_at: state === 'declined' ? isoSeconds(updated) : null,
        currency: client.currency,
        client: clientEmbedShort.get(client.id as number) as JsonObject,
        creator: { id: creator.id, name: userName(creator) },
        line_items: items,
      };
    },
  };

  // walked once per object listed under it: each walk renders anew, none is kept in memory
  const all = (object: GeneratedObject): Iterable<JsonObject> => ({
    *[Symbol.iterator]() {
      for (let j = object.count - 1; j >= 0; j--) yield object.render(j);
    },
  });
  let perParentMap: Map<string, JsonObject[]> | undefined;
  // built on first use: it renders every invoice and estimate, too slow for a big account's start
  const perParent = () =>
    (perParentMap ??= generatePerParent({
      seed,
      users,
      contacts,
      invoices: all(invoices),
      estimates: all(estimates),
      userAssignments,
      taskAssignments,
      clientOfProject: new Map(
        projects.map((p) => [
          p.id as number,
          clientEmbedShort.get((p.client as JsonObject).id as number) ?? null,
        ]),
      ),
    }));

  return {
    epochMs,
    company,
    adminUserId: users[ADMIN].id as number,
    memberUserId: users[MEMBER].id as number,
    managerUserId: users[MANAGER].id as number,
    managedProjectIds: new Set(
      userAssignments
        .filter((ua) => (ua.user as JsonObject).id === users[MANAGER].id && ua.is_project_manager === true)
        .map((ua) => (ua.project as JsonObject).id as number),
    ),
    teammateIds: new Set([users[MEMBER].id as number]),
    materialized: new Map<string, JsonObject[]>([
      ['clients', clients],
      ['contacts', contacts],
      ['invoice_item_categories', invoiceItemCategories],
      ['estimate_item_categories', estimateItemCategories],
      ['expense_categories', expenseCategories],
      ['projects', projects],
      ['user_assignments', userAssignments],
      ['task_assignments', taskAssignments],
      ['roles', roles],
      ['tasks', tasks],
      ['users', users],
    ]),
    perParent,
    generated: new Map<string, GeneratedObject>([
      ['time_entries', timeEntries],
      ['expenses', expenses],
      ['invoices', invoices],
      ['estimates', estimates],
    ]),
  };
}
