import { describe, expect, it } from 'vitest';
import { DEFAULT_OBJECT_NAMES } from '../../src/catalog/objects.js';
import {
  PipelineValidationError,
  errorLine,
  fieldErrors,
  parsePipelineCreate,
  parsePipelineUpdate,
  pipelineCreateSchema,
} from '../../src/control/validation.js';

const valid = {
  name: 'acme',
  token: 'pat-abcdef123456',
  accountId: '123456',
  destination: 'sqlite:acme.db',
};

function refusal(input: Record<string, unknown>): Record<string, string> {
  const parsed = pipelineCreateSchema.safeParse(input);
  if (parsed.success) throw new Error(`accepted ${JSON.stringify(input)}`);
  return fieldErrors(parsed.error);
}

const tomorrow = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
const frequencyMessage = 'frequency must be a whole number of hours from 1 to 24';

describe('pipeline validation refuses bad input with a message naming the field and what is allowed', () => {
  it.each([
    ['frequency 1.5', { frequencyHours: 1.5 }, 'frequencyHours', frequencyMessage],
    ['frequency 0', { frequencyHours: 0 }, 'frequencyHours', frequencyMessage],
    ['frequency 25', { frequencyHours: 25 }, 'frequencyHours', frequencyMessage],
    ['frequency "abc"', { frequencyHours: 'abc' }, 'frequencyHours', frequencyMessage],
    ['frequency "1.5" from the command line', { frequencyHours: '1.5' }, 'frequencyHours', frequencyMessage],
    ['frequency ""', { frequencyHours: '' }, 'frequencyHours', frequencyMessage],
    ['frequency -3', { frequencyHours: -3 }, 'frequencyHours', frequencyMessage],
    ['frequency true', { frequencyHours: true }, 'frequencyHours', frequencyMessage],
    ['an empty name', { name: '' }, 'name', 'name must be 1 to 255 characters'],
    ['a blank name', { name: '   ' }, 'name', 'name must be 1 to 255 characters'],
    ['a 256-character name', { name: 'x'.repeat(256) }, 'name', 'name must be 1 to 255 characters'],
    [
      'a name with a line break',
      { name: 'a\nb' },
      'name',
      'name must not contain control characters or line breaks',
    ],
    ['no name', { name: undefined }, 'name', 'name is required'],
    ['an empty token', { token: '' }, 'token', /^token must be a Harvest personal access token/],
    ['a token with spaces', { token: 'ab cd' }, 'token', /^token must be/],
    ['a token with markup', { token: '<script>alert(1)</script>' }, 'token', /^token must be/],
    ['a token with quotes', { token: "abc'--" }, 'token', /^token must be/],
    ['a 4097-character token', { token: 'x'.repeat(4097) }, 'token', /^token must be .*4096/],
    ['no token', { token: undefined }, 'token', 'token is required'],
    ['a non-numeric account id', { accountId: '12a4' }, 'accountId', /digits only/],
    ['an empty account id', { accountId: '' }, 'accountId', /digits only/],
    [
      'an unknown destination scheme',
      { destination: 'mssql://x/y' },
      'destination',
      /unknown destination scheme "mssql:"/,
    ],
    [
      'a destination path climbing out with ..',
      { destination: 'sqlite:../../etc/x.db' },
      'destination',
      /must not contain "\.\." segments/,
    ],
    [
      'a destination path with .. in the middle',
      { destination: 'sqlite:/data/a/../b.db' },
      'destination',
      /"\.\." segments/,
    ],
    ['a destination path with a NUL byte', { destination: 'sqlite:a\0b.db' }, 'destination', /NUL character/],
    ['an empty SQLite path', { destination: 'sqlite:' }, 'destination', /SQLite path is empty/],
    [
      'a PostgreSQL URL without a database',
      { destination: 'postgres://u@host' },
      'destination',
      /must name a database/,
    ],
    ['an unknown object', { objects: ['clients', 'widgets'] }, 'objects', /unknown object "widgets"/],
    ['an empty object list', { objects: [] }, 'objects', 'objects must name at least one object'],
    [
      'objects that are not strings',
      { objects: [1, 2] },
      'objects',
      /^objects must be a list of catalog objects/,
    ],
    [
      'a since date in the wrong format',
      { since: '01/02/2024' },
      'since',
      /since must be a date like 2024-01-31/,
    ],
    ['a since date that does not exist', { since: '2024-02-30' }, 'since', /since must be a date/],
    ['a since date in the future', { since: tomorrow }, 'since', /not in the future/],
    [
      'full refresh every 0 hours',
      { fullRefreshHours: 0 },
      'fullRefreshHours',
      'fullRefreshHours must be a whole number of hours from 1 to 720',
    ],
    ['full refresh every 721 hours', { fullRefreshHours: 721 }, 'fullRefreshHours', /from 1 to 720/],
    [
      'a base URL that is not http(s)',
      { baseUrl: 'ftp://harvest' },
      'baseUrl',
      /baseUrl must be an http\(s\) URL/,
    ],
    ['a base URL that is not a URL', { baseUrl: 'harvest' }, 'baseUrl', /baseUrl must be an http\(s\) URL/],
    [
      'a base URL with a query',
      { baseUrl: 'https://api.harvestapp.com/v2?account_id=1' },
      'baseUrl',
      'baseUrl must not have a query (?…) or a fragment (#…)',
    ],
    [
      'a base URL with credentials',
      { baseUrl: 'https://user:pw@api.harvestapp.com' },
      'baseUrl',
      'baseUrl must not hold a user name or password',
    ],
    ['enabled as a string', { enabled: 'yes' }, 'enabled', 'enabled must be true or false'],
    ['an unknown field', { colour: 'red' }, 'colour', 'unknown field "colour"'],
  ])('refuses %s', (_label, change, field, message) => {
    const errors = refusal({ ...valid, ...change });
    if (typeof message === 'string') expect(errors[field]).toBe(message);
    else expect(errors[field]).toMatch(message);
  });

  it('reports every bad field at once, on one line for the command line', () => {
    const parsed = pipelineCreateSchema.safeParse({ ...valid, frequencyHours: 25, accountId: 'x' });
    expect(parsed.success).toBe(false);
    if (parsed.success) return;
    expect(errorLine(parsed.error)).toBe(
      `accountId must be the numeric Harvest account id (digits only); ${frequencyMessage}`,
    );
    expect(() => parsePipelineCreate({ ...valid, frequencyHours: 0 })).toThrow(PipelineValidationError);
    try {
      parsePipelineCreate({ ...valid, frequencyHours: 0 });
    } catch (error) {
      expect((error as PipelineValidationError).fields).toEqual({ frequencyHours: frequencyMessage });
      expect((error as PipelineValidationError).code).toBe('CONFIG_INVALID');
    }
  });
});

describe('pipeline validation accepts good input and normalises it', () => {
  it('fills the defaults: every object but the reports, every hour, daily full refresh, Harvest API, enabled', () => {
    expect(parsePipelineCreate(valid)).toEqual({
      ...valid,
      objects: [...DEFAULT_OBJECT_NAMES],
      frequencyHours: 1,
      since: null,
      fullRefreshHours: 24,
      baseUrl: 'https://api.harvestapp.com',
      enabled: true,
    });
  });

  it.each([
    ['frequency 1', { frequencyHours: 1 }, { frequencyHours: 1 }],
    ['frequency 24', { frequencyHours: 24 }, { frequencyHours: 24 }],
    ['frequency "6" from the command line', { frequencyHours: ' 6 ' }, { frequencyHours: 6 }],
    ['a trimmed name', { name: '  Acme prod  ' }, { name: 'Acme prod' }],
    ['a 255-character name', { name: 'n'.repeat(255) }, { name: 'n'.repeat(255) }],
    ['a numeric account id', { accountId: 987 }, { accountId: '987' }],
    [
      'objects as a comma list, in catalog order without duplicates',
      { objects: 'projects, clients,clients' },
      { objects: ['clients', 'projects'] },
    ],
    [
      'an absolute SQLite path',
      { destination: 'sqlite:/var/lib/harvest.db' },
      { destination: 'sqlite:/var/lib/harvest.db' },
    ],
    [
      'a PostgreSQL URL with a password',
      { destination: 'postgres://u:p@db:5432/wh?schema=harvest' },
      { destination: 'postgres://u:p@db:5432/wh?schema=harvest' },
    ],
    ['a since date today or before', { since: '2020-02-29' }, { since: '2020-02-29' }],
    ['full refresh every 720 hours', { fullRefreshHours: '720' }, { fullRefreshHours: 720 }],
    [
      'a simulator base URL, trailing slash dropped',
      { baseUrl: 'http://127.0.0.1:4010/' },
      { baseUrl: 'http://127.0.0.1:4010' },
    ],
    ...[
      'https://api.harvestapp.com/v2',
      'https://api.harvestapp.com/v2/',
      'https://api.harvestapp.com/',
      ' https://API.harvestapp.com:443/v2// ',
    ].map((baseUrl): [string, object, object] => [
      `Harvest's documented base URL as ${JSON.stringify(baseUrl)}`,
      { baseUrl },
      { baseUrl: 'https://api.harvestapp.com' },
    ]),
    [
      'a proxy base URL with a path prefix and /v2',
      { baseUrl: 'http://proxy.local:8080/harvest/v2/' },
      { baseUrl: 'http://proxy.local:8080/harvest' },
    ],
    ['a paused pipeline', { enabled: false }, { enabled: false }],
  ])('accepts %s', (_label, change, expected) => {
    expect(parsePipelineCreate({ ...valid, ...change })).toMatchObject(expected);
  });

  it('changes only the given fields on update, and can clear since', () => {
    expect(parsePipelineUpdate({ frequencyHours: '12' })).toEqual({ frequencyHours: 12 });
    expect(parsePipelineUpdate({ since: null, name: undefined })).toEqual({ since: null });
    expect(parsePipelineUpdate({})).toEqual({});
    expect(() => parsePipelineUpdate({ frequencyHours: 0 })).toThrow(frequencyMessage);
  });
});
