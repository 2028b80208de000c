/**
 * The Partition: sole owner of the high watermark; delayed produce (acks=all) and delayed fetch complete on
 * its movement; reads, timestamp lookups and retention stop at it; the high-watermark checkpoint survives a
 * restart; and no other source file assigns a high watermark.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LogManager } from '../../src/log/log-manager.js';
import { nodeFileIO } from '../../src/log/file-io.js';
import { silentLogEvents } from '../../src/log/log-config.js';
import { HighWatermarkCheckpoint, readHighWatermarks } from '../../src/replication/high-watermark-checkpoint.js';
import { Partition, highWatermarkOf } from '../../src/replication/partition.js';
import { FaultyFileIO } from '../helpers/faulty-file-io.js';
import { batchOf } from '../helpers/log-builder.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

const tempDir = useTempDirs();
const tp = { topic: 'orders', partition: 0 };

async function setup(options: { io?: FaultyFileIO; clock?: ManualClock; checkpoint?: number } = {}) {
  const clock = options.clock ?? new ManualClock();
  const dataDir = tempDir();
  const manager = await LogManager.open({ dataDir, clock, ...(options.io ? { io: options.io } : {}) });
  const log = manager.get(tp) ?? (await manager.create(tp, { segmentBytes: 1_024 }));
  const partition = new Partition(tp, log, { clock, events: silentLogEvents, brokerId: 0 }, options.checkpoint);
  return { clock, dataDir, manager, log, partition };
}

describe('Partition', () => {
  it('moves the high watermark when an append is acknowledged, and reads stop at it', async () => {
    const { manager, partition } = await setup();
    expect(partition.highWatermark).toBe(0);
    await partition.appendAsLeader(batchOf(['a', 'b']));
    expect(partition.highWatermark).toBe(2);
    expect(partition.isr).toEqual([0]);
    expect((await partition.read(0, 1_000)).nextOffset).toBe(2);
    await expect(partition.read(3, 1_000)).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE', details: { highWatermark: 2 } });
    expect(await partition.listOffset('latest')).toEqual({ offset: 2, timestamp: null });
    await manager.close();
  });

  it('a delayed fetch completes when the high watermark passes its offset, not before', async () => {
    const { manager, partition } = await setup();
    let fired = 0;
    const cancel = partition.whenHighWatermarkReaches(1, () => fired++);
    expect(fired).toBe(0);
    await partition.appendAsLeader(batchOf(['a']));
    expect(fired).toBe(1);
    cancel();
    // Already there: at once. Cancelled before it is reached: never.
    partition.whenHighWatermarkReaches(1, () => fired++);
    expect(fired).toBe(2);
    const never = partition.whenHighWatermarkReaches(5, () => fired++);
    never();
    await partition.appendAsLeader(batchOf(['b', 'c', 'd', 'e']));
    expect(fired).toBe(2);
    await manager.close();
  });

  it('a delayed produce (acks=all) resolves at the high watermark and times out on the clock', async () => {
    const { clock, manager, partition } = await setup();
    await partition.appendAsLeader(batchOf(['a']));
    await expect(partition.awaitHighWatermark(1, 1_000)).resolves.toBeUndefined();
    const waiting = partition.awaitHighWatermark(5, 1_000);
    clock.advance(1_000);
    await expect(waiting).rejects.toMatchObject({ code: 'REQUEST_TIMED_OUT' });
    partition.checkEnoughReplicas(1);
    expect(() => partition.checkEnoughReplicas(2)).toThrow(expect.objectContaining({ code: 'NOT_ENOUGH_REPLICAS' }));
    await manager.close();
  });

  it('closing wakes waiters: long polls look again, delayed produces get the reason', async () => {
    const { manager, partition } = await setup();
    let woken = false;
    partition.whenHighWatermarkReaches(10, () => (woken = true));
    const produce = partition.awaitHighWatermark(10, 60_000);
    const reason = Object.assign(new Error('gone'), { code: 'UNKNOWN_TOPIC' });
    partition.close(reason as never);
    expect(woken).toBe(true);
    await expect(produce).rejects.toBe(reason);
    await manager.close();
  });

  it('follows the log down when a failed fdatasync cuts it, and never serves what was cut', async () => {
    const io = new FaultyFileIO();
    const { manager, partition, log } = await setup({ io });
    await partition.appendAsLeader(batchOf(['kept']));
    io.inject({ op: 'datasync', pathIncludes: '.log', errno: 'EIO', times: 1 });
    await expect(partition.appendAsLeader(batchOf(['lost']))).rejects.toMatchObject({ code: 'KAFKA_STORAGE_ERROR' });
    await waitFor(() => log.logEndOffset === 1, 5_000, 'the log to be cut back to the durable offset');
    expect(partition.highWatermark).toBe(1);
    await partition.appendAsLeader(batchOf(['next']));
    expect(partition.highWatermark).toBe(2);
    await manager.close();
  });

  it('retention and segment deletion never pass the high watermark', async () => {
    const { manager, partition } = await setup({ checkpoint: 0 });
    for (let i = 0; i < 6; i++) await partition.appendAsLeader(batchOf([`v${i}`.padEnd(600, '.')], { timestamp: 1 }));
    expect(partition.segmentCount).toBeGreaterThan(3);
    const result = await partition.applyRetention({ retentionMs: 1, retentionBytes: null }, 1_700_000_000_000);
    expect(result.deletedSegments).toBeGreaterThan(0);
    expect(partition.logStartOffset).toBeLessThanOrEqual(partition.highWatermark);
    await manager.close();
  });

  it('the high-watermark checkpoint is written, read back, and clamped to the log', async () => {
    const clock = new ManualClock();
    const { dataDir, manager, partition } = await setup({ clock });
    await partition.appendAsLeader(batchOf(['a', 'b', 'c']));
    const checkpoint = new HighWatermarkCheckpoint(nodeFileIO, dataDir, () => [partition], clock, silentLogEvents, 1_000);
    checkpoint.start();
    clock.advance(1_000);
    await new Promise((resolve) => setImmediate(resolve));
    await checkpoint.stop();
    expect(readFileSync(join(dataDir, 'replication-offset-checkpoint'), 'utf8')).toBe('0\n1\norders 0 3\n');
    const read = await readHighWatermarks(nodeFileIO, dataDir, silentLogEvents);
    expect(read.get('orders-0')).toBe(3);
    await manager.close();
    // A replica restarts from the checkpoint (here above its log: clamped), never above its log end.
    const again = await LogManager.open({ dataDir, clock });
    const log = again.get(tp)!;
    const restarted = new Partition(tp, log, { clock, events: silentLogEvents, brokerId: 0 }, 99);
    expect(restarted.highWatermark).toBe(3);
    await again.close();
  });

  it('highWatermarkOf is the smallest position of the in-sync replicas', () => {
    expect(highWatermarkOf([7])).toBe(7);
    expect(highWatermarkOf([7, 3, 9])).toBe(3);
  });
});

describe('ownership of the high watermark', () => {
  it('no broker source file but partition.ts assigns or sets a high watermark', () => {
    const src = fileURLToPath(new URL('../../src/', import.meta.url));
    const files = (function walk(dir: string): string[] {
      return readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? walk(path) : path.endsWith('.ts') ? [path] : [];
      });
    })(src)
      .filter((f) => !['client', 'cli'].includes(relative(src, f).split('/')[0]!)) // the client has its own copy of a number
      .filter((f) => !relative(src, f).startsWith(join('kafka', 'generated'))); // Kafka's wire structs carry the number
    // A property or private field assigned (x.highWatermark = …, #highWatermark = …), or a setter called.
    const writes = /(?:\.|#)highWatermark\s*(?:=(?!=)|\+=|-=)|setHighWatermark\s*\(/;
    const offenders = files.filter((f) => relative(src, f) !== join('replication', 'partition.ts') && readFileSync(f, 'utf8').split('\n').some((line) => writes.test(line) && !/^\s*(\*|\/\/)/.test(line)));
    expect(offenders.map((f) => relative(src, f))).toEqual([]);
  });
});
