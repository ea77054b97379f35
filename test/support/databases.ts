/**
 * The database servers the tests use, in one place. Point them elsewhere with
 * HARVEST_SYNC_TEST_PG_URL and HARVEST_SYNC_TEST_MYSQL_URL.
 */
export const PG_URL = process.env.HARVEST_SYNC_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MYSQL_URL = process.env.HARVEST_SYNC_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
