/**
 * Replica placement (a pure function) checked exhaustively with fast-check: distinct live replicas per
 * partition, leaders and replicas spread over the brokers within one of each other, impossible replication
 * factors refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { placeReplicas } from '../../src/cluster/replica-placement.js';

const spread = (counts: Map<number, number>, brokers: number[]) => {
  const values = brokers.map((b) => counts.get(b) ?? 0);
  return Math.max(...values) - Math.min(...values);
};

const countBy = (ids: number[]) => {
  const counts = new Map<number, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
};

describe('replica placement', () => {
  it('6 partitions with replication factor 3 on 3 brokers: leaders 2/2/2, every partition on all three', () => {
    const placement = placeReplicas({ partitions: 6, replicationFactor: 3, liveBrokers: [3, 1, 2] });
    expect(placement).toEqual([[1, 2, 3], [2, 3, 1], [3, 1, 2], [1, 2, 3], [2, 3, 1], [3, 1, 2]]);
  });

  it('any partitions, brokers and replication factor: distinct live replicas, leaders and replicas even within one', () => {
    const request = fc
      .uniqueArray(fc.integer({ min: 0, max: 1_000 }), { minLength: 1, maxLength: 12 })
      .chain((brokers) =>
        fc.record({
          liveBrokers: fc.constant(brokers),
          replicationFactor: fc.integer({ min: 1, max: brokers.length }),
          partitions: fc.integer({ min: 1, max: 300 }),
          startIndex: fc.integer({ min: -50, max: 50 }),
        }),
      );
    fc.assert(
      fc.property(request, (req) => {
        const placement = placeReplicas(req);
        const live = new Set(req.liveBrokers);
        const badPartition = placement.findIndex((r) => r.length !== req.replicationFactor || new Set(r).size !== r.length || !r.every((b) => live.has(b)));
        expect(placement).toHaveLength(req.partitions);
        expect(badPartition, `partition ${badPartition}: ${placement[badPartition]}`).toBe(-1);
        expect(spread(countBy(placement.map((r) => r[0]!)), req.liveBrokers)).toBeLessThanOrEqual(1);
        expect(spread(countBy(placement.flat()), req.liveBrokers)).toBeLessThanOrEqual(1);
      }),
      { numRuns: 2_000 },
    );
  });

  it('is deterministic and does not depend on the order the live brokers are given in', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 40 }), (brokers, partitions) => {
        const a = placeReplicas({ partitions, replicationFactor: 1, liveBrokers: brokers });
        const b = placeReplicas({ partitions, replicationFactor: 1, liveBrokers: [...brokers].reverse() });
        expect(a).toEqual(b);
      }),
    );
  });

  it('refuses a replication factor above the live brokers or below 1, and a partition count below 1', () => {
    expect(() => placeReplicas({ partitions: 3, replicationFactor: 4, liveBrokers: [1, 2, 3] })).toThrow(
      expect.objectContaining({ code: 'INVALID_REPLICATION_FACTOR', message: 'replication factor 4 is impossible with 3 live brokers (it must be 1 to 3)' }),
    );
    expect(() => placeReplicas({ partitions: 3, replicationFactor: 0, liveBrokers: [1] })).toThrow(expect.objectContaining({ code: 'INVALID_REPLICATION_FACTOR' }));
    expect(() => placeReplicas({ partitions: 3, replicationFactor: 1, liveBrokers: [] })).toThrow(/with 0 live brokers/);
    expect(() => placeReplicas({ partitions: 0, replicationFactor: 1, liveBrokers: [1] })).toThrow(/partitions must be/);
  });
});
