import { createRequire } from 'node:module';
import { findObject } from '../catalog/objects.js';
import type { AccessLevel, JsonObject, ObjectSpec } from '../catalog/types.js';
import { systemClock, type Clock } from '../clock.js';
import { ConfigError, InterruptedError, valueOrThrow } from '../errors.js';
import { DEFAULT_BASE_URL, normaliseBaseUrl } from './base-url.js';
import {
  HarvestApiError,
  certificateCode,
  certificateError,
  describeForeignBody,
  notHarvestError,
  statusError,
  type HarvestErrorCode,
} from './errors.js';
import {
  DEFAULT_RATE_LIMIT,
  DEFAULT_REPORTS_RATE_LIMIT,
  RateLimiter,
  parseRetryAfter,
  type Grant,
  type RateLimit,
} from './rate-limiter.js';
import type { SharedBudget, SharedGrant } from './shared-budget.js';
import { checkAccountId, checkToken } from './token.js';
import {
  fetchTransport,
  nodeTransport,
  type HttpResponse,
  type HttpTransport,
  type ResponseHeaders,
} from './transport.js';
import { PER_PAGE, wholeNumberProblem } from '../limits.js';
import { redactSecrets } from '../redact.js';
import { DEFAULT_RETRY, attemptSignal, isRetryableStatus, withRetry, type RetryPolicy } from './retry.js';
import type {
  ClientEvent,
  ConnectionCheck,
  FirstPageQuery,
  HarvestPage,
  HarvestSource,
  SourceStats,
} from './types.js';

// defined in base-url.ts; re-exported for callers that import it with the client
export { DEFAULT_BASE_URL };

export interface HarvestClientOptions {
  /** Personal access token. Only ever sent, as a Bearer header, to `baseUrl`'s origin. */
  readonly token: string;
  readonly accountId: string;
  /**
   * API root, with or without `/v2` (see normaliseBaseUrl); default Harvest's. Tests and demos
   * point it at a local server.
   */
  readonly baseUrl?: string;
  /** Harvest requires one naming the product and a contact URL or e-mail. */
  readonly userAgent?: string;
  /** Default 100 requests / 15 s, Harvest's published limit. */
  readonly rateLimit?: RateLimit;
  /**
   * The budget of `/v2/reports/…` calls, a limiter of its own never mixed with the main one.
   * Default 100 requests / 15 min, Harvest's published reports limit.
   */
  readonly reportsRateLimit?: RateLimit;
  /** See RateLimiterOptions.safetyMarginMs (clock granularity only; latency needs none). */
  readonly safetyMarginMs?: number;
  /** Per attempt, headers and body together. Default 30 s. */
  readonly timeoutMs?: number;
  readonly retry?: Partial<RetryPolicy>;
  /** Wait after a 429 that carries no usable Retry-After (real ones often do not). Default 15 s: one window. */
  readonly retryAfterFallbackMs?: number;
  /** A 429 asking to wait longer than this fails the call instead of stalling the run. Default 5 min. */
  readonly maxRetryAfterMs?: number;
  readonly clock?: Clock;
  /** Source of jitter, in [0, 1). */
  readonly random?: () => number;
  /**
   * How requests go out; default `node:http` / `node:https` (nodeTransport). Tests pass one (its
   * `ca`, say) or a `fetch` below.
   */
  readonly transport?: HttpTransport;
  /** Send through this fetch instead (as fetchTransport): tests inject failures with it. */
  readonly fetch?: typeof fetch;
  readonly onEvent?: (event: ClientEvent) => void;
  /** The account's budget shared with other processes, asked after this client's own limiter. */
  readonly sharedBudget?: SharedBudget;
}

/** The parsed body of a successful call, with the headers it came with. */
interface JsonResponse {
  readonly body: unknown;
  readonly headers: ResponseHeaders;
}

/** Who is asking: the name used in messages and stats, and (for list endpoints) the role needed. */
interface Caller {
  readonly object: string;
  readonly access?: AccessLevel;
  /** Awaited between a 2xx body's arrival and its parsing (HarvestSource.fetchPage). */
  readonly beforeParse?: () => Promise<void>;
}

/** One failed attempt that may be tried again. Internal: turned into a HarvestApiError when retries are spent. */
class TransientFailure extends Error {
  constructor(
    readonly kind: 'unavailable' | 'rate-limited' | 'bad-response',
    readonly reason: string,
    readonly status: number | null,
    /** 0 after a 429: the limiter's pause already makes the next attempt wait. */
    readonly delayMs?: number,
  ) {
    super(reason);
  }
}

function packageVersion(): string {
  try {
    // src/harvest and dist/harvest are both two levels below the package root
    const pkg = createRequire(import.meta.url)('../../package.json') as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export const DEFAULT_USER_AGENT = `harvest-sync/${packageVersion()} (+https://github.com/harvest-sync/harvest-sync)`;

/** Path and query of a URL, without any credential Harvest accepts in the query string. */
export function safePath(url: URL): string {
  const params = new URLSearchParams(url.search);
  params.delete('access_token');
  const query = params.toString();
  return `${url.pathname}${query ? `?${query}` : ''}`;
}

function networkReason(error: unknown): string {
  const cause =
    error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string') return `network error (${cause.code})`;
  if (cause && typeof cause.message === 'string') return `network error (${cause.message})`;
  return `network error (${error instanceof Error ? error.message : String(error)})`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Harvest API v2 over HTTP: every call goes through one shared rate limiter, is retried with
 * backoff when that can help, and fails with a HarvestApiError whose message a user can act on.
 */
export class HarvestClient implements HarvestSource {
  readonly baseUrl: string;
  private readonly origin: string;
  private readonly token: string;
  private readonly headers: Record<string, string>;
  private readonly limiter: RateLimiter;
  private readonly reportsLimiter: RateLimiter;
  /** The longest Retry-After waited out on a report (at least the reports window). */
  private readonly maxReportRetryAfterMs: number;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly transport: HttpTransport;
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly retryAfterFallbackMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly onEvent?: (event: ClientEvent) => void;
  private readonly counters = new Map<string, SourceStats>();
  private readonly sharedBudget?: SharedBudget;
  /** The shared grant taken with each local one, settled with it (once). */
  private readonly sharedGrants = new WeakMap<Grant, SharedGrant>();
  private readonly sharedSettled = new WeakSet<Grant>();
  private readonly accountId: number;

  constructor(options: HarvestClientOptions) {
    // a transport may echo an invalid header value in its error (fetch does): refuse it here, without echoing
    const token = valueOrThrow(checkToken('the Harvest access token', options.token));
    const accountId = valueOrThrow(checkAccountId('the Harvest account id', options.accountId));
    this.accountId = Number(accountId);
    this.baseUrl = normaliseBaseUrl(options.baseUrl ?? DEFAULT_BASE_URL);
    this.origin = new URL(this.baseUrl).origin;
    this.token = token;
    this.headers = {
      Authorization: `Bearer ${token}`,
      'Harvest-Account-Id': accountId,
      'User-Agent': options.userAgent ?? DEFAULT_USER_AGENT,
      Accept: 'application/json',
    };
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.transport = options.transport ?? (options.fetch ? fetchTransport(options.fetch) : nodeTransport());
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    if (!Number.isInteger(this.retry.maxAttempts) || this.retry.maxAttempts < 1) {
      throw new ConfigError(
        `retry: maxAttempts must be a whole number of at least 1 (got ${this.retry.maxAttempts})`,
      );
    }
    this.retryAfterFallbackMs = options.retryAfterFallbackMs ?? 15_000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 300_000;
    this.onEvent = options.onEvent;
    this.sharedBudget = options.sharedBudget;
    this.limiter = new RateLimiter({
      ...(options.rateLimit ?? DEFAULT_RATE_LIMIT),
      clock: this.clock,
      safetyMarginMs: options.safetyMarginMs,
    });
    const reports = options.reportsRateLimit ?? DEFAULT_REPORTS_RATE_LIMIT;
    this.reportsLimiter = new RateLimiter({
      ...reports,
      clock: this.clock,
      safetyMarginMs: options.safetyMarginMs,
    });
    this.maxReportRetryAfterMs = Math.max(this.maxRetryAfterMs, reports.windowMs);
  }

  /** Reports have a budget of their own (harvest-api-v2.md §4): their calls never use the main one. */
  private limiterFor(url: URL): RateLimiter {
    return REPORTS_PATH.test(url.pathname) ? this.reportsLimiter : this.limiter;
  }

  /** The limit the shared limiter applies now (lower than configured after 429s). */
  get effectiveRateLimit(): number {
    return this.limiter.effectiveLimit;
  }

  firstPageUrl(object: ObjectSpec, query: FirstPageQuery): string {
    const { perPage } = query;
    const problem = wholeNumberProblem(perPage, PER_PAGE);
    if (problem !== null) {
      throw new ConfigError(`per_page ${problem} (got ${perPage})`);
    }
    const url = new URL(`${this.baseUrl}${object.endpoint}`);
    if (object.singleton) return url.toString();
    // always explicit: Harvest's defaults differ per endpoint and have changed over the years
    url.searchParams.set('per_page', String(perPage));
    if (query.updatedSince !== undefined)
      url.searchParams.set('updated_since', harvestDateTime(query.updatedSince));
    if (query.from !== undefined) url.searchParams.set('from', query.from);
    if (query.to !== undefined) url.searchParams.set('to', query.to);
    if (query.page !== undefined) url.searchParams.set('page', String(query.page));
    if (query.running === true && object.runningFilter !== undefined) {
      url.searchParams.set(object.runningFilter, 'true');
    }
    return url.toString();
  }

  async fetchRecord(object: ObjectSpec, id: number, signal?: AbortSignal): Promise<JsonObject | null> {
    const target = new URL(`${this.baseUrl}${object.endpoint}/${id}`);
    try {
      const { body } = await this.getJson({ object: object.name }, target, signal);
      if (isObject(body) && body.id === id) return body as JsonObject;
      throw new HarvestApiError(
        'HARVEST_BAD_RESPONSE',
        `${object.name}: Harvest's answer to GET ${safePath(target)} is not the record asked for`,
        { status: 200, object: object.name, path: safePath(target) },
      );
    } catch (error) {
      // Harvest's own 404 (a JSON body): the record is gone. An HTML 404 stays an error (wrong URL).
      if (error instanceof HarvestApiError && error.code === 'HARVEST_NOT_FOUND') return null;
      throw error;
    }
  }

  async fetchPage(
    object: ObjectSpec,
    url: string,
    signal?: AbortSignal,
    beforeParse?: () => Promise<void>,
  ): Promise<HarvestPage> {
    const target = this.resolve(object.name, url);
    const caller = { object: object.name, access: object.access, beforeParse };
    const { body, headers } = await this.getJson(caller, target, signal);
    const path = safePath(target);
    if (object.singleton && isObject(body)) return this.singletonPage(body, headers);
    const records = isObject(body) ? body[object.envelope] : undefined;
    if (!isObject(body) || !Array.isArray(records) || !records.every(isObject)) {
      throw new HarvestApiError(
        'HARVEST_BAD_RESPONSE',
        `${object.name}: Harvest's answer to GET ${path} has no "${object.envelope}" list of records`,
        { status: 200, object: object.name, path, listEndpoint: true },
      );
    }
    const links = body.links;
    const next = isObject(links) && typeof links.next === 'string' && links.next !== '' ? links.next : null;
    const total = body.total_entries;
    return {
      records: records as JsonObject[],
      nextUrl: next,
      serverTime: this.serverTime(headers),
      totalEntries: typeof total === 'number' && Number.isFinite(total) ? total : null,
    };
  }

  /** A bare object (company): one record, keyed by the account id since it has no id of its own. */
  private singletonPage(body: Record<string, unknown>, headers: ResponseHeaders): HarvestPage {
    const record = { id: this.accountId, ...body } as JsonObject;
    return { records: [record], nextUrl: null, serverTime: this.serverTime(headers), totalEntries: 1 };
  }

  stats(object: string): SourceStats {
    return { ...this.counter(object) };
  }

  /** The token's user (GET /v2/users/me). */
  async me(signal?: AbortSignal): Promise<JsonObject> {
    return this.getObject('users/me', '/v2/users/me', signal);
  }

  /** The account's company settings (GET /v2/company). */
  async company(signal?: AbortSignal): Promise<JsonObject> {
    return this.getObject('company', '/v2/company', signal);
  }

  /**
   * Hevo's TEST & CONTINUE: is the token valid, which user and roles, and which objects it can read
   * (one per_page=1 call each, through the same limiter). A rejected token throws (401), and so does
   * an answer that is not Harvest's (HARVEST_NOT_API: the API root is wrong); an object the token
   * may not read is listed as unreadable with the reason.
   */
  async checkConnection(objects: readonly ObjectSpec[], signal?: AbortSignal): Promise<ConnectionCheck> {
    const me = await this.me(signal);
    if (typeof me.id !== 'number') {
      // users/me is open to every token: an answer without a user id did not come from Harvest
      throw notHarvestError({
        status: 200,
        object: 'users/me',
        origin: this.origin,
        path: new URL(`${this.baseUrl}/v2/users/me`).pathname,
        what: 'JSON that is not a Harvest user',
      });
    }
    const accessRoles = Array.isArray(me.access_roles)
      ? me.access_roles.filter((role): role is string => typeof role === 'string')
      : legacyRoles(me);
    const company = await this.company(signal).then(
      (c) => (typeof c.name === 'string' ? { name: c.name } : null),
      (error: unknown) => {
        if (error instanceof HarvestApiError && error.code !== 'HARVEST_UNAUTHORIZED') return null;
        throw error;
      },
    );
    const results = await Promise.all(objects.map((object) => this.checkObject(object, signal)));
    const first = typeof me.first_name === 'string' ? me.first_name : '';
    const last = typeof me.last_name === 'string' ? me.last_name : '';
    return {
      user: {
        id: me.id,
        name: `${first} ${last}`.trim(),
        email: typeof me.email === 'string' ? me.email : '',
      },
      isAdmin: accessRoles.includes('administrator'),
      accessRoles,
      company,
      objects: results,
    };
  }

  /**
   * One per_page=1 call: readable, or why not. An object listed per parent takes two: the first
   * parent, then its list (a parent with no records of it would answer the same either way).
   */
  private async checkObject(
    object: ObjectSpec,
    signal?: AbortSignal,
  ): Promise<ConnectionCheck['objects'][number]> {
    try {
      const parent = object.parent ? findObject(object.parent.object) : undefined;
      if (parent) {
        const asObject = { ...parent, name: object.name, access: object.access };
        const first = await this.fetchPage(asObject, this.firstPageUrl(parent, { perPage: 1 }), signal);
        const id = first.records[0]?.id;
        if (typeof id !== 'number') return { name: object.name, readable: true };
        object = { ...object, endpoint: object.endpoint.replace('{id}', String(id)) };
      }
      // a report wants a window: today's is enough to learn whether the token may read it
      const today = new Date(this.clock.now()).toISOString().slice(0, 10).replaceAll('-', '');
      const window = object.report?.window === 'year' ? { from: today, to: today } : {};
      await this.fetchPage(object, this.firstPageUrl(object, { perPage: 1, ...window }), signal);
      return { name: object.name, readable: true };
    } catch (error) {
      // a rejected token or an answer that is not Harvest's is about the connection, not this object
      if (!(error instanceof HarvestApiError) || FATAL_CHECK_CODES.has(error.code)) throw error;
      const prefix = `${object.name}: `;
      const reason = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
      return { name: object.name, readable: false, reason };
    }
  }

  private async getObject(name: string, endpoint: string, signal?: AbortSignal): Promise<JsonObject> {
    const target = new URL(`${this.baseUrl}${endpoint}`);
    const { body } = await this.getJson({ object: name }, target, signal);
    if (!isObject(body)) {
      throw new HarvestApiError(
        'HARVEST_BAD_RESPONSE',
        `${name}: Harvest's answer to GET ${endpoint} is not an object`,
        {
          status: 200,
          object: name,
          path: endpoint,
        },
      );
    }
    return body as JsonObject;
  }

  /** Resolves a links.next (or first page) URL, refusing any origin but the API root's: the token goes only there. */
  private resolve(object: string, url: string): URL {
    let target: URL;
    try {
      target = new URL(url, `${this.baseUrl}/`);
    } catch {
      throw new HarvestApiError(
        'HARVEST_BAD_RESPONSE',
        `${object}: Harvest sent a next-page link that is not a URL`,
        {
          status: null,
          object,
          path: '',
        },
      );
    }
    if (target.origin !== this.origin) {
      throw new HarvestApiError(
        'HARVEST_BAD_RESPONSE',
        `${object}: refusing to follow a next-page link to ${target.origin}: the access token is only sent to the API root ${this.origin}`,
        { status: null, object, path: safePath(target) },
      );
    }
    return target;
  }

  private serverTime(headers: ResponseHeaders): string {
    const date = headers.get('date');
    const at = date ? Date.parse(date) : Number.NaN;
    return new Date(Number.isNaN(at) ? this.clock.now() : at).toISOString();
  }

  private counter(object: string): SourceStats {
    let stats = this.counters.get(object);
    if (!stats) {
      stats = { calls: 0, rateLimitWaits: 0, retries: 0 };
      this.counters.set(object, stats);
    }
    return stats;
  }

  private emit(event: ClientEvent): void {
    try {
      this.onEvent?.(event);
    } catch {
      // a listener's bug must not break a sync
    }
  }

  /** A message from outside (network error text, Harvest's body) with the token blanked, just in case. */
  private scrub(text: string): string {
    return redactSecrets(text, [this.token], '[redacted]');
  }

  private async getJson(caller: Caller, url: URL, signal?: AbortSignal): Promise<JsonResponse> {
    const path = safePath(url);
    const stats = this.counter(caller.object);
    return withRetry({
      policy: this.retry,
      clock: this.clock,
      random: this.random,
      signal,
      interruptedMessage: `interrupted while reading ${caller.object}`,
      attempt: () => this.attempt(caller, url, path, signal),
      classify: (error) =>
        error instanceof TransientFailure
          ? { retryable: true, delayMs: error.delayMs }
          : { retryable: false },
      exhausted: (error, attempts) => this.exhausted(caller, path, error, attempts),
      onRetry: ({ attempt, delayMs, error }) => {
        stats.retries++;
        const reason = error instanceof TransientFailure ? error.reason : String(error);
        this.emit({ type: 'retry', object: caller.object, path, attempt, delayMs, reason });
      },
    });
  }

  private exhausted(caller: Caller, path: string, error: unknown, attempts: number): HarvestApiError {
    const failure = error as TransientFailure;
    const details = {
      status: failure.status,
      object: caller.object,
      path,
      listEndpoint: caller.access !== undefined,
      cause: error,
    };
    switch (failure.kind) {
      case 'rate-limited':
        return new HarvestApiError(
          'HARVEST_RATE_LIMITED',
          `${caller.object}: Harvest kept answering 429 Too Many Requests to GET ${path} (${attempts} attempts): lower the rate limit, or stop other tools using this account's API budget`,
          details,
        );
      case 'bad-response':
        return new HarvestApiError(
          'HARVEST_BAD_RESPONSE',
          `${caller.object}: Harvest's answer to GET ${path} was unreadable ${attempts} times (last: ${failure.reason})`,
          details,
        );
      default:
        return new HarvestApiError(
          'HARVEST_UNAVAILABLE',
          `${caller.object}: Harvest is unavailable: GET ${path} failed ${attempts} times (last: ${failure.reason}) — try again later`,
          details,
        );
    }
  }

  private async attempt(caller: Caller, url: URL, path: string, signal?: AbortSignal): Promise<JsonResponse> {
    const limiter = this.limiterFor(url);
    const grant = await limiter.acquire(signal);
    try {
      // the workers' shared budget is the main one: reports never take from it
      if (this.sharedBudget && limiter === this.limiter) {
        this.sharedGrants.set(grant, await this.sharedBudget.acquire(signal));
      }
      return await this.request(caller, url, path, grant, signal);
    } finally {
      // request() settles as soon as the headers are in; this covers anything thrown before that,
      // since an unsettled grant would hold its slot for good (settling twice is harmless)
      this.settle(grant, url);
    }
  }

  private settle(grant: Grant, url: URL): void {
    this.limiterFor(url).settle(grant);
    const shared = this.sharedGrants.get(grant);
    if (shared === undefined || this.sharedSettled.has(grant)) return;
    this.sharedSettled.add(grant);
    this.sharedBudget?.settle(shared);
  }

  private async request(
    caller: Caller,
    url: URL,
    path: string,
    grant: Grant,
    signal?: AbortSignal,
  ): Promise<JsonResponse> {
    const stats = this.counter(caller.object);
    if (grant.cause !== null) {
      stats.rateLimitWaits++;
      this.emit({ type: 'rate-limit', object: caller.object, waitMs: grant.waitedMs, cause: grant.cause });
    }
    stats.calls++;
    const { signal: requestSignal, timedOut } = attemptSignal(this.timeoutMs, signal);
    const started = this.clock.now();
    const report = (status: number | null) =>
      this.emit({ type: 'request', object: caller.object, path, status, ms: this.clock.now() - started });
    const failed = (error: unknown, what: string): never => {
      report(null);
      if (signal?.aborted) throw new InterruptedError(`interrupted while reading ${caller.object}`);
      const code = certificateCode(error);
      if (code !== undefined) {
        const listEndpoint = caller.access !== undefined;
        throw certificateError({ code, object: caller.object, origin: this.origin, path, listEndpoint });
      }
      const reason = timedOut()
        ? `timed out after ${this.timeoutMs} ms`
        : this.scrub(`${what}: ${networkReason(error)}`);
      throw new TransientFailure('unavailable', reason, null);
    };

    let response: HttpResponse;
    try {
      // the transport follows no redirect: one would carry the token wherever it points
      response = await this.transport.get(url, this.headers, requestSignal);
    } catch (error) {
      return failed(error, 'request failed');
    } finally {
      // headers in (or the attempt over): the server has counted it if it ever will, so the
      // limiter can start its slot's last window now rather than guess when it arrived
      this.settle(grant, url);
    }
    this.learnFromHeaders(response.headers, this.limiterFor(url));

    const ok = response.status >= 200 && response.status < 300;
    let bytes: Uint8Array;
    try {
      // always read the body, even of errors: an unread body keeps its socket from being reused
      bytes = await response.body();
    } catch (error) {
      if (ok) return failed(error, 'response body cut short');
      bytes = new Uint8Array();
    }
    report(response.status);
    if (!ok) return this.failure(caller, url, response, utf8Text(bytes), grant);
    await caller.beforeParse?.();
    return this.success(caller, url, response, bytes);
  }

  /** The JSON of a 2xx answer; a cut-short or unreadable body is a failure worth another attempt. */
  private success(caller: Caller, url: URL, response: HttpResponse, bytes: Uint8Array): JsonResponse {
    const text = utf8Text(bytes);
    // Harvest's API answers JSON; a web page (a site's home page, a login portal) is not the API
    const contentType = response.headers.get('content-type');
    if (contentType !== null && /^\s*text\/html/i.test(contentType)) {
      throw notHarvestError({
        status: response.status,
        object: caller.object,
        origin: url.origin,
        path: safePath(url),
        what: describeForeignBody(text, contentType),
        listEndpoint: caller.access !== undefined,
      });
    }
    const declared = response.headers.get('content-length');
    if (
      declared !== null &&
      response.headers.get('content-encoding') === null &&
      Number(declared) !== bytes.byteLength
    ) {
      throw new TransientFailure(
        'unavailable',
        `response body cut short (${bytes.byteLength} of ${declared} bytes)`,
        response.status,
      );
    }
    try {
      return { body: JSON.parse(text) as unknown, headers: response.headers };
    } catch {
      throw new TransientFailure(
        'bad-response',
        `invalid JSON (${bytes.byteLength} bytes${bytes.byteLength === 0 ? '' : ', cut short or not JSON'})`,
        response.status,
      );
    }
  }

  private failure(caller: Caller, url: URL, response: HttpResponse, text: string, grant: Grant): never {
    const { status } = response;
    const path = safePath(url);
    if (status === 429) {
      const retryAfter = parseRetryAfter(
        response.headers.get('retry-after'),
        this.clock.now(),
        response.headers.get('date'),
      );
      const limiter = this.limiterFor(url);
      const pauseMs = retryAfter ?? this.retryAfterFallbackMs;
      if (pauseMs > (limiter === this.limiter ? this.maxRetryAfterMs : this.maxReportRetryAfterMs)) {
        throw new HarvestApiError(
          'HARVEST_RATE_LIMITED',
          `${caller.object}: Harvest throttled GET ${path} and asked to wait ${Math.ceil(pauseMs / 1000)} s: try again later`,
          { status, object: caller.object, path, listEndpoint: caller.access !== undefined },
        );
      }
      limiter.onRateLimited(grant, pauseMs);
      const shared = this.sharedGrants.get(grant);
      if (shared) this.sharedBudget?.onRateLimited(shared, pauseMs);
      const reason = `429 Too Many Requests (${retryAfter === null ? 'no usable Retry-After' : 'Retry-After'}: waiting ${Math.ceil(pauseMs / 1000)} s)`;
      throw new TransientFailure('rate-limited', reason, status, 0);
    }
    if (isRetryableStatus(status)) {
      throw new TransientFailure('unavailable', `${status} ${response.statusText}`.trim(), status);
    }
    if (status >= 300 && status < 400) {
      throw new HarvestApiError(
        'HARVEST_BAD_RESPONSE',
        `${caller.object}: GET ${url.origin}${path} answered with a redirect (${status}): check the Harvest API URL (--base-url, HARVEST_BASE_URL or the pipeline's baseUrl); Harvest's own is ${DEFAULT_BASE_URL}`,
        { status, object: caller.object, path, listEndpoint: caller.access !== undefined },
      );
    }
    const error = statusError({
      status,
      statusText: response.statusText,
      object: caller.object,
      path,
      origin: url.origin,
      bodyText: this.scrub(text),
      contentType: response.headers.get('content-type'),
      access: caller.access,
    });
    throw error;
  }

  /**
   * Harvest sends no rate-limit headers today; if it (or a proxy) ever does, use them: a declared
   * limit lower than ours caps the limiter, and an exhausted budget pauses it until the reset.
   */
  private learnFromHeaders(headers: ResponseHeaders, limiter: RateLimiter): void {
    const limit = headers.get('x-ratelimit-limit') ?? headers.get('ratelimit-limit');
    if (limit !== null) {
      const requests = Number.parseInt(limit, 10);
      if (Number.isInteger(requests)) limiter.onServerLimit(requests);
    }
    const remaining = headers.get('x-ratelimit-remaining') ?? headers.get('ratelimit-remaining');
    const reset = headers.get('x-ratelimit-reset') ?? headers.get('ratelimit-reset');
    if (remaining !== null && Number.parseInt(remaining, 10) === 0 && reset !== null) {
      const value = Number(reset);
      if (!Number.isFinite(value) || value < 0) return;
      // small numbers are seconds from now; large ones a Unix time in seconds
      const ms = value < 1e9 ? value * 1000 : value * 1000 - this.clock.now();
      limiter.pause(Math.min(ms, this.maxRetryAfterMs));
    }
  }
}

const REPORTS_PATH = /\/v2\/reports\//;

const FATAL_CHECK_CODES = new Set<HarvestErrorCode>([
  'HARVEST_UNAUTHORIZED',
  'HARVEST_NOT_API',
  'HARVEST_TLS',
]);

/** access_roles from the pre-2020 permission flags, for accounts that still send them. */
function legacyRoles(me: JsonObject): string[] {
  if (me.is_admin === true) return ['administrator'];
  if (me.is_project_manager === true) return ['manager'];
  return ['member'];
}

/**
 * A body as text, like TextDecoder (UTF-8, a leading BOM dropped, bad bytes as U+FFFD) but through
 * Buffer's decoder, which took a quarter less CPU on 2000-record pages.
 */
function utf8Text(bytes: Uint8Array): string {
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  return Buffer.from(bytes.buffer, bytes.byteOffset + bom, bytes.byteLength - bom).toString('utf8');
}

/**
 * Harvest documents its `datetime` as ISO 8601 UTC with `Z` to the second (`2017-12-31T14:59:22Z`);
 * a fraction is dropped downwards, so a filter never starts later than asked. Unparsable: as given.
 */
function harvestDateTime(value: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return value;
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
