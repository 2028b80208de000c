/**
 * The leader-epoch cache kept with the log: written before the data of a new epoch, rebuilt from the batch
 * headers when its file is missing, cut with truncation and retention; and the follower append, which keeps
 * the leader's offsets and epochs.
 */
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeBatch } from '../../src/log/batch-decoder.js';
import { LEADER_EPOCH_FILE } from '../../src/log/leader-epoch-cache.js';
import { LogManager } from '../../src/log/log-manager.js';
import { assignOffsetAndEpoch, batchSize, readBatchHeader } from '../../src/log/record-batch.js';
import { batchOf, readAll } from '../helpers/log-builder.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const tp = { topic: 'orders', partition: 0 };

async function open(dataDir = tempDir()) {
  const manager = await LogManager.open({ dataDir });
  const log = manager.get(tp) ?? (await manager.create(tp, { segmentBytes: 1_024 }));
  return { dataDir, manager, log, file: join(dataDir, 'orders-0', LEADER_EPOCH_FILE) };
}

/** The leader epochs stored in the log's batches, per batch. */
async function storedEpochs(log: Awaited<ReturnType<typeof open>>['log']): Promise<[number, number][]> {
  const out: [number, number][] = [];
  for (let offset = log.logStartOffset; offset < log.logEndOffset; ) {
    const { bytes, nextOffset } = await log.read(offset, { maxBytes: 1 << 20, maxOffset: log.logEndOffset });
    for (let at = 0; at < bytes.length; at += batchSize(readBatchHeader(bytes, at))) {
      const header = readBatchHeader(bytes, at);
      out.push([header.baseOffset, header.partitionLeaderEpoch]);
    }
    offset = nextOffset;
  }
  return out;
}

describe('leader epochs in the log', () => {
  it('stamps the epoch into every batch and records each new epoch in the file before its data', async () => {
    const { manager, log, file } = await open();
    await log.append(batchOf(['a', 'b']), { leaderEpoch: 0 });
    expect(readFileSync(file, 'utf8')).toBe('0\n1\n0 0\n');
    await log.append(batchOf(['c']), { leaderEpoch: 0 });
    await log.append(batchOf(['d', 'e']), { leaderEpoch: 3 });
    expect(readFileSync(file, 'utf8')).toBe('0\n2\n0 0\n3 3\n');
    expect(await storedEpochs(log)).toEqual([
      [0, 0],
      [2, 0],
      [3, 3],
    ]);
    expect(log.epochs.endOffsetFor(2, log.logEndOffset)).toEqual({ epoch: 0, endOffset: 3 });
    await manager.close();
  });

  it('rebuilds a missing or garbled file from the batch headers at start-up', async () => {
    const { dataDir, manager, log, file } = await open();
    await log.append(batchOf(['a']), { leaderEpoch: 1 });
    for (let i = 0; i < 10; i++) await log.append(batchOf([`v${i}`.padEnd(200, '.')]), { leaderEpoch: 4 });
    const expected = log.epochs.all().map((e) => ({ ...e }));
    expect(expected).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 4, startOffset: 1 },
    ]);
    await manager.close();
    for (const damage of [() => unlinkSync(file), () => writeFileSync(file, 'garbage\n')]) {
      damage();
      const again = await open(dataDir);
      expect(again.log.epochs.all()).toEqual(expected);
      expect(existsSync(file)).toBe(true);
      await again.manager.close();
    }
  });

  it('is cut with the log: truncation drops later epochs, deleted segments move the first start', async () => {
    const { dataDir, manager, log, file } = await open();
    for (let i = 0; i < 8; i++) await log.append(batchOf([`v${i}`.padEnd(300, '.')]), { leaderEpoch: i < 4 ? 0 : 2 });
    expect(log.epochs.all()).toEqual([
      { epoch: 0, startOffset: 0 },
      { epoch: 2, startOffset: 4 },
    ]);
    await log.truncateTo(3);
    expect(log.epochs.all()).toEqual([{ epoch: 0, startOffset: 0 }]);
    expect(readFileSync(file, 'utf8')).toBe('0\n1\n0 0\n');
    await log.deleteSegmentsBefore(2);
    expect(log.logStartOffset).toBeGreaterThan(0);
    expect(log.epochs.all()).toEqual([{ epoch: 0, startOffset: log.logStartOffset }]);
    await manager.close();
    const again = await open(dataDir);
    expect(again.log.epochs.all()).toEqual([{ epoch: 0, startOffset: again.log.logStartOffset }]);
    await again.manager.close();
  });
});

describe('follower append', () => {
  /** A batch as the leader stored it: its offset and epoch assigned. */
  function leaderBatch(values: string[], baseOffset: number, epoch: number, producer?: { id: number; sequence: number }): Buffer {
    const b = Buffer.from(batchOf(values, producer ? { producerId: producer.id, producerEpoch: 0, baseSequence: producer.sequence } : {}));
    assignOffsetAndEpoch(b, 0, baseOffset, epoch);
    return b;
  }

  it('keeps the leader\'s offsets and epochs, and its producers enter the state', async () => {
    const { manager, log } = await open();
    await log.appendAsFollower(Buffer.concat([leaderBatch(['a', 'b'], 0, 5, { id: 9, sequence: 0 }), leaderBatch(['c'], 2, 7)]));
    const result = await log.appendAsFollower(leaderBatch(['d'], 3, 7, { id: 9, sequence: 2 }));
    expect(result.batches[0]).toMatchObject({ baseOffset: 3, lastOffset: 3 });
    expect(await storedEpochs(log)).toEqual([
      [0, 5],
      [2, 7],
      [3, 7],
    ]);
    expect(log.epochs.all()).toEqual([
      { epoch: 5, startOffset: 0 },
      { epoch: 7, startOffset: 2 },
    ]);
    expect((await readAll(log)).map(([, v]) => v)).toEqual(['a', 'b', 'c', 'd']);
    expect(log.producerState.get(9)?.batches.map((b) => [b.firstSequence, b.firstOffset])).toEqual([
      [0, 0],
      [2, 3],
    ]);
    // The bytes are stored as the leader sent them: CRCs still valid, records intact.
    const { bytes } = await log.read(0, { maxBytes: 1 << 20, maxOffset: log.logEndOffset });
    expect(decodeBatch(bytes, 0).records.map((r) => r.offset)).toEqual([0, 1]);
    await manager.close();
  });

  it('refuses a gap or an overlap, and a corrupt frame, writing nothing', async () => {
    const { manager, log } = await open();
    await log.appendAsFollower(leaderBatch(['a'], 0, 1));
    await expect(log.appendAsFollower(leaderBatch(['x'], 5, 1))).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE', details: { logEndOffset: 1 } });
    await expect(log.appendAsFollower(leaderBatch(['x'], 0, 1))).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE' });
    const corrupt = leaderBatch(['y'], 1, 1);
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 1) ^ 0xff, corrupt.length - 1);
    await expect(log.appendAsFollower(corrupt)).rejects.toMatchObject({ code: 'CORRUPT_MESSAGE' });
    expect(log.logEndOffset).toBe(1);
    await manager.close();
  });
});
