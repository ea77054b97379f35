import { objectTable, childTable } from './schema.js';
import { OBJECTS } from './objects.js';
import type { ObjectSpec } from './types.js';

/*
 * The README's table of objects, written from the catalog: `npm run docs` rewrites the region
 * between the markers, and test/catalog/readme.test.ts fails when README.md is not what this writes.
 * An object added to objects.ts appears here with no other edit.
 */

export const README_START =
  '<!-- objects:start — generated from src/catalog/objects.ts by `npm run docs`; do not edit by hand -->';
export const README_END = '<!-- objects:end -->';

const ROLE: Readonly<Record<ObjectSpec['access'], string>> = {
  admin: 'administrator',
  manager: 'manager',
  member: 'member',
};

const code = (text: string): string => `\`${text}\``;

function readAs(spec: ObjectSpec): string {
  if (spec.parent)
    return `under the ${spec.parent.object} changed since the last run (all on a full refresh)`;
  if (spec.report?.window === 'year')
    return 'report (opt-in): the current year window (all on a full refresh)';
  if (spec.report) return 'report (opt-in): in full, every run';
  const how = spec.incremental ? 'changes only (`updated_since`)' : 'in full, every run';
  return spec.windowField === undefined ? how : `${how}; long full passes as date windows`;
}

function row(spec: ObjectSpec): string {
  const table = objectTable(spec);
  const children = spec.children.map((child) => `${code(childTable(child).name)} (${code(child.parentKey)})`);
  const cells = [
    code(spec.name),
    [code(table.name), ...children].join(', '),
    code(spec.endpoint),
    spec.paging === 'page' ? 'page numbers' : 'cursor',
    readAs(spec),
    spec.sinceField === undefined ? '' : code(spec.sinceField),
    ROLE[spec.access],
    `${table.columns.length}`,
  ];
  return `| ${cells.join(' | ')} |`;
}

/** The markdown table of every object (not aligned: prettier aligns it). */
export function objectsTable(objects: readonly ObjectSpec[] = OBJECTS): string {
  const header = [
    'object',
    'tables',
    'endpoint',
    'paging',
    'read on later runs',
    '`--since` filters',
    'lowest role that can read it',
    'columns',
  ];
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...objects.map(row),
  ].join('\n');
}

/** `readme` with the generated region replaced by `body`; throws when a marker is missing. */
export function replaceGenerated(readme: string, body: string): string {
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start < 0 || end < start) {
    throw new Error(`README.md has no region between "${README_START}" and "${README_END}"`);
  }
  return `${readme.slice(0, start + README_START.length)}\n\n${body}\n\n${readme.slice(end)}`;
}
