/**
 * Reads a partition's record batches straight from its segment files (CRC checked) and replays them through
 * Kafka's per-partition sequence rules, for idempotence tests that look at what is on disk.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { batchesOf, decodeBatch } from '../../src/log/batch-decoder.js';
import { ProducerStateMap } from '../../src/log/producer-state.js';
import type { DecodedBatch } from '../../src/log/record-batch.js';
import { isRequestProducerId, requestSequenceIn } from '../../src/log/request-tag.js';

export function batchesOnDisk(dataDir: string, topic: string, partition: number): DecodedBatch[] {
  const dir = join(dataDir, `${topic}-${partition}`);
  const logs = readdirSync(dir).filter((n) => n.endsWith('.log')).sort();
  return logs.flatMap((name) => Array.from(batchesOf(readFileSync(join(dir, name))), (b) => decodeBatch(b.bytes)));
}

export interface ProducerRun {
  producerId: number;
  producerEpoch: number;
  /** baseSequence of each batch, in log order */
  baseSequences: number[];
  /** the request sequence tagged on each batch's first record (request producer ids), else null */
  requestSequences: (number | null)[];
}

/**
 * Replays `batches` in log order through a fresh producer state with Kafka's checks (every batch must be a
 * new append: no sequence gap, no duplicate, no fenced epoch); throws the check's error otherwise. Returns
 * what each producer wrote, per (producer id, epoch).
 */
export function replaySequences(batches: DecodedBatch[]): ProducerRun[] {
  const state = new ProducerStateMap();
  const runs = new Map<string, ProducerRun>();
  for (const { header, records } of batches) {
    if (header.producerId < 0) continue;
    const check = state.check(header);
    if (check.kind !== 'append') throw new Error(`batch at ${header.baseOffset} replays as a duplicate`);
    state.update(header);
    const key = `${header.producerId}/${header.producerEpoch}`;
    let run = runs.get(key);
    if (!run) runs.set(key, (run = { producerId: header.producerId, producerEpoch: header.producerEpoch, baseSequences: [], requestSequences: [] }));
    run.baseSequences.push(header.baseSequence);
    run.requestSequences.push(isRequestProducerId(header.producerId) ? requestSequenceIn(records[0]!.headers) : null);
  }
  return [...runs.values()];
}
