/**
 * `sluice consume TOPIC --share-group G`: a console worker of a share group, over sluice/client's
 * ShareConsumer. Each record it receives is leased to it alone; it prints the records of a receive, then
 * accepts them, so a record is accepted only once it is on stdout (a record printed by a worker that dies
 * before the accept is delivered again, to some worker).
 *
 * Without `--follow` it stops at the first receive that finds nothing for about a second; with `--follow` it
 * long-polls until Ctrl-C (or `--max`). Records received beyond `--max` are released at once.
 */
import { ShareConsumer } from '../client/share-consumer.js';
import type { ShareMessage } from '../client/share-message.js';
import { brokerConnection, brokerUrl } from './broker-command.js';
import type { ConsumeFlags } from './consume.js';
import { formatRecords } from './consume.js';
import { CliFailure, EXIT_INTERRUPTED, EXIT_USAGE } from './errors.js';
import type { CliIO } from './program.js';

const RECEIVE_RECORDS = 100;

export async function shareConsume(topic: string, flags: ConsumeFlags, io: CliIO): Promise<void> {
  if (flags.group !== undefined || flags.partition !== undefined) throw new CliFailure('--share-group cannot be used with --group or --partition', EXIT_USAGE);
  const consumer = new ShareConsumer({
    broker: brokerUrl(flags),
    ...brokerConnection(flags),
    group: flags.shareGroup!,
    topics: [topic],
    maxWaitMs: flags.follow ? 5_000 : 1_000,
    retryTimeoutMs: Math.max(flags.timeout, 1_000),
    ...(flags.visibilityTimeout !== undefined ? { visibilityTimeoutMs: flags.visibilityTimeout } : {}),
  });
  let printed = 0;
  let interrupted = false;
  const interrupt = () => {
    if (interrupted) process.exit(EXIT_INTERRUPTED);
    interrupted = true;
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  try {
    while (!interrupted) {
      const want = flags.max === undefined ? RECEIVE_RECORDS : Math.min(RECEIVE_RECORDS, flags.max - printed);
      const batch = await consumer.receive({ maxRecords: want });
      if (batch.length === 0) {
        if (flags.follow) continue;
        break;
      }
      if (interrupted) {
        await settleAll(batch, 'release');
        break;
      }
      if (!(await io.write(formatRecords(batch, flags)))) {
        await settleAll(batch, 'release'); // the reader went away (EPIPE): not printed, not accepted
        break;
      }
      printed += batch.length;
      await settleAll(batch, 'accept', io);
      if (flags.max !== undefined && printed >= flags.max) break;
    }
  } finally {
    await consumer.close();
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
  io.stderr(`consumed ${printed} record(s)`);
  if (interrupted && !flags.follow) throw new CliFailure('interrupted', EXIT_INTERRUPTED);
}

async function settleAll(batch: ShareMessage[], how: 'accept' | 'release', io?: CliIO): Promise<void> {
  const results = await Promise.allSettled(batch.map((m) => (how === 'accept' ? m.ack() : m.release())));
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length > 0 && io) {
    io.stderr(`sluice: warning: ${failed.length} accept(s) refused (${(failed[0]!.reason as Error).message}); those records will be delivered again`);
  }
}
