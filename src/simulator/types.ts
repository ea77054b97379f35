import type { JsonObject, JsonValue } from '../catalog/types.js';
import type { Clock } from '../clock.js';

export type RateLimitVariant = 'retry-after' | 'no-retry-after' | 'html' | 'empty';

export interface SimulatorRateLimit {
  readonly requests: number;
  /** Rolling window, measured on the simulator's clock. */
  readonly windowMs: number;
  /**
   * How the 429 looks. Default `no-retry-after`: what Harvest was recorded sending (text/html, empty
   * body, no Retry-After). `retry-after` is the documented form (JSON body, Retry-After in whole
   * seconds, rounded up): tests that need a fast 429 use it.
   */
  readonly variant?: RateLimitVariant;
}

/**
 * Which fields the account's API sends, as a property of the account (never random per record):
 * - `current`: the shapes of today's docs (approval_status on every time entry and expense,
 *   payment_options on every invoice, users with access_roles);
 * - `2024`: as recorded in May 2024: time entries and expenses without approval_status;
 * - `2019`: as recorded in 2019–2020: also no hours_without_timer or rounded_hours, no
 *   use_default_rates in assignments, no statement_key on clients, no payment_options on invoices,
 *   and users with the legacy permission flags (is_admin, is_project_manager, can_see_rates,
 *   can_create_projects, can_create_invoices) instead of access_roles.
 */
export type Vintage = 'current' | '2024' | '2019';

/** Harvest's manager sub-permissions (users' access_roles beside `manager`). */
export type ManagerPermission =
  | 'project_creator'
  | 'billable_rates_manager'
  | 'managed_projects_invoice_drafter'
  | 'managed_projects_invoice_manager'
  | 'client_and_task_manager'
  | 'time_and_expenses_manager'
  | 'estimates_manager';

/**
 * Faults on demand. Rates are probabilities per request, drawn from `seed` and the request's
 * sequence number, so the same requests in the same order meet the same faults.
 * Faults never apply to `/_simulator` routes.
 */
export interface Faults {
  readonly seed?: number;
  /** 500, 502 or 503, each with the body such a server sends. */
  readonly errorRate?: number;
  /** The socket is destroyed before any response byte. */
  readonly resetRate?: number;
  /** Headers announce the whole body, half of it is sent, then the connection ends. */
  readonly truncateRate?: number;
  /** A 200 whose body is not valid JSON. */
  readonly invalidJsonRate?: number;
  readonly slowRate?: number;
  /** Delay of a slow response; default 2000 ms. */
  readonly slowMs?: number;
  /** The next `count` requests get this 429. */
  readonly burst429?: { readonly count: number; readonly variant: RateLimitVariant };
  /** This object's links.next points back to its own first page, forever. */
  readonly loopNext?: string;
  /** One record of this object (the first one served) comes without its `id`. */
  readonly dropIdOnce?: string;
  /** The admin token gets 401 once this many list pages have been served. */
  readonly revokeAfterPages?: number;
  /**
   * `from`/`to` are not applied (still validated): an API, or a proxy in front of one, that ignores
   * the date filter Harvest documents. A client that splits reads by date must notice.
   */
  readonly ignoreDateFilter?: boolean;
}

/** An API request about to be answered (never a `/_simulator` route). */
export interface SimulatorRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
}

export interface SimulatorOptions {
  /** Default 0: any free port. */
  readonly port?: number;
  readonly host?: string;
  readonly seed?: number;
  /** round(10 000 × scale) time entries; other objects in proportion (√scale beyond 1). */
  readonly scale?: number;
  readonly adminToken?: string;
  readonly memberToken?: string;
  /**
   * A manager's token: sees the projects they manage, their teammates (the member) and their own
   * records, and gets 403 where managers may not read (harvest-api-v2.md §8).
   */
  readonly managerToken?: string;
  /** The manager's sub-permissions; default none (a plain manager). */
  readonly managerPermissions?: readonly ManagerPermission[];
  readonly accountId?: string;
  /** Which fields the account sends; default `current`. */
  readonly vintage?: Vintage;
  /**
   * Whether renaming a client, project, task or user (or changing any record others embed a copy
   * of) also moves the updated_at of the records that embed it. Harvest does not document it;
   * default false: embedded copies change, their records' updated_at stays.
   */
  readonly renameTouchesEmbedding?: boolean;
  /**
   * Whether running timers' hours grow with the simulator's clock (default true, as Harvest's do,
   * without moving updated_at). False freezes them at the value they had when generated.
   */
  readonly timersGrow?: boolean;
  /**
   * Serves a list page's bytes again, as first serialised, for the same URL and token role until a
   * record or a fault changes (a benchmark's source that is not itself the bottleneck). Timers do
   * not grow while it is on. Default false.
   */
  readonly cachePages?: boolean;
  /** Default 100 requests / 15 s; null turns rate limiting off. */
  readonly rateLimit?: SimulatorRateLimit | null;
  /**
   * The budget of `/v2/reports/…`, counted apart from the main one: default 100 requests / 15 min
   * (Harvest's), or none when `rateLimit` is null and this is not given.
   */
  readonly reportsRateLimit?: SimulatorRateLimit | null;
  readonly faults?: Faults | null;
  /** Stamps changed records and the Date header, runs timers and the rate-limit window. Default: the system clock. */
  readonly clock?: Clock;
  /** When the generated data was "made" (ISO 8601): every generated updated_at is before it. */
  readonly epoch?: string;
}

export interface Counters {
  /** Requests to the API (not to `/_simulator`), whatever their outcome. */
  total: number;
  byPath: Record<string, number>;
  /** By status code; connection resets count under "reset". */
  byStatus: Record<string, number>;
  rateLimited: number;
  /** List pages answered with 200. */
  listPages: number;
}

export interface Simulator {
  readonly url: string;
  readonly accountId: string;
  readonly adminToken: string;
  readonly memberToken: string;
  readonly managerToken: string;
  stop(): Promise<void>;
  update(object: string, id: number, patch: JsonObject): JsonObject;
  create(object: string, fields?: JsonObject): JsonObject;
  /** Hard delete, as Harvest does: no tombstone. False when there was no such record. */
  remove(object: string, id: number): boolean;
  /** Replaces an invoice's or estimate's line items (items without an id get a fresh one); bumps updated_at. */
  updateLineItems(object: string, id: number, items: JsonObject[]): JsonObject;
  /** Schema drift: the API starts sending `field` (a dotted path reaches into a nested object). */
  addField(object: string, field: string, valueOf: (record: JsonObject) => JsonValue): void;
  revoke(token: string): void;
  setFaults(faults: Faults | null): void;
  setRateLimit(rateLimit: SimulatorRateLimit | null): void;
  setReportsRateLimit(rateLimit: SimulatorRateLimit | null): void;
  readonly counters: Readonly<Counters>;
  resetCounters(): void;
  /** Current records exactly as an admin token would read them, newest first. */
  records(object: string): Generator<JsonObject>;
  /**
   * Runs `hook` before each API request is answered (after it is counted, before faults and auth),
   * or stops with null: a test changes the account there, as people change Harvest between two
   * calls of a read. A hook that throws gets the request a 500.
   */
  onRequest(hook: ((request: SimulatorRequest) => void) | null): void;
}
