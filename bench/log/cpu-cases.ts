/**
 * CPU-only cases, measured with tinybench: the RecordBatch codec, CRC-32C and the offset index lookup.
 *
 * Baselines: a memcpy (Buffer.copy) of the same bytes for the codec and CRC, the floor any of them could reach;
 * a plain binary search over an Int32Array holding the same entries for the index.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { crc32c, crcImplementation } from '../../src/log/crc32c.js';
import { nodeFileIO } from '../../src/log/file-io.js';
import { HandleCache } from '../../src/log/handle-cache.js';
import { DEFAULT_LOG_CONFIG } from '../../src/log/log-config.js';
import { OffsetIndex, OFFSET_INDEX_ENTRY_SIZE } from '../../src/log/offset-index.js';
import { encodeBatch } from '../../src/log/record-batch.js';
import { decodeBatch } from '../../src/log/batch-decoder.js';
import { microBench } from '../lib/measure.js';
import { makeResult, type BenchResult } from '../lib/results.js';
import type { SuiteContext } from '../lib/suite.js';
import { seededRandom } from '../lib/random.js';
import { RECORD_BYTES, records } from './fixtures.js';
import type { LogSuiteSettings } from './settings.js';

const require = createRequire(import.meta.url);

/** MB/s of `bytes` handled in `ms` milliseconds. */
const mbPerSec = (bytes: number, ms: number) => bytes / ms / 1e3;

export async function codecCases(ctx: SuiteContext, settings: LogSuiteSettings): Promise<BenchResult[]> {
  ctx.progress.startCase(`codec and CRC-32C (${settings.codecBatchRecords} × 1 KiB records per batch)`);
  const input = { records: records(settings.codecBatchRecords) };
  const batch = encodeBatch(input);
  const copy = Buffer.allocUnsafe(batch.length);
  const jsCrc = require('fast-crc32c/impls/js_crc32c') as { calculate(data: Buffer): number };
  let sink = 0;
  const times = await microBench(
    [
      { name: 'memcpy', fn: () => batch.copy(copy) },
      { name: 'encode', fn: () => encodeBatch(input) },
      { name: 'decode', fn: () => (sink += decodeBatch(batch).records.length) },
      { name: 'crc', fn: () => (sink ^= crc32c(batch)) },
      { name: 'crc-js', fn: () => (sink ^= jsCrc.calculate(batch)) },
    ],
    { timeMs: settings.microTimeMs, warmupMs: settings.microWarmupMs },
  );
  if (sink === 0.5) console.log(sink); // keeps the results alive so no call can be optimised away
  const ms = (name: string) => times.get(name)!.meanMs;
  const baseline = { name: 'memcpy of the same bytes', value: mbPerSec(batch.length, ms('memcpy')) };
  const params = { recordsPerBatch: settings.codecBatchRecords, recordBytes: RECORD_BYTES, batchBytes: batch.length };
  const row = (id: string, name: string, task: string) =>
    makeResult({ id, group: 'Codec and CRC', name, params, value: mbPerSec(batch.length, ms(task)), unit: 'MB/s', better: 'higher', baseline });
  const results = [
    row('codec.encode', `encode a batch (${settings.codecBatchRecords} × 1 KiB, CRC included)`, 'encode'),
    row('codec.decode', `decode a batch (CRC checked, records parsed)`, 'decode'),
    row('crc.active', `CRC-32C, ${crcImplementation} (the implementation in use)`, 'crc'),
    row('crc.javascript', 'CRC-32C, pure-JS fallback (for comparison)', 'crc-js'),
  ];
  results.forEach((r) => ctx.report(r));
  return results;
}

/** A plain binary search: index of the last key <= target, -1 when none. */
function floorIndex(keys: Int32Array, target: number): number {
  let low = 0;
  let high = keys.length - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    if (keys[mid]! <= target) {
      found = mid;
      low = mid + 1;
    } else high = mid - 1;
  }
  return found;
}

const LOOKUPS_PER_CALL = 1024;

/**
 * A full offset index (the default segmentIndexBytes, 10 MiB = 1,310,720 entries: the worst case for the binary
 * search). Keys step by 4 offsets; positions step by 1 KiB so that the last one stays below 2^31.
 */
export async function indexCases(ctx: SuiteContext, settings: LogSuiteSettings): Promise<BenchResult[]> {
  const maxIndexBytes = DEFAULT_LOG_CONFIG.segmentIndexBytes;
  const entries = Math.floor(maxIndexBytes / OFFSET_INDEX_ENTRY_SIZE);
  ctx.progress.startCase(`offset index lookup (${entries.toLocaleString('en-US')} entries)`);
  const handles = new HandleCache(nodeFileIO, 8);
  const index = new OffsetIndex(handles, join(ctx.dataDir, '00000000000000000000.index'), 0, maxIndexBytes);
  await index.create();
  const keys = new Int32Array(entries);
  const positions = new Int32Array(entries);
  for (let i = 0; i < entries; i++) {
    keys[i] = i * 4 + 3;
    positions[i] = i * RECORD_BYTES;
    index.append(keys[i]!, positions[i]!);
  }
  const random = seededRandom(7);
  const targets = Array.from({ length: LOOKUPS_PER_CALL * 16 }, () => Math.floor(random() * entries * 4));
  let next = 0;
  let sink = 0;
  const times = await microBench(
    [
      {
        name: 'array',
        fn: () => {
          for (let i = 0; i < LOOKUPS_PER_CALL; i++) {
            const found = floorIndex(keys, targets[next++ & (targets.length - 1)]!);
            sink += found < 0 ? 0 : positions[found]!;
          }
        },
      },
      {
        name: 'index',
        fn: () => {
          for (let i = 0; i < LOOKUPS_PER_CALL; i++) sink += index.lookup(targets[next++ & (targets.length - 1)]!);
        },
      },
    ],
    { timeMs: settings.microTimeMs, warmupMs: settings.microWarmupMs },
  );
  if (sink === 0.5) console.log(sink);
  await handles.closeAll();
  const nsPerLookup = (task: string) => (times.get(task)!.meanMs * 1e6) / LOOKUPS_PER_CALL;
  const result = makeResult({
    id: 'index.lookup',
    group: 'Offset index',
    name: `OffsetIndex.lookup, ${entries.toLocaleString('en-US')} entries`,
    params: { entries },
    value: nsPerLookup('index'),
    unit: 'ns/op',
    better: 'lower',
    baseline: { name: 'binary search over an Int32Array', value: nsPerLookup('array') },
  });
  ctx.report(result);
  return [result];
}
