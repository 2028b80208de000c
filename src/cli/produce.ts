/**
 * `sluice produce TOPIC`: the console producer. Every line of stdin becomes one record (its bytes as they are,
 * without the line ending), sent through sluice/client's idempotent Producer in batches. Reading follows
 * delivery: `enqueue` waits while the producer's buffer is full, and stdin is not read meanwhile, so piping a
 * file of any size uses bounded memory.
 *
 * Ends at end of input after every record is acknowledged. The first failed delivery stops reading; the exit
 * code is 1 if any record failed. Ctrl-C stops reading, delivers what was read and exits 130.
 */
import { Option, type Command } from 'commander';
import { Producer } from '../client/producer.js';
import type { ProducerRecord } from '../client/types.js';
import { brokerConnection, brokerUrl, retryReporter, collect, integerArg, timeArg, withAdmin, withBrokerOptions, type BrokerFlags } from './broker-command.js';
import { CliFailure, EXIT_INTERRUPTED, EXIT_USAGE } from './errors.js';
import { examples } from './output.js';
import type { CliIO } from './program.js';

interface ProduceFlags extends BrokerFlags {
  key?: string;
  keySeparator?: string;
  onMissingKey: 'fail' | 'skip' | 'null';
  partition?: number;
  header?: string[];
  timestamp?: number;
  acks: '0' | '1' | 'all';
  compression: 'none' | 'lz4';
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export function addProduceCommand(program: Command, io: CliIO): void {
  withBrokerOptions(program.command('produce'))
    .description('send stdin to a topic, one record per line')
    .argument('<topic>', 'topic to write to')
    .option('--key <key>', 'the key of every record')
    .option('--key-separator <sep>', 'split each line at the first <sep> into key and value')
    .addOption(
      new Option('--on-missing-key <what>', 'a line without the key separator: fail (before sending it or any line read with it), skip it, or send it whole with a null key')
        .choices(['fail', 'skip', 'null'])
        .default('fail'),
    )
    .option('--partition <n>', 'write every record to this partition (default: by key, or sticky batches)', integerArg(0))
    .option('--header <key=value>', 'a header on every record (repeatable)', collect)
    .option('--timestamp <time>', 'CreateTime of every record, in ms since the epoch or ISO 8601 (default: now)', timeArg)
    .addOption(new Option('--acks <acks>', 'acknowledgement to wait for').choices(['0', '1', 'all']).default('all'))
    .addOption(new Option('--compression <codec>', 'batch compression').choices(['none', 'lz4']).default('none'))
    .addHelpText(
      'after',
      examples(
        'seq 1000 | sluice produce numbers',
        'sluice produce orders --key-separator : < orders.txt     # lines like customer-7:{"total":12}',
        'sluice produce orders --key-separator : --on-missing-key null < mixed.txt',
        'tail -F app.log | sluice produce logs --header source=web-1',
      ),
    )
    .action((topic: string, flags: ProduceFlags) => produce(topic, flags, io));
}

async function produce(topic: string, flags: ProduceFlags, io: CliIO): Promise<void> {
  if (flags.key !== undefined && flags.keySeparator !== undefined) throw new CliFailure('give --key or --key-separator, not both', EXIT_USAGE);
  if (flags.keySeparator === '') throw new CliFailure('--key-separator must not be empty', EXIT_USAGE);
  const headers = parseHeaders(flags.header ?? []);
  const broker = brokerUrl(flags);
  // Fail fast, within --timeout, when the topic or the broker is not there.
  const partitions = await withAdmin(flags, io, async (admin) => (await admin.describeTopic(topic)).partitions.length);
  if (flags.partition !== undefined && flags.partition >= partitions) throw new CliFailure(`topic ${topic} has ${partitions} partition(s); there is no partition ${flags.partition}`);

  // --timeout bounds how long a record may wait for an unavailable broker (retries through a restart included).
  const patience = Math.max(flags.timeout, 1_000);
  const producer = new Producer({
    broker,
    ...brokerConnection(flags),
    acks: flags.acks,
    compression: flags.compression,
    bufferBytes: 4_194_304,
    maxBlockMs: patience,
    deliveryTimeoutMs: patience,
    requestTimeoutMs: Math.min(patience, 30_000),
  });
  producer.on('retry', retryReporter(io, broker, flags.timeout));
  const separator = flags.keySeparator === undefined ? null : Buffer.from(flags.keySeparator);
  let read = 0;
  let delivered = 0;
  let failed = 0;
  let skipped = 0;
  let firstFailure: unknown = null;
  let interrupted = false;
  const interrupt = () => {
    interrupted = true;
    io.stdin.destroy(); // ends the read loop below
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  if (io.stdinIsTTY) io.stderr(`type records for ${topic}, one per line; Ctrl-D to finish`);
  try {
    for await (const chunk of lineChunks(io.stdin)) {
      if (interrupted || firstFailure !== null) break;
      // Lines read together are checked together, so with --on-missing-key fail a bad line stops the input
      // before any line of its chunk is sent (for a small file: before anything is sent).
      const split = separator ? chunk.map((line) => splitKey(line, separator, flags.onMissingKey)) : null;
      const missing = split ? split.findIndex((s) => s === MISSING) : -1;
      if (missing >= 0) {
        firstFailure = new CliFailure(
          `line ${read + missing + 1} has no key separator ${JSON.stringify(flags.keySeparator)}: nothing from line ${read + 1} on was sent (--on-missing-key skip or null lets such lines through)`,
        );
        break;
      }
      for (let i = 0; i < chunk.length; i++) {
        read++;
        const record: ProducerRecord = { topic, value: chunk[i]!, ...(headers ? { headers } : {}), ...(flags.partition !== undefined ? { partition: flags.partition } : {}) };
        if (flags.timestamp !== undefined) record.timestamp = flags.timestamp;
        if (flags.key !== undefined) record.key = flags.key;
        const keyed = split?.[i];
        if (keyed === SKIP) {
          skipped++;
          continue;
        }
        if (keyed && keyed !== MISSING) {
          record.key = keyed.key;
          record.value = keyed.value;
        }
        const { delivery } = await producer.enqueue(record);
        delivery.then(
          () => void delivered++,
          (err: unknown) => {
            failed++;
            firstFailure ??= err;
          },
        );
        if (firstFailure !== null) break;
      }
    }
  } catch (err) {
    // A destroyed stdin (Ctrl-C) ends its iterator with a premature-close error; anything else is reported
    // after what was delivered is counted.
    if (!interrupted) firstFailure ??= err;
  } finally {
    await producer.close(); // delivers everything enqueued, then closes (a second Ctrl-C meanwhile stops at once)
    await new Promise((resolve) => setImmediate(resolve)); // let the last delivery callbacks count
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
  io.stderr(`produced ${delivered} record(s) to ${topic}${failed > 0 ? `, ${failed} failed` : ''}${skipped > 0 ? `, skipped ${skipped} line(s) without the key separator` : ''}`);
  if (firstFailure !== null) throw firstFailure;
  if (interrupted) throw new CliFailure('interrupted', EXIT_INTERRUPTED);
}

function parseHeaders(pairs: string[]): Record<string, string> | null {
  if (pairs.length === 0) return null;
  const headers: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new CliFailure(`--header must be key=value, not ${JSON.stringify(pair)}`, EXIT_USAGE);
    headers[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return headers;
}

const MISSING = Symbol('missing key separator');
const SKIP = Symbol('skip line');

/** A line split at the first separator into key and value; a line without one as --on-missing-key says. */
function splitKey(line: Buffer, separator: Buffer, onMissing: ProduceFlags['onMissingKey']): { key: Buffer | null; value: Buffer } | typeof MISSING | typeof SKIP {
  const at = line.indexOf(separator);
  if (at >= 0) return { key: line.subarray(0, at), value: line.subarray(at + separator.length) };
  if (onMissing === 'skip') return SKIP;
  if (onMissing === 'null') return { key: null, value: line };
  return MISSING;
}

/** The lines of a byte stream grouped by the read that completed them (see lines). */
export async function* lineChunks(input: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer[]> {
  let rest: Buffer | null = null;
  for await (const data of input) {
    const chunk = typeof data === 'string' ? Buffer.from(data) : data;
    const out: Buffer[] = [];
    let from = 0;
    for (let at = chunk.indexOf(NEWLINE); at >= 0; at = chunk.indexOf(NEWLINE, from)) {
      let line = chunk.subarray(from, at);
      if (rest) {
        line = Buffer.concat([rest, line]);
        rest = null;
      }
      out.push(withoutCarriageReturn(line));
      from = at + 1;
    }
    if (from < chunk.length) rest = rest ? Buffer.concat([rest, chunk.subarray(from)]) : chunk.subarray(from);
    if (out.length > 0) yield out;
  }
  if (rest && rest.length > 0) yield [withoutCarriageReturn(rest)];
}

/**
 * The lines of a byte stream, without "\n" or "\r\n"; a last line without a newline counts, an empty input
 * has no lines. Each line is a view of the chunk it came in (copied only when it spans two chunks).
 */
export async function* lines(input: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  for await (const chunk of lineChunks(input)) yield* chunk;
}

function withoutCarriageReturn(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === CARRIAGE_RETURN ? line.subarray(0, line.length - 1) : line;
}
