import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

/*
 * better-sqlite3, loaded with require(): it is CommonJS, and a CommonJS package imported from an ES
 * module costs Node 20 a scan of its exports. With commander loaded the same way (src/cli/commander.ts)
 * that is about 8 ms of CPU less before `run`'s first request (issue 16).
 */

export const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
export type Database = BetterSqlite3.Database;
export type Statement = BetterSqlite3.Statement;
