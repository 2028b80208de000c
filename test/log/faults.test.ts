import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogManager } from '../../src/log/log-manager.js';
import { waitFor } from '../helpers/wait-for.js';
import { CollectedEvents } from '../helpers/collect-events.js';
import { FaultyFileIO } from '../helpers/faulty-file-io.js';
import { batchOf, readAll } from '../helpers/log-builder.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const tp = { topic: 'faults', partition: 0 };

async function setup(options: { fsyncPolicy?: 'always' | 'interval' | 'never'; segmentBytes?: number } = {}) {
  const dataDir = tempDir();
  const io = new FaultyFileIO();
  const events = new CollectedEvents();
  const manager = await LogManager.open({ dataDir, io, events, fsyncPolicy: options.fsyncPolicy ?? 'always' });
  const log = await manager.create(tp, { segmentBytes: options.segmentBytes ?? 1024 * 1024 });
  const activeFile = () => join(dataDir, 'faults-0', log.activeSegment.logPath.split('/').at(-1)!);
  return { dataDir, io, events, manager, log, activeFile };
}

describe('fault injection', () => {
  for (const errno of ['ENOSPC', 'EIO'] as const) {
    it(`a failed write (${errno}) is refused, cut back, consumes no offset, and appends work again afterwards`, async () => {
      const { io, manager, log, activeFile } = await setup();
      await log.append(batchOf(['one']));
      const size = statSync(activeFile()).size;
      io.inject({ op: 'writev', pathIncludes: '.log', errno, times: 1 });
      await expect(log.append(batchOf(['lost', 'lost']))).rejects.toMatchObject({ code: 'KAFKA_STORAGE_ERROR', retriable: true });
      expect(statSync(activeFile()).size).toBe(size);
      expect(log.logEndOffset).toBe(1);
      const next = await log.append(batchOf(['two']));
      expect(next.batches[0]!.baseOffset).toBe(1);
      expect(await readAll(log)).toEqual([[0, 'one'], [1, 'two']]);
      await manager.close();
    });
  }

  it('completes short writes', async () => {
    const { io, manager, log } = await setup();
    io.inject({ op: 'writev', pathIncludes: '.log', shortWrite: 10, times: 3 });
    await log.append(batchOf(['a fairly long value that needs several partial writes']));
    expect(await readAll(log)).toEqual([[0, 'a fairly long value that needs several partial writes']]);
    await manager.close();
  });

  it('a failed fdatasync rejects what is not durable, truncates back to the durable offset, and keeps going', async () => {
    const { dataDir, io, events, manager, log } = await setup();
    await log.append(batchOf(['durable']));
    io.inject({ op: 'datasync', pathIncludes: '.log', errno: 'EIO', times: 1 });
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => log.append(batchOf([`maybe-${i}`]))));
    expect(results.every((r) => r.status === 'rejected' && (r.reason as { code: string }).code === 'KAFKA_STORAGE_ERROR')).toBe(true);
    expect(events.messages('error')).toContain('fdatasync failed; truncating to the durable offset');
    // The offsets of the failed appends are handed out again.
    const after = await log.append(batchOf(['after']));
    expect(after.batches[0]!.baseOffset).toBe(1);
    expect(await readAll(log)).toEqual([[0, 'durable'], [1, 'after']]);
    manager.abandon();
    const reopened = await LogManager.open({ dataDir });
    const again = reopened.get(tp)!;
    expect(await readAll(again, 0, again.logEndOffset)).toEqual([[0, 'durable'], [1, 'after']]);
    await reopened.close();
  });

  it('goes offline when the repair after a failed fdatasync fails too, keeps serving reads, and reopens cleanly', async () => {
    const { io, manager, log } = await setup();
    await log.append(batchOf(['kept']));
    io.inject({ op: 'datasync', pathIncludes: '.log', errno: 'EIO', times: 1 });
    io.inject({ op: 'truncate', errno: 'EIO' });
    await expect(log.append(batchOf(['x']))).rejects.toMatchObject({ code: 'KAFKA_STORAGE_ERROR' });
    await waitFor(() => log.offlineReason !== null, 5_000, 'the partition to go offline');
    await expect(log.append(batchOf(['y']))).rejects.toMatchObject({ code: 'KAFKA_STORAGE_ERROR' });
    expect(await readAll(log, 0, 1)).toEqual([[0, 'kept']]);
    io.clear();
    const reopened = await manager.reopen(tp);
    expect(reopened.offlineReason).toBeNull();
    const next = await reopened.append(batchOf(['back']));
    expect(next.batches[0]!.baseOffset).toBeGreaterThanOrEqual(1);
    await manager.close();
  });

  it('a roll that cannot create its segment (ENOSPC) refuses the append and leaves the log usable', async () => {
    const { io, manager, log } = await setup({ segmentBytes: 1024 });
    await log.append(batchOf(['x'.repeat(900)]));
    io.inject({ op: 'open', pathIncludes: '.log', errno: 'ENOSPC', times: 1 });
    await expect(log.append(batchOf(['y'.repeat(900)]))).rejects.toMatchObject({ code: 'KAFKA_STORAGE_ERROR' });
    expect(log.segments.length).toBe(1);
    const ok = await log.append(batchOf(['y'.repeat(900)]));
    expect(ok.batches[0]!.baseOffset).toBe(1);
    expect(log.segments.length).toBe(2);
    await manager.close();
  });

  it('under fsync `never` a failed write is refused the same way', async () => {
    const { io, manager, log } = await setup({ fsyncPolicy: 'never' });
    io.inject({ op: 'writev', pathIncludes: '.log', errno: 'ENOSPC', times: 1 });
    await expect(log.append(batchOf(['x']))).rejects.toMatchObject({ code: 'KAFKA_STORAGE_ERROR' });
    expect((await log.append(batchOf(['y']))).batches[0]!.baseOffset).toBe(0);
    await manager.close();
  });
});

describe('fault injection: regressions', () => {
  it('under fsync `interval` a failed fdatasync never truncates acknowledged records: the partition goes offline', async () => {
    const { dataDir, io, manager, log } = await setup({ fsyncPolicy: 'interval' });
    for (let i = 0; i < 5; i++) await log.append(batchOf([`acked-${i}`]));
    io.inject({ op: 'datasync', pathIncludes: '.log', errno: 'EIO', times: 1 });
    await expect(log.flush()).rejects.toBeDefined();
    await waitFor(() => log.offlineReason !== null, 5_000, 'the partition to go offline');
    expect(log.logEndOffset).toBe(5);
    await expect(log.append(batchOf(['x']))).rejects.toMatchObject({ code: 'KAFKA_STORAGE_ERROR' });
    manager.abandon();
    const reopened = await LogManager.open({ dataDir });
    const again = reopened.get(tp)!;
    expect((await readAll(again, 0, again.logEndOffset)).map(([, v]) => v)).toEqual([0, 1, 2, 3, 4].map((i) => `acked-${i}`));
    await reopened.close();
  });

  it('a refused first request does not let the next one skip the roll check', async () => {
    const { manager, log } = await setup({ segmentBytes: 1024 });
    await log.append(batchOf(['x'.repeat(700)]));
    const refused = log.append(batchOf(['bad'], { producerId: 1, producerEpoch: 0, baseSequence: 5 }));
    const big = log.append(batchOf(['y'.repeat(700)]));
    await expect(refused).rejects.toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE' });
    await big;
    expect(log.segments.length).toBe(2);
    for (const s of log.segments) expect(s.size).toBeLessThanOrEqual(1024);
    await manager.close();
  });

  it('a failed segment creation leaves no file behind, so the next roll succeeds', async () => {
    const { io, manager, log } = await setup({ segmentBytes: 1024 });
    await log.append(batchOf(['x'.repeat(900)]));
    io.inject({ op: 'open', pathIncludes: '.timeindex', errno: 'ENOSPC', times: 1 });
    await expect(log.append(batchOf(['y'.repeat(900)]))).rejects.toMatchObject({ code: 'KAFKA_STORAGE_ERROR' });
    expect((await log.append(batchOf(['y'.repeat(900)]))).batches[0]!.baseOffset).toBe(1);
    expect(log.segments.length).toBe(2);
    await manager.close();
  });
});
