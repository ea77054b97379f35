import { Command } from '../commander.js';
import { OBJECTS } from '../../catalog/objects.js';
import { HarvestClient } from '../../harvest/client.js';
import { reasonsLine } from '../../harvest/errors.js';
import { action, EXIT } from '../exit.js';
import { addHarvestOptions, parseHarvestFlags, type HarvestFlags } from '../harvest-options.js';

export function checkCommand(): Command {
  const command = new Command('check')
    .description(
      "Test the connection (like Hevo's TEST & CONTINUE): token, account, admin rights, readable objects",
    )
    .option('--json', 'print the result as JSON');
  addHarvestOptions(command);
  return command.action(
    action(async (flags: HarvestFlags & { json?: boolean }) => {
      const connection = parseHarvestFlags(flags);
      const client = new HarvestClient(connection);
      const check = await client.checkConnection(OBJECTS);
      const readable = check.objects.filter((o) => o.readable).length;
      if (flags.json) {
        process.stdout.write(JSON.stringify(check, null, 2) + '\n');
      } else {
        const lines = [
          `token belongs to ${check.user.name} <${check.user.email}> (user ${check.user.id})`,
          `account ${connection.accountId}${check.company ? ` (${check.company.name})` : ''}: ${check.isAdmin ? 'administrator: every object is readable' : `not an administrator (${check.accessRoles.join(', ') || 'no roles'}): some objects may be skipped`}`,
          '',
          ...check.objects.map(
            (o) => `  ${o.readable ? 'ok     ' : 'skipped'} ${o.name}${o.reason ? `  (${o.reason})` : ''}`,
          ),
          '',
          `${readable} of ${check.objects.length} objects readable`,
        ];
        process.stdout.write(lines.join('\n') + '\n');
      }
      if (readable > 0) return EXIT.ok;
      const reasons = reasonsLine(check.objects.map((o) => ({ name: o.name, reason: o.reason })));
      process.stderr.write(
        `error: nothing can be synced: this token can read none of the objects — ${reasons}\n`,
      );
      return EXIT.failed;
    }),
  );
}
