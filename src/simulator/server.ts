import { createServer } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { JsonObject, JsonValue, ObjectSpec } from '../catalog/types.js';
import { MORE_OBJECTS, OBJECTS } from '../catalog/objects.js';
import type { Clock } from '../clock.js';
import { PER_PAGE } from '../limits.js';
import { generateAccount } from './generate.js';
import type { Account } from './generate.js';
import { SimulatorError } from './errors.js';
import { generatedStore, materializedStore } from './store.js';
import type { ObjectStore, RecordView } from './store.js';
import { hash32, unit } from './random.js';
import { mayReadUnder, scopeOf } from './access.js';
import type { Caller, Role } from './access.js';
import { EmbeddedCopies } from './embeds.js';
import { InvalidParameter, listFilter, parseDate } from './filters.js';
import { reportRows } from './reports.js';
import { timerView } from './timers.js';
import { vintageView } from './vintage.js';
import type {
  Counters,
  Faults,
  ManagerPermission,
  RateLimitVariant,
  Simulator,
  SimulatorRateLimit,
  SimulatorRequest,
  Vintage,
} from './types.js';

/*
 * HTTP side of the simulator: Harvest's auth, envelope, paging, filters, rate limit and faults,
 * plus the control routes below. node:http directly, because resets and truncated bodies need
 * the raw socket.
 *
 * Control routes (JSON; `Authorization: Bearer <admin token>`, accepted even after revoke();
 * never counted, never faulted):
 *   GET    /_simulator/counters                          → Counters
 *   POST   /_simulator/counters/reset                    → {}
 *   GET    /_simulator/records/:object                   → [record, …] as the API sends them
 *   GET    /_simulator/records/:object/:id               → record | 404
 *   POST   /_simulator/records/:object          {fields} → 201 record (fresh id, timestamps = now)
 *   PATCH  /_simulator/records/:object/:id      {patch}  → record (updated_at = now)
 *   DELETE /_simulator/records/:object/:id               → {"deleted":true} | 404
 *   PUT    /_simulator/records/:object/:id/line_items {"line_items":[…]} → record
 *   POST   /_simulator/fields   {"object","field","value"} → {} (every record gets field = value)
 *   POST   /_simulator/revoke   {"token"}                → {}
 *   PUT    /_simulator/faults   Faults | null            → {}
 *   PUT    /_simulator/rate-limit {"requests","windowMs","variant"?} | null → {}
 *   PUT    /_simulator/reports-rate-limit {"requests","windowMs","variant"?} | null → {} (the reports' own budget)
 */

const INVALID_TOKEN =
  'The access token provided is expired, revoked, malformed or invalid for other reasons.';
const JSON_TYPE = 'application/json; charset=utf-8';
/** Harvest's documented maximum, the same limit the client keeps to. */
const MAX_PER_PAGE = PER_PAGE.max;

const NOT_FOUND_HTML = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>HARVEST: Can\u02bct find page</title>
</head>
<body><h1>Can\u02bct find page</h1><p>The page you were looking for doesn\u2019t exist.</p></body>
</html>
`;
const HTML_429 =
  '<html><head><title>429 Too Many Requests</title></head><body><center><h1>429 Too Many Requests</h1></center><hr><center>nginx</center></body></html>\n';

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly seed: number;
  readonly scale: number;
  readonly adminToken: string;
  readonly memberToken: string;
  readonly managerToken: string;
  readonly managerPermissions: readonly ManagerPermission[];
  readonly accountId: string;
  readonly rateLimit: SimulatorRateLimit | null;
  readonly faults: Faults | null;
  readonly clock: Clock;
  readonly epochMs: number;
  readonly vintage: Vintage;
  readonly renameTouchesEmbedding: boolean;
  readonly timersGrow: boolean;
  readonly cachePages: boolean;
}

interface Reply {
  status: number;
  headers: OutgoingHttpHeaders;
  /** A Buffer for a page served from the page cache (already UTF-8). */
  body: string | Buffer;
  /** Whether a data fault (truncation, invalid JSON) may spoil it. */
  data?: boolean;
}

/** Every catalog object the simulator serves. */
const SERVED: readonly ObjectSpec[] = [...OBJECTS, ...MORE_OBJECTS.filter((o) => !OBJECTS.includes(o))];
const findServed = (name: string) => SERVED.find((o) => o.name === name);

/** The object listed at `/v2/{resource}/{id}/{sub}` (invoice payments), if any. */
function perParentSpec(resource: string, sub: string): ObjectSpec | undefined {
  return SERVED.find((o) => o.parent !== undefined && o.endpoint === `/v2/${resource}/{id}/${sub}`);
}

const emptyCounters = (): Counters => ({ total: 0, byPath: {}, byStatus: {}, rateLimited: 0, listPages: 0 });

class HttpError extends Error {
  constructor(readonly reply: Reply) {
    super(`HTTP ${reply.status}`);
  }
}

function json(status: number, body: JsonValue, headers: OutgoingHttpHeaders = {}): Reply {
  return { status, headers: { 'Content-Type': JSON_TYPE, ...headers }, body: JSON.stringify(body) };
}

/** Harvest's 422: one `message`, repeated in a Hint header (as recorded). */
const unprocessable = (message: string) => new HttpError(json(422, { message }, { Hint: message }));

/** Views applied in this order: embedded copies first, the account's vintage last. */
function compose(views: (RecordView | null)[]): RecordView | null {
  const active = views.filter((v): v is RecordView => v !== null);
  if (active.length === 0) return null;
  return (record) => active.reduce((r, view) => view(r), record);
}

export class SimulatorServer implements Simulator {
  readonly accountId: string;
  readonly adminToken: string;
  readonly memberToken: string;
  readonly managerToken: string;
  url = '';
  private readonly account: Account;
  private readonly stores = new Map<string, ObjectStore>();
  private readonly embeds = new EmbeddedCopies(OBJECTS);
  private readonly revoked = new Set<string>();
  private rateLimit: SimulatorRateLimit | null;
  private faults: Faults | null;
  private readonly accepted: number[] = [];
  private reportsRateLimit: SimulatorRateLimit | null = null;
  private readonly reportsAccepted: number[] = [];
  private burstLeft = 0;
  private faultSeq = 0;
  private dropIdDone = false;
  private stats: Counters = emptyCounters();
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private requestHook: ((request: SimulatorRequest) => void) | null = null;
  /** List replies by role and URL (config.cachePages); emptied by any change to records or faults. */
  private readonly pages: Map<string, Reply> | null;

  constructor(private readonly config: ServerConfig) {
    this.accountId = config.accountId;
    this.adminToken = config.adminToken;
    this.memberToken = config.memberToken;
    this.managerToken = config.managerToken;
    this.rateLimit = config.rateLimit;
    this.pages = config.cachePages ? new Map() : null;
    this.faults = null;
    this.setFaults(config.faults);
    this.account = generateAccount({
      seed: config.seed,
      scale: config.scale,
      epochMs: config.epochMs,
      managerPermissions: config.managerPermissions,
    });
    for (const spec of SERVED) {
      // objects listed per parent are built on first use (store())
      if (spec.singleton || spec.report || spec.parent) continue;
      const source = this.account.generated.get(spec.name);
      const records = this.account.materialized.get(spec.name);
      let store: ObjectStore;
      if (source) store = generatedStore(spec, source, config.epochMs, config.seed);
      else if (records) store = materializedStore(spec, records, config.seed);
      else throw new SimulatorError(`the simulator has no generator for ${spec.name}`);
      this.addStore(store);
    }
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.config.port, this.config.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.url = `http://${host}:${address.port}`;
  }

  /** Where links (next pages) point: a front serving several accounts (accounts.ts) puts its own URL here. */
  setPublicUrl(url: string): void {
    this.url = url;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
  }

  // --- change API

  private addStore(store: ObjectStore): ObjectStore {
    const { spec } = store;
    const timers =
      this.config.timersGrow && 'is_running' in spec.fields ? timerView(this.config.clock) : null;
    store.setView(
      compose([this.embeds.view(spec.name), timers, vintageView(this.config.vintage, spec.name)]),
    );
    this.stores.set(spec.name, store);
    return store;
  }

  private store(object: string): ObjectStore {
    const store = this.stores.get(object);
    if (store) return store;
    const spec = findServed(object);
    const records = spec?.parent ? this.account.perParent().get(object) : undefined;
    if (!spec || !records) throw new SimulatorError(`unknown object "${object}"`);
    return this.addStore(materializedStore(spec, records, this.config.seed));
  }

  update(object: string, id: number, patch: JsonObject): JsonObject {
    this.pages?.clear();
    const parent = this.store(object).spec.parent;
    const record = this.store(object).get(id);
    if (parent && record) this.touchParent(object, parent.object, record[parent.key]);
    return this.change(object, id, patch, new Set());
  }

  /**
   * An update, and what it does to the copies other records embed of this one: they show the new
   * values at once; with renameTouchesEmbedding their records' updated_at moves too (each record
   * once per change, however many of its copies it touches).
   */
  private change(object: string, id: number, patch: JsonObject, touched: Set<string>): JsonObject {
    const store = this.store(object);
    const before = store.get(id);
    const now = this.config.clock.now();
    const after = store.update(id, patch, now);
    touched.add(`${object}:${id}`);
    if (before && this.embeds.changed(object, before, after) && this.config.renameTouchesEmbedding) {
      for (const [embedder, slots] of this.embeds.embeddersOf(object)) {
        const ids: number[] = [];
        for (const record of this.store(embedder).records()) {
          const rid = record.id as number;
          if (!touched.has(`${embedder}:${rid}`) && EmbeddedCopies.embeds(record, slots, id)) ids.push(rid);
        }
        for (const rid of ids) {
          if (!touched.has(`${embedder}:${rid}`)) this.change(embedder, rid, {}, touched);
        }
      }
    }
    return after;
  }

  /** A record listed per parent (a payment) needs its parent, whose updated_at moves with it. */
  create(object: string, fields: JsonObject = {}): JsonObject {
    this.pages?.clear();
    const parent = this.store(object).spec.parent;
    if (parent) this.touchParent(object, parent.object, fields[parent.key]);
    return this.store(object).create(fields, this.config.clock.now());
  }

  /** A deleted invoice, estimate or user takes the records listed under it along, as on Harvest. */
  remove(object: string, id: number): boolean {
    this.pages?.clear();
    const store = this.store(object);
    const parent = store.spec.parent;
    const record = store.get(id);
    if (parent && record) this.touchParent(object, parent.object, record[parent.key]);
    for (const child of SERVED.filter((o) => o.parent?.object === object)) {
      const key = child.parent?.key ?? '';
      const under = [...this.store(child.name).records()].filter((r) => r[key] === id);
      for (const r of under) this.store(child.name).remove(r.id as number);
    }
    return store.remove(id);
  }

  /**
   * Recording a payment or sending a message changes the invoice (its due amount, its state); a
   * new rate changes the user's current rate: the parent's updated_at moves, as on Harvest.
   */
  private touchParent(object: string, parent: string, id: JsonValue | undefined): void {
    if (typeof id !== 'number' || !this.store(parent).get(id)) {
      throw new SimulatorError(`${object} needs the id of an existing record of ${parent}`);
    }
    this.update(parent, id, {});
  }

  updateLineItems(object: string, id: number, items: JsonObject[]): JsonObject {
    this.pages?.clear();
    const store = this.store(object);
    const child = store.spec.children[0];
    if (!child) throw new SimulatorError(`${object} has no line items`);
    return store.update(id, { [child.field]: items }, this.config.clock.now());
  }

  addField(object: string, field: string, valueOf: (record: JsonObject) => JsonValue): void {
    const path = field.split('.');
    if (path.some((p) => p === '')) throw new SimulatorError(`bad field name "${field}"`);
    this.pages?.clear();
    this.store(object).addField({ path, valueOf });
  }

  revoke(token: string): void {
    this.revoked.add(token);
  }

  setFaults(faults: Faults | null): void {
    this.pages?.clear();
    this.faults = faults;
    this.burstLeft = faults?.burst429?.count ?? 0;
    this.dropIdDone = false;
    this.faultSeq = 0;
  }

  setRateLimit(rateLimit: SimulatorRateLimit | null): void {
    if (rateLimit && !(rateLimit.requests >= 1 && rateLimit.windowMs > 0)) {
      throw new SimulatorError('a rate limit needs requests ≥ 1 and windowMs > 0');
    }
    this.rateLimit = rateLimit;
    this.accepted.length = 0;
  }

  setReportsRateLimit(rateLimit: SimulatorRateLimit | null): void {
    if (rateLimit && !(rateLimit.requests >= 1 && rateLimit.windowMs > 0)) {
      throw new SimulatorError('a rate limit needs requests ≥ 1 and windowMs > 0');
    }
    this.reportsRateLimit = rateLimit;
    this.reportsAccepted.length = 0;
  }

  get counters(): Readonly<Counters> {
    return structuredClone(this.stats);
  }

  resetCounters(): void {
    this.stats = emptyCounters();
  }

  records(object: string): Generator<JsonObject> {
    if (object === 'company') {
      const company: JsonObject = { id: Number(this.accountId), ...this.account.company };
      return (function* () {
        yield company;
      })();
    }
    return this.store(object).records();
  }

  onRequest(hook: ((request: SimulatorRequest) => void) | null): void {
    this.requestHook = hook;
  }

  // --- HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator');
    if (url.pathname.startsWith('/_simulator/')) {
      const reply = await this.control(req, url).catch((error: unknown) => this.errorReply(error));
      return this.send(res, reply, false);
    }
    const stats = this.stats;
    stats.total++;
    stats.byPath[url.pathname] = (stats.byPath[url.pathname] ?? 0) + 1;
    const count = (status: string) => (stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1);
    try {
      this.requestHook?.({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams });
    } catch {
      count('500');
      return this.send(res, json(500, { status: 500, error: 'Internal Server Error' }), false);
    }

    const faults = this.faults;
    const seq = this.faultSeq++;
    const roll = (kind: number, rate: number | undefined) =>
      rate !== undefined && rate > 0 && unit(faults?.seed ?? 0, seq, kind) < rate;
    if (faults) {
      if (this.burstLeft > 0 && faults.burst429) {
        this.burstLeft--;
        stats.rateLimited++;
        count('429');
        return this.send(res, this.tooMany(faults.burst429.variant, 1), false);
      }
      if (roll(1, faults.resetRate)) {
        count('reset');
        req.socket.destroy();
        return;
      }
      if (roll(2, faults.slowRate)) await new Promise((r) => setTimeout(r, faults.slowMs ?? 2000));
      if (roll(3, faults.errorRate)) {
        const reply = this.serverError(hash32(faults.seed ?? 0, seq) % 3);
        count(String(reply.status));
        return this.send(res, reply, false);
      }
    }

    let reply: Reply;
    try {
      reply = this.api(req, url);
    } catch (error) {
      reply = this.errorReply(error);
    }
    if (reply.status === 429) stats.rateLimited++;
    count(String(reply.status));
    let spoil: 'truncate' | 'invalid' | undefined;
    if (faults && reply.data) {
      if (roll(4, faults.truncateRate)) spoil = 'truncate';
      else if (roll(5, faults.invalidJsonRate)) spoil = 'invalid';
    }
    this.send(res, reply, true, spoil);
  }

  private errorReply(error: unknown): Reply {
    if (error instanceof HttpError) return error.reply;
    if (error instanceof InvalidParameter) return unprocessable(error.message).reply;
    if (error instanceof SimulatorError) return json(400, { error: error.message });
    return json(500, { status: 500, error: 'Internal Server Error' });
  }

  private send(res: ServerResponse, reply: Reply, api: boolean, spoil?: 'truncate' | 'invalid'): void {
    const headers: OutgoingHttpHeaders = {
      Date: new Date(this.config.clock.now()).toUTCString(),
      'Cache-Control': 'no-store',
      'X-Request-Id': (hash32(this.stats.total, this.faultSeq) >>> 0).toString(16).padStart(8, '0'),
      ...reply.headers,
    };
    if (!api) delete headers['X-Request-Id'];
    let body = reply.body;
    if (spoil === 'invalid') {
      const text = body.toString();
      body = text.slice(0, Math.floor(text.length / 2)) + '<!-- upstream timeout -->';
    }
    headers['Content-Length'] = Buffer.byteLength(body);
    res.writeHead(reply.status, headers);
    if (spoil === 'truncate') {
      // the announced length never arrives: the client sees a body cut short
      const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
      res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => res.socket?.destroy());
      return;
    }
    if (typeof body === 'string') res.end(body, 'utf8');
    else res.end(body);
  }

  private tooMany(variant: RateLimitVariant, retryAfter: number): Reply {
    switch (variant) {
      case 'retry-after':
        return json(
          429,
          { message: `API rate limit exceeded. Retry in ${retryAfter} seconds.` },
          {
            'Retry-After': String(retryAfter),
          },
        );
      case 'html':
        return {
          status: 429,
          headers: { 'Content-Type': 'text/html', 'Retry-After': String(retryAfter) },
          body: HTML_429,
        };
      case 'empty':
        return {
          status: 429,
          headers: { 'Content-Type': 'text/html', 'Retry-After': String(retryAfter) },
          body: '',
        };
      case 'no-retry-after':
        // what Harvest was recorded sending: text/html, empty body, no Retry-After
        return { status: 429, headers: { 'Content-Type': 'text/html' }, body: '' };
    }
  }

  private serverError(which: number): Reply {
    if (which === 0) return json(500, { status: 500, error: 'Internal Server Error' });
    const [status, text] = which === 1 ? [502, 'Bad Gateway'] : [503, 'Service Unavailable'];
    return {
      status,
      headers: { 'Content-Type': 'text/html' },
      body: `<html><head><title>${status} ${text}</title></head><body><center><h1>${status} ${text}</h1></center><hr><center>cloudflare</center></body></html>\n`,
    };
  }

  private authenticate(req: IncomingMessage, url: URL): Role {
    const unauthorized = () =>
      new HttpError(
        json(
          401,
          { error: 'invalid_token', error_description: INVALID_TOKEN },
          {
            'Content-Type': 'application/json',
            'WWW-Authenticate': `Bearer realm="Rack::OAuth2 Protected Resources", error="invalid_token", error_description="${INVALID_TOKEN}"`,
          },
        ),
      );
    const header = req.headers.authorization ?? '';
    const token = /^Bearer\s+(.+)$/i.exec(header)?.[1].trim() ?? url.searchParams.get('access_token') ?? '';
    const account =
      (req.headers['harvest-account-id'] as string | undefined) ?? url.searchParams.get('account_id');
    if (account !== this.accountId || this.revoked.has(token)) throw unauthorized();
    if (token === this.adminToken) {
      const limit = this.faults?.revokeAfterPages;
      if (limit !== undefined && this.stats.listPages >= limit) throw unauthorized();
      return 'admin';
    }
    if (token === this.memberToken) return 'member';
    if (token === this.managerToken) return 'manager';
    throw unauthorized();
  }

  private caller(role: Role): Caller {
    const a = this.account;
    const userId = { admin: a.adminUserId, member: a.memberUserId, manager: a.managerUserId }[role];
    const users = this.store('users');
    const me = users.get(userId);
    const roles = Array.isArray(me?.access_roles) ? me.access_roles : [];
    return {
      role,
      userId,
      permissions: roles.filter((r): r is string => typeof r === 'string'),
      managedProjectIds: a.managedProjectIds,
      teammateIds: a.teammateIds,
    };
  }

  /**
   * Rolling window over accepted requests; a refused request does not use up the budget. Reports
   * count against a budget of their own, as on Harvest (harvest-api-v2.md §4).
   */
  private checkRateLimit(reports: boolean): void {
    const limit = reports ? this.reportsRateLimit : this.rateLimit;
    const accepted = reports ? this.reportsAccepted : this.accepted;
    if (!limit) return;
    // the injected clock: a test moves the window by moving its clock, not by waiting
    const now = this.config.clock.now();
    while (accepted.length > 0 && accepted[0] <= now - limit.windowMs) accepted.shift();
    if (accepted.length >= limit.requests) {
      const retryAfter = Math.max(1, Math.ceil((accepted[0] + limit.windowMs - now) / 1000));
      throw new HttpError(this.tooMany(limit.variant ?? 'no-retry-after', retryAfter));
    }
    accepted.push(now);
  }

  private api(req: IncomingMessage, url: URL): Reply {
    const m = /^(\/api)?\/v2\/([a-z_]+)(?:\/([a-z0-9_]+))?(?:\/([a-z_]+))?\/?$/.exec(url.pathname);
    if (req.method !== 'GET' || !m) return notFoundHtml();
    const [, prefix = '', resource, sub, third] = m;
    const ua = req.headers['user-agent'];
    if (!ua || !ua.trim()) {
      throw new HttpError(
        json(400, {
          message: 'Please include a User-Agent header with your application name and a contact.',
        }),
      );
    }
    const role = this.authenticate(req, url);
    this.checkRateLimit(resource === 'reports');

    const caller = this.caller(role);
    if (resource === 'users' && sub === 'me' && third === undefined) {
      const me = this.store('users').get(caller.userId);
      if (!me) throw notFoundJson();
      if (role !== 'admin' && !caller.permissions.includes('billable_rates_manager')) {
        // a non-admin's own record comes without the rate fields (as recorded from Harvest)
        const { default_hourly_rate: _rate, cost_rate: _cost, ...rest } = me;
        return { ...json(200, rest), data: true };
      }
      return { ...json(200, me), data: true };
    }
    if (resource === 'company' && sub === undefined)
      return { ...json(200, this.account.company), data: true };
    if (resource === 'reports') {
      // cached like a list: a report page aggregates every time entry of its window
      return this.cachedList(`${caller.role} ${caller.userId} ${url.pathname}${url.search}`, () =>
        this.report(caller, [sub, third].filter(Boolean).join('/'), url, prefix),
      );
    }
    if (third !== undefined) return this.perParent(caller, { resource, sub: sub ?? '', third }, url, prefix);

    const spec = findServed(resource);
    if (!spec || spec.parent || spec.report || spec.singleton) return notFoundHtml();
    const scope = this.allowed(caller, spec);
    const store = this.store(spec.name);
    if (sub !== undefined) {
      const record = /^\d+$/.test(sub) ? store.get(Number(sub)) : undefined;
      if (!record || (scope && !scope(record))) throw notFoundJson();
      return { ...json(200, record), data: true };
    }
    return this.cachedList(`${caller.role} ${caller.userId} ${url.pathname}${url.search}`, () =>
      this.list(spec, store, url, `${this.url}${prefix}/v2/${spec.name}`, scope),
    );
  }

  /** A list reply from the page cache when it is on and holds one (only while no fault is set). */
  private cachedList(key: string, make: () => Reply): Reply {
    const pages = this.pages;
    if (!pages || this.faults) return make();
    const cached = pages.get(key);
    if (cached) {
      this.stats.listPages++;
      return cached;
    }
    const reply = make();
    pages.set(key, { ...reply, body: Buffer.from(reply.body) });
    return reply;
  }

  /** What the caller may see of `spec`; a 403 with Harvest's body when nothing. */
  private allowed(caller: Caller, spec: ObjectSpec): ((r: JsonObject) => boolean) | null {
    const scope = scopeOf(caller, spec);
    if (scope === 'forbidden') throw forbidden();
    return scope;
  }

  /** `/v2/invoices/{id}/payments` and the like: the records of one parent, without its id. */
  private perParent(
    caller: Caller,
    path: { resource: string; sub: string; third: string },
    url: URL,
    prefix: string,
  ): Reply {
    const spec = perParentSpec(path.resource, path.third);
    if (!spec?.parent) return notFoundHtml();
    const parentId = /^\d+$/.test(path.sub) ? Number(path.sub) : NaN;
    const scope = this.allowed(caller, spec);
    if (!this.store(spec.parent.object).get(parentId)) throw notFoundJson();
    if (!mayReadUnder(caller, spec, parentId)) throw forbidden();
    const key = spec.parent.key;
    const ofParent = (r: JsonObject) => r[key] === parentId && (scope === null || scope(r));
    const base = `${this.url}${prefix}/v2/${path.resource}/${parentId}/${path.third}`;
    // cached like any list (after the permission checks): a page scans the whole child store
    return this.cachedList(`${caller.role} ${caller.userId} ${url.pathname}${url.search}`, () =>
      this.list(spec, this.store(spec.name), url, base, ofParent, key),
    );
  }

  /** `/v2/reports/…`: rows computed from what the caller may see, paged like any list. */
  private report(caller: Caller, path: string, url: URL, prefix: string): Reply {
    const spec = SERVED.find((o) => o.report !== undefined && o.endpoint === `/v2/reports/${path}`);
    if (!spec?.report) return notFoundHtml();
    this.allowed(caller, spec);
    const q = url.searchParams;
    const window: { fromDay?: number; toDay?: number } =
      spec.report.window === 'year' ? reportWindow(q, path.startsWith('time/')) : {};
    const visible = (object: string) => {
      const scope = scopeOf(caller, this.store(object).spec);
      const predicate = typeof scope === 'function' ? scope : undefined;
      return this.store(object).slice({ ...window, predicate }, 0, Number.MAX_SAFE_INTEGER).items;
    };
    const active = q.get('is_active');
    const rows = reportRows(path, {
      entries: window.fromDay === undefined ? [] : visible('time_entries'),
      expenses: window.fromDay === undefined ? [] : visible('expenses'),
      users: [...this.store('users').records()],
      projects: path === 'project_budget' ? visible('projects') : [],
      allEntries: () => this.store('time_entries').slice({}, 0, Number.MAX_SAFE_INTEGER).items,
      ...(active === 'true' || active === 'false' ? { isActive: active === 'true' } : {}),
    });
    // paged as a list: the rows in order, under ids that keep it
    const store = materializedStore(
      spec,
      rows.map((row, i) => ({ ...row, id: rows.length - i })),
      this.config.seed,
    );
    return this.list(spec, store, url, `${this.url}${prefix}/v2/reports/${path}`, null, 'id');
  }

  private list(
    spec: ObjectSpec,
    store: ObjectStore,
    url: URL,
    base: string,
    scope: ((r: JsonObject) => boolean) | null,
    /** A field the stored records carry but the API leaves out (the parent's id). */
    hidden?: string,
  ): Reply {
    const q = url.searchParams;
    const perPageRaw = q.get('per_page');
    const perPage = perPageRaw === null ? spec.defaultPerPage : Number(perPageRaw);
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > MAX_PER_PAGE) {
      throw unprocessable(`per_page must be between 1 and ${MAX_PER_PAGE}`);
    }
    const asked = listFilter(spec, q, scope);
    const filter = this.faults?.ignoreDateFilter ? { ...asked, fromDay: undefined, toDay: undefined } : asked;

    // links repeat the caller's filters; credentials in the query are left out of them
    const reserved = new Set(['page', 'per_page', 'cursor', 'ref', 'access_token', 'account_id']);
    const kept = [...q.entries()].filter(([k]) => !reserved.has(k));
    const link = (lead: [string, string][], ref: string) =>
      `${base}?${new URLSearchParams([...lead, ['per_page', String(perPage)], ...kept, ['ref', ref]]).toString()}`;
    const pageLink = (n: number, ref: string) => link([['page', String(n)]], ref);
    const cursorLink = (lastId: number) =>
      link(
        [['cursor', Buffer.from(JSON.stringify({ after: { id: lastId } })).toString('base64')]],
        'next_cursor',
      );

    let items: JsonObject[];
    let total: number;
    let page: number | null;
    let next: string | null;
    let previousPage: number | null;
    let nextPage: number | null;
    const cursor = q.get('cursor');
    if (spec.paging === 'cursor' && cursor !== null) {
      const after = decodeCursor(cursor);
      const s = store.after(filter, after, perPage);
      ({ items, total } = s);
      const totalPages = Math.max(1, Math.ceil(total / perPage));
      // only the first and last pages carry page numbers when reached by cursor
      page = s.more ? null : totalPages;
      nextPage = null;
      previousPage = s.more || totalPages < 2 ? null : totalPages - 1;
      next = s.more ? cursorLink(items[items.length - 1].id as number) : null;
    } else {
      const pageRaw = Number(q.get('page') ?? '1');
      page = Number.isInteger(pageRaw) && pageRaw >= 1 ? pageRaw : 1;
      const s = store.slice(filter, (page - 1) * perPage, perPage);
      ({ items, total } = s);
      const totalPages = Math.max(1, Math.ceil(total / perPage));
      nextPage = page < totalPages ? page + 1 : null;
      previousPage = page > 1 ? page - 1 : null;
      next =
        nextPage === null
          ? null
          : spec.paging === 'cursor' && items.length > 0
            ? cursorLink(items[items.length - 1].id as number)
            : pageLink(nextPage, 'next');
    }
    const totalPages = Math.max(1, Math.ceil(total / perPage));
    const first = pageLink(1, 'first');
    if (this.faults?.loopNext === spec.name) next = first;
    if (hidden !== undefined) items = items.map(({ [hidden]: _parent, ...rest }) => rest);
    if (this.faults?.dropIdOnce === spec.name && !this.dropIdDone && items.length > 0) {
      this.dropIdDone = true;
      const { id: _id, ...rest } = items[0];
      items = [rest, ...items.slice(1)];
    }
    this.stats.listPages++;
    const envelope = {
      per_page: perPage,
      total_pages: totalPages,
      total_entries: total,
      next_page: nextPage,
      previous_page: previousPage,
      page,
      links: {
        first,
        next,
        previous: previousPage !== null && page !== null ? pageLink(previousPage, 'previous') : null,
        last: pageLink(totalPages, 'last'),
      },
    };
    // the record array is stringified once, straight into the envelope
    const body = `{"${spec.envelope}":${JSON.stringify(items)},${JSON.stringify(envelope).slice(1)}`;
    return { status: 200, headers: { 'Content-Type': JSON_TYPE }, body, data: true };
  }

  // --- control routes

  private async control(req: IncomingMessage, url: URL): Promise<Reply> {
    const token = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1].trim();
    if (token !== this.adminToken) throw new HttpError(json(401, { error: 'the admin token is required' }));
    const parts = url.pathname.split('/').filter(Boolean).slice(1);
    const method = req.method ?? 'GET';
    const body = async (): Promise<JsonValue> => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return null;
      try {
        return JSON.parse(text) as JsonValue;
      } catch {
        throw new HttpError(json(400, { error: 'the body is not valid JSON' }));
      }
    };
    const object = (v: JsonValue): JsonObject => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        throw new HttpError(json(400, { error: 'a JSON object is expected' }));
      }
      return v;
    };
    const notFound = () => new HttpError(json(404, { status: 404, error: 'Not Found' }));
    const [route, name, idText, extra] = parts;
    const id = idText === undefined ? undefined : Number(idText);

    if (route === 'counters' && method === 'GET' && !name)
      return json(200, this.counters as unknown as JsonObject);
    if (route === 'counters' && name === 'reset' && method === 'POST') {
      this.resetCounters();
      return json(200, {});
    }
    if (route === 'records' && name) {
      const store = this.store(name);
      if (id === undefined) {
        if (method === 'GET') return json(200, [...store.records()]);
        if (method === 'POST') return json(201, this.create(name, object((await body()) ?? {})));
      } else if (Number.isInteger(id)) {
        if (extra === 'line_items' && method === 'PUT') {
          const items = object(await body()).line_items;
          if (!Array.isArray(items)) throw new HttpError(json(400, { error: 'line_items must be an array' }));
          return json(200, this.updateLineItems(name, id, items.map(object)));
        }
        if (extra !== undefined) throw notFound();
        if (method === 'GET') {
          const record = store.get(id);
          if (!record) throw notFound();
          return json(200, record);
        }
        if (method === 'PATCH') {
          if (!store.get(id)) throw notFound();
          return json(200, this.update(name, id, object(await body())));
        }
        if (method === 'DELETE') {
          if (!this.remove(name, id)) throw notFound();
          return json(200, { deleted: true });
        }
      }
    }
    if (route === 'fields' && method === 'POST') {
      const b = object(await body());
      if (typeof b.object !== 'string' || typeof b.field !== 'string' || !('value' in b)) {
        throw new HttpError(json(400, { error: 'object, field and value are required' }));
      }
      const value = b.value;
      this.addField(b.object, b.field, () => value);
      return json(200, {});
    }
    if (route === 'revoke' && method === 'POST') {
      const b = object(await body());
      if (typeof b.token !== 'string') throw new HttpError(json(400, { error: 'token is required' }));
      this.revoke(b.token);
      return json(200, {});
    }
    if (route === 'faults' && method === 'PUT') {
      const b = await body();
      this.setFaults(b === null ? null : (object(b) as Faults));
      return json(200, {});
    }
    if (route === 'rate-limit' && method === 'PUT') {
      const b = await body();
      this.setRateLimit(b === null ? null : (object(b) as unknown as SimulatorRateLimit));
      return json(200, {});
    }
    if (route === 'reports-rate-limit' && method === 'PUT') {
      const b = await body();
      this.setReportsRateLimit(b === null ? null : (object(b) as unknown as SimulatorRateLimit));
      return json(200, {});
    }
    throw notFound();
  }
}

/** A report's required `from` and `to` (a time report spans at most a year), as days. */
function reportWindow(q: URLSearchParams, time: boolean): { fromDay: number; toDay: number } {
  const from = q.get('from');
  const to = q.get('to');
  if (from === null || to === null) throw unprocessable('from and to are required');
  const fromDay = parseDate(from, 'from');
  const toDay = parseDate(to, 'to');
  if (toDay < fromDay) throw unprocessable('to must be on or after from');
  if (time && toDay - fromDay > 366) throw unprocessable('the time range must be one year or less');
  return { fromDay, toDay };
}

function forbidden(): HttpError {
  return new HttpError(json(403, { message: 'Not authorized!' }, { Hint: 'Not authorized!' }));
}

function notFoundHtml(): Reply {
  return { status: 404, headers: { 'Content-Type': 'text/html; charset=UTF-8' }, body: NOT_FOUND_HTML };
}

function notFoundJson(): HttpError {
  return new HttpError(
    json(404, { status: 404, error: 'Not Found' }, { 'Content-Type': 'application/json; charset=UTF-8' }),
  );
}

function decodeCursor(cursor: string): number {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64').toString('utf8')) as { after?: { id?: unknown } };
    const id = parsed.after?.id;
    if (typeof id === 'number' && Number.isInteger(id)) return id;
  } catch {
    // fall through to the 422
  }
  throw unprocessable('cursor is invalid');
}
