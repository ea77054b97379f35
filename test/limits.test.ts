import { describe, expect, it } from 'vitest';
import { sinceObjectsInWords, listInWords } from '../src/catalog/describe.js';
import { OBJECTS } from '../src/catalog/objects.js';
import { connectorSpecification } from '../src/airbyte/catalog.js';
import { parseConfig } from '../src/connectors/config.js';
import { parsePipelineCreate } from '../src/control/validation.js';
import { CONCURRENCY, FREQUENCY_HOURS, PER_PAGE, sinceProblem, wholeNumberProblem } from '../src/limits.js';
import { redactSecrets } from '../src/redact.js';

const pipeline = {
  name: 'acme',
  token: 'tok',
  accountId: '1',
  destination: 'sqlite:acme.db',
};

describe('one set of limits for every surface', () => {
  it('refuses the same per-page bounds in the connectors as in limits.ts', () => {
    expect(parseConfig({ access_token: 't', account_id: '1', per_page: PER_PAGE.max }).perPage).toBe(
      PER_PAGE.max,
    );
    expect(() => parseConfig({ access_token: 't', account_id: '1', per_page: PER_PAGE.max + 1 })).toThrow(
      `per_page must be a whole number from ${PER_PAGE.min} to ${PER_PAGE.max}`,
    );
    expect(() =>
      parseConfig({ access_token: 't', account_id: '1', concurrency: CONCURRENCY.max + 1 }),
    ).toThrow(/concurrency must be a whole number/);
  });

  it('gives the Airbyte SPEC the same bounds', () => {
    const spec = connectorSpecification() as {
      connectionSpecification: { properties: Record<string, { minimum?: number; maximum?: number }> };
    };
    const { properties } = spec.connectionSpecification;
    expect([properties.per_page.minimum, properties.per_page.maximum]).toEqual([PER_PAGE.min, PER_PAGE.max]);
    expect(properties.concurrency.maximum).toBe(CONCURRENCY.max);
  });

  it('bounds a pipeline frequency by FREQUENCY_HOURS and defaults to its default', () => {
    expect(parsePipelineCreate(pipeline).frequencyHours).toBe(FREQUENCY_HOURS.default);
    expect(parsePipelineCreate({ ...pipeline, frequencyHours: FREQUENCY_HOURS.max }).frequencyHours).toBe(
      FREQUENCY_HOURS.max,
    );
    expect(() => parsePipelineCreate({ ...pipeline, frequencyHours: FREQUENCY_HOURS.max + 1 })).toThrow(
      /frequency must be a whole number of hours/,
    );
  });

  it('takes a since date only as a real calendar date, not in the future when asked', () => {
    expect(sinceProblem('2024-02-29')).toBeNull();
    expect(sinceProblem('2023-02-29')).toMatch(/must be a date like/);
    expect(sinceProblem('2024-1-01')).toMatch(/must be a date like/);
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(sinceProblem('2025-01-02', now)).toMatch(/not in the future/);
    expect(sinceProblem('2025-01-01', now)).toBeNull();
    // an impossible date is not blamed on the future
    expect(sinceProblem('2024-02-30', now)).toBe('must be a date like 2024-01-31 (a real calendar date)');
    expect(sinceProblem('yesterday', now)).toBe('must be a date like 2024-01-31');
  });

  it('checks whole numbers against a range', () => {
    expect(wholeNumberProblem(1, PER_PAGE)).toBeNull();
    expect(wholeNumberProblem(1.5, PER_PAGE)).toMatch(/whole number/);
    expect(wholeNumberProblem(0, FREQUENCY_HOURS, 'hours')).toBe(
      'must be a whole number of hours from 1 to 24',
    );
  });
});

describe('texts about objects come from the catalog', () => {
  it('names every object that has a since field, and only those', () => {
    const words = sinceObjectsInWords();
    for (const o of OBJECTS) {
      const named = words.includes(o.name.replace(/_/g, ' '));
      expect(named, o.name).toBe(o.sinceField !== undefined);
    }
  });

  it('joins a list in words', () => {
    expect(listInWords(['a'])).toBe('a');
    expect(listInWords(['a', 'b', 'c'])).toBe('a, b and c');
  });
});

describe('redactSecrets', () => {
  it('blanks every secret, the longest first, and ignores empty ones', () => {
    expect(redactSecrets('p%40ss and p@ss', ['p@ss', 'p%40ss', ''])).toBe('*** and ***');
    expect(redactSecrets('token abc', ['abc'], '[redacted]')).toBe('token [redacted]');
  });
});
