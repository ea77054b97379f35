import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The files tests read, all inside the repository under test/fixtures/ (test/fixtures/README.md
 * names each one's source). Paths are relative to that folder, e.g. `harvest-examples/errors.json`.
 */
export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

export function fixturePath(relative: string): string {
  return fileURLToPath(new URL(relative, new URL('../fixtures/', import.meta.url)));
}

export function readFixture(relative: string): string {
  return readFileSync(fixturePath(relative), 'utf8');
}

export function readJsonFixture<T = unknown>(relative: string): T {
  return JSON.parse(readFixture(relative)) as T;
}
