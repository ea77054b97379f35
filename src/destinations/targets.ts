import { ConfigError, DestinationBusyError, userMessage } from '../errors.js';
import { DEFAULT_DESTINATION_URL } from '../limits.js';
import { redactSecrets } from '../redact.js';
import type { Destination } from './destination.js';
import type {
  DestinationEngine,
  DestinationScope,
  DestinationSnapshot,
  DestinationTarget,
} from './engine.js';
import { mysqlEngine } from './mysql/mysql-engine.js';
import { postgresEngine } from './postgres/postgres-engine.js';
import { sqliteEngine } from './sqlite/sqlite-engine.js';

/*
 * What every command needs of destinations without loading any database code: the engines' URL
 * rules, and each engine's access (its driver and Destination class) loaded only when a URL names
 * it. ./index.ts is the whole of destinations, every engine loaded (the library's API).
 */

/** Every engine a destination URL can name: one line each. */
export const ENGINES: readonly DestinationEngine[] = [sqliteEngine, postgresEngine, mysqlEngine];

/** Where data goes when no destination is given. */
export { DEFAULT_DESTINATION_URL };

/** `SQLite, PostgreSQL or MySQL/MariaDB`, for help texts. */
export const ENGINE_LABELS = ENGINES.map((e) => e.label)
  .join(', ')
  .replace(/, ([^,]*)$/, ' or $1');
/** `(use sqlite:PATH, postgres://USER@HOST/DB or mysql://USER@HOST/DB)`, for usage messages. */
export const DESTINATION_USAGE = `(use ${ENGINES.map((e) => e.usage)
  .join(', ')
  .replace(/, ([^,]*)$/, ' or $1')})`;
const SCHEME = /^([a-z][a-z0-9+.-]*):/i;

export interface ParseOptions {
  /** A saved pipeline's URL: held to the stricter rules of URLs stored and run unattended. */
  readonly saved?: boolean;
}

/**
 * Reads a destination URL: `sqlite:PATH`, `sqlite://PATH` (so `sqlite:///abs/x.db` is `/abs/x.db`),
 * a bare path ending in .db/.sqlite/.sqlite3, `postgres://…`/`postgresql://…`, or `mysql://…`/`mariadb://…`.
 * The syntax and each engine's parameter allow-list are checked here; whether the place is usable is
 * found when the destination is tested or opened. Throws ConfigError.
 */
export function parseDestinationUrl(
  url: string = DEFAULT_DESTINATION_URL,
  options: ParseOptions = {},
): DestinationTarget {
  const text = url.trim();
  if (text === '') throw new ConfigError(`the destination is empty ${DESTINATION_USAGE}`);
  const scheme = SCHEME.exec(text)?.[1]?.toLowerCase();
  for (const engine of ENGINES) {
    const target = engine.parse(text, scheme, options.saved === true);
    if (target) return target;
  }
  if (scheme !== undefined && scheme.length > 1) {
    throw new ConfigError(`unknown destination scheme "${scheme}:" ${DESTINATION_USAGE}`);
  }
  throw new ConfigError(`cannot tell what kind of destination "${redactUrl(text)}" is ${DESTINATION_USAGE}`);
}

function engineOf(target: DestinationTarget): DestinationEngine {
  const engine = ENGINES.find((e) => e.kind === target.kind);
  if (!engine) throw new ConfigError(`unknown destination engine "${target.kind}"`);
  return engine;
}

/**
 * Whether `url` names a file on this machine (a file engine such as SQLite): such a pipeline runs
 * only on the host that owns the file. False for a URL that does not parse: it fails where it runs.
 */
export function isFileDestination(url: string): boolean {
  try {
    return parseDestinationUrl(url).path !== undefined;
  } catch {
    return false;
  }
}

/**
 * The target of `url` as used in `scope` (relative paths resolved, file destinations kept in the
 * scope's root). Without a scope, relative paths stay relative to the working directory.
 * Throws ConfigError.
 */
export function placeDestination(url: string, scope?: DestinationScope): DestinationTarget {
  const target = parseDestinationUrl(url, { saved: scope?.root !== undefined });
  return scope ? engineOf(target).place(target, scope) : target;
}

/**
 * Makes the Destination a URL names, loading that engine's code only; the caller opens it (which
 * takes the run lock). Rejects with a ConfigError for a URL that does not parse.
 */
export async function loadDestination(
  url: string = DEFAULT_DESTINATION_URL,
  scope?: DestinationScope,
): Promise<Destination> {
  const target = placeDestination(url, scope);
  return (await engineOf(target).load()).open(target);
}

/** `url` with relative paths resolved in `scope`, as a run opens it. Throws ConfigError. */
export function resolveDestinationUrl(url: string, scope: DestinationScope): string {
  return placeDestination(url, scope).url;
}

/** A driver may quote the URL or password it failed on: remove every form of the URL's secrets. */
function scrub(message: string, url: string): string {
  const out = redactSecrets(message, [url], redactUrl(url));
  try {
    const target = parseDestinationUrl(url);
    return redactSecrets(out, engineOf(target).secrets(target));
  } catch {
    // not a URL with secrets we can read: the redacted URL above is all there is to hide
    return out;
  }
}

export interface DestinationTestResult {
  readonly ok: boolean;
  /** The engine, when the URL named one. */
  readonly kind: string | null;
  /** Display form, password removed. */
  readonly destination: string;
  /** One line: why it cannot be used, or what was checked. */
  readonly message: string;
}

/**
 * Whether a pipeline could write to `url` in `scope`: a SQLite path must be creatable or writable
 * (checked without creating anything), a server must accept a connection and the schema or
 * database be writable. A destination busy with another run counts as usable. Never throws;
 * messages never carry a password, nor tell what exists outside the scope's root.
 */
export async function testDestination(url: string, scope: DestinationScope): Promise<DestinationTestResult> {
  const destination = redactUrl(url);
  let target: DestinationTarget;
  try {
    target = placeDestination(url, scope);
  } catch (error) {
    return { ok: false, kind: null, destination, message: `destination: ${userMessage(error)}` };
  }
  const { kind } = target;
  try {
    return { ok: true, kind, destination, message: await (await engineOf(target).load()).test(target) };
  } catch (error) {
    if (error instanceof DestinationBusyError) {
      return { ok: true, kind, destination, message: 'reachable (a run is writing to it now)' };
    }
    return { ok: false, kind, destination, message: scrub(userMessage(error), url) };
  }
}

/**
 * What the destination of `url` holds among `tables`, and every object's state, read without the run
 * lock; null when nothing has been written there yet. Throws with a message free of secrets.
 */
export async function introspectDestination(
  url: string,
  tables: readonly string[],
  scope: DestinationScope,
): Promise<DestinationSnapshot | null> {
  const target = placeDestination(url, scope);
  try {
    return await (await engineOf(target).load()).introspect(target, tables);
  } catch (error) {
    throw new ConfigError(scrub(userMessage(error), url));
  }
}

/**
 * A destination URL fit for display: any password (in the authority or a `password=` parameter)
 * replaced by `***`. Works on text that is not a valid URL too, since that is what error messages quote.
 */
export function redactUrl(url: string): string {
  const match = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/is.exec(url);
  let text = url;
  if (match && match[1].toLowerCase() !== 'sqlite') {
    // The last @ ends the user info even when a password holds an unencoded @ or /: redacting a bit
    // too much in an odd URL is better than showing part of a password.
    const rest = match[2];
    const at = rest.lastIndexOf('@');
    const colon = rest.indexOf(':');
    if (at >= 0 && colon >= 0 && colon < at) {
      text = `${match[1]}://${rest.slice(0, colon)}:***${rest.slice(at)}`;
    }
  }
  return text.replace(/([?&](?:password|pass|pwd|sslpassword)=)[^&#]*/gi, '$1***');
}
