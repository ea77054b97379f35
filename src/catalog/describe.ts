import { OBJECTS } from './objects.js';
import type { ObjectSpec } from './types.js';

/*
 * Sentences about the catalog for help texts and the README, written from the catalog so that an
 * object added there is named everywhere without another edit.
 */

/** "time entries", from the object's name. */
export function plainName(name: string): string {
  return name.replace(/_/g, ' ');
}

/** "a, b and c" (or "a" / "a and b"). */
export function listInWords(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** The objects `--since` (and `since`, `start_date`) limits by a business date. */
export function sinceObjects(objects: readonly ObjectSpec[] = OBJECTS): readonly ObjectSpec[] {
  return objects.filter((o) => o.sinceField !== undefined);
}

/** "time entries, expenses, invoices and estimates": the objects `--since` limits, in words. */
export function sinceObjectsInWords(objects: readonly ObjectSpec[] = OBJECTS): string {
  return listInWords(sinceObjects(objects).map((o) => plainName(o.name)));
}
