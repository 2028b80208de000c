/**
 * CRC-32C (Castagnoli), the checksum of Kafka's RecordBatch v2. fast-crc32c picks the native SSE4.2 addon
 * (optional dependency sse4_crc32, built at install) when it loads and silently falls back to pure JS when it
 * does not, which is ~15x slower; `crcImplementation` says which one is live so the broker can log it and the
 * benchmarks can report it.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const fast = require('fast-crc32c') as { calculate(data: Buffer | string, seed?: number): number };

function detectImplementation(): 'sse4.2' | 'javascript' {
  try {
    const native = require('fast-crc32c/impls/sse4_crc32c') as unknown;
    return native === fast ? 'sse4.2' : 'javascript';
  } catch {
    return 'javascript';
  }
}

export const crcImplementation = detectImplementation();

/** Unsigned CRC-32C of `data`; `seed` continues a checksum over a previous chunk. */
export function crc32c(data: Buffer, seed?: number): number {
  return seed === undefined ? fast.calculate(data) : fast.calculate(data, seed);
}
