import { ConfigError } from '../../errors.js';
import type { DestinationEngine } from '../engine.js';
import { placeSqlitePath, sqlitePathProblem } from './sqlite-path.js';

const SQLITE_EXTENSIONS = /\.(db|sqlite|sqlite3)$/i;

/** A SQLite file: `sqlite:PATH`, `sqlite://PATH`, or a bare path ending in .db/.sqlite/.sqlite3. */
export const sqliteEngine: DestinationEngine = {
  kind: 'sqlite',
  label: 'SQLite',
  usage: 'sqlite:PATH',
  parse(text, scheme, saved) {
    let path: string;
    if (scheme === 'sqlite') {
      path = text.startsWith('sqlite://') ? text.slice('sqlite://'.length) : text.slice('sqlite:'.length);
      // A one-letter "scheme" is a Windows drive (C:\data\harvest.db), not a scheme.
    } else if (SQLITE_EXTENSIONS.test(text) && (scheme === undefined || scheme.length === 1)) {
      path = text;
    } else {
      return null;
    }
    const problem = sqlitePathProblem(path, saved);
    if (problem) throw new ConfigError(`${problem} (use sqlite:PATH)`);
    return { kind: 'sqlite', url: text, path };
  },
  place(target, scope) {
    if (target.path === undefined) throw new ConfigError('the SQLite destination has no path');
    const path = placeSqlitePath(target.path, scope);
    return { kind: 'sqlite', url: `sqlite:${path}`, path };
  },
  secrets: () => [],
  load: async () => (await import('./sqlite-access.js')).sqliteAccess,
};
