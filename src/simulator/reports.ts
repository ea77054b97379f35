import type { JsonObject, JsonValue } from '../catalog/types.js';
import { round2 } from './random.js';

/*
 * Harvest's reports (`/v2/reports/…`), computed from the simulator's own records so that they agree
 * with what it lists: time reports from time entries, expense reports from expenses, the uninvoiced
 * report from both, the project budget report from projects and all their time. Rows are grouped
 * by the report's subject and the currency of the client, as Harvest's are.
 */

/** What a row is grouped by: its leading fields, taken from a time entry or expense. */
type GroupBy = (record: JsonObject) => JsonObject;

const ref = (record: JsonObject, field: string): JsonObject => (record[field] ?? {}) as JsonObject;

const byClient: GroupBy = (r) => ({ client_id: ref(r, 'client').id, client_name: ref(r, 'client').name });
const byProject: GroupBy = (r) => ({
  ...byClient(r),
  project_id: ref(r, 'project').id,
  project_name: ref(r, 'project').name,
});
const byUser =
  (contractors: ReadonlyMap<unknown, JsonObject>): GroupBy =>
  (r) => {
    const user = contractors.get(ref(r, 'user').id) ?? {};
    return {
      user_id: ref(r, 'user').id,
      user_name: ref(r, 'user').name,
      is_contractor: user.is_contractor ?? false,
    };
  };

/** Records that sum into one row, keyed by the group's fields and the currency. */
function grouped(records: readonly JsonObject[], groupBy: GroupBy): Map<string, JsonObject[]> {
  const groups = new Map<string, JsonObject[]>();
  for (const record of records) {
    const key = JSON.stringify([groupBy(record), ref(record, 'client').currency ?? null]);
    groups.set(key, [...(groups.get(key) ?? []), record]);
  }
  return groups;
}

const sum = (records: readonly JsonObject[], value: (r: JsonObject) => number) =>
  round2(records.reduce((total, r) => total + value(r), 0));
const num = (v: JsonValue | undefined) => (typeof v === 'number' ? v : 0);

function timeRow(group: JsonObject, entries: readonly JsonObject[]): JsonObject {
  const billable = entries.filter((e) => e.billable === true);
  return {
    ...group,
    total_hours: sum(entries, (e) => num(e.hours)),
    billable_hours: sum(billable, (e) => num(e.hours)),
    currency: (ref(entries[0], 'client').currency as string | undefined) ?? 'USD',
    billable_amount: sum(billable, (e) => num(e.hours) * num(e.billable_rate)),
  };
}

function expenseRow(group: JsonObject, expenses: readonly JsonObject[]): JsonObject {
  return {
    ...group,
    total_amount: sum(expenses, (e) => num(e.total_cost)),
    billable_amount: sum(
      expenses.filter((e) => e.billable === true),
      (e) => num(e.total_cost),
    ),
    currency: (ref(expenses[0], 'client').currency as string | undefined) ?? 'USD',
  };
}

/** What a report is computed from. */
export interface ReportInput {
  /** Time entries and expenses of the window the caller may see. */
  readonly entries: readonly JsonObject[];
  readonly expenses: readonly JsonObject[];
  readonly users: readonly JsonObject[];
  /** Projects the caller may see, and every one of their time entries (project budget). */
  readonly projects: readonly JsonObject[];
  readonly allEntries: () => readonly JsonObject[];
  /** `is_active` of the project budget report, when given. */
  readonly isActive?: boolean;
}

function rows(records: readonly JsonObject[], groupBy: GroupBy, row: typeof timeRow): JsonObject[] {
  return [...grouped(records, groupBy).values()].map((group) => row(groupBy(group[0]), group));
}

function uninvoiced(input: ReportInput): JsonObject[] {
  const open = (r: JsonObject) => r.billable === true && r.is_billed !== true;
  interface Sums {
    group: JsonObject;
    entries: JsonObject[];
    expenses: JsonObject[];
  }
  const projects = new Map<string, Sums>();
  const add = (record: JsonObject, kind: 'entries' | 'expenses') => {
    const group = { ...byProject(record), currency: ref(record, 'client').currency ?? 'USD' };
    const key = JSON.stringify(group);
    const at: Sums = projects.get(key) ?? { group, entries: [], expenses: [] };
    at[kind].push(record);
    projects.set(key, at);
  };
  input.entries.forEach((e) => add(e, 'entries'));
  input.expenses.forEach((e) => add(e, 'expenses'));
  return [...projects.values()].map(({ group, entries, expenses }) => {
    const hours = sum(entries.filter(open), (e) => num(e.hours));
    const spent = sum(expenses.filter(open), (e) => num(e.total_cost));
    const amount = sum(entries.filter(open), (e) => num(e.hours) * num(e.billable_rate));
    return {
      ...group,
      total_hours: sum(entries, (e) => num(e.hours)),
      uninvoiced_hours: hours,
      uninvoiced_expenses: spent,
      uninvoiced_amount: round2(amount + spent),
    };
  });
}

function projectBudget(input: ReportInput): JsonObject[] {
  const spent = new Map<unknown, number>();
  for (const e of input.allEntries()) {
    const id = ref(e, 'project').id;
    spent.set(id, (spent.get(id) ?? 0) + num(e.hours));
  }
  return input.projects
    .filter((p) => p.budget !== null && (input.isActive === undefined || p.is_active === input.isActive))
    .map((p) => {
      const used = round2(spent.get(p.id) ?? 0);
      return {
        project_id: p.id,
        project_name: p.name,
        client_id: ref(p, 'client').id,
        client_name: ref(p, 'client').name,
        budget_is_monthly: p.budget_is_monthly,
        budget_by: p.budget_by,
        is_active: p.is_active,
        budget: p.budget,
        budget_spent: used,
        budget_remaining: round2(num(p.budget) - used),
      };
    });
}

/** The rows of the report at `path` (`time/clients`, `uninvoiced`, …), sorted by their subject's id. */
export function reportRows(path: string, input: ReportInput): JsonObject[] {
  const users = new Map(input.users.map((u) => [u.id, u]));
  const byTask: GroupBy = (r) => ({ task_id: ref(r, 'task').id, task_name: ref(r, 'task').name });
  const byCategory: GroupBy = (r) => ({
    expense_category_id: ref(r, 'expense_category').id,
    expense_category_name: ref(r, 'expense_category').name,
  });
  const reports: Record<string, () => JsonObject[]> = {
    'time/clients': () => rows(input.entries, byClient, timeRow),
    'time/projects': () => rows(input.entries, byProject, timeRow),
    'time/tasks': () => rows(input.entries, byTask, timeRow),
    'time/team': () =>
      rows(input.entries, byUser(users), timeRow).map((row) => ({
        ...row,
        weekly_capacity: users.get(row.user_id)?.weekly_capacity ?? null,
        avatar_url: users.get(row.user_id)?.avatar_url ?? null,
      })),
    'expenses/clients': () => rows(input.expenses, byClient, expenseRow),
    'expenses/projects': () => rows(input.expenses, byProject, expenseRow),
    'expenses/categories': () => rows(input.expenses, byCategory, expenseRow),
    'expenses/team': () => rows(input.expenses, byUser(users), expenseRow),
    uninvoiced: () => uninvoiced(input),
    project_budget: () => projectBudget(input),
  };
  const report = reports[path];
  if (!report) return [];
  const subject = (row: JsonObject) => Object.values(row).find((v) => typeof v === 'number') as number;
  return report().sort(
    (a, b) => subject(a) - subject(b) || String(a.currency).localeCompare(String(b.currency)),
  );
}

/** Whether `path` is a report Harvest has. */
export const REPORT_PATHS: readonly string[] = [
  'time/clients',
  'time/projects',
  'time/tasks',
  'time/team',
  'expenses/clients',
  'expenses/projects',
  'expenses/categories',
  'expenses/team',
  'uninvoiced',
  'project_budget',
];
