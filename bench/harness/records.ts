/**
 * The records the harness sends, the same bytes for every system and path.
 *
 * A value starts with a 32-byte ASCII header, then filler up to the record's size:
 *
 *   bytes  0..3   producer index, 4 hex digits
 *   bytes  4..15  sequence number within that producer, 12 decimal digits
 *   bytes 16..31  send time in µs since the epoch (performance.timeOrigin + performance.now()), 16 digits
 *
 * ASCII, so the JSON route carries the same value as a string, byte for byte. The send time gives the
 * end-to-end latency (produce to consume) on the consumer side; every process runs on the same machine, so
 * their clocks agree. Sizes follow the workload's distribution, keys its key distribution (none, uniform
 * over N keys, zipf over N keys), all from a seeded PRNG so runs send the same sizes and keys.
 */
import { seededRandom } from '../lib/random.js';
import type { KeyDistribution, RecordSize } from './workload.js';

export const HEADER_BYTES = 32;

export const nowMicros = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

const FILLER = Buffer.alloc(8_388_608, 'x');

/** A fresh value of `size` bytes for (producer, sequence), stamped now. */
export function makeValue(producer: number, sequence: number, size: number): Buffer {
  const value = Buffer.allocUnsafe(size);
  value.write(producer.toString(16).padStart(4, '0').slice(-4), 0, 'latin1');
  value.write(String(sequence).padStart(12, '0'), 4, 'latin1');
  value.write(String(nowMicros()).padStart(16, '0'), 16, 'latin1');
  FILLER.copy(value, HEADER_BYTES, 0, size - HEADER_BYTES);
  return value;
}

/** The send time (µs) stamped in a value, or NaN when the value is not one of ours. */
export function sentMicros(value: Uint8Array | string): number {
  if (typeof value === 'string') return Number(value.slice(16, 32));
  let n = 0;
  for (let i = 16; i < 32; i++) {
    const d = value[i]! - 48;
    if (d < 0 || d > 9) return Number.NaN;
    n = n * 10 + d;
  }
  return n;
}

/** Record sizes following the workload's distribution. */
export function sizeGenerator(spec: RecordSize, seed: number): () => number {
  if (typeof spec === 'number') return () => spec;
  const random = seededRandom(seed);
  if (spec.distribution === 'uniform') return () => spec.min + Math.floor(random() * (spec.max - spec.min + 1));
  const min = Math.max(HEADER_BYTES, spec.min ?? HEADER_BYTES);
  const max = spec.max ?? 8_388_608;
  return () => {
    // Box–Muller
    const u = 1 - random();
    const v = random();
    const x = spec.mean + spec.stddev * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return Math.min(max, Math.max(min, Math.round(x)));
  };
}

/** The mean record size (for planning and messages). */
export function meanSize(spec: RecordSize): number {
  if (typeof spec === 'number') return spec;
  return spec.distribution === 'uniform' ? (spec.min + spec.max) / 2 : spec.mean;
}

/** Keys following the workload's distribution (null: keyless records, spread by the client's partitioner). */
export function keyGenerator(spec: KeyDistribution, seed: number): () => string | null {
  if (spec.distribution === 'none') return () => null;
  const random = seededRandom(seed);
  if (spec.distribution === 'uniform') return () => `key-${Math.floor(random() * spec.count)}`;
  // zipf: the cumulative distribution over ranks 1..count, searched by bisection
  const count = Math.min(spec.count, 1_000_000);
  const s = spec.exponent ?? 1;
  const cdf = new Float64Array(count);
  let total = 0;
  for (let k = 1; k <= count; k++) cdf[k - 1] = total += 1 / k ** s;
  return () => {
    const target = random() * total;
    let lo = 0;
    let hi = count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < target) lo = mid + 1;
      else hi = mid;
    }
    return `key-${lo}`;
  };
}
