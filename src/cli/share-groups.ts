/**
 * `sluice share-groups list | describe | delete | configure`: share group administration through the Admin
 * client. `describe` shows the config and, per partition, the start offset, records leased, records
 * available and lag.
 */
import { Option, type Command } from 'commander';
import { integerArg, withAdmin, withBrokerOptions, type BrokerFlags } from './broker-command.js';
import type { CliIO } from './program.js';
import { examples, printJson, renderFields, renderTable } from './output.js';

type Json = { json?: boolean };

interface ConfigureFlags extends BrokerFlags, Json {
  visibilityTimeout?: number;
  maxDeliveryCount?: number;
  /** false: --no-dead-letter-topic */
  deadLetterTopic?: string | false;
  startFrom?: 'latest' | 'earliest';
}

export function addShareGroupsCommand(program: Command, io: CliIO): void {
  const groups = program.command('share-groups').description('list, describe, configure and delete share groups (queues on topics: docs/queues.md)');

  withBrokerOptions(groups.command('list'))
    .description('list share groups and the topics they read')
    .option('--json', 'print one JSON document')
    .addHelpText('after', examples('sluice share-groups list'))
    .action((flags: BrokerFlags & Json) =>
      withAdmin(flags, io, async (admin) => {
        const list = await admin.listShareGroups();
        if (flags.json) return printJson(io.stdout, list);
        if (list.length === 0) return io.stderr('no share groups');
        for (const line of renderTable(['group', 'topics'], list.map((g) => [g.group, g.topics.join(',')]))) io.stdout(line);
      }),
    );

  withBrokerOptions(groups.command('describe'))
    .description('show a share group\'s config and, per partition, start offset, leased and available records, and lag')
    .argument('<group>', 'share group id')
    .option('--json', 'print one JSON document')
    .addHelpText('after', examples('sluice share-groups describe workers'))
    .action((group: string, flags: BrokerFlags & Json) =>
      withAdmin(flags, io, async (admin) => {
        const d = await admin.describeShareGroup(group);
        if (flags.json) return printJson(io.stdout, d);
        const lines = [
          ...renderFields([
            ['Group', d.group],
            ['Visibility timeout (ms)', d.config.visibilityTimeoutMs],
            ['Max delivery count', d.config.maxDeliveryCount],
            ['Dead-letter topic', d.config.deadLetterTopic ?? '(none)'],
            ['Start from', d.config.startFrom],
            ['Total lag', d.partitions.reduce((n, p) => n + p.lag, 0)],
          ]),
          ...(d.partitions.length > 0
            ? ['', ...renderTable(['topic', 'partition', 'start-offset', 'acquired', 'available', 'lag'], d.partitions.map((p) => [p.topic, p.partition, p.startOffset, p.acquired, p.available, p.lag]))]
            : []),
        ];
        for (const line of lines) io.stdout(line);
      }),
    );

  withBrokerOptions(groups.command('configure'))
    .description('create a share group or change its settings')
    .argument('<group>', 'share group id')
    .option('--visibility-timeout <ms>', 'lease length (100 to 43,200,000)', integerArg(100, 43_200_000))
    .option('--max-delivery-count <n>', 'deliveries before a record is dead-lettered (1 to 1,000)', integerArg(1, 1_000))
    .option('--dead-letter-topic <topic>', 'where rejected records and records past the max delivery count go')
    .option('--no-dead-letter-topic', 'drop such records instead')
    .addOption(new Option('--start-from <where>', 'where partitions start when the group first reads them').choices(['latest', 'earliest']))
    .option('--json', 'print the config as JSON')
    .addHelpText('after', examples('sluice share-groups configure workers --visibility-timeout 60000 --dead-letter-topic jobs-dlq --start-from earliest'))
    .action((group: string, flags: ConfigureFlags) =>
      withAdmin(flags, io, async (admin) => {
        const config = await admin.configureShareGroup(group, {
          ...(flags.visibilityTimeout !== undefined ? { visibilityTimeoutMs: flags.visibilityTimeout } : {}),
          ...(flags.maxDeliveryCount !== undefined ? { maxDeliveryCount: flags.maxDeliveryCount } : {}),
          ...(flags.deadLetterTopic !== undefined ? { deadLetterTopic: flags.deadLetterTopic === false ? null : flags.deadLetterTopic } : {}),
          ...(flags.startFrom !== undefined ? { startFrom: flags.startFrom } : {}),
        });
        if (flags.json) return printJson(io.stdout, config);
        for (const line of renderFields(Object.entries(config).map(([k, v]) => [k, v ?? '(none)']))) io.stdout(line);
      }),
    );

  withBrokerOptions(groups.command('delete'))
    .description('delete a share group: its leases end and its acks are forgotten')
    .argument('<group>', 'share group id')
    .addHelpText('after', examples('sluice share-groups delete workers'))
    .action((group: string, flags: BrokerFlags) =>
      withAdmin(flags, io, async (admin) => {
        await admin.deleteShareGroup(group);
        io.stdout(`deleted share group ${group}`);
      }),
    );
}
