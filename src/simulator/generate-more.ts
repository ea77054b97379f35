import type { JsonObject } from '../catalog/types.js';
import type { Rng } from './random.js';
import { hash32, intBelow, pick, rng, round2 } from './random.js';

/*
 * Records Harvest lists per parent (harvest-api-v2.md §9.3.1, §9.3.2, §9.5.1, §9.15): invoice
 * payments and messages, estimate messages, users' billable and cost rates and project assignments.
 * Each stored record carries its parent's id (`invoice_id`, `estimate_id`, `user_id`): the API
 * leaves it out of the response (the parent is in the URL), harvest-sync stores it as a column.
 * Built once, from the parents, in creation order (ascending id).
 */

const DAY_MS = 86_400_000;
const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const date = (ms: number) => new Date(ms).toISOString().slice(0, 10);

// streams of their own, after generate.ts's (1–21)
const S = { pay: 40, invMsg: 41, estMsg: 42, rates: 43, pa: 44, jitter: 45 } as const;

export interface PerParentInput {
  readonly seed: number;
  readonly users: readonly JsonObject[];
  readonly contacts: readonly JsonObject[];
  /** Every invoice and estimate, as the API sends them. */
  readonly invoices: Iterable<JsonObject>;
  readonly estimates: Iterable<JsonObject>;
  readonly userAssignments: readonly JsonObject[];
  readonly taskAssignments: readonly JsonObject[];
  /** Project id → client `{id, name}`. */
  readonly clientOfProject: ReadonlyMap<number, JsonObject | null>;
}

/** Ids ascending with creation order, a little irregular like real ones. */
function ids(seed: number, stream: number, base: number, step: number): () => number {
  let seq = 0;
  return () => {
    const id = base + seq * step + (hash32(seed, S.jitter, stream, seq) % step);
    seq++;
    return id;
  };
}

const byCreation = (a: JsonObject, b: JsonObject) =>
  Date.parse(a.created_at as string) - Date.parse(b.created_at as string);

/** Renumbers records by creation time, so ids ascend with creation as Harvest's do. */
function numbered(records: JsonObject[], next: () => number): JsonObject[] {
  return records.sort(byCreation).map((r) => ({ id: next(), ...r }));
}

function recipientsOf(r: Rng, contacts: readonly JsonObject[], clientId: unknown): JsonObject[] {
  const own = contacts.filter((c) => (c.client as JsonObject).id === clientId && c.email !== '');
  const pool = own.length > 0 ? own : contacts.filter((c) => c.email !== '');
  const n = 1 + intBelow(r, Math.min(3, pool.length));
  const chosen = new Set<JsonObject>();
  while (chosen.size < n) chosen.add(pick(r, pool));
  return [...chosen].map((c) => ({
    name: `${c.first_name as string} ${c.last_name as string}`,
    email: c.email as string,
  }));
}

function payments(input: PerParentInput): JsonObject[] {
  const out: JsonObject[] = [];
  for (const invoice of input.invoices) {
    const state = invoice.state as string;
    const amount = invoice.amount as number;
    const r = rng(input.seed, S.pay, invoice.id as number);
    const paidAt = typeof invoice.paid_at === 'string' ? Date.parse(invoice.paid_at) : null;
    const sent = typeof invoice.sent_at === 'string' ? Date.parse(invoice.sent_at) : null;
    const parts: Array<{ amount: number; at: number }> = [];
    if (state === 'paid' && paidAt !== null && amount > 0) {
      // one payment in three comes in two instalments
      if (r() < 0.33 && sent !== null && sent < paidAt) {
        const first = round2(amount / 2);
        parts.push({ amount: first, at: sent + Math.floor((paidAt - sent) / 2) });
        parts.push({ amount: round2(amount - first), at: paidAt });
      } else parts.push({ amount, at: paidAt });
    } else if (state === 'open' && sent !== null && amount > 0 && r() < 0.2) {
      parts.push({ amount: round2(amount / 4), at: sent + (1 + intBelow(r, 10)) * DAY_MS });
    }
    for (const part of parts) {
      const byCard = r() < 0.4;
      const created = iso(part.at + 3_600_000);
      out.push({
        invoice_id: invoice.id,
        amount: part.amount,
        paid_at: iso(part.at),
        paid_date: date(part.at),
        recorded_by: byCard ? '' : 'Sam Rivera',
        recorded_by_email: byCard ? '' : 'sam.rivera@example.com',
        notes: byCard ? '' : pick(r, ['Bank transfer', 'Cheque n° 0042', 'Paid in full, merci !']),
        transaction_id: byCard
          ? `ch_${hash32(input.seed, invoice.id as number, part.at).toString(16)}`
          : null,
        payment_gateway: byCard ? { id: 2210, name: 'Stripe' } : { id: null, name: null },
        created_at: created,
        updated_at: created,
      });
    }
  }
  return numbered(out, ids(input.seed, S.pay, 15_500_000, 7));
}

/** A sent message (or an event, with no subject nor body) about an invoice or estimate. */
function message(r: Rng, at: number, recipients: JsonObject[], event: string | null, subject: string) {
  const sender = pick(r, [
    ['Sam Rivera', 'sam.rivera@example.com'],
    ['Zoë Ångström', 'zoe@example.com'],
  ]);
  const stamp = iso(at);
  return {
    sent_by: sender[0],
    sent_by_email: sender[1],
    sent_from: sender[0],
    sent_from_email: sender[1],
    recipients: event === null ? recipients : [],
    subject: event === null ? subject : null,
    body: event === null ? `Hello,\r\n\r\nPlease find "${subject}" attached.\r\n\r\nThanks!` : null,
    send_me_a_copy: r() < 0.3,
    event_type: event,
    created_at: stamp,
    updated_at: stamp,
  };
}

function invoiceMessages(input: PerParentInput): JsonObject[] {
  const out: JsonObject[] = [];
  for (const invoice of input.invoices) {
    if (typeof invoice.sent_at !== 'string') continue;
    const r = rng(input.seed, S.invMsg, invoice.id as number);
    const sent = Date.parse(invoice.sent_at);
    const to = recipientsOf(r, input.contacts, (invoice.client as JsonObject).id);
    const subject = `Invoice #${invoice.number as string}`;
    const extra = { include_link_to_client_invoice: false, attach_pdf: true, reminder: false };
    out.push({
      invoice_id: invoice.id,
      ...message(r, sent, to, null, subject),
      ...extra,
      thank_you: false,
      send_reminder_on: null,
    });
    if (invoice.state === 'paid' && typeof invoice.paid_at === 'string' && r() < 0.5) {
      const at = Date.parse(invoice.paid_at) + 7_200_000;
      out.push({
        invoice_id: invoice.id,
        ...message(r, at, to, null, `Thank you — ${subject}`),
        ...extra,
        thank_you: true,
        send_reminder_on: null,
      });
    }
    if (invoice.state === 'closed') {
      const at = Date.parse(invoice.closed_at as string);
      out.push({
        invoice_id: invoice.id,
        ...message(r, at, to, 'close', subject),
        ...extra,
        attach_pdf: false,
        thank_you: false,
        send_reminder_on: null,
      });
    }
  }
  return numbered(out, ids(input.seed, S.invMsg, 88_000_000, 9));
}

function estimateMessages(input: PerParentInput): JsonObject[] {
  const out: JsonObject[] = [];
  for (const estimate of input.estimates) {
    if (typeof estimate.sent_at !== 'string') continue;
    const r = rng(input.seed, S.estMsg, estimate.id as number);
    const to = recipientsOf(r, input.contacts, (estimate.client as JsonObject).id);
    const subject = `Estimate #${estimate.number as string}`;
    out.push({ estimate_id: estimate.id, ...message(r, Date.parse(estimate.sent_at), to, null, subject) });
    const decided = estimate.accepted_at ?? estimate.declined_at;
    if (typeof decided === 'string') {
      const event = estimate.accepted_at ? 'accept' : 'decline';
      out.push({ estimate_id: estimate.id, ...message(r, Date.parse(decided), to, event, subject) });
    }
  }
  return numbered(out, ids(input.seed, S.estMsg, 5_100_000, 5));
}

/** A user's rates, oldest first: the last one is the user's current rate (end_date null). */
function rates(input: PerParentInput, field: 'default_hourly_rate' | 'cost_rate'): JsonObject[] {
  const out: JsonObject[] = [];
  for (const user of input.users) {
    const current = user[field];
    if (typeof current !== 'number') continue;
    const r = rng(input.seed, S.rates, user.id as number, field.length);
    const created = Date.parse(user.created_at as string);
    const n = 1 + intBelow(r, 3);
    const starts = Array.from({ length: n }, (_, k) => created + k * 365 * DAY_MS);
    starts.forEach((start, k) => {
      const last = k === n - 1;
      const stamp = iso(start + 3_600_000);
      out.push({
        user_id: user.id,
        amount: last ? current : round2(current - (n - 1 - k) * 10),
        start_date: date(start),
        end_date: last ? null : date(starts[k + 1] - DAY_MS),
        created_at: stamp,
        // an earlier rate got its end_date when the next one began
        updated_at: last ? stamp : iso(starts[k + 1] + 3_600_000),
      });
    });
  }
  const base = field === 'cost_rate' ? 990_000 : 2_100_000;
  return numbered(out, ids(input.seed, S.rates + base, base, 3));
}

/**
 * Each user's active project assignments (the user assignment, its project's client and task
 * assignments), as `/v2/users/{id}/project_assignments` shows them: the id is the user assignment's.
 */
function projectAssignments(input: PerParentInput): JsonObject[] {
  const tasksOf = new Map<number, JsonObject[]>();
  for (const ta of input.taskAssignments) {
    const pid = (ta.project as JsonObject).id as number;
    const { project: _project, ...rest } = ta;
    tasksOf.set(pid, [...(tasksOf.get(pid) ?? []), rest]);
  }
  const out: JsonObject[] = [];
  for (const ua of input.userAssignments) {
    if (ua.is_active !== true) continue;
    const pid = (ua.project as JsonObject).id as number;
    const { user, ...rest } = ua;
    out.push({
      user_id: (user as JsonObject).id,
      ...rest,
      client: input.clientOfProject.get(pid) ?? null,
      task_assignments: tasksOf.get(pid) ?? [],
    });
  }
  return out.sort((a, b) => (a.id as number) - (b.id as number));
}

/** The per-parent objects of an account, by object name. */
export function generatePerParent(input: PerParentInput): Map<string, JsonObject[]> {
  return new Map([
    ['invoice_payments', payments(input)],
    ['invoice_messages', invoiceMessages(input)],
    ['estimate_messages', estimateMessages(input)],
    ['billable_rates', rates(input, 'default_hourly_rate')],
    ['cost_rates', rates(input, 'cost_rate')],
    ['project_assignments', projectAssignments(input)],
  ]);
}
