import type { ChildSpec, FieldTree, ObjectSpec } from './types.js';

/*
 * The Harvest objects we replicate, described as data. The engine, the simulator, the table schemas
 * and `harvest-sync discover` are all driven from this list. Field lists follow
 * shared/docs/harvest-api-v2.md §9 and the example payloads; undocumented keys seen in real traffic
 * (client.currency and project.code inside time entries, user_assignment.use_default_rates) are included.
 */

const idName = { id: 'bigint', name: 'text' } as const satisfies FieldTree;
const idNameCode = { id: 'bigint', name: 'text', code: 'text' } as const satisfies FieldTree;
const idNameCurrency = { id: 'bigint', name: 'text', currency: 'text' } as const satisfies FieldTree;
const timestamps = { created_at: 'timestamp', updated_at: 'timestamp' } as const satisfies FieldTree;

/** The user assignment embedded in expenses (documented subset). */
const embeddedUserAssignment = {
  id: 'bigint',
  is_project_manager: 'boolean',
  is_active: 'boolean',
  budget: 'decimal',
  created_at: 'timestamp',
  updated_at: 'timestamp',
  hourly_rate: 'decimal',
} as const satisfies FieldTree;

/** Time entries also carry use_default_rates in their user assignment (seen in real 2024 responses). */
const timeEntryUserAssignment = {
  id: 'bigint',
  is_project_manager: 'boolean',
  is_active: 'boolean',
  use_default_rates: 'boolean',
  budget: 'decimal',
  created_at: 'timestamp',
  updated_at: 'timestamp',
  hourly_rate: 'decimal',
} as const satisfies FieldTree;

const embeddedTaskAssignment = {
  id: 'bigint',
  billable: 'boolean',
  is_active: 'boolean',
  created_at: 'timestamp',
  updated_at: 'timestamp',
  hourly_rate: 'decimal',
  budget: 'decimal',
} as const satisfies FieldTree;

/** Fields a user assignment has, listed on its own or under a user's project assignments. */
const userAssignmentFields = {
  is_active: 'boolean',
  is_project_manager: 'boolean',
  use_default_rates: 'boolean',
  hourly_rate: 'decimal',
  budget: 'decimal',
  ...timestamps,
} as const satisfies FieldTree;

/** Fields invoices and estimates share: number, totals, taxes, discount, texts, currency, state. */
const documentFields = {
  client_key: 'text',
  number: 'text',
  purchase_order: 'text',
  amount: 'decimal',
  tax: 'decimal',
  tax_amount: 'decimal',
  tax2: 'decimal',
  tax2_amount: 'decimal',
  discount: 'decimal',
  discount_amount: 'decimal',
  subject: 'text',
  notes: 'text',
  currency: 'text',
  state: 'text',
} as const satisfies FieldTree;

/** Fields invoice and estimate line items share (invoice items also name their project). */
const lineItemFields = {
  kind: 'text',
  description: 'text',
  quantity: 'decimal',
  unit_price: 'decimal',
  amount: 'decimal',
  taxed: 'boolean',
  taxed2: 'boolean',
} as const satisfies FieldTree;

const invoiceLineItems: ChildSpec = {
  name: 'invoice_line_items',
  field: 'line_items',
  parentKey: 'invoice_id',
  description: 'Line items embedded in each invoice.',
  fields: { id: 'bigint', project: idNameCode, ...lineItemFields },
};

const estimateLineItems: ChildSpec = {
  name: 'estimate_line_items',
  field: 'line_items',
  parentKey: 'estimate_id',
  description: 'Line items embedded in each estimate.',
  fields: { id: 'bigint', ...lineItemFields },
};

type Defaulted =
  | 'primaryKey'
  | 'cursorField'
  | 'children'
  | 'defaultPerPage'
  | 'envelope'
  | 'group'
  | 'endpoint'
  | 'paging'
  | 'incremental';
type ObjectInput = Omit<ObjectSpec, Defaulted> &
  Partial<Pick<ObjectSpec, Exclude<Defaulted, 'primaryKey' | 'cursorField'>>>;

/** Most objects are a top-level list at /v2/<name>, cursor-paged, read with updated_since. */
function object(input: ObjectInput): ObjectSpec {
  return {
    primaryKey: 'id',
    cursorField: 'updated_at',
    children: [],
    defaultPerPage: 2000,
    envelope: input.name,
    group: 'core',
    ...input,
    endpoint: input.endpoint ?? `/v2/${input.name}`,
    paging: input.paging ?? 'cursor',
    incremental: input.incremental ?? true,
  };
}

function withoutId({ id: _id, ...rest }: FieldTree): FieldTree {
  return rest;
}

/** Recipients of an invoice or estimate message: `{name, email}`, no id of their own. */
function recipients(name: string, parentKey: string): ChildSpec {
  return {
    name,
    field: 'recipients',
    parentKey,
    idFromPosition: {},
    description: `Recipients of each message (id: message id × 1000 + position).`,
    fields: { id: 'bigint', name: 'text', email: 'text' },
  };
}

/** Fields invoice and estimate messages share. */
const messageFields = {
  id: 'bigint',
  sent_by: 'text',
  sent_by_email: 'text',
  sent_from: 'text',
  sent_from_email: 'text',
  subject: 'text',
  body: 'text',
  send_me_a_copy: 'boolean',
  event_type: 'text',
  ...timestamps,
} as const satisfies FieldTree;

/** A user's billable or cost rates: same shape, no updated_since, oldest start_date first. */
function rates(name: 'billable_rates' | 'cost_rates', access: ObjectSpec['access']): ObjectSpec {
  return object({
    name,
    endpoint: `/v2/users/{id}/${name}`,
    noUpdatedSince: true,
    parent: { object: 'users', key: 'user_id' },
    group: 'rates',
    access,
    description: `Each user's ${name.replace('_', ' ')} over time (end_date null for the current one).`,
    fields: {
      user_id: 'bigint',
      id: 'bigint',
      amount: 'decimal',
      start_date: 'date',
      end_date: 'date',
      ...timestamps,
    },
  });
}

/**
 * A report: page-numbered, envelope `results`, no updated_since; its rows carry the window they
 * describe and an id computed from the window and the key fields (see sync/reports.ts).
 */
function report(
  path: string,
  input: { access: ObjectSpec['access']; window?: 'year' | 'none'; key: string[]; fields: FieldTree },
): ObjectSpec {
  const window = input.window ?? 'year';
  return object({
    name: `report_${path.replace('/', '_')}`,
    endpoint: `/v2/reports/${path}`,
    envelope: 'results',
    paging: 'page',
    // read incrementally: the window of the cursor and those after it (closed years on a full refresh)
    incremental: window === 'year',
    noUpdatedSince: true,
    group: 'reports',
    report: { window, key: input.key },
    access: input.access,
    description: `Harvest's ${path.replace('/', ' ').replace('_', ' ')} report, per window (from, to).`,
    fields: { id: 'bigint', window_id: 'bigint', from: 'date', to: 'date', ...input.fields },
  });
}

/** The member-visible reports: one row per key column and currency. */
function memberReport(path: string, keyColumn: string, fields: FieldTree): ObjectSpec {
  return report(path, { access: 'member', key: [keyColumn, 'currency'], fields });
}

const timeTotals = {
  total_hours: 'decimal',
  billable_hours: 'decimal',
  currency: 'text',
  billable_amount: 'decimal',
} as const satisfies FieldTree;
const expenseTotals = {
  total_amount: 'decimal',
  billable_amount: 'decimal',
  currency: 'text',
} as const satisfies FieldTree;
const clientCols = { client_id: 'bigint', client_name: 'text' } as const satisfies FieldTree;
const projectCols = {
  ...clientCols,
  project_id: 'bigint',
  project_name: 'text',
} as const satisfies FieldTree;
const userCols = {
  user_id: 'bigint',
  user_name: 'text',
  is_contractor: 'boolean',
} as const satisfies FieldTree;

/**
 * Objects past Hevo's fifteen (issue 17): what hangs under invoices, estimates and users, the
 * company, and the reports. Reports are not in the default set (see DEFAULT_OBJECTS).
 */
export const MORE_OBJECTS: readonly ObjectSpec[] = [
  object({
    name: 'invoice_payments',
    endpoint: '/v2/invoices/{id}/payments',
    parent: { object: 'invoices', key: 'invoice_id' },
    group: 'billing',
    access: 'manager',
    description: 'Payments recorded against each invoice.',
    fields: {
      invoice_id: 'bigint',
      id: 'bigint',
      amount: 'decimal',
      paid_at: 'timestamp',
      paid_date: 'date',
      recorded_by: 'text',
      recorded_by_email: 'text',
      notes: 'text',
      transaction_id: 'text',
      payment_gateway: idName,
      ...timestamps,
    },
  }),
  object({
    name: 'invoice_messages',
    endpoint: '/v2/invoices/{id}/messages',
    parent: { object: 'invoices', key: 'invoice_id' },
    group: 'billing',
    access: 'manager',
    description:
      'Messages sent about each invoice (and its events); recipients in invoice_message_recipients.',
    fields: {
      invoice_id: 'bigint',
      ...messageFields,
      include_link_to_client_invoice: 'boolean',
      attach_pdf: 'boolean',
      thank_you: 'boolean',
      reminder: 'boolean',
      send_reminder_on: 'date',
    },
    children: [recipients('invoice_message_recipients', 'invoice_message_id')],
  }),
  object({
    name: 'estimate_messages',
    endpoint: '/v2/estimates/{id}/messages',
    parent: { object: 'estimates', key: 'estimate_id' },
    group: 'billing',
    access: 'manager',
    description:
      'Messages sent about each estimate (and its events); recipients in estimate_message_recipients.',
    fields: { estimate_id: 'bigint', ...messageFields },
    children: [recipients('estimate_message_recipients', 'estimate_message_id')],
  }),
  rates('billable_rates', 'manager'),
  rates('cost_rates', 'admin'),
  object({
    name: 'project_assignments',
    endpoint: '/v2/users/{id}/project_assignments',
    parent: { object: 'users', key: 'user_id' },
    access: 'manager',
    description:
      "Each user's active project assignments; their task assignments go to project_assignment_task_assignments.",
    fields: {
      user_id: 'bigint',
      id: 'bigint',
      project: idNameCode,
      client: idName,
      ...userAssignmentFields,
    },
    children: [
      {
        name: 'project_assignment_task_assignments',
        field: 'task_assignments',
        parentKey: 'project_assignment_id',
        // the same task assignment is listed under every user assigned to its project
        idFromPosition: { ownId: 'task_assignment_id' },
        description:
          'Task assignments embedded in each project assignment (id: project assignment id × 1000 + position).',
        fields: {
          id: 'bigint',
          task_assignment_id: 'bigint',
          ...withoutId(embeddedTaskAssignment),
          task: idName,
        },
      },
    ],
  }),
  object({
    name: 'company',
    incremental: false,
    singleton: true,
    access: 'member',
    description: 'The account itself: one row, keyed by the account id (the company has no id).',
    fields: {
      id: 'bigint',
      base_uri: 'text',
      full_domain: 'text',
      name: 'text',
      is_active: 'boolean',
      week_start_day: 'text',
      wants_timestamp_timers: 'boolean',
      time_format: 'text',
      date_format: 'text',
      plan_type: 'text',
      clock: 'text',
      currency_code_display: 'text',
      currency_symbol_display: 'text',
      decimal_symbol: 'text',
      thousands_separator: 'text',
      color_scheme: 'text',
      weekly_capacity: 'integer',
      expense_feature: 'boolean',
      invoice_feature: 'boolean',
      estimate_feature: 'boolean',
      approval_feature: 'boolean',
      team_feature: 'boolean',
    },
  }),
  memberReport('time/clients', 'client_id', { ...clientCols, ...timeTotals }),
  memberReport('time/projects', 'project_id', { ...projectCols, ...timeTotals }),
  memberReport('time/tasks', 'task_id', { task_id: 'bigint', task_name: 'text', ...timeTotals }),
  memberReport('time/team', 'user_id', {
    ...userCols,
    weekly_capacity: 'integer',
    avatar_url: 'text',
    ...timeTotals,
  }),
  memberReport('expenses/clients', 'client_id', { ...clientCols, ...expenseTotals }),
  memberReport('expenses/projects', 'project_id', { ...projectCols, ...expenseTotals }),
  memberReport('expenses/categories', 'expense_category_id', {
    expense_category_id: 'bigint',
    expense_category_name: 'text',
    ...expenseTotals,
  }),
  memberReport('expenses/team', 'user_id', { ...userCols, ...expenseTotals }),
  report('uninvoiced', {
    access: 'manager',
    key: ['project_id', 'currency'],
    fields: {
      ...projectCols,
      currency: 'text',
      total_hours: 'decimal',
      uninvoiced_hours: 'decimal',
      uninvoiced_expenses: 'decimal',
      uninvoiced_amount: 'decimal',
    },
  }),
  report('project_budget', {
    access: 'manager',
    window: 'none',
    key: ['project_id'],
    fields: {
      ...projectCols,
      budget_is_monthly: 'boolean',
      budget_by: 'text',
      is_active: 'boolean',
      budget: 'decimal',
      budget_spent: 'decimal',
      budget_remaining: 'decimal',
    },
  }),
];

export const OBJECTS: readonly ObjectSpec[] = [
  object({
    name: 'clients',
    access: 'manager',
    description: 'Clients of the account.',
    fields: {
      id: 'bigint',
      name: 'text',
      is_active: 'boolean',
      address: 'text',
      statement_key: 'text',
      currency: 'text',
      ...timestamps,
    },
  }),
  object({
    name: 'contacts',
    access: 'manager',
    description: 'Client contacts.',
    fields: {
      id: 'bigint',
      client: idName,
      title: 'text',
      first_name: 'text',
      last_name: 'text',
      email: 'text',
      phone_office: 'text',
      phone_mobile: 'text',
      fax: 'text',
      ...timestamps,
    },
  }),
  object({
    name: 'invoices',
    paging: 'page',
    sinceField: 'issue_date',
    // Harvest's default without per_page (since March 2025); we send per_page=2000 like every list
    defaultPerPage: 100,
    access: 'manager',
    description: 'Invoices; their line items go to invoice_line_items.',
    fields: {
      id: 'bigint',
      client: idName,
      estimate: { id: 'bigint' },
      retainer: { id: 'bigint' },
      creator: idName,
      ...documentFields,
      due_amount: 'decimal',
      period_start: 'date',
      period_end: 'date',
      issue_date: 'date',
      due_date: 'date',
      payment_term: 'text',
      payment_options: 'json',
      sent_at: 'timestamp',
      paid_at: 'timestamp',
      paid_date: 'date',
      closed_at: 'timestamp',
      recurring_invoice_id: 'bigint',
      ...timestamps,
    },
    children: [invoiceLineItems],
  }),
  object({
    name: 'invoice_item_categories',
    access: 'manager',
    description: 'Categories of invoice line items.',
    fields: {
      id: 'bigint',
      name: 'text',
      use_as_service: 'boolean',
      use_as_expense: 'boolean',
      ...timestamps,
    },
  }),
  object({
    name: 'estimates',
    paging: 'page',
    sinceField: 'issue_date',
    access: 'manager',
    description: 'Estimates; their line items go to estimate_line_items.',
    fields: {
      id: 'bigint',
      client: idName,
      creator: idName,
      ...documentFields,
      issue_date: 'date',
      sent_at: 'timestamp',
      accepted_at: 'timestamp',
      declined_at: 'timestamp',
      ...timestamps,
    },
    children: [estimateLineItems],
  }),
  object({
    name: 'estimate_item_categories',
    access: 'admin',
    description: 'Categories of estimate line items.',
    fields: { id: 'bigint', name: 'text', ...timestamps },
  }),
  object({
    name: 'expenses',
    paging: 'page',
    sinceField: 'spent_date',
    windowField: 'spent_date',
    access: 'member',
    description: 'Expenses, with their receipt metadata.',
    fields: {
      id: 'bigint',
      client: idNameCurrency,
      project: idNameCode,
      expense_category: { id: 'bigint', name: 'text', unit_price: 'decimal', unit_name: 'text' },
      user: idName,
      user_assignment: embeddedUserAssignment,
      receipt: { url: 'text', file_name: 'text', file_size: 'integer', content_type: 'text' },
      invoice: { id: 'bigint', number: 'text' },
      notes: 'text',
      units: 'decimal',
      total_cost: 'decimal',
      billable: 'boolean',
      is_closed: 'boolean',
      approval_status: 'text',
      is_locked: 'boolean',
      is_billed: 'boolean',
      locked_reason: 'text',
      spent_date: 'date',
      ...timestamps,
    },
  }),
  object({
    name: 'expense_categories',
    access: 'admin',
    description: 'Expense categories.',
    fields: {
      id: 'bigint',
      name: 'text',
      unit_name: 'text',
      unit_price: 'decimal',
      is_active: 'boolean',
      ...timestamps,
    },
  }),
  object({
    name: 'projects',
    access: 'manager',
    description: 'Projects, with budgets and billing settings.',
    fields: {
      id: 'bigint',
      client: idNameCurrency,
      name: 'text',
      code: 'text',
      is_active: 'boolean',
      is_billable: 'boolean',
      is_fixed_fee: 'boolean',
      bill_by: 'text',
      hourly_rate: 'decimal',
      budget: 'decimal',
      budget_by: 'text',
      budget_is_monthly: 'boolean',
      notify_when_over_budget: 'boolean',
      over_budget_notification_percentage: 'decimal',
      over_budget_notification_date: 'date',
      show_budget_to_all: 'boolean',
      cost_budget: 'decimal',
      cost_budget_include_expenses: 'boolean',
      fee: 'decimal',
      notes: 'text',
      starts_on: 'date',
      ends_on: 'date',
      ...timestamps,
    },
  }),
  object({
    name: 'user_assignments',
    access: 'manager',
    description: 'Project user assignments, active and archived.',
    fields: {
      id: 'bigint',
      project: idNameCode,
      user: idName,
      ...userAssignmentFields,
    },
  }),
  object({
    name: 'task_assignments',
    access: 'manager',
    description: 'Project task assignments.',
    fields: {
      id: 'bigint',
      project: idNameCode,
      task: idName,
      is_active: 'boolean',
      billable: 'boolean',
      hourly_rate: 'decimal',
      budget: 'decimal',
      ...timestamps,
    },
  }),
  object({
    name: 'roles',
    incremental: false,
    access: 'admin',
    description: 'Business roles and their users; no updated_since, so re-read in full every run.',
    fields: { id: 'bigint', name: 'text', user_ids: 'json', ...timestamps },
  }),
  object({
    name: 'tasks',
    access: 'manager',
    description: 'Tasks that time is tracked against.',
    fields: {
      id: 'bigint',
      name: 'text',
      billable_by_default: 'boolean',
      default_hourly_rate: 'decimal',
      is_default: 'boolean',
      is_active: 'boolean',
      ...timestamps,
    },
  }),
  object({
    name: 'time_entries',
    paging: 'page',
    sinceField: 'spent_date',
    windowField: 'spent_date',
    runningFilter: 'is_running',
    access: 'member',
    description: 'Time entries: hours tracked per user, project and task.',
    fields: {
      id: 'bigint',
      spent_date: 'date',
      user: idName,
      user_assignment: timeEntryUserAssignment,
      client: idNameCurrency,
      project: idNameCode,
      task: idName,
      task_assignment: embeddedTaskAssignment,
      external_reference: {
        id: 'text',
        group_id: 'text',
        account_id: 'text',
        permalink: 'text',
        service: 'text',
        service_icon_url: 'text',
      },
      invoice: { id: 'bigint', number: 'text' },
      hours: 'decimal',
      hours_without_timer: 'decimal',
      rounded_hours: 'decimal',
      notes: 'text',
      is_locked: 'boolean',
      locked_reason: 'text',
      is_closed: 'boolean',
      approval_status: 'text',
      is_billed: 'boolean',
      timer_started_at: 'timestamp',
      started_time: 'time',
      ended_time: 'time',
      is_running: 'boolean',
      billable: 'boolean',
      budgeted: 'boolean',
      billable_rate: 'decimal',
      cost_rate: 'decimal',
      ...timestamps,
    },
  }),
  object({
    name: 'users',
    access: 'manager',
    description: 'Users of the account, with their roles and rates.',
    fields: {
      id: 'bigint',
      first_name: 'text',
      last_name: 'text',
      email: 'text',
      telephone: 'text',
      timezone: 'text',
      has_access_to_all_future_projects: 'boolean',
      is_contractor: 'boolean',
      is_active: 'boolean',
      weekly_capacity: 'integer',
      default_hourly_rate: 'decimal',
      cost_rate: 'decimal',
      roles: 'json',
      access_roles: 'json',
      avatar_url: 'text',
      ...timestamps,
    },
  }),
  ...MORE_OBJECTS,
];

export const OBJECT_NAMES: readonly string[] = OBJECTS.map((o) => o.name);

/**
 * What a run reads when no objects are named, and what a new pipeline selects: every object but
 * the reports, which spend a scarce budget of their own (100 requests per 15 minutes) and are opt-in.
 */
export const DEFAULT_OBJECTS: readonly ObjectSpec[] = OBJECTS.filter((o) => o.report === undefined);
export const DEFAULT_OBJECT_NAMES: readonly string[] = DEFAULT_OBJECTS.map((o) => o.name);

/** Looks an object up by table name; undefined when there is none of that name. */
export function findObject(name: string): ObjectSpec | undefined {
  return OBJECTS.find((o) => o.name === name);
}

/**
 * Whether the object's records carry a cursor (updated_at) a connector can bookmark: reports read
 * their current window again instead, so to Singer and Airbyte they are full-table streams.
 */
export function hasCursor(spec: ObjectSpec): boolean {
  return spec.incremental && spec.report === undefined;
}
