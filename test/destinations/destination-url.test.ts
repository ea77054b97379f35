import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DESTINATION_URL,
  SqliteDestination,
  openDestination,
  parseDestinationUrl,
  redactUrl,
} from '../../src/destinations/index.js';
import { ConfigError } from '../../src/errors.js';

describe('parseDestinationUrl', () => {
  it.each([
    ['sqlite:./harvest.db', './harvest.db'],
    ['sqlite:data/x.sqlite', 'data/x.sqlite'],
    ['sqlite:///var/lib/harvest.db', '/var/lib/harvest.db'],
    ['sqlite://relative/harvest', 'relative/harvest'],
    ['SQLITE:/tmp/any-name', '/tmp/any-name'],
    ['./harvest.db', './harvest.db'],
    ['/srv/data/harvest.sqlite3', '/srv/data/harvest.sqlite3'],
    ['C:\\data\\harvest.db', 'C:\\data\\harvest.db'],
    ['  sqlite:./spaced.db  ', './spaced.db'],
  ])('reads %s as the SQLite file %s', (url, path) => {
    expect(parseDestinationUrl(url)).toEqual({ kind: 'sqlite', url: url.trim(), path });
  });

  it('defaults to ./harvest.db', () => {
    expect(DEFAULT_DESTINATION_URL).toBe('sqlite:./harvest.db');
    expect(parseDestinationUrl()).toEqual({
      kind: 'sqlite',
      url: 'sqlite:./harvest.db',
      path: './harvest.db',
    });
  });

  it.each(['postgres://user:pw@db.example.com/harvest', 'postgresql://localhost/harvest?sslmode=require'])(
    'reads %s as PostgreSQL',
    (url) => {
      expect(parseDestinationUrl(url)).toEqual({ kind: 'postgres', url });
    },
  );

  it.each([
    [
      'mssql://sa@localhost/harvest',
      'unknown destination scheme "mssql:" (use sqlite:PATH, postgres://USER@HOST/DB or mysql://USER@HOST/DB)',
    ],
    ['file:./harvest.db', 'unknown destination scheme "file:"'],
    ['sqlite:', 'the SQLite path is empty'],
    ['sqlite://', 'the SQLite path is empty'],
    ['', 'the destination is empty'],
    ['./harvest', 'cannot tell what kind of destination "./harvest" is'],
    ['sqlite:a\0b.db', 'NUL character'],
  ])('refuses %j with a one-line ConfigError', (url, message) => {
    expect(() => parseDestinationUrl(url)).toThrow(ConfigError);
    expect(() => parseDestinationUrl(url)).toThrow(message);
  });
});

describe('openDestination', () => {
  it('makes an unopened SQLite destination', () => {
    const destination = openDestination('sqlite:/tmp/never-opened.db');
    expect(destination).toBeInstanceOf(SqliteDestination);
    expect(destination.kind).toBe('sqlite');
    expect(destination.description).toBe('sqlite:/tmp/never-opened.db');
  });

  it('makes an unopened PostgreSQL destination that never shows its password', () => {
    const destination = openDestination('postgres://harvest:s3cret@127.0.0.1:1/none');
    expect(destination.kind).toBe('postgres');
    expect(destination.description).not.toContain('s3cret');
  });
});

describe('redactUrl', () => {
  it.each([
    ['mysql://harvest:s3cret@db:3306/h?ssl=true', 'mysql://harvest:***@db:3306/h?ssl=true'],
    ['mariadb://u:p@ss@host/db', 'mariadb://u:***@host/db'],
    ['postgres://harvest:s3cret@db:5432/h', 'postgres://harvest:***@db:5432/h'],
    ['postgresql://u:p%40ss@host/db?sslmode=require', 'postgresql://u:***@host/db?sslmode=require'],
    ['postgres://u:p@ss/w@host/db', 'postgres://u:***@host/db'],
    ['postgres://host/db?user=u&password=s3cret&x=1', 'postgres://host/db?user=u&password=***&x=1'],
    ['postgres://u@host:5432/db', 'postgres://u@host:5432/db'],
    ['sqlite:///tmp/a:b@c.db', 'sqlite:///tmp/a:b@c.db'],
  ])('shows %s as %s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });
});
