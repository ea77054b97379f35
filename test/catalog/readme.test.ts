import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { OBJECTS } from '../../src/catalog/objects.js';
import { README_END, README_START, objectsTable, replaceGenerated } from '../../src/catalog/readme.js';
import { objectTables } from '../../src/catalog/schema.js';
import { generatedReadme } from '../../scripts/readme.js';

const path = fileURLToPath(new URL('../../README.md', import.meta.url));

describe("README's object table", () => {
  it('is what `npm run docs` writes from the catalog (run it after changing src/catalog/objects.ts)', async () => {
    const readme = readFileSync(path, 'utf8');
    expect(readme, 'README.md is out of date with the catalog: run `npm run docs`').toBe(
      await generatedReadme(readme, path),
    );
  });

  it('has a row for every object naming each of its tables', () => {
    const rows = objectsTable().split('\n').slice(2);
    expect(rows).toHaveLength(OBJECTS.length);
    OBJECTS.forEach((spec, i) => {
      for (const table of objectTables(spec)) expect(rows[i]).toContain(`\`${table.name}\``);
    });
  });

  it('replaces only what lies between the markers, and refuses a README without them', () => {
    const text = `before\n${README_START}\nold\n${README_END}\nafter\n`;
    expect(replaceGenerated(text, 'new')).toBe(`before\n${README_START}\n\nnew\n\n${README_END}\nafter\n`);
    expect(() => replaceGenerated('no markers', 'new')).toThrow(/no region/);
  });
});
