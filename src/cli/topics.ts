/**
 * `sluice topics list | create | describe | delete | alter-config`: topic administration through the Admin
 * client. Listings print an aligned table, or one JSON document with `--json`.
 *
 * Config values are given as `key=value` text; integers and `null` (unlimited) are sent as such and
 * anything else as a string, and the broker validates them (its INVALID_CONFIG names the key). The CLI does
 * not carry its own copy of the config table, so it cannot disagree with the broker it talks to.
 */
import { Option, type Command } from 'commander';
import { camelKeyOf } from '../client/config-names.js';
import type { TopicConfig, TopicConfigChanges, TopicConfigKey, TopicDescription } from '../client/types.js';
import { collect, hasCode, integerArg, withAdmin, withBrokerOptions, type BrokerFlags } from './broker-command.js';
import { CliFailure, EXIT_USAGE } from './errors.js';
import type { CliIO } from './program.js';
import { examples, formatBytes, printJson, renderFields, renderTable } from './output.js';

type Json = { json?: boolean };

export function addTopicsCommand(program: Command, io: CliIO): void {
  const topics = program.command('topics').description('list, create, describe, delete topics and change their config');

  withBrokerOptions(topics.command('list'))
    .description('list topics with their partition count')
    .option('--internal', 'include internal topics (names starting with __)')
    .option('--json', 'print one JSON document')
    .addHelpText('after', examples('sluice topics list', 'sluice topics list --json | jq -r ".[].name"'))
    .action((flags: BrokerFlags & Json & { internal?: boolean }) =>
      withAdmin(flags, io, async (admin) => {
        const list = await admin.listTopics({ internal: flags.internal === true });
        if (flags.json) return printJson(io.stdout, list);
        if (list.length === 0) return io.stderr('no topics');
        for (const line of renderTable(['name', 'partitions', 'replication-factor'], list.map((t) => [t.name, t.partitions, t.replicationFactor]))) io.stdout(line);
      }),
    );

  withBrokerOptions(topics.command('create'))
    .description('create a topic')
    .argument('<name>', 'topic name: letters, digits, ".", "_" and "-", at most 249 characters')
    .option('--partitions <n>', 'number of partitions [default: the broker\'s defaultPartitions]', integerArg(1))
    .option('--replication-factor <n>', 'copies of each partition [default: the broker\'s default]', integerArg(1))
    .option('--config <key=value...>', 'topic config keys, e.g. --config retentionMs=86400000 segmentBytes=67108864 (or --config repeated)')
    .option('--if-not-exists', 'succeed without changes when the topic exists already')
    .option('--json', 'print the new topic as JSON')
    .addHelpText(
      'after',
      examples('sluice topics create orders --partitions 6', 'sluice topics create audit --partitions 3 --config retentionMs=null segmentBytes=67108864'),
    )
    .action((name: string, flags: BrokerFlags & Json & { partitions?: number; replicationFactor?: number; config?: string[]; ifNotExists?: boolean }) =>
      withAdmin(flags, io, async (admin) => {
        const config = parseConfigPairs(flags.config ?? []);
        let topic: TopicDescription;
        try {
          topic = await admin.createTopic({
            name,
            ...(flags.partitions !== undefined ? { partitions: flags.partitions } : {}),
            ...(flags.replicationFactor !== undefined ? { replicationFactor: flags.replicationFactor } : {}),
            ...(Object.keys(config).length > 0 ? { config } : {}),
          });
        } catch (err) {
          if (!flags.ifNotExists || !hasCode(err, 'TOPIC_ALREADY_EXISTS')) throw err;
          topic = await admin.describeTopic(name);
          if (!flags.json) io.stderr(`topic ${name} exists already`);
        }
        if (flags.json) return printJson(io.stdout, topic);
        io.stdout(`created topic ${topic.name} with ${topic.partitions.length} partition(s)`);
      }),
    );

  withBrokerOptions(topics.command('describe'))
    .description('show a topic\'s config and, per partition, its offsets, size and replicas')
    .argument('<name>', 'topic name')
    .option('--json', 'print one JSON document')
    .addHelpText('after', examples('sluice topics describe orders', 'sluice topics describe orders --json | jq ".partitions[].highWatermark"'))
    .action((name: string, flags: BrokerFlags & Json) =>
      withAdmin(flags, io, async (admin) => {
        const topic = await admin.describeTopic(name);
        if (flags.json) return printJson(io.stdout, topic);
        for (const line of describeLines(topic)) io.stdout(line);
      }),
    );

  withBrokerOptions(topics.command('delete'))
    .description('delete a topic and all its data (cannot be undone)')
    .argument('<name>', 'topic name')
    .option('--if-exists', 'succeed when the topic does not exist')
    .addHelpText('after', examples('sluice topics delete orders'))
    .action((name: string, flags: BrokerFlags & { ifExists?: boolean }) =>
      withAdmin(flags, io, async (admin) => {
        try {
          await admin.deleteTopic(name);
          io.stdout(`deleted topic ${name}`);
        } catch (err) {
          if (!flags.ifExists || !hasCode(err, 'UNKNOWN_TOPIC')) throw err;
          io.stderr(`topic ${name} does not exist`);
        }
      }),
    );

  withBrokerOptions(topics.command('alter-config'))
    .description('change topic config keys; they take effect at once (retention at its next pass)')
    .argument('<name>', 'topic name')
    .argument('[key=value...]', 'config keys to set; key=null makes retentionMs or retentionBytes unlimited (keep forever, no size limit)')
    .addOption(new Option('--reset <key>', 'return a key to the broker default, after the key=value changes (repeatable)').argParser(collect))
    .option('--json', 'print the new config as JSON')
    .addHelpText(
      'after',
      examples(
        'sluice topics alter-config orders retentionMs=86400000 retentionBytes=1073741824',
        'sluice topics alter-config audit retentionMs=null',
        'sluice topics alter-config orders --reset retentionBytes',
      ),
    )
    .action((name: string, pairs: string[], flags: BrokerFlags & Json & { reset?: string[] }) =>
      withAdmin(flags, io, async (admin) => {
        const changes = parseConfigPairs(pairs);
        const resets = flags.reset ?? [];
        for (const key of resets.map(camelKeyOf)) {
          if (key in changes) throw new CliFailure(`${key} is both set and reset`, EXIT_USAGE);
        }
        if (Object.keys(changes).length === 0 && resets.length === 0) throw new CliFailure('give at least one key=value or --reset KEY', EXIT_USAGE);
        const done: string[] = [];
        let config: TopicConfig | undefined;
        try {
          if (Object.keys(changes).length > 0) {
            config = await admin.alterTopicConfig(name, changes);
            done.push(...Object.keys(changes));
          }
          for (const key of resets.map(camelKeyOf)) {
            // Typed by the user: the broker checks the key (INVALID_CONFIG names it).
            config = await admin.resetTopicConfig(name, key as TopicConfigKey);
            done.push(key);
          }
        } catch (err) {
          if (done.length > 0) io.stderr(`sluice: ${done.join(', ')} of topic ${name} changed before this error:`);
          throw err;
        }
        if (flags.json) return printJson(io.stdout, config);
        io.stdout(`updated ${done.join(', ')} of topic ${name}`);
        for (const line of configLines(config!)) io.stdout(line);
      }),
    );
}

/**
 * `key=value` pairs to config changes. The keys and values are the user's text, unchecked here: the broker
 * validates them and its INVALID_CONFIG names a bad key.
 */
export function parseConfigPairs(pairs: string[]): TopicConfigChanges {
  const config: Record<string, string | number | null> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new CliFailure(`config must be key=value, not ${JSON.stringify(pair)}`, EXIT_USAGE);
    const key = camelKeyOf(pair.slice(0, at)); // Kafka's dotted names too: retention.ms=3600000
    if (key in config) throw new CliFailure(`config key ${key} is given twice`, EXIT_USAGE);
    config[key] = configValue(pair.slice(at + 1));
  }
  return config as TopicConfigChanges;
}

function configValue(text: string): string | number | null {
  if (text === 'null') return null;
  if (/^-?\d+$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
  return text;
}

function describeLines(topic: TopicDescription): string[] {
  const p = topic.partitions;
  const total = (pick: (x: (typeof p)[number]) => number) => p.reduce((sum, x) => sum + pick(x), 0);
  return [
    ...renderFields([
      ['Topic', topic.name],
      ['Partitions', p.length],
      ['Replication factor', p[0]?.replicas.length ?? 0],
      ['Records', total((x) => x.highWatermark - x.logStartOffset)],
      ['Size', `${formatBytes(total((x) => x.sizeBytes))} in ${total((x) => x.segments)} segment(s)`],
    ]),
    '',
    'Config (SOURCE: topic = set on this topic, default = the broker\'s default):',
    ...configLines(topic.config, topic.overrides ?? []).map((line) => `  ${line}`),
    '',
    ...renderTable(
      ['partition', 'leader', 'replicas', 'isr', 'log-start', 'high-watermark', 'log-end', 'size', 'segments'],
      p.map((x) => [x.partition, x.leader, x.replicas.join(','), x.isr.join(','), x.logStartOffset, x.highWatermark, x.logEndOffset, formatBytes(x.sizeBytes), x.segments]),
    ),
    ...followerLines(p),
  ];
}

/** Follower lag per partition, when the broker that answered leads partitions with followers. */
function followerLines(partitions: TopicDescription['partitions']): string[] {
  const rows = partitions.flatMap((x) => (x.followers ?? []).map((f) => [x.partition, f.broker, x.isr.includes(f.broker) ? 'yes' : 'no', f.lagRecords ?? 'unknown', f.lagMs]));
  if (rows.length === 0) return [];
  const under = partitions.filter((x) => x.underReplicated).length;
  return ['', `Followers (${under} under-replicated partition(s)):`, ...renderTable(['partition', 'follower', 'in-sync', 'lag-records', 'lag-ms'], rows)];
}

/** The config as a table; with `overrides` (describe) a SOURCE column says which keys the topic sets. */
function configLines(config: TopicConfig, overrides?: readonly string[]): string[] {
  const entries = Object.entries(config);
  const value = (v: unknown) => (v === null ? 'unlimited' : String(v));
  if (!overrides) return renderTable(['key', 'value'], entries.map(([k, v]) => [k, value(v)]));
  return renderTable(['key', 'value', 'source'], entries.map(([k, v]) => [k, value(v), overrides.includes(k) ? 'topic' : 'default']));
}
