/** `sluice retention run`: runs the broker's retention pass now and prints what it deleted. */
import type { Command } from 'commander';
import { withAdmin, withBrokerOptions, type BrokerFlags } from './broker-command.js';
import { examples, formatBytes, printJson } from './output.js';
import type { CliIO } from './program.js';

export function addRetentionCommand(program: Command, io: CliIO): void {
  const retention = program.command('retention').description('run retention (time- and size-based deletion of old segments)');
  withBrokerOptions(retention.command('run'))
    .description('run the broker\'s retention pass now, instead of waiting for retentionCheckIntervalMs')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', examples('sluice retention run', 'sluice topics alter-config logs retentionMs=3600000 && sluice retention run'))
    .action((flags: BrokerFlags & { json?: boolean }) =>
      withAdmin(flags, io, async (admin) => {
        const result = await admin.runRetention();
        if (flags.json) return printJson(io.stdout, result);
        io.stdout(`deleted ${result.deletedSegments} segment(s), freed ${formatBytes(result.freedBytes)}`);
      }),
    );
}
