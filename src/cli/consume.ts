/**
 * `sluice consume TOPIC`: the console consumer, over sluice/client's Consumer (binary fetches, long polling).
 * Prints each record's value on a line, or with `--json` one JSON object per record.
 *
 * Without `--follow` it stops once it has printed everything below each partition's high watermark as it was
 * when the command started; with `--follow` it waits for new records until Ctrl-C (or `--max`).
 *
 * With `--group` it joins the group (heartbeats in the background) and commits after printing each batch of
 * records, so a record is committed only once it is on stdout; on exit, Ctrl-C included, it commits once more
 * (also the start positions of partitions it read nothing from) and leaves the group. `--from` then applies
 * only to partitions without a committed offset.
 *
 * Without `--follow`, a broker that stops serving (no record for `--timeout` while records are left) is an
 * error rather than a hang; with `--follow` it keeps retrying, like `tail -F`.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { Consumer } from '../client/consumer.js';
import type { ConsumerRecord, PartitionDescription } from '../client/types.js';
import { brokerConnection, brokerUrl, retryReporter, integerArg, withAdmin, withBrokerOptions, type BrokerFlags } from './broker-command.js';
import { CliFailure, EXIT_INTERRUPTED, EXIT_USAGE } from './errors.js';
import { bytesText, examples } from './output.js';
import type { CliIO } from './program.js';
import { shareConsume } from './share-consume.js';

type From = 'earliest' | 'latest' | number;

export interface ConsumeFlags extends BrokerFlags {
  group?: string;
  shareGroup?: string;
  visibilityTimeout?: number;
  partition?: number;
  from: From;
  max?: number;
  follow?: boolean;
  json?: boolean;
  printKey?: boolean;
  keySeparator: string;
  encoding: 'utf8' | 'base64';
}

const POLL_RECORDS = 500;

export function addConsumeCommand(program: Command, io: CliIO): void {
  withBrokerOptions(program.command('consume'))
    .description('print the records of a topic, one value per line (--json: whole records)')
    .argument('<topic>', 'topic to read')
    .option('--group <group>', 'consume as a member of this group: the broker assigns partitions; offsets are committed after printing')
    .option('--share-group <group>', 'receive as a worker of this share group: each record goes to one worker, and is accepted after printing (docs/queues.md)')
    .option('--visibility-timeout <ms>', 'with --share-group: lease length (default: the group\'s)', integerArg(100, 43_200_000))
    .option('--partition <n>', 'read only this partition (not with --group)', integerArg(0))
    .addOption(
      new Option('--from <where>', 'start at earliest, latest or an offset (with --group: only on partitions without a committed offset)').default('earliest').argParser(fromArg),
    )
    .option('--max <n>', 'stop after this many records', integerArg(1))
    .option('-f, --follow', 'keep waiting for new records (long polling) until Ctrl-C')
    .option('--json', 'one JSON object per record: topic, partition, offset, timestamp, key, value, headers')
    .option('--print-key', 'print the key before the value')
    .option('--key-separator <sep>', 'between key and value with --print-key', '\t')
    .addOption(new Option('--encoding <encoding>', 'how keys, values and header values are printed').choices(['utf8', 'base64']).default('utf8'))
    .addHelpText(
      'after',
      examples(
        'sluice consume orders --max 10',
        'sluice consume orders --partition 2 --from 1500 --json',
        'sluice consume orders --group audit --follow',
        'sluice consume jobs --share-group workers --follow',
      ),
    )
    .action((topic: string, flags: ConsumeFlags) => consume(topic, flags, io));
}

function fromArg(value: string): From {
  if (value === 'earliest' || value === 'latest') return value;
  if (/^\d+$/.test(value) && Number.isSafeInteger(Number(value))) return Number(value);
  throw new InvalidArgumentError('expected earliest, latest or an offset >= 0');
}

async function consume(topic: string, flags: ConsumeFlags, io: CliIO): Promise<void> {
  if (flags.shareGroup !== undefined) return shareConsume(topic, flags, io);
  if (flags.group !== undefined && flags.partition !== undefined) throw new CliFailure('--partition cannot be used with --group (the group assigns partitions)', EXIT_USAGE);
  const broker = brokerUrl(flags);
  // Also fails fast, within --timeout, when the broker or the topic is not there.
  const partitions = await withAdmin(flags, io, async (admin) => (await admin.describeTopic(topic)).partitions);
  const chosen = flags.partition === undefined ? partitions : partitions.filter((p) => p.partition === flags.partition);
  if (chosen.length === 0) throw new CliFailure(`topic ${topic} has ${partitions.length} partition(s); there is no partition ${flags.partition}`);
  const from = flags.from;
  if (typeof from === 'number' && flags.group === undefined) checkOffset(topic, chosen, from);
  const end = new Map(partitions.map((p) => [p.partition, p.highWatermark]));

  const consumer = new Consumer({
    broker,
    ...brokerConnection(flags),
    topics: [topic],
    ...(flags.group !== undefined
      ? { group: flags.group, autoCommit: false, ...(typeof from === 'number' ? { startOffset: from } : {}) }
      : { partitions: chosen.map((p) => ({ topic, partition: p.partition, ...(typeof from === 'number' ? { offset: from } : {}) })) }),
    autoOffsetReset: typeof from === 'number' ? 'earliest' : from,
    requestTimeoutMs: Math.max(flags.timeout, 1_000),
  });
  consumer.on('retry', retryReporter(io, broker, flags.follow ? null : flags.timeout));
  const stall = Math.max(flags.timeout, 1_000);
  let printed = 0;
  let lastProgress = Date.now();
  let allPrinted = true;
  let interrupted = false;
  const interrupt = () => {
    if (interrupted) process.exit(EXIT_INTERRUPTED); // a second Ctrl-C: leave at once
    interrupted = true; // the loop ends within one poll
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  try {
    // Short polls until the consumer has started (joined the group, found its start positions), so an empty
    // topic ends at once.
    while (!interrupted) {
      const want = flags.max === undefined ? POLL_RECORDS : Math.min(POLL_RECORDS, flags.max - printed);
      const records = await consumer.poll({ maxRecords: want, timeoutMs: started(consumer, flags) ? 500 : 20 });
      if (records.length > 0) {
        if (!(await io.write(formatRecords(records, flags)))) {
          allPrinted = false; // the reader went away (EPIPE): this batch must not be committed
          break;
        }
        printed += records.length;
        lastProgress = Date.now();
        if (flags.group !== undefined) await commitPrinted(consumer, io);
      }
      if (flags.max !== undefined && printed >= flags.max) break;
      if (flags.follow || !started(consumer, flags)) continue;
      const left = remaining(consumer, end);
      // Partitions still on their way (the group forming, or their previous owner releasing them) count too.
      if (left === 0 && consumer.pendingAssignment().length === 0) break;
      if (left > 0 && Date.now() - lastProgress > stall) {
        throw new CliFailure(`no records from ${broker} for ${stall} ms with ${left} record(s) below the high watermark still to read`);
      }
    }
    // Also commits where it started on partitions nothing was read from, and retries a commit the group
    // refused while it was rebalancing.
    if (flags.group !== undefined && allPrinted) await commitPrinted(consumer, io);
  } finally {
    await consumer.close(); // leaves the group; with autoCommit off it commits nothing more
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
  io.stderr(`consumed ${printed} record(s)`);
  // Ctrl-C is the normal way to end --follow; without it, the command did not get to the end.
  if (interrupted && !flags.follow) throw new CliFailure('interrupted', EXIT_INTERRUPTED);
}

/** A numeric --from must lie in every chosen partition's [log start, high watermark]. */
function checkOffset(topic: string, partitions: PartitionDescription[], offset: number): void {
  for (const p of partitions) {
    if (offset < p.logStartOffset || offset > p.highWatermark) {
      throw new CliFailure(`offset ${offset} is out of range for ${topic}/${p.partition}: give ${p.logStartOffset} (its log start) to ${p.highWatermark} (its high watermark)`);
    }
  }
}

/** Whether the consumer has joined its group, or (without one) knows its partitions. */
function started(consumer: Consumer, flags: ConsumeFlags): boolean {
  return flags.group !== undefined ? consumer.generation >= 0 : consumer.assignment().length > 0;
}

/**
 * Records still to print: below the high watermark each owned partition had at start-up. Called after a
 * poll, so a group member has joined; a member the group gave no partitions has none.
 */
function remaining(consumer: Consumer, end: Map<number, number>): number {
  return consumer.assignment().reduce((sum, tp) => sum + Math.max(0, (end.get(tp.partition) ?? 0) - consumer.position(tp)), 0);
}

async function commitPrinted(consumer: Consumer, io: CliIO): Promise<void> {
  try {
    await consumer.commit();
  } catch (err) {
    // A rebalance moved a partition away: its new owner starts from the last commit, so some records repeat.
    io.stderr(`sluice: warning: commit refused (${(err as Error).message}); the group's next owner may print some records again`);
  }
}

export function formatRecords(records: ConsumerRecord[], flags: ConsumeFlags): string {
  let out = '';
  for (const r of records) {
    if (flags.json) {
      const headers = Object.fromEntries(r.headerList.map((h) => [h.key, bytesText(h.value, flags.encoding)]));
      out += JSON.stringify({ topic: r.topic, partition: r.partition, offset: r.offset, timestamp: r.timestamp, key: bytesText(r.key, flags.encoding), value: bytesText(r.value, flags.encoding), headers }) + '\n';
    } else {
      const value = bytesText(r.value, flags.encoding) ?? 'null';
      out += flags.printKey ? `${bytesText(r.key, flags.encoding) ?? 'null'}${flags.keySeparator}${value}\n` : `${value}\n`;
    }
  }
  return out;
}

