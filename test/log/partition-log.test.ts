import { describe, expect, it } from 'vitest';
import { LogManager } from '../../src/log/log-manager.js';
import { waitFor } from '../helpers/wait-for.js';
import { batchOf, readAll } from '../helpers/log-builder.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const tempDir = useTempDirs();
const tp = { topic: 'orders', partition: 0 };

describe('partition log', () => {
  it('assigns offsets, reads back, survives a clean reopen', async () => {
    const dataDir = tempDir();
    const clock = new ManualClock();
    let manager = await LogManager.open({ dataDir, clock });
    let log = await manager.create(tp, { segmentBytes: 1024, indexIntervalBytes: 100 });
    for (let i = 0; i < 50; i++) {
      const result = await log.append(batchOf([`a${i}`, `b${i}`]));
      expect(result.batches[0]).toMatchObject({ baseOffset: i * 2, lastOffset: i * 2 + 1, duplicate: false });
    }
    expect(log.segments.length).toBeGreaterThan(3);
    const expected = Array.from({ length: 50 }, (_, i) => [[i * 2, `a${i}`], [i * 2 + 1, `b${i}`]]).flat();
    expect(await readAll(log)).toEqual(expected);
    await manager.close();
    expect(readdirSync(dataDir)).toContain('clean-shutdown');

    manager = await LogManager.open({ dataDir, clock, logConfigFor: () => ({ segmentBytes: 1024, indexIntervalBytes: 100 }) });
    expect(manager.report.cleanShutdown).toBe(true);
    expect(manager.report.recoveredSegments).toBe(0);
    log = manager.get(tp)!;
    expect(log.logEndOffset).toBe(100);
    expect(await readAll(log)).toEqual(expected);
    // Every start offset reads from the right place.
    for (let offset = 0; offset < 100; offset++) {
      expect((await readAll(log, offset))[0]).toEqual(expected[offset]);
    }
    const appended = await log.append(batchOf(['after']));
    expect(appended.batches[0]!.baseOffset).toBe(100);
    await manager.close();
  });
});

describe('rolling', () => {
  it('rolls by segmentBytes, and a batch larger than a segment gets one of its own', async () => {
    const manager = await LogManager.open({ dataDir: tempDir() });
    const log = await manager.create(tp, { segmentBytes: 1024 });
    await log.append(batchOf(['x'.repeat(300)]));
    await log.append(batchOf(['x'.repeat(300)]));
    await log.append(batchOf(['x'.repeat(300)])); // would pass 1024: rolls
    expect(log.segments.map((s) => s.baseOffset)).toEqual([0, 2]);
    await log.append(batchOf(['y'.repeat(3000)]));
    expect(log.segments.map((s) => s.baseOffset)).toEqual([0, 2, 3]);
    await log.append(batchOf(['z']));
    expect(log.segments.map((s) => s.baseOffset)).toEqual([0, 2, 3, 4]);
    await manager.close();
  });

  it('rolls by segmentMs on the injected clock', async () => {
    const clock = new ManualClock();
    const manager = await LogManager.open({ dataDir: tempDir(), clock });
    const log = await manager.create(tp, { segmentMs: 60_000 });
    await log.append(batchOf(['a']));
    clock.advance(60_000);
    await log.append(batchOf(['b']));
    expect(log.segments.length).toBe(1);
    clock.advance(1);
    await log.append(batchOf(['c']));
    expect(log.segments.map((s) => s.baseOffset)).toEqual([0, 2]);
    await manager.close();
  });

  it('rolls when an index is full, and trims the old indexes to their entries', async () => {
    const dataDir = tempDir();
    const manager = await LogManager.open({ dataDir });
    const log = await manager.create(tp, { segmentIndexBytes: 24, indexIntervalBytes: 1 });
    for (let i = 0; i < 5; i++) await log.append(batchOf([`v${i}`]));
    expect(log.segments.length).toBeGreaterThan(1);
    await manager.close();
    const { statSync } = await import('node:fs');
    const first = statSync(join(dataDir, 'orders-0', '00000000000000000000.index')).size;
    expect(first % 8).toBe(0);
    expect(first).toBeLessThanOrEqual(24);
  });

  it('rolls before the relative offset would overflow 32 bits', async () => {
    const dataDir = tempDir();
    // A segment starting at 0 whose batch sits just below 2^31: the next batch would not fit an i32 relative offset.
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const { encodeBatch } = await import('../../src/log/record-batch.js');
    mkdirSync(join(dataDir, 'orders-0'), { recursive: true });
    writeFileSync(
      join(dataDir, 'orders-0', '00000000000000000000.log'),
      encodeBatch({ baseOffset: 2 ** 31 - 2, records: [{ value: Buffer.from('late') }] }),
    );
    const manager = await LogManager.open({ dataDir });
    const log = manager.get(tp)!;
    expect(log.logEndOffset).toBe(2 ** 31 - 1);
    const result = await log.append(batchOf(['a', 'b']));
    expect(result.batches[0]!.baseOffset).toBe(2 ** 31 - 1);
    expect(log.segments.map((s) => s.baseOffset)).toEqual([0, 2 ** 31 - 1]);
    await manager.close();
  });
});

describe('appends', () => {
  it('appends a request of several batches atomically with consecutive offsets', async () => {
    const manager = await LogManager.open({ dataDir: tempDir() });
    const log = await manager.create(tp);
    const result = await log.append(Buffer.concat([batchOf(['a', 'b']), batchOf(['c'])]));
    expect(result.batches.map((b) => [b.baseOffset, b.lastOffset])).toEqual([[0, 1], [2, 2]]);
    // A request with one bad batch appends nothing.
    const bad = batchOf(['z']);
    bad[bad.length - 1]! ^= 0xff;
    await expect(log.append(Buffer.concat([batchOf(['ok']), bad]))).rejects.toMatchObject({ code: 'CORRUPT_MESSAGE' });
    expect(log.logEndOffset).toBe(3);
    await expect(log.append(batchOf(['x'.repeat(2000)]))).resolves.toBeDefined();
    log.updateConfig({ maxMessageBytes: 1000 });
    await expect(log.append(batchOf(['x'.repeat(2000)]))).rejects.toMatchObject({ code: 'RECORD_TOO_LARGE' });
    await expect(log.append(Buffer.alloc(0))).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await manager.close();
  });

  it('shares fdatasyncs among concurrent appenders (group commit)', async () => {
    const { FaultyFileIO } = await import('../helpers/faulty-file-io.js');
    const io = new FaultyFileIO();
    const manager = await LogManager.open({ dataDir: tempDir(), io });
    const log = await manager.create(tp);
    const before = io.calls.datasync ?? 0;
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => log.append(batchOf([`r${i}`]))));
    const syncs = (io.calls.datasync ?? 0) - before;
    expect(new Set(results.map((r) => r.batches[0]!.baseOffset)).size).toBe(64);
    expect(syncs).toBeGreaterThanOrEqual(1);
    expect(syncs).toBeLessThan(10);
    expect(log.durableOffset).toBe(64);
    await manager.close();
  });

  it('deduplicates idempotent retries, also after clean and unclean restarts', async () => {
    const dataDir = tempDir();
    let manager = await LogManager.open({ dataDir });
    let log = await manager.create(tp, { segmentBytes: 1024 });
    const producer = (seq: number, values: string[], epoch = 0) => batchOf(values, { producerId: 42, producerEpoch: epoch, baseSequence: seq });
    let seq = 0;
    for (let i = 0; i < 20; i++) {
      await log.append(producer(seq, [`m${i}`, `n${i}`]));
      seq += 2;
    }
    const retry = await log.append(producer(36, ['m18', 'n18']));
    expect(retry).toMatchObject({ duplicate: true, batches: [{ baseOffset: 36, lastOffset: 37, duplicate: true }] });
    await expect(log.append(producer(41, ['gap']))).rejects.toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE' });
    await manager.close();

    manager = await LogManager.open({ dataDir, logConfigFor: () => ({ segmentBytes: 1024 }) });
    log = manager.get(tp)!;
    expect((await log.append(producer(38, ['m19', 'n19']))).duplicate).toBe(true);
    await log.append(producer(40, ['m20']));
    manager.abandon();

    manager = await LogManager.open({ dataDir, logConfigFor: () => ({ segmentBytes: 1024 }) });
    expect(manager.report.cleanShutdown).toBe(false);
    log = manager.get(tp)!;
    expect((await log.append(producer(40, ['m20']))).batches[0]).toMatchObject({ baseOffset: 40, duplicate: true });
    await expect(log.append(producer(0, ['old'], 0))).rejects.toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE' });
    await log.append(producer(0, ['new epoch'], 1));
    await expect(log.append(producer(41, ['fenced'], 0))).rejects.toMatchObject({ code: 'INVALID_PRODUCER_EPOCH' });
    expect(log.logEndOffset).toBe(42);
    await manager.close();
  });
});

describe('reads and lookups', () => {
  it('refuses offsets outside [logStartOffset, maxOffset] and reads nothing at or above maxOffset', async () => {
    const manager = await LogManager.open({ dataDir: tempDir() });
    const log = await manager.create(tp);
    await log.append(batchOf(['a', 'b']));
    await log.append(batchOf(['c']));
    expect(await readAll(log, 0, 2)).toEqual([[0, 'a'], [1, 'b']]);
    expect((await log.read(2, { maxBytes: 1000, maxOffset: 2 })).bytes.length).toBe(0);
    await expect(log.read(3, { maxBytes: 1000, maxOffset: 2 })).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE', details: { highWatermark: 2, logStartOffset: 0 } });
    await expect(log.read(-1, { maxBytes: 1000, maxOffset: 2 })).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE' });
    expect(await readAll(log)).toHaveLength(3);
    // A batch bigger than maxBytes is still returned whole, so a reader always makes progress.
    const one = await log.read(0, { maxBytes: 1, maxOffset: 3 });
    expect(one.nextOffset).toBe(2);
    await manager.close();
  });

  it('finds the first offset with timestamp >= T across segments, with timestamps that go backwards', async () => {
    const manager = await LogManager.open({ dataDir: tempDir() });
    const log = await manager.create(tp, { segmentBytes: 1024, indexIntervalBytes: 64 });
    const timestamps = [100, 200, 150, 300, 300, 250, 400, 500, 450, 600, 700, 650, 800];
    for (const t of timestamps) await log.append(batchOf([`t${t}`.padEnd(200, '.')], { timestamp: t }));
    const end = log.logEndOffset;
    expect(log.segments.length).toBeGreaterThan(2);
    for (const target of [0, 100, 101, 150, 151, 250, 300, 301, 449, 450, 451, 650, 651, 800]) {
      const expected = timestamps.findIndex((t) => t >= target);
      expect(await log.offsetForTimestamp(target, end)).toEqual({ offset: expected, timestamp: timestamps[expected] });
    }
    expect(await log.offsetForTimestamp(801, end)).toBeNull();
    expect(await log.offsetForTimestamp(400, 5)).toBeNull();
    await manager.close();
  });
});

describe('truncation and deletion', () => {
  it('truncateTo drops the tail, fixes producer state, and later appends continue from there', async () => {
    const dataDir = tempDir();
    const manager = await LogManager.open({ dataDir });
    const log = await manager.create(tp, { segmentBytes: 1024 });
    for (let i = 0; i < 30; i++) await log.append(batchOf([`v${i}`.padEnd(100, '.')], { producerId: 9, producerEpoch: 0, baseSequence: i }));
    const segmentsBefore = log.segments.length;
    await log.truncateTo(12);
    expect(log.logEndOffset).toBe(12);
    expect(log.segments.length).toBeLessThan(segmentsBefore);
    expect((await readAll(log)).map(([o]) => o)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    // Sequence 12 is next again: the truncated batches are forgotten.
    const again = await log.append(batchOf(['again'], { producerId: 9, producerEpoch: 0, baseSequence: 12 }));
    expect(again.batches[0]).toMatchObject({ baseOffset: 12, duplicate: false });
    await manager.close();
  });

  it('a segment cut by truncateTo keeps the index entries before the cut, reading only around it; the indexes equal a full rebuild', async () => {
    const { FaultyFileIO } = await import('../helpers/faulty-file-io.js');
    const io = new FaultyFileIO();
    const manager = await LogManager.open({ dataDir: tempDir(), io, fsyncPolicy: 'never' });
    const log = await manager.create(tp, { segmentBytes: 10_000_000, indexIntervalBytes: 1_024 });
    const timestamps = Array.from({ length: 4_000 }, (_, i) => 1_000 + ((i * 37) % 500)); // goes back and forth
    await Promise.all(timestamps.map((timestamp, i) => log.append(batchOf([`v${i}`.padEnd(150, '.')], { timestamp }))));
    const segment = log.activeSegment;
    expect(segment.size).toBeGreaterThan(600_000); // a scan from byte 0 would take 10 reads of 64 KiB
    for (const cut of [3_900, 2_517, 1_000, 3]) {
      const readsBefore = io.calls.read ?? 0;
      await segment.truncateTo(cut); // the segment's part of log.truncateTo (which also rebuilds producer state)
      expect(segment.nextOffset).toBe(cut);
      expect((io.calls.read ?? 0) - readsBefore).toBeLessThan(5); // around the cut, not the whole segment
      const state = () => ({
        entries: [segment.offsetIndex.entries, segment.timeIndex.entries],
        offsets: Array.from({ length: cut }, (_, o) => segment.offsetIndex.lookup(o)),
        times: [999, 1_000, 1_250, 1_499, 1_500].map((t) => segment.timeIndex.lookup(t)),
        max: segment.maxTimestamp,
        next: segment.nextOffset,
      });
      const cutState = state();
      await segment.rebuildIndexes();
      expect(cutState).toEqual(state());
      const latest = Math.max(...timestamps.slice(0, cut));
      expect(await log.offsetForTimestamp(latest, cut)).toMatchObject({ timestamp: latest });
    }
    await manager.close();
  });

  it('deletes whole old segments, keeps them readable until the delay passes, and never the active one', async () => {
    const clock = new ManualClock();
    const dataDir = tempDir();
    const manager = await LogManager.open({ dataDir, clock });
    const log = await manager.create(tp, { segmentBytes: 1024, fileDeleteDelayMs: 60_000 });
    for (let i = 0; i < 20; i++) await log.append(batchOf([`v${i}`.padEnd(200, '.')]));
    const infos = log.segments.map((segment) => ({ baseOffset: segment.baseOffset }));
    const reader = log.segments[0]!;
    const result = await log.deleteSegmentsBefore(infos[2]!.baseOffset);
    expect(result.deletedSegments).toBe(2);
    expect(log.logStartOffset).toBe(infos[2]!.baseOffset);
    await log.settle(); // the files are renamed in the background
    const dir = join(dataDir, 'orders-0');
    expect(readdirSync(dir).filter((f) => f.endsWith('.deleted')).length).toBe(6);
    // A read that already holds the old segment still works until the files are removed.
    expect((await reader.read(0, 100)).length).toBe(100);
    await expect(log.read(0, { maxBytes: 100, maxOffset: log.logEndOffset })).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE', details: { logStartOffset: infos[2]!.baseOffset } });
    clock.advance(60_000);
    await waitFor(() => readdirSync(dir).filter((f) => f.endsWith('.deleted')).length === 0, 5_000, 'deleted files to be removed');
    // Never the active segment, never past the offset given.
    expect((await log.deleteSegmentsBefore(log.logStartOffset)).deletedSegments).toBe(0);
    await log.deleteSegmentsBefore(Number.MAX_SAFE_INTEGER);
    expect(log.segments.length).toBe(1);
    await manager.close();
  });
});

describe('fsync policies', () => {
  it('`interval` acknowledges after the write and fsyncs every flushIntervalMs on the clock', async () => {
    const { FaultyFileIO } = await import('../helpers/faulty-file-io.js');
    const io = new FaultyFileIO();
    const clock = new ManualClock();
    const manager = await LogManager.open({ dataDir: tempDir(), io, clock, fsyncPolicy: 'interval', flushIntervalMs: 1000 });
    const log = await manager.create(tp);
    const syncsAtStart = io.calls.datasync ?? 0;
    await Promise.all([log.append(batchOf(['a'])), log.append(batchOf(['b']))]);
    expect(io.calls.datasync ?? 0).toBe(syncsAtStart);
    expect(log.durableOffset).toBe(0);
    clock.advance(1000);
    await waitFor(() => log.durableOffset === 2, 5_000, 'the interval flush');
    expect(io.calls.datasync ?? 0).toBeGreaterThan(syncsAtStart);
    await manager.close();
  });

  it('`never` acknowledges after the write and leaves fsync to the OS (and to roll and close)', async () => {
    const { FaultyFileIO } = await import('../helpers/faulty-file-io.js');
    const io = new FaultyFileIO();
    const manager = await LogManager.open({ dataDir: tempDir(), io, fsyncPolicy: 'never' });
    const log = await manager.create(tp);
    const syncsAtStart = io.calls.datasync ?? 0;
    for (let i = 0; i < 20; i++) await log.append(batchOf([`v${i}`]));
    expect(io.calls.datasync ?? 0).toBe(syncsAtStart);
    await manager.close();
    expect(io.calls.datasync ?? 0).toBeGreaterThan(syncsAtStart);
  });
});
