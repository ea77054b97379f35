import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../src/heap.js';
import { CLI } from './cli-helpers.js';

/**
 * The memory settings of src/heap.ts reach the command users run: the bin's shebang carries the
 * node flags (so `harvest-sync` and `npx harvest-sync` start with them) and node accepts them.
 */
describe('the harvest-sync bin', () => {
  it('starts node with the heap flags of src/heap.ts, and node accepts them', () => {
    const shebang = readFileSync(CLI, 'utf8').split('\n')[0];
    expect(shebang).toBe(`#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
    // run as the kernel would run the bin: env splits the shebang's arguments
    const result = spawnSync('/usr/bin/env', ['-S', `node ${NODE_FLAGS.join(' ')}`, CLI, '--version'], {
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('is what npm run demo starts too', () => {
    const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> })
      .scripts;
    expect(scripts.demo).toContain(`node ${NODE_FLAGS.join(' ')} dist/cli/main.js demo`);
  });
});
