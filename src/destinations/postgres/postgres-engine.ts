import { ConfigError } from '../../errors.js';
import type { DestinationEngine } from '../engine.js';
import { parsePostgresUrl } from './postgres-url.js';

/** A PostgreSQL schema (default `harvest`): `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=…]`. */
export const postgresEngine: DestinationEngine = {
  kind: 'postgres',
  label: 'PostgreSQL',
  usage: 'postgres://USER@HOST/DB',
  parse(text, scheme, saved) {
    if (scheme !== 'postgres' && scheme !== 'postgresql') return null;
    parsePostgresUrl(text);
    if (saved) {
      const url = new URL(text);
      if (url.hostname === '')
        throw new ConfigError('the PostgreSQL URL has no host (postgres://USER@HOST/DB)');
      if (url.pathname.length <= 1) throw new ConfigError('the PostgreSQL URL must name a database');
    }
    return { kind: 'postgres', url: text };
  },
  place: (target) => target,
  secrets: (target) => parsePostgresUrl(target.url).secrets,
  load: async () => (await import('./postgres-access.js')).postgresAccess,
};
