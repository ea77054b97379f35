import { Command } from '../commander.js';
import { OBJECTS } from '../../catalog/objects.js';
import { objectTables } from '../../catalog/schema.js';
import { action } from '../exit.js';

/** The catalog as users see it: objects, endpoints, keys, cursors and typed columns. */
export function describeCatalog() {
  return OBJECTS.map((object) => ({
    object: object.name,
    endpoint: object.endpoint,
    primaryKey: object.primaryKey,
    cursorField: object.incremental ? object.cursorField : null,
    incremental: object.incremental,
    paging: object.paging,
    sinceField: object.sinceField ?? null,
    access: object.access,
    group: object.group,
    listedPer: object.parent ? { object: object.parent.object, key: object.parent.key } : null,
    report: object.report !== undefined,
    inDefaultSet: object.report === undefined,
    description: object.description,
    tables: objectTables(object).map((table) => ({
      table: table.name,
      parentKey: table.parentKey ?? null,
      columns: table.columns.map((c) => ({ name: c.name, type: c.type })),
    })),
  }));
}

export function discoverCommand(): Command {
  return new Command('discover')
    .description('Print the catalog: every object, its endpoint, primary key, cursor field and typed columns')
    .option('--json', 'print the catalog as JSON')
    .action(
      action(async (options: { json?: boolean }) => {
        const catalog = describeCatalog();
        if (options.json) {
          process.stdout.write(JSON.stringify(catalog, null, 2) + '\n');
          return;
        }
        const lines: string[] = [];
        for (const entry of catalog) {
          const sync = entry.report
            ? 'report (opt-in, own budget): by windows of a year'
            : entry.listedPer
              ? `per ${entry.listedPer.object} record (changed ones only on an incremental run)`
              : entry.incremental
                ? `incremental on ${entry.cursorField}`
                : 'full re-read every run';
          lines.push(
            `${entry.object}  ${entry.endpoint}  key ${entry.primaryKey}  ${sync}  (${entry.access} token)`,
          );
          for (const table of entry.tables) {
            if (table.table !== entry.object) lines.push(`  child table ${table.table} (${table.parentKey})`);
            for (const column of table.columns) lines.push(`    ${column.name.padEnd(40)} ${column.type}`);
          }
          lines.push('');
        }
        lines.push(
          'Every table also has _synced_at (last write) and _deleted_at (set when the record is gone).',
        );
        process.stdout.write(lines.join('\n') + '\n');
      }),
    );
}
