import type pg from 'pg';

/*
 * SQL shared by the scale-out pieces. They run only on a PostgreSQL control store, so they speak
 * PostgreSQL directly over their own small pool (the tables are the control store's, migration 4).
 * Liveness (heartbeats, rate windows) is measured on the database's clock, the one clock every
 * machine shares; due times and run stamps stay on the control clock, like the runs themselves.
 */

/** Now on the database's clock, as the fixed-width ISO text the control store keeps. */
export const DB_NOW_ISO = `to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
/** Now on the database's clock, in ms since the epoch. */
export const DB_NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

/** `DB_NOW_ISO` moved back by `$n` milliseconds. */
export const dbIsoAgo = (param: string) =>
  `to_char((clock_timestamp() - ${param}::bigint * interval '1 millisecond') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

export type Row = Record<string, unknown>;

export interface Sql {
  query(text: string, values?: readonly unknown[]): Promise<Row[]>;
}

export function sqlOf(client: pg.Pool | pg.PoolClient): Sql {
  return { query: async (text, values = []) => (await client.query(text, [...values])).rows as Row[] };
}

export { poolTransaction as transaction } from '../postgres-store.js';

export const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
export const int = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
