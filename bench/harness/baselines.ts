/**
 * The same-run baselines every sluice figure is divided by, measured on the data directory's file system
 * right after the workload, with node:fs on a raw file descriptor (no broker, no HTTP, no codec):
 *
 * - `sequentialWrite`: fs.write of the same number of bytes in 512 KiB chunks (the client's batch size), no sync;
 * - `writeFdatasync`: the same, with an fdatasync after every chunk (what acks=all with fsync always costs
 *   at least);
 * - `pageCacheRead`: fs.read of the file just written, 1 MiB at a time, from the page cache.
 *
 * Produce figures are compared with writeFdatasync when the broker fsyncs before acknowledging, with
 * sequentialWrite otherwise; consume figures with pageCacheRead.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { raw, RawAppender } from '../lib/raw-io.js';

export interface Baseline {
  mbPerSec: number;
  bytes: number;
  seconds: number;
  description: string;
}

export type Baselines = Record<'sequentialWrite' | 'writeFdatasync' | 'pageCacheRead', Baseline>;

const CHUNK = 512 * 1024;

async function writeFile(path: string, bytes: number, policy: 'always' | 'never'): Promise<Baseline> {
  const appender = await RawAppender.create(path, policy, 0);
  const chunk = Buffer.alloc(CHUNK, 'x');
  const started = performance.now();
  let written = 0;
  for (; written < bytes; written += CHUNK) await appender.append(chunk);
  const seconds = (performance.now() - started) / 1000;
  await appender.close();
  return {
    mbPerSec: written / 1e6 / seconds,
    bytes: written,
    seconds,
    description: policy === 'always' ? 'fs.write + fdatasync per 512 KiB chunk' : 'fs.write of 512 KiB chunks, no sync',
  };
}

async function readFile(path: string): Promise<Baseline> {
  const fd = await raw.open(path, 'r');
  const size = await raw.size(fd);
  const started = performance.now();
  let position = 0;
  while (position < size) position += (await raw.read(fd, 1024 * 1024, position)).length;
  const seconds = (performance.now() - started) / 1000;
  await raw.close(fd);
  return { mbPerSec: position / 1e6 / seconds, bytes: position, seconds, description: 'fs.read of the file just written, 1 MiB at a time (page cache)' };
}

/** Measures the three baselines with `bytes` (clamped to 16 MB .. `maxBytes`) in `dir`. */
export async function measureBaselines(dir: string, bytes: number, maxBytes: number): Promise<Baselines> {
  const amount = Math.max(16e6, Math.min(bytes, maxBytes));
  const a = join(dir, 'baseline-sequential.bin');
  const b = join(dir, 'baseline-fdatasync.bin');
  try {
    const sequentialWrite = await writeFile(a, amount, 'never');
    const writeFdatasync = await writeFile(b, amount, 'always');
    const pageCacheRead = await readFile(b);
    return { sequentialWrite, writeFdatasync, pageCacheRead };
  } finally {
    await rm(a, { force: true });
    await rm(b, { force: true });
  }
}

/** Which baseline a produce figure is divided by. */
export const produceBaselineName = (fsync: 'always' | 'interval' | 'never'): keyof Baselines => (fsync === 'always' ? 'writeFdatasync' : 'sequentialWrite');
