import type { DestinationScope } from '../destinations/index.js';
import type { BaseUrlPolicy } from './base-url-policy.js';
import { secureDataDir } from './data-dir.js';
import { checkControlOptions, type ControlOptions } from './options.js';
import { SecretBox, loadSecretKey } from './secrets.js';
import type { ControlStore } from './types.js';

export {
  DEFAULT_DATA_DIR,
  baseUrlPolicy,
  checkControlOptions,
  destinationScope,
  resolveDataDir,
} from './options.js';
export type { ControlOptions } from './options.js';

/** What every consumer of the control layer holds: the store, and the directory relative paths live in. */
export interface Control {
  readonly store: ControlStore;
  /** Absolute. Holds control.db (SQLite), secret.key, and relative `sqlite:` destinations. */
  readonly dataDir: string;
  /** Where saved pipelines may send their token (checked on save and on every run). */
  readonly baseUrls: BaseUrlPolicy;
  /** Where saved pipelines' destinations may be (SQLite files inside `--sqlite-root`). */
  readonly destinations: DestinationScope;
  /** What was tightened in the data directory on the way in (one line each), for the caller to log. */
  readonly notices: readonly string[];
  /** The PostgreSQL control store's URL (workers share it: cluster/); null for SQLite. */
  readonly controlStoreUrl: string | null;
}

/**
 * Opens the control store (running migrations) with the secret key loaded (or created on first
 * start), after making the data directory owner-only (data-dir.ts). Throws ConfigError for a bad key,
 * URL or allowed origin, or a data directory open to others that cannot be tightened;
 * ControlStoreError when the database fails.
 */
export async function openControl(options: ControlOptions = {}): Promise<Control> {
  // checked before the key is loaded, which creates the data directory: bad input leaves nothing behind
  const { dataDir, controlStoreUrl, baseUrls, destinations } = checkControlOptions(options);
  const notices = secureDataDir(dataDir);
  const secrets = new SecretBox(loadSecretKey({ dataDir, env: options.env ?? process.env }));
  // only the store's own driver loads: pg for PostgreSQL, better-sqlite3 for SQLite
  const store =
    controlStoreUrl !== null
      ? await (
          await import('./postgres-store.js')
        ).openPostgresControlStore({ url: controlStoreUrl, secrets, clock: options.clock })
      : await (
          await import('./sqlite-store.js')
        ).openSqliteControlStore({ dataDir, secrets, clock: options.clock });
  return { store, dataDir, baseUrls, destinations, notices, controlStoreUrl };
}
