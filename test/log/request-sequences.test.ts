/**
 * The JSON route's request sequences in the storage engine: kept with the cached producer batches, written
 * into snapshots, read back from the batches' first records when the state was rebuilt from batch headers,
 * and only ever given for request producer ids.
 */
import { readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogManager } from '../../src/log/log-manager.js';
import { encodeBatch } from '../../src/log/record-batch.js';
import { requestProducerId, requestSequenceHeader } from '../../src/log/request-tag.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const ID = requestProducerId(42);

function requestBatch(requestSequence: number, baseSequence: number, values: string[], compression: 'none' | 'lz4') {
  return encodeBatch({
    records: values.map((v, i) => ({ value: v, timestamp: 1_700_000_000_000, headers: i === 0 ? [requestSequenceHeader(requestSequence), { key: 'own', value: 'h' }] : [] })),
    producerId: ID,
    producerEpoch: 0,
    baseSequence,
    compression,
  });
}

async function withLog<T>(dataDir: string, fn: (log: Awaited<ReturnType<LogManager['create']>>) => Promise<T>): Promise<T> {
  const manager = await LogManager.open({ dataDir });
  try {
    const log = manager.get({ topic: 't', partition: 0 }) ?? (await manager.create({ topic: 't', partition: 0 }));
    return await fn(log);
  } finally {
    await manager.close();
  }
}

describe('request sequences of producer batches', () => {
  it('only request producer ids carry one, and they always do', async () => {
    await withLog(tempDir(), async (log) => {
      await expect(log.append(requestBatch(0, 0, ['a'], 'none'))).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
      const plain = encodeBatch({ records: [{ value: 'b' }], producerId: 42, producerEpoch: 0, baseSequence: 0 });
      await expect(log.append(plain, { requestSequence: 0 })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
      await expect(log.append(encodeBatch({ records: [{ value: 'c' }] }), { requestSequence: 0 })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
      expect(log.logEndOffset).toBe(0);
      await log.append(plain);
      await log.append(requestBatch(0, 0, ['a'], 'none'), { requestSequence: 0 });
      expect(log.producerState.get(42)!.batches[0]!.requestSequence).toBeNull();
      expect(log.producerState.get(ID)!.batches[0]!.requestSequence).toBe(0);
      // Kafka's rules apply to the request producer id like to any other: a gap is refused.
      await expect(log.append(requestBatch(1, 5, ['x'], 'none'), { requestSequence: 1 })).rejects.toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE' });
    });
  });

  for (const compression of ['none', 'lz4'] as const) {
    it(`survive a restart through the snapshot, and are read back from the batches without one (${compression})`, async () => {
      const dataDir = tempDir();
      await withLog(dataDir, async (log) => {
        await log.append(requestBatch(3, 0, ['a', 'b'], compression), { requestSequence: 3 });
        await log.append(requestBatch(7, 2, ['c'], compression), { requestSequence: 7 });
      });
      // Clean close wrote a snapshot: the sequences are there without reading the log.
      await withLog(dataDir, async (log) => {
        expect(log.producerState.get(ID)!.batches.map((b) => b.requestSequence)).toEqual([3, 7]);
      });
      // Without it (as after a crash before any snapshot) the state comes from batch headers only...
      const dir = join(dataDir, 't-0');
      for (const name of readdirSync(dir).filter((n) => n.endsWith('.snapshot'))) unlinkSync(join(dir, name));
      await withLog(dataDir, async (log) => {
        expect(log.producerState.get(ID)!.batches.map((b) => b.requestSequence)).toEqual([undefined, undefined]);
        // ...and the sequences are read from the first records when asked for, then kept.
        const entry = await log.producerBatches(ID);
        expect(entry!.batches.map((b) => [b.firstSequence, b.requestSequence])).toEqual([
          [0, 3],
          [2, 7],
        ]);
        expect(log.producerState.get(ID)!.batches.map((b) => b.requestSequence)).toEqual([3, 7]);
        expect(await log.producerBatches(requestProducerId(43))).toBeUndefined();
      });
    });
  }
});
