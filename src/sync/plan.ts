import { DEFAULT_OBJECTS, OBJECTS, OBJECT_NAMES } from '../catalog/objects.js';
import type { ObjectSpec } from '../catalog/types.js';
import { ConfigError } from '../errors.js';

/**
 * The objects a run syncs, in catalog order: the default set (every object but the reports) when
 * `names` is undefined, otherwise the named ones (duplicates ignored). Throws ConfigError naming the
 * valid objects when a name is unknown.
 */
export function planObjects(names: readonly string[] | undefined): ObjectSpec[] {
  if (names === undefined) return [...DEFAULT_OBJECTS];
  const wanted = new Set(names.map((n) => n.trim()).filter((n) => n !== ''));
  if (wanted.size === 0) {
    throw new ConfigError(`no object selected; valid objects: ${OBJECT_NAMES.join(', ')}`);
  }
  const unknown = [...wanted].filter((n) => !OBJECT_NAMES.includes(n));
  if (unknown.length > 0) {
    const list = unknown.map((n) => JSON.stringify(n)).join(', ');
    throw new ConfigError(
      `unknown object${unknown.length > 1 ? 's' : ''} ${list}; valid objects: ${OBJECT_NAMES.join(', ')}`,
    );
  }
  return OBJECTS.filter((o) => wanted.has(o.name));
}
