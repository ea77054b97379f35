import { describe, expect, it } from 'vitest';
import { OBJECTS, OBJECT_NAMES } from '../../src/catalog/objects.js';
import { ConfigError } from '../../src/errors.js';
import { planObjects } from '../../src/sync/plan.js';

describe('planObjects', () => {
  it('selects every catalog object but the reports when no names are given', () => {
    expect(planObjects(undefined)).toEqual(OBJECTS.filter((o) => o.report === undefined));
    expect(planObjects(undefined).map((o) => o.name)).toContain('invoice_payments');
    expect(planObjects(undefined).map((o) => o.name)).toContain('company');
  });

  it('reads a report only when it is named (opt-in)', () => {
    expect(planObjects(['report_time_clients', 'clients']).map((o) => o.name)).toEqual([
      'clients',
      'report_time_clients',
    ]);
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
