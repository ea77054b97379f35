import { MYSQL_URL, PG_URL } from './databases.js';
import { checkMysql, checkPostgres, ensureChromium } from './prerequisites.js';

/**
 * Vitest's globalSetup: checks, once before any test, what the suite needs besides `npm install`.
 * Each problem is one line on stderr and the run stops with exit code 1 before a test starts,
 * rather than as hundreds of failures with stack traces.
 */
export default async function setup(): Promise<void> {
  const findings = [
    ...ensureChromium(),
    ...(await Promise.all([checkPostgres(PG_URL), checkMysql(MYSQL_URL)])).flat(),
  ];
  for (const finding of findings) process.stderr.write(`${finding.line}\n`);
  if (findings.some((f) => f.kind === 'problem')) {
    process.stderr.write('the tests cannot run until the lines above are dealt with\n');
    process.exit(1);
  }
}
