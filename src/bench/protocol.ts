/**
 * What the bench's processes tell each other: the orchestrator (bench.ts) starts a simulator
 * process (sim-process.ts) and one scenario process (scenario.ts) per measured figure, so each
 * figure's peak RSS is its own and the simulator's CPU and memory are not ours.
 */

/** How a scenario process reaches the simulator. */
export interface SimulatorAddress {
  readonly url: string;
  readonly adminToken: string;
  readonly accountId: string;
}

export interface RateLimitSpec {
  readonly requests: number;
  readonly windowMs: number;
}

/** The product's own path: `runSyncJob`, as `harvest-sync run` calls it. */
export interface OursScenario {
  readonly kind: 'ours';
  readonly sim: SimulatorAddress;
  readonly destination: string;
  /** Default: every object in the catalog. */
  readonly objects?: readonly string[];
  readonly perPage?: number;
  /** Re-read everything (`--full-refresh`): on a loaded destination, every row comes back unchanged. */
  readonly fullRefresh?: boolean;
  /** Requests in flight (objects or date windows); default: the product's. */
  readonly concurrency?: number;
  /** `--since` (YYYY-MM-DD): report windows start there rather than at the account's first date. */
  readonly since?: string;
  /** The client's budget; an unthrottled simulator gets one that never holds a call back. */
  readonly rateLimit: RateLimitSpec;
}

/**
 * The bound: one object's pages fetched (one page ahead, like the engine), parsed, flattened with
 * the catalog's row mapper and written in one statement per page: a prepared INSERT run per row in
 * one transaction (SQLite), one COPY into the table (PostgreSQL).
 * `none` writes nothing: what the source alone allows.
 */
export interface BoundScenario {
  readonly kind: 'bound';
  readonly sim: SimulatorAddress;
  readonly object: string;
  readonly perPage: number;
  readonly target:
    | { readonly kind: 'sqlite'; readonly path: string }
    | { readonly kind: 'postgres'; readonly url: string; readonly schema: string }
    | { readonly kind: 'none' };
}

export type ScenarioSpec = OursScenario | BoundScenario;

/** Seconds spent by the bound loop in each part (wall clock, in its own process). */
export interface PartTimes {
  /** Waiting for a page beyond what the writes overlapped with (the source's share). */
  readonly fetchWait: number;
  readonly parse: number;
  readonly map: number;
  readonly write: number;
}

export interface ObjectFigure {
  readonly object: string;
  readonly status: string;
  readonly mode: string;
  readonly records: number;
  readonly calls: number;
  readonly seconds: number;
}

export interface ScenarioReport {
  readonly ok: boolean;
  readonly error?: string;
  readonly records: number;
  /** Wall clock from before the destination opens to after it closes. */
  readonly seconds: number;
  readonly calls: number;
  readonly maxRssMb: number;
  /** CPU seconds (user + system) the scenario's process used. */
  readonly cpuSeconds: number;
  readonly objects?: readonly ObjectFigure[];
  readonly parts?: PartTimes;
}

/** Prefix of the one stdout line a child process reports on; anything else it prints is ignored. */
export const REPORT_PREFIX = 'BENCH-REPORT ';
