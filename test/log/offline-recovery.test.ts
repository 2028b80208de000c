/**
 * Issue 12 in the storage engine: unfinished rolls are retried, a partition taken offline by a full disk is
 * reopened in place by a later append (once per backoff, on the Clock), and a log given up for deletion
 * answers with the reason it was given and stays off its files before they go.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BrokerError } from '../../src/common/errors.js';
import { LogManager } from '../../src/log/log-manager.js';
import { CollectedEvents } from '../helpers/collect-events.js';
import { FaultyFileIO } from '../helpers/faulty-file-io.js';
import { batchOf, readAll } from '../helpers/log-builder.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

const tempDir = useTempDirs();
const tp = { topic: 'rolls', partition: 0 };
const BACKOFF_MS = 1_000;
const big = (tag: string) => batchOf([`${tag}:${'x'.repeat(400)}`]);
const valuesOf = async (log: Awaited<ReturnType<LogManager['create']>>, maxOffset?: number) =>
  (await readAll(log, log.logStartOffset, maxOffset)).map(([, v]) => v.split(':')[0]!);

async function setup(fsyncPolicy: 'always' | 'interval' | 'never' = 'always') {
  const dataDir = tempDir();
  const io = new FaultyFileIO();
  const events = new CollectedEvents();
  const clock = new ManualClock();
  const manager = await LogManager.open({ dataDir, io, events, clock, fsyncPolicy, storageRetryBackoffMs: BACKOFF_MS });
  const log = await manager.create(tp, { segmentBytes: 1_024, indexIntervalBytes: 100 });
  /** appends and moves the high watermark like the replica manager does */
  const append = async (tag: string) => {
    const result = await log.append(big(tag));
    return result.batches[0]!.baseOffset;
  };
  return { dataDir, io, events, clock, manager, log, append };
}

describe('finishing rolled segments after a failure', () => {
  it('index files that cannot be written leave the partition online; the segment is finished after the backoff', async () => {
    const { dataDir, io, events, clock, manager, log, append } = await setup();
    await append('a');
    await append('b');
    io.inject({ op: 'writev', pathIncludes: 'index', errno: 'ENOSPC' });
    await append('c'); // rolls: segment 0 cannot be finished
    await log.settle();
    expect(log.offlineReason).toBeNull();
    expect(events.messages('warn')).toContain('finishing a rolled segment failed; it is tried again later, and the recovery point stays below it');
    expect(log.recoveryPoint).toBe(0);
    io.clear();
    const small = (tag: string) => log.append(batchOf([`${tag}:`]));
    await small('d'); // no roll
    await log.settle();
    expect(log.recoveryPoint).toBe(0); // not before the backoff
    clock.advance(BACKOFF_MS);
    await small('e'); // asks for the retry
    await log.settle();
    expect(log.segments.length).toBe(2);
    expect(log.recoveryPoint).toBe(log.segments[1]!.baseOffset);
    // Trimmed to its entries, no longer preallocated.
    expect(statSync(join(dataDir, 'rolls-0', '00000000000000000000.index')).size).toBeLessThan(100);
    expect(await valuesOf(log)).toEqual(['a', 'b', 'c', 'd', 'e']);
    await manager.close();
  });

  it('a rolled segment still unfinished at close keeps the clean-shutdown marker away; the next start recovers it', async () => {
    const { dataDir, io, manager, append } = await setup();
    await append('a');
    await append('b');
    io.inject({ op: 'writev', pathIncludes: 'index', errno: 'ENOSPC' });
    await append('c');
    await manager.close();
    io.clear();
    const again = await LogManager.open({ dataDir });
    expect(again.report.cleanShutdown).toBe(false);
    expect(await valuesOf(again.get(tp)!, again.get(tp)!.logEndOffset)).toEqual(['a', 'b', 'c']);
    await again.close();
  });
});

describe('a partition offline for a full disk', () => {
  it('refuses appends at once, tries one reopen per backoff, and comes back in place without the refused records', async () => {
    const { dataDir, io, events, clock, manager, log, append } = await setup();
    await append('a');
    await append('b');
    io.inject({ op: 'datasync', pathIncludes: '.log', errno: 'ENOSPC' });
    io.inject({ op: 'truncate', pathIncludes: '.log', errno: 'ENOSPC' }); // the repair fails too
    await expect(log.append(big('refused'))).rejects.toMatchObject({ code: 'KAFKA_STORAGE_ERROR', details: { errno: 'ENOSPC' } });
    await waitFor(() => log.offlineReason !== null, 5_000, 'the partition to go offline');
    const reads = () => io.calls.read ?? 0;
    const before = reads();
    await expect(log.append(big('x'))).rejects.toBe(log.offlineReason);
    expect(reads()).toBe(before); // no recovery attempt before the backoff
    clock.advance(BACKOFF_MS);
    await expect(log.append(big('x'))).rejects.toMatchObject({ code: 'KAFKA_STORAGE_ERROR', details: { errno: 'ENOSPC' } });
    expect(reads()).toBeGreaterThan(before); // it tried: the disk is still full
    expect(events.messages('warn')).toContain('reopening the partition failed; it stays offline');
    const afterAttempt = reads();
    await expect(log.append(big('x'))).rejects.toMatchObject({ code: 'KAFKA_STORAGE_ERROR' });
    expect(reads()).toBe(afterAttempt);

    io.clear();
    clock.advance(BACKOFF_MS);
    expect(await append('c')).toBe(2); // the refused record's offset is handed out again
    expect(manager.get(tp)).toBe(log);
    expect(log.offlineReason).toBeNull();
    expect(log.logEndOffset).toBe(3);
    expect(await valuesOf(log)).toEqual(['a', 'b', 'c']);
    await manager.close();
    const again = await LogManager.open({ dataDir });
    expect(again.report.cleanShutdown).toBe(true);
    expect(await valuesOf(again.get(tp)!, 3)).toEqual(['a', 'b', 'c']);
    await again.close();
  });

  it('under `interval` every acknowledged record is kept across the reopen', async () => {
    const { io, clock, manager, log, append } = await setup('interval');
    for (const tag of ['a', 'b', 'c']) await append(tag);
    io.inject({ op: 'datasync', pathIncludes: '.log', errno: 'ENOSPC' });
    await expect(log.flush()).rejects.toBeDefined();
    await waitFor(() => log.offlineReason !== null, 5_000, 'the partition to go offline');
    io.clear();
    clock.advance(BACKOFF_MS);
    expect(await append('d')).toBe(3);
    expect(await valuesOf(log)).toEqual(['a', 'b', 'c', 'd']);
    await manager.close();
  });

  it('an I/O error (EIO) keeps the partition offline until it is reopened by hand', async () => {
    const { io, clock, manager, log, append } = await setup();
    await append('a');
    io.inject({ op: 'datasync', pathIncludes: '.log', errno: 'EIO', times: 1 });
    io.inject({ op: 'truncate', pathIncludes: '.log', errno: 'EIO', times: 1 });
    await expect(log.append(big('refused'))).rejects.toMatchObject({ code: 'KAFKA_STORAGE_ERROR' });
    await waitFor(() => log.offlineReason !== null, 5_000, 'the partition to go offline');
    clock.advance(BACKOFF_MS * 100);
    await expect(log.append(big('x'))).rejects.toBe(log.offlineReason);
    expect(await manager.reopen(tp)).toBe(log);
    expect(await append('b')).toBe(1);
    await manager.close();
  });
});

describe('a log given up for deletion', () => {
  it('answers appends in flight with the reason, and keeps off the files of a new partition of the same name', async () => {
    const { io, manager, log, append } = await setup();
    await append('old');
    // The next fdatasync fails, late: after the delete, and after a new partition of the same name took writes.
    io.inject({ op: 'datasync', pathIncludes: '.log', errno: 'EIO', delayMs: 150, times: 1 });
    const inFlight = log.append(big('late')).catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 20)); // written, fdatasync under way
    const reason = new BrokerError('UNKNOWN_TOPIC', 'topic "rolls" does not exist');
    await manager.delete(tp, reason); // waits for the fdatasync under way
    const fresh = await manager.create(tp, { segmentBytes: 1_024 });
    for (const tag of ['n1', 'n2']) await fresh.append(big(tag));
    expect(await inFlight).toBe(reason);
    await new Promise((r) => setTimeout(r, 200)); // past the old log's failed fdatasync in any case
    // The old log did not cut back (repair) the new partition's file, which has the same name.
    expect(await valuesOf(fresh)).toEqual(['n1', 'n2']);
    await expect(log.append(big('after'))).rejects.toBe(reason);
    await expect(log.read(0, { maxBytes: 1_000, maxOffset: 1 })).rejects.toBe(reason);
    await manager.close();
  });
});
