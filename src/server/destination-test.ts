import { isAbsolute, resolve } from 'node:path';
import { destinationProblem } from '../control/validation.js';
import { openDestination, parseDestinationUrl, redactUrl } from '../destinations/index.js';
import { checkSqlitePath } from '../destinations/sqlite/sqlite-path.js';
import { DestinationBusyError, userMessage } from '../errors.js';

export interface DestinationTestResult {
  readonly ok: boolean;
  readonly kind: 'sqlite' | 'postgres' | null;
  /** Display form, password removed. */
  readonly destination: string;
  /** One line: why it cannot be used, or what was checked. */
  readonly message: string;
}

/**
 * Whether a pipeline could write to `url`: a SQLite path must be creatable or writable (checked
 * without creating anything), a PostgreSQL server must accept a connection. A destination busy with
 * another run counts as usable. Never throws; messages never carry the password.
 */
export async function testDestination(url: string, dataDir: string): Promise<DestinationTestResult> {
  const display = redactUrl(url);
  const problem = destinationProblem(url);
  if (problem) return { ok: false, kind: null, destination: display, message: problem };
  try {
    const target = parseDestinationUrl(url);
    if (target.kind === 'sqlite') {
      // same rule as pipelines: relative paths are relative to the data directory
      const path = isAbsolute(target.path) ? target.path : resolve(dataDir, target.path);
      checkSqlitePath(path);
      return {
        ok: true,
        kind: 'sqlite',
        destination: display,
        message: `SQLite database can be written at ${path}`,
      };
    }
    const destination = openDestination(url);
    try {
      await destination.open();
    } finally {
      await destination.close();
    }
    return {
      ok: true,
      kind: 'postgres',
      destination: display,
      message: 'PostgreSQL accepted the connection',
    };
  } catch (error) {
    const kind = /^postgres/i.test(url) ? 'postgres' : 'sqlite';
    if (error instanceof DestinationBusyError) {
      return { ok: true, kind, destination: display, message: 'reachable (a run is writing to it now)' };
    }
    return { ok: false, kind, destination: display, message: redactSecrets(userMessage(error), url) };
  }
}

/** A driver may quote the URL it failed on; make sure no part of its password survives. */
function redactSecrets(message: string, url: string): string {
  let out = message.split(url).join(redactUrl(url));
  try {
    const password = decodeURIComponent(new URL(url).password);
    if (password.length > 0) out = out.split(password).join('***');
  } catch {
    // not a URL with a password
  }
  return out;
}
