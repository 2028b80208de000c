/**
 * LZ4 batches that inflate far beyond their stored size (decompression bombs, and big but allowed ones), and a
 * probe that measures `/health` latency of a running broker while some work is under way.
 */
import { encodeBatch } from '../../src/log/record-batch.js';

export const MiB = 1024 * 1024;

const zeroBatches = new Map<number, Buffer>();

/** One LZ4 batch holding one record of `valueBytes` zero bytes (200 MiB of zeros is about 823 KB stored). */
export function zeroRecordBatch(valueBytes: number): Buffer {
  let batch = zeroBatches.get(valueBytes);
  if (!batch) {
    batch = encodeBatch({ records: [{ key: null, value: Buffer.alloc(valueBytes), timestamp: Date.now() }], compression: 'lz4' });
    zeroBatches.set(valueBytes, batch);
  }
  return Buffer.from(batch);
}

/** One LZ4 batch of `count` records with neither key nor value: cheap to store, costly to walk. */
export function tinyRecordsBatch(count: number): Buffer {
  const timestamp = Date.now();
  return encodeBatch({ records: Array.from({ length: count }, () => ({ key: null, value: null, timestamp })), compression: 'lz4' });
}

export interface HealthProbe {
  /** latency of each /health request, ms, in order */
  latenciesMs: number[];
  maxMs: number;
}

/**
 * Calls `${url}/health` back to back (a few ms apart) until `work` settles; returns the work's result and the
 * latencies seen. A broker whose event loop is blocked answers /health late, which shows as a long latency.
 */
export async function probeHealthDuring<T>(url: string, work: () => Promise<T>): Promise<{ result: T; health: HealthProbe }> {
  const latenciesMs: number[] = [];
  let done = false;
  const loop = (async () => {
    while (!done) {
      const started = performance.now();
      const response = await fetch(`${url}/health`);
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`/health answered ${response.status}`);
      latenciesMs.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  // A first answer before the work starts: the connection is open and the probe is warm.
  while (latenciesMs.length === 0) await new Promise((r) => setTimeout(r, 5));
  let result: T;
  try {
    result = await work();
  } finally {
    done = true;
    await loop;
  }
  return { result, health: { latenciesMs, maxMs: Math.max(...latenciesMs) } };
}
