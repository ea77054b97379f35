import type { JsonObject, ObjectSpec } from '../catalog/types.js';

/** One page of a list endpoint. */
export interface HarvestPage {
  readonly records: JsonObject[];
  /** `links.next` as Harvest sent it; null on the last page. */
  readonly nextUrl: string | null;
  /** Harvest's clock when it answered (the `Date` header), ISO 8601 UTC; falls back to ours. */
  readonly serverTime: string;
  readonly totalEntries: number | null;
  /**
   * For an object listed per parent (sync/per-parent.ts): the parents whose records the page holds,
   * all of them, so that a parent's records missing from it are marked deleted.
   */
  readonly parentIds?: readonly number[];
}

/**
 * Query of the first page of a pass (or of one date window of it). Later pages are read from
 * `links.next`, never built.
 */
export interface FirstPageQuery {
  readonly perPage: number;
  /** ISO 8601 UTC; only for objects whose endpoint takes it. */
  readonly updatedSince?: string;
  /** `from` (YYYY-MM-DD) on the object's business date, for `--since`. */
  readonly from?: string;
  /** `to` (YYYY-MM-DD, inclusive) on the object's business date: the end of a date window. */
  readonly to?: string;
  /**
   * A page number, on page-numbered endpoints only: the engine asks for the last record alone
   * (`per_page=1&page=<total>`) to learn the oldest date before it splits a pass into windows.
   */
  readonly page?: number;
  /**
   * Only records whose values change without their updated_at moving (running timers): sets the
   * object's `runningFilter` (catalog) to true. Ignored for objects without one.
   */
  readonly running?: boolean;
}

/** Counters a source keeps per object, for run statistics. */
export interface SourceStats {
  calls: number;
  rateLimitWaits: number;
  retries: number;
}

/** Who the token belongs to and what it may read (Hevo's TEST & CONTINUE). */
export interface ConnectionCheck {
  readonly user: { readonly id: number; readonly name: string; readonly email: string };
  readonly isAdmin: boolean;
  readonly accessRoles: readonly string[];
  readonly company: { readonly name: string } | null;
  /** Per object: readable, or the reason it is not. */
  readonly objects: ReadonlyArray<{
    readonly name: string;
    readonly readable: boolean;
    readonly reason?: string;
  }>;
}

/**
 * The seam between the sync engine and Harvest. The real implementation is HarvestClient
 * (rate limiting, retries, error mapping); tests may drive the engine with any other.
 */
export interface HarvestSource {
  firstPageUrl(object: ObjectSpec, query: FirstPageQuery): string;
  /**
   * Reads one page. Throws HarvestApiError (typed, user-facing message) once retries are spent.
   * `beforeParse`, when given, is awaited once the body is in and before it is decoded and parsed
   * (the engine holds pages there while its writer is behind); a source may ignore it.
   */
  fetchPage(
    object: ObjectSpec,
    url: string,
    signal?: AbortSignal,
    beforeParse?: () => Promise<void>,
  ): Promise<HarvestPage>;
  /**
   * Reads one record by id (GET <endpoint>/<id>); null when Harvest answers that it does not exist
   * (its JSON 404). The engine checks with it that a row a pass did not see is really gone.
   */
  fetchRecord(object: ObjectSpec, id: number, signal?: AbortSignal): Promise<JsonObject | null>;
  /** Per-object counters since the source was made. */
  stats(object: string): SourceStats;
}

/** What a HarvestClient reports as it works (for logs, progress and metrics). Never carries the token. */
export type ClientEvent =
  | {
      readonly type: 'request';
      readonly object: string;
      /** Path and query of the URL. */
      readonly path: string;
      /** Null when no response came (network error, timeout). */
      readonly status: number | null;
      readonly ms: number;
    }
  | {
      readonly type: 'rate-limit';
      readonly object: string;
      readonly waitMs: number;
      /** `budget`: the client's own limiter held it back; `429`: Harvest throttled and everyone paused. */
      readonly cause: 'budget' | '429';
    }
  | {
      readonly type: 'retry';
      readonly object: string;
      readonly path: string;
      /** The attempt that failed (1 = first). */
      readonly attempt: number;
      readonly delayMs: number;
      readonly reason: string;
    };
