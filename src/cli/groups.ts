/**
 * `sluice groups list | describe | delete | reset-offsets`: consumer group administration through the Admin
 * client. `describe` joins the group's members and assignments with its committed offsets, so every assigned
 * or committed partition shows its owner, committed offset, high watermark and lag.
 */
import { Option, type Command } from 'commander';
import type { Admin } from '../client/admin.js';
import type { GroupDescription } from '../client/types.js';
import { integerArg, timeArg, withAdmin, withBrokerOptions, type BrokerFlags } from './broker-command.js';
import { CliFailure, EXIT_USAGE } from './errors.js';
import type { CliIO } from './program.js';
import { examples, printJson, renderFields, renderTable, type Cell } from './output.js';
import { applyReset, notEmpty, planReset, topicSelectionArg, type ResetTo, type TopicSelection } from './reset-offsets.js';

type Json = { json?: boolean };

interface ResetFlags extends BrokerFlags, Json {
  topic?: TopicSelection[];
  allTopics?: boolean;
  shiftBy?: number;
  dryRun?: boolean;
  toEarliest?: boolean;
  toLatest?: boolean;
  toOffset?: number;
  toDatetime?: number;
}

export function addGroupsCommand(program: Command, io: CliIO): void {
  const groups = program.command('groups').description('list, describe (members, assignments, offsets, lag), delete consumer groups and reset their offsets');

  withBrokerOptions(groups.command('list'))
    .description('list consumer groups with their state and member count')
    .option('--json', 'print one JSON document')
    .addHelpText('after', examples('sluice groups list'))
    .action((flags: BrokerFlags & Json) =>
      withAdmin(flags, io, async (admin) => {
        const list = await admin.listGroups();
        if (flags.json) return printJson(io.stdout, list);
        if (list.length === 0) return io.stderr('no groups');
        for (const line of renderTable(['group', 'state', 'members'], list.map((g) => [g.group, g.state, g.members]))) io.stdout(line);
      }),
    );

  withBrokerOptions(groups.command('describe'))
    .description('show a group\'s state, members and, per partition, owner, committed offset, high watermark and lag')
    .argument('<group>', 'group id')
    .option('--json', 'print one JSON document')
    .addHelpText('after', examples('sluice groups describe billing', 'sluice groups describe billing --json | jq "[.offsets[].lag] | add"'))
    .action((group: string, flags: BrokerFlags & Json) =>
      withAdmin(flags, io, async (admin) => {
        const description = await admin.describeGroup(group);
        if (flags.json) return printJson(io.stdout, description);
        for (const line of await describeLines(admin, description)) io.stdout(line);
      }),
    );

  withBrokerOptions(groups.command('delete'))
    .description('delete a group without live members, and its committed offsets')
    .argument('<group>', 'group id')
    .addHelpText('after', examples('sluice groups delete billing'))
    .action((group: string, flags: BrokerFlags) =>
      withAdmin(flags, io, async (admin) => {
        await admin.deleteGroup(group);
        io.stdout(`deleted group ${group}`);
      }),
    );

  withBrokerOptions(groups.command('reset-offsets'))
    .description('move the committed offsets of a group without live members (print the plan only with --dry-run)')
    .argument('<group>', 'group id')
    .addOption(new Option('--topic <topic[:partitions]>', 'a topic, or some of its partitions as orders:0,2 (repeatable)').argParser(topicSelectionArg))
    .option('--all-topics', 'every topic the group has committed offsets for')
    .addOption(new Option('--to-earliest', 'to each partition\'s log start offset'))
    .addOption(new Option('--to-latest', 'to each partition\'s high watermark (skip everything there is)'))
    .addOption(new Option('--to-offset <offset>', 'to this offset (clamped to each partition\'s log start and high watermark)').argParser(integerArg(0)))
    .addOption(new Option('--to-datetime <time>', 'to the first record at or after this time: ISO 8601 (2026-11-23T08:00:00Z) or ms since the epoch').argParser(timeArg))
    .addOption(new Option('--shift-by <n>', 'move each committed offset by n (negative: back), clamped like --to-offset').argParser(integerArg(-Number.MAX_SAFE_INTEGER)))
    .option('--dry-run', 'print the plan (current, new offset, lag after) and change nothing')
    .option('--json', 'print the plan or the new offsets as JSON')
    .addHelpText(
      'after',
      examples(
        'sluice groups reset-offsets billing --topic orders --to-earliest --dry-run',
        'sluice groups reset-offsets billing --topic orders:0,2 --shift-by -100',
        'sluice groups reset-offsets billing --all-topics --to-datetime 2026-11-23T08:00:00Z',
      ),
    )
    .action((group: string, flags: ResetFlags) =>
      withAdmin(flags, io, async (admin) => {
        const to = resetTarget(flags);
        if ((flags.topic === undefined) === (flags.allTopics !== true)) throw new CliFailure('give --topic TOPIC[:PARTITIONS] (repeatable) or --all-topics', EXIT_USAGE);
        const plan = await planReset(admin, group, flags.allTopics ? 'all' : flags.topic!, to);
        if (!flags.dryRun) await applyReset(admin, plan);
        if (flags.json) return printJson(io.stdout, plan.rows);
        io.stdout(flags.dryRun ? `plan for group ${group} (dry run: nothing changed)` : `reset the offsets of group ${group}`);
        const rows = plan.rows.map((r) => [r.topic, r.partition, r.current, r.offset, r.lagAfter]);
        for (const line of renderTable(['topic', 'partition', 'current', 'new-offset', 'lag-after'], rows)) io.stdout(line);
        if (flags.dryRun && plan.members > 0) io.stderr(`sluice: ${notEmpty(plan).message}`);
      }),
    );
}

/** Exactly one of the --to-* options or --shift-by, as the reset target. */
function resetTarget(flags: ResetFlags): ResetTo {
  const given: ResetTo[] = [];
  if (flags.toEarliest) given.push({ kind: 'earliest' });
  if (flags.toLatest) given.push({ kind: 'latest' });
  if (flags.toOffset !== undefined) given.push({ kind: 'offset', offset: flags.toOffset });
  if (flags.toDatetime !== undefined) given.push({ kind: 'datetime', timestamp: flags.toDatetime });
  if (flags.shiftBy !== undefined) given.push({ kind: 'shift', by: flags.shiftBy });
  if (given.length !== 1) throw new CliFailure('give exactly one of --to-earliest, --to-latest, --to-offset N, --to-datetime ISO, --shift-by N', EXIT_USAGE);
  return given[0]!;
}

async function describeLines(admin: Admin, d: GroupDescription): Promise<string[]> {
  // Per partition, like kafka-consumer-groups.sh --describe: the owner's member id, host and client id.
  const owner = new Map<string, Cell[]>();
  for (const m of d.members) for (const a of m.assignments) owner.set(`${a.topic}/${a.partition}`, [m.memberId, m.host, m.clientId]);
  const none: Cell[] = [null, null, null];
  const rows = new Map<string, Cell[]>();
  for (const o of d.offsets) rows.set(`${o.topic}/${o.partition}`, [o.topic, o.partition, o.offset, o.highWatermark, o.lag, ...(owner.get(`${o.topic}/${o.partition}`) ?? none)]);
  // Assigned partitions without a committed offset: their high watermark comes from the topic.
  const uncommitted = d.members.flatMap((m) => m.assignments).filter((a) => !rows.has(`${a.topic}/${a.partition}`));
  const watermarks = new Map<string, number>();
  for (const topic of new Set(uncommitted.map((a) => a.topic))) {
    for (const p of (await admin.describeTopic(topic)).partitions) watermarks.set(`${topic}/${p.partition}`, p.highWatermark);
  }
  for (const a of uncommitted) {
    const key = `${a.topic}/${a.partition}`;
    rows.set(key, [a.topic, a.partition, null, watermarks.get(key), null, ...(owner.get(key) ?? none)]);
  }
  const sorted = [...rows.values()].sort((a, b) => (a[0] === b[0] ? (a[1] as number) - (b[1] as number) : String(a[0]) < String(b[0]) ? -1 : 1));
  return [
    ...renderFields([
      ['Group', d.group],
      ['State', d.state],
      ['Generation', d.generation],
      ['Assignor', d.assignor],
      ['Members', d.members.length],
      ['Total lag', totalLag(d.offsets.reduce((sum, o) => sum + o.lag, 0), d.offsets.length, uncommitted.length)],
    ]),
    ...(d.members.length > 0
      ? [
          '',
          ...renderTable(
            ['member-id', 'client-id', 'host', 'topics', 'partitions', 'releasing', 'pending', 'last-heartbeat'],
            d.members.map((m) => [
              m.memberId,
              m.clientId,
              m.host,
              m.topics.join(','),
              m.assignments.length,
              m.revoking?.length ?? 0,
              m.pending?.length ?? 0,
              new Date(m.lastHeartbeat).toISOString(),
            ]),
          ),
        ]
      : []),
    ...(sorted.length > 0 ? ['', ...renderTable(['topic', 'partition', 'committed', 'high-watermark', 'lag', 'member-id', 'host', 'client-id'], sorted)] : []),
  ];
}

/**
 * The group's total lag as a line: a partition without a committed offset (a member that joined with
 * `--from latest` and has not committed yet) has no lag to add, so the total says it is unknown there
 * rather than print 0.
 */
function totalLag(known: number, committed: number, uncommitted: number): string | number {
  if (uncommitted === 0) return known;
  const partitions = `${uncommitted} partition${uncommitted === 1 ? '' : 's'} without a committed offset`;
  return committed === 0 ? `unknown (${partitions})` : `${known} + unknown (${partitions})`;
}
