import type { DestinationEngine } from '../engine.js';
import { MYSQL_SCHEMES, parseMysqlUrl } from './mysql-url.js';

/** A MySQL or MariaDB database: `mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (or `mariadb://`). */
export const mysqlEngine: DestinationEngine = {
  kind: 'mysql',
  label: 'MySQL/MariaDB',
  usage: 'mysql://USER@HOST/DB',
  parse(text, scheme) {
    if (!(MYSQL_SCHEMES as readonly string[]).includes(scheme ?? '')) return null;
    parseMysqlUrl(text); // host, user and database are required whether saved or not
    return { kind: 'mysql', url: text };
  },
  place: (target) => target,
  secrets: (target) => parseMysqlUrl(target.url).secrets,
  load: async () => (await import('./mysql-access.js')).mysqlAccess,
};
