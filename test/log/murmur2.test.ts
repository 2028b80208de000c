import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from '../../src/common/murmur2.js';

// Test vectors from Kafka's UtilsTest.testMurmur2 and from Kafka's Utils.murmur2 as used by other clients.
const VECTORS: [string, number][] = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['abc', 479470107],
  ['1', -1993445489],
  ['12', 126087238],
  ['123', -267702483],
  ['1234', -1614185708],
  ['12345', -1188365604],
];

describe('murmur2 partitioner', () => {
  it.each(VECTORS)('murmur2(%j) = %i as in Kafka', (key, hash) => {
    expect(murmur2(Buffer.from(key))).toBe(hash);
  });

  it('places keys as Kafka does: toPositive(murmur2) mod partitions', () => {
    for (const [key, hash] of VECTORS) {
      for (const n of [1, 3, 8, 12, 100]) expect(partitionForKey(Buffer.from(key), n)).toBe((hash & 0x7fffffff) % n);
    }
  });
});
