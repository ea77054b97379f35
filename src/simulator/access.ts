import type { JsonObject, ObjectSpec } from '../catalog/types.js';
import type { ManagerPermission } from './types.js';

/*
 * Who may list what, and which records they see (harvest-api-v2.md §8). Administrators see
 * everything. Members list only time entries and expenses, their own. Managers see what they manage:
 * the projects they are project manager of, and on the time entries, expenses and assignments their
 * own, their assigned teammates' and those of their managed projects; some endpoints need one of
 * the manager's sub-permissions, and admin-only ones (the catalog's `access: 'admin'`) stay closed.
 */

export type Role = 'admin' | 'manager' | 'member';

/** The token's user and what the account lets them see. */
export interface Caller {
  readonly role: Role;
  readonly userId: number;
  readonly permissions: readonly string[];
  readonly managedProjectIds: ReadonlySet<number>;
  readonly teammateIds: ReadonlySet<number>;
}

/**
 * Endpoints a manager reads only with a sub-permission (§8: "Administrator, or Manager allowed to
 * create/edit clients / invoices / estimates / tasks"); with it, they see every record. The others a
 * manager may list are scoped to what they manage (below), except invoice item categories ("Admin or
 * Project Manager"), which carry nothing to scope by.
 */
const MANAGER_NEEDS: Readonly<Record<string, readonly ManagerPermission[]>> = {
  clients: ['client_and_task_manager'],
  contacts: ['client_and_task_manager'],
  tasks: ['client_and_task_manager'],
  invoices: ['managed_projects_invoice_drafter', 'managed_projects_invoice_manager'],
  invoice_payments: ['managed_projects_invoice_drafter', 'managed_projects_invoice_manager'],
  invoice_messages: ['managed_projects_invoice_drafter', 'managed_projects_invoice_manager'],
  estimates: ['estimates_manager'],
  estimate_messages: ['estimates_manager'],
  billable_rates: ['billable_rates_manager'],
  report_uninvoiced: ['managed_projects_invoice_drafter', 'managed_projects_invoice_manager'],
};
const MANAGER_UNSCOPED = new Set(['invoice_item_categories']);

/** What the caller may see of `spec`: 'forbidden', every record (null), or a test per record. */
export type Scope = 'forbidden' | null | ((record: JsonObject) => boolean);

const idOf = (value: unknown): unknown => (value as JsonObject | null | undefined)?.id;

export function scopeOf(caller: Caller, spec: ObjectSpec): Scope {
  if (caller.role === 'admin') return null;
  // anyone reads their own project assignments (mayReadUnder says whose)
  if (spec.name === 'project_assignments') return null;
  if (caller.role === 'member') {
    if (spec.access !== 'member') return 'forbidden';
    return (r) => idOf(r.user) === caller.userId;
  }
  if (spec.access === 'admin') return 'forbidden';
  const needs = MANAGER_NEEDS[spec.name];
  if (needs) return needs.some((p) => caller.permissions.includes(p)) ? null : 'forbidden';
  if (MANAGER_UNSCOPED.has(spec.name)) return null;
  const people = new Set([caller.userId, ...caller.teammateIds]);
  const managed = caller.managedProjectIds;
  if (spec.name === 'projects') return (r) => managed.has(r.id as number);
  if (spec.name === 'users') return (r) => people.has(r.id as number);
  return (r) => people.has(idOf(r.user) as number) || managed.has(idOf(r.project) as number);
}

/**
 * Whether the caller may list an object under this parent: objects listed per user are the
 * caller's own, or (for a manager) their assigned teammates' (§8); the rest follow scopeOf.
 */
export function mayReadUnder(caller: Caller, spec: ObjectSpec, parentId: number): boolean {
  if (caller.role === 'admin' || spec.parent?.object !== 'users') return true;
  return parentId === caller.userId || (caller.role === 'manager' && caller.teammateIds.has(parentId));
}
