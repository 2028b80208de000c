import { describe, expect, it } from 'vitest';
import { codeOf } from '../helpers/error-code.js';
import { ProducerStateMap } from '../../src/log/producer-state.js';
import type { RecordBatchHeader } from '../../src/log/record-batch.js';

function header(producerId: number, producerEpoch: number, baseSequence: number, records: number, baseOffset: number): RecordBatchHeader {
  return {
    baseOffset, batchLength: 100, partitionLeaderEpoch: 0, magic: 2, crc: 0, attributes: 0,
    lastOffsetDelta: records - 1, baseTimestamp: 1, maxTimestamp: 1, producerId, producerEpoch, baseSequence, recordCount: records,
  };
}


describe('producer state', () => {
  it('accepts consecutive sequences and answers duplicates with the original offsets', () => {
    const state = new ProducerStateMap();
    const first = header(7, 0, 0, 3, 100);
    expect(state.check(first)).toEqual({ kind: 'append' });
    state.update(first);
    const second = header(7, 0, 3, 2, 103);
    expect(state.check(second)).toEqual({ kind: 'append' });
    state.update(second);
    const retry = state.check(header(7, 0, 0, 3, 999));
    expect(retry).toMatchObject({ kind: 'duplicate', batch: { firstOffset: 100, lastOffset: 102 } });
  });

  it('refuses gaps, fenced epochs and a new epoch that does not start at 0', () => {
    const state = new ProducerStateMap();
    state.update(header(7, 2, 0, 1, 0));
    expect(codeOf(() => state.check(header(7, 2, 5, 1, 1)))).toBe('OUT_OF_ORDER_SEQUENCE');
    expect(codeOf(() => state.check(header(7, 1, 1, 1, 1)))).toBe('INVALID_PRODUCER_EPOCH');
    // The epoch is checked before the sequence.
    expect(codeOf(() => state.check(header(7, 1, 0, 1, 1)))).toBe('INVALID_PRODUCER_EPOCH');
    expect(codeOf(() => state.check(header(7, 3, 4, 1, 1)))).toBe('OUT_OF_ORDER_SEQUENCE');
    expect(state.check(header(7, 3, 0, 1, 1))).toEqual({ kind: 'append' });
    expect(codeOf(() => state.check(header(8, 0, 1, 1, 1)))).toBe('OUT_OF_ORDER_SEQUENCE');
  });

  it('remembers only the last five batches', () => {
    const state = new ProducerStateMap();
    for (let i = 0; i < 7; i++) state.update(header(1, 0, i, 1, i));
    expect(state.get(1)!.batches.map((b) => b.firstSequence)).toEqual([2, 3, 4, 5, 6]);
    expect(state.check(header(1, 0, 2, 1, 0)).kind).toBe('duplicate');
    expect(codeOf(() => state.check(header(1, 0, 1, 1, 0)))).toBe('OUT_OF_ORDER_SEQUENCE');
  });

  it('an overlay changes nothing until committed', () => {
    const state = new ProducerStateMap();
    state.update(header(1, 0, 0, 1, 0));
    const overlay = state.fork();
    overlay.update(header(1, 0, 1, 1, 1));
    expect(overlay.check(header(1, 0, 2, 1, 2))).toEqual({ kind: 'append' });
    expect(codeOf(() => state.check(header(1, 0, 2, 1, 2)))).toBe('OUT_OF_ORDER_SEQUENCE');
    overlay.commitTo(state);
    expect(state.check(header(1, 0, 2, 1, 2))).toEqual({ kind: 'append' });
  });

  it('ignores batches without a producer id', () => {
    const state = new ProducerStateMap();
    expect(state.check(header(-1, -1, -1, 5, 0))).toEqual({ kind: 'append' });
    state.update(header(-1, -1, -1, 5, 0));
    expect(state.size).toBe(0);
  });
});
