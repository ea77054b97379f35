import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { USER_AGENT } from './helpers.js';

const main = ['--import', 'tsx', 'src/cli/main.ts'];

describe('harvest-sync simulate', () => {
  it('prints its URL and credentials, serves them, and stops on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [
        ...main,
        'simulate',
        '--port',
        '0',
        '--scale',
        '0.02',
        '--admin-token',
        'tok-a',
        '--manager-token',
        'tok-pm',
        '--account-id',
        '777',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m && out.includes('Ctrl+C')) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    expect(out).toContain('admin token:  tok-a');
    expect(out).toContain('account id:   777');
    expect(out).toContain(`harvest-sync run --base-url ${url} --token tok-a --account-id 777`);
    const res = await fetch(`${url}/v2/users/me`, {
      headers: { Authorization: 'Bearer tok-a', 'Harvest-Account-Id': '777', 'User-Agent': USER_AGENT },
    });
    expect(res.status).toBe(200);
    expect(out).toContain('manager token: tok-pm');
    const managed = await fetch(`${url}/v2/users/me`, {
      headers: { Authorization: 'Bearer tok-pm', 'Harvest-Account-Id': '777', 'User-Agent': USER_AGENT },
    });
    expect(((await managed.json()) as { access_roles: string[] }).access_roles).toEqual(['manager']);
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
  });

  it('refuses a bad flag with one line and exit code 2', async () => {
    const child = spawn(process.execPath, [...main, 'simulate', '--scale', '-1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(2);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toContain('scale');
  });
});
