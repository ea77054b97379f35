import { describe, expect, it } from 'vitest';
import { OBJECTS, OBJECT_NAMES } from '../../src/catalog/objects.js';
import { ConfigError } from '../../src/errors.js';
import { planObjects } from '../../src/sync/plan.js';

describe('planObjects', () => {
  it('selects every catalog object when no names are given', () => {
    expect(planObjects(undefined)).toEqual([...OBJECTS]);
  });

  it('keeps catalog order and drops duplicates', () => {
    expect(planObjects(['users', 'clients', 'users', ' roles ']).map((o) => o.name)).toEqual([
      'clients',
      'roles',
      'users',
    ]);
  });

  it('refuses unknown names with a ConfigError listing the valid ones', () => {
    const attempt = () => planObjects(['clients', 'timeentries', 'bogus']);
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(
      `unknown objects "timeentries", "bogus"; valid objects: ${OBJECT_NAMES.join(', ')}`,
    );
  });

  it('refuses an empty selection', () => {
    expect(() => planObjects(['', ' '])).toThrow(/^no object selected; valid objects: clients, /);
  });
});
