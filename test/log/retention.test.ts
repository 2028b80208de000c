/** Retention of a partition log on a manual clock: time, size, boundaries, idle topics, readers, crashes. */
import { existsSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogManager } from '../../src/log/log-manager.js';
import type { PartitionLog } from '../../src/log/partition-log.js';
import type { RetentionPolicy } from '../../src/log/retention.js';
import { FaultyFileIO } from '../helpers/faulty-file-io.js';
import { batchOf, readAll } from '../helpers/log-builder.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

const tempDir = useTempDirs();
const tp = { topic: 'events', partition: 0 };
const HOUR = 3_600_000;
const T0 = 1_700_000_000_000;

async function append(log: PartitionLog, values: string[], timestamp: number): Promise<void> {
  await log.append(batchOf(values, { timestamp }));
}

/** Retention as the Partition runs it, with everything appended counted as committed. */
function retain(log: PartitionLog, policy: RetentionPolicy, now: number) {
  return log.applyRetention(policy, now, log.logEndOffset);
}

/** A log with one segment per call of `segment(timestamp)` (each batch fills a 1 KiB segment). */
async function setup(options: { io?: FaultyFileIO; fileDeleteDelayMs?: number } = {}) {
  const dataDir = tempDir();
  const clock = new ManualClock(T0);
  const manager = await LogManager.open({ dataDir, clock, ...(options.io ? { io: options.io } : {}) });
  const log = await manager.create(tp, { segmentBytes: 1_024, fileDeleteDelayMs: options.fileDeleteDelayMs ?? 60_000 });
  const segment = (timestamp: number, records = 1) => append(log, Array.from({ length: records }, () => 'x'.repeat(700 / records)), timestamp);
  return { dataDir, clock, manager, log, segment, dir: join(dataDir, 'events-0') };
}

const deletedFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.deleted'));

describe('retention', () => {
  it('time: a segment goes once its newest record is older than retentionMs, not a millisecond earlier', async () => {
    const { clock, manager, log, segment } = await setup();
    await segment(T0);
    await segment(T0 + HOUR);
    await segment(T0 + 2 * HOUR); // active
    const policy = { retentionMs: HOUR, retentionBytes: null };
    expect((await retain(log, policy, T0 + HOUR)).deletedSegments).toBe(0); // exactly retentionMs old: kept
    expect((await retain(log, policy, T0 + HOUR + 1)).deletedSegments).toBe(1);
    expect(log.logStartOffset).toBe(1);
    expect((await retain(log, policy, T0 + 2 * HOUR)).deletedSegments).toBe(0);
    expect((await retain(log, policy, T0 + 2 * HOUR + 1)).deletedSegments).toBe(1);
    expect(log.segments.map((s) => s.baseOffset)).toEqual([2]);
    expect(await readAll(log)).toEqual([[2, 'x'.repeat(700)]]);
    clock.advance(0);
    await manager.close();
  });

  it('a segment with old and new records is kept until its newest record expires', async () => {
    const { manager, log } = await setup();
    await append(log, ['old'], T0);
    await append(log, ['new'], T0 + 10 * HOUR); // same segment: both are small
    await append(log, ['x'.repeat(2_000)], T0 + 10 * HOUR); // rolls: a segment of its own
    await append(log, ['tail'], T0 + 20 * HOUR);
    expect(log.segments.length).toBe(3);
    const policy = { retentionMs: HOUR, retentionBytes: null };
    expect((await retain(log, policy, T0 + 5 * HOUR)).deletedSegments).toBe(0);
    expect((await retain(log, policy, T0 + 11 * HOUR + 1)).deletedSegments).toBe(2);
    expect(log.logStartOffset).toBe(3);
    await manager.close();
  });

  it('size: the oldest segments go while what stays is at least retentionBytes', async () => {
    const { manager, log, segment } = await setup();
    for (let i = 0; i < 6; i++) await segment(T0 + i);
    const sizes = log.segments.map((s) => s.size);
    const total = sizes.reduce((a, b) => a + b, 0);
    // 2.5 segments too many: two go (a third would leave less than retentionBytes)
    const retentionBytes = total - Math.floor(sizes[0]! * 2.5);
    const result = await retain(log, { retentionMs: null, retentionBytes }, T0);
    expect(result).toEqual({ deletedSegments: 2, freedBytes: sizes[0]! + sizes[1]! });
    expect(log.sizeInBytes).toBeGreaterThanOrEqual(retentionBytes);
    // a tiny limit still keeps the active segment
    await retain(log, { retentionMs: null, retentionBytes: 1 }, T0);
    expect(log.segments.length).toBe(1);
    expect(log.logStartOffset).toBe(5);
    await manager.close();
  });

  it('never deletes records at or above the high watermark', async () => {
    const { manager, log, segment } = await setup();
    await segment(T0);
    await segment(T0);
    await segment(T0);
    // only offset 0 is committed
    const result = await log.applyRetention({ retentionMs: 1, retentionBytes: null }, T0 + HOUR, 1);
    expect(result.deletedSegments).toBe(1);
    expect(log.logStartOffset).toBe(1);
    await manager.close();
  });

  it('an idle topic whose records all expired: the active segment is rolled and deleted, the offsets go on', async () => {
    const { dataDir, clock, manager, log, dir } = await setup();
    await append(log, ['a', 'b'], T0);
    await append(log, ['c'], T0);
    expect(log.segments.length).toBe(1);
    const result = await retain(log, { retentionMs: HOUR, retentionBytes: null }, T0 + 2 * HOUR);
    expect(result.deletedSegments).toBe(1);
    expect(log.segments.map((s) => s.baseOffset)).toEqual([3]);
    expect([log.logStartOffset, log.logEndOffset]).toEqual([3, 3]);
    await expect(log.read(0, { maxBytes: 100, maxOffset: 3 })).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE', details: { logStartOffset: 3 } });
    await log.settle();
    clock.advance(60_000);
    await waitFor(() => deletedFiles(dir).length === 0, 5_000, 'the .deleted files to go');
    await append(log, ['d'], T0 + 2 * HOUR);
    await manager.close();
    // the log start offset persists: it is the first segment file's base offset
    const reopened = await LogManager.open({ dataDir, clock });
    const again = reopened.get(tp)!;
    expect([again.logStartOffset, again.logEndOffset]).toEqual([3, 4]);
    expect(await readAll(again)).toEqual([[3, 'd']]);
    await reopened.close();
  });

  it('a read that holds a segment finishes while the segment is deleted; the files go after fileDeleteDelayMs', async () => {
    const { clock, manager, log, segment, dir } = await setup();
    await segment(T0);
    await segment(T0 + HOUR);
    const reading = log.segments[0]!;
    await retain(log, { retentionMs: 1, retentionBytes: null }, T0 + 1_000);
    await log.settle();
    expect(deletedFiles(dir).length).toBeGreaterThan(0);
    expect((await reading.read(0, 200)).length).toBe(200); // renamed, still readable through its descriptor
    clock.advance(59_999);
    expect(deletedFiles(dir).length).toBeGreaterThan(0);
    clock.advance(1);
    await waitFor(() => deletedFiles(dir).length === 0, 5_000, 'removal after fileDeleteDelayMs');
    await manager.close();
  });

  it('a crash between the rename and the removal: the .deleted leftovers are removed at start-up', async () => {
    const { dataDir, clock, manager, log, segment, dir } = await setup();
    await segment(T0);
    await segment(T0);
    await segment(T0 + HOUR);
    await retain(log, { retentionMs: 1, retentionBytes: null }, T0 + 1_000);
    await log.settle();
    const leftovers = deletedFiles(dir);
    expect(leftovers.length).toBeGreaterThan(0);
    manager.abandon(); // the process dies: nothing is flushed or removed
    writeFileSync(join(dir, 'stray.txt'), 'unrelated'); // not ours: left alone
    const reopened = await LogManager.open({ dataDir, clock });
    expect(deletedFiles(dir)).toEqual([]);
    expect(existsSync(join(dir, 'stray.txt'))).toBe(true);
    expect(reopened.get(tp)!.logStartOffset).toBe(2);
    await reopened.close();
  });

  it('a pass takes the segments out at once, renames them in the background and syncs the directory once; a crash that undoes the last renames only brings back segments the next pass deletes', async () => {
    const io = new FaultyFileIO();
    const { dataDir, clock, manager, log, segment } = await setup({ io });
    for (let i = 0; i < 20; i++) await segment(T0);
    await segment(T0 + 2 * HOUR);
    const from = io.metadataOps.length;
    const result = await retain(log, { retentionMs: HOUR, retentionBytes: null }, T0 + 2 * HOUR);
    expect(result.deletedSegments).toBe(20);
    expect(log.logStartOffset).toBe(20);
    await log.append(batchOf(['z'])); // appends do not wait for the renames
    await log.settle();
    // Other metadata work (a snapshot written after the last roll) may interleave; the pass's own is the
    // 60 renames to .deleted (.log, .index, .timeindex of each) with no directory sync until after the last.
    const ops = io.metadataOps.slice(from);
    const renames = ops.flatMap((op, i) => (op.startsWith('rename ') && op.endsWith('.deleted') ? [i] : []));
    expect(renames).toHaveLength(60);
    const syncs = ops.flatMap((op, i) => (op === `syncDirectory ${log.dir}` ? [i] : []));
    expect(syncs.filter((i) => i > renames[0]! && i < renames[59]!)).toEqual([]);
    expect(syncs.some((i) => i > renames[59]!)).toBe(true);

    // The process dies before the sync reached the disk and the journal kept only the first 15 renames.
    manager.abandon();
    const dir = log.dir;
    for (const file of deletedFiles(dir).filter((f) => Number(f.slice(0, 20)) >= 15)) renameSync(join(dir, file), join(dir, file.replace(/\.deleted$/, '')));
    const reopened = await LogManager.open({ dataDir, clock });
    const back = reopened.get(tp)!;
    expect(back.logStartOffset).toBe(15); // expired segments came back; nothing retained was lost
    expect((await readAll(back)).map(([offset]) => offset)).toEqual([15, 16, 17, 18, 19, 20, 21]);
    expect((await retain(back, { retentionMs: HOUR, retentionBytes: null }, T0 + 2 * HOUR)).deletedSegments).toBe(5);
    expect(back.logStartOffset).toBe(20);
    await reopened.close();
  });

  it('a rename that fails part-way: the segments before it go, the rest stay on disk and come back at the next start for the next pass', async () => {
    const io = new FaultyFileIO();
    const { dataDir, clock, manager, log, segment } = await setup({ io, fileDeleteDelayMs: 0 });
    for (let i = 0; i < 6; i++) await segment(T0);
    await segment(T0 + 2 * HOUR);
    io.inject({ op: 'rename', pathIncludes: '00000000000000000003.log', errno: 'EIO', times: 1 });
    const policy = { retentionMs: HOUR, retentionBytes: null };
    expect((await retain(log, policy, T0 + 2 * HOUR)).deletedSegments).toBe(6);
    await log.settle(); // the failure is logged; the partition stays online
    clock.advance(1); // fileDeleteDelayMs 0, on the manual clock
    await waitFor(() => deletedFiles(log.dir).length === 0, 5_000, 'removal of the renamed segments');
    expect(readdirSync(log.dir).filter((f) => f.endsWith('.log')).map((f) => Number(f.slice(0, 20)))).toEqual([3, 4, 5, 6]);
    expect(log.logStartOffset).toBe(6);
    expect((await readAll(log)).map(([offset]) => offset)).toEqual([6]);
    await manager.close();
    const reopened = await LogManager.open({ dataDir, clock });
    const back = reopened.get(tp)!;
    expect(back.logStartOffset).toBe(3); // segments that were being deleted, not lost data
    expect((await retain(back, policy, T0 + 2 * HOUR)).deletedSegments).toBe(3);
    expect(back.logStartOffset).toBe(6);
    await reopened.close();
  });

  it('many partitions: each applies its own policy', async () => {
    const dataDir = tempDir();
    const clock = new ManualClock(T0);
    const manager = await LogManager.open({ dataDir, clock });
    const logs: PartitionLog[] = [];
    for (let p = 0; p < 50; p++) {
      const log = await manager.create({ topic: 'many', partition: p }, { segmentBytes: 1_024 });
      for (let i = 0; i < 3; i++) await append(log, ['x'.repeat(700)], T0 + i * HOUR);
      logs.push(log);
    }
    const results = await Promise.all(logs.map((log, p) => retain(log, { retentionMs: p % 2 === 0 ? HOUR : null, retentionBytes: null }, T0 + 2 * HOUR)));
    expect(results.map((r) => r.deletedSegments)).toEqual(logs.map((_, p) => (p % 2 === 0 ? 1 : 0)));
    await manager.close();
  });
});
