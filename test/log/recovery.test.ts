import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeInt64 } from '../../src/log/buffers.js';
import { LogManager } from '../../src/log/log-manager.js';
import { BATCH, BATCH_HEADER_SIZE, LOG_OVERHEAD, computeBatchCrc } from '../../src/log/record-batch.js';
import { CollectedEvents } from '../helpers/collect-events.js';
import { FaultyFileIO } from '../helpers/faulty-file-io.js';
import { batchOf, readAll } from '../helpers/log-builder.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const tp = { topic: 'events', partition: 3 };
const config = { segmentBytes: 2048, indexIntervalBytes: 256 };

/** Writes `count` records, one batch each, and returns what a reader should see. */
async function writeLog(dataDir: string, count: number, clean: boolean): Promise<[number, string][]> {
  const manager = await LogManager.open({ dataDir, logConfigFor: () => config });
  const log = manager.get(tp) ?? (await manager.create(tp, config));
  for (let i = 0; i < count; i++) await log.append(batchOf([`record-${i}`.padEnd(100, '.')]));
  const all = await readAll(log);
  if (clean) await manager.close();
  else manager.abandon();
  return all;
}

async function reopen(dataDir: string, events = new CollectedEvents(), io?: FaultyFileIO) {
  const manager = await LogManager.open({ dataDir, events, logConfigFor: () => config, ...(io ? { io } : {}) });
  const log = manager.get(tp)!;
  return { manager, log, events };
}

const partitionDir = (dataDir: string) => join(dataDir, 'events-3');
const segmentFiles = (dataDir: string) => readdirSync(partitionDir(dataDir)).filter((f) => f.endsWith('.log')).sort();

describe('recovery', () => {
  it('after an unclean stop keeps every record and rebuilds the indexes', async () => {
    const dataDir = tempDir();
    const expected = await writeLog(dataDir, 100, false);
    const { manager, log } = await reopen(dataDir);
    expect(manager.report.cleanShutdown).toBe(false);
    expect(manager.report.recoveredSegments).toBeGreaterThan(1);
    expect(await readAll(log)).toEqual(expected);
    await manager.close();
  });

  it('after a clean stop reads only the tail of the active segment', async () => {
    const dataDir = tempDir();
    await writeLog(dataDir, 300, true);
    const io = new FaultyFileIO();
    const { manager, log } = await reopen(dataDir, undefined, io);
    expect(manager.report.cleanShutdown).toBe(true);
    expect(manager.report.recoveredSegments).toBe(0);
    expect(io.calls.read ?? 0).toBeLessThanOrEqual(6);
    expect(log.logEndOffset).toBe(300);
    await manager.close();
    // The marker is consumed at start: a crash now would count as unclean.
    const again = await LogManager.open({ dataDir, logConfigFor: () => config });
    expect(existsSync(join(dataDir, 'clean-shutdown'))).toBe(false);
    again.abandon();
    expect((await LogManager.open({ dataDir, logConfigFor: () => config })).report.cleanShutdown).toBe(false);
  });

  it('truncates a torn tail and reports it', async () => {
    const dataDir = tempDir();
    const expected = await writeLog(dataDir, 40, false);
    const active = join(partitionDir(dataDir), segmentFiles(dataDir).at(-1)!);
    const sizeBefore = statSync(active).size;
    appendFileSync(active, batchOf(['torn'.repeat(50)]).subarray(0, 70));
    const { manager, log, events } = await reopen(dataDir);
    expect(manager.report.truncatedBytes).toBe(70);
    expect(manager.report.quarantinedBytes).toBe(0);
    expect(statSync(active).size).toBe(sizeBefore);
    expect(await readAll(log)).toEqual(expected);
    expect(events.messages('warn')).toContain('truncated a torn write at the log tail');
    const next = await log.append(batchOf(['next']));
    expect(next.batches[0]!.baseOffset).toBe(40);
    await manager.close();
  });

  it('treats a zero-filled tail as torn, not corrupt', async () => {
    const dataDir = tempDir();
    const expected = await writeLog(dataDir, 10, false);
    appendFileSync(join(partitionDir(dataDir), segmentFiles(dataDir).at(-1)!), Buffer.alloc(4096));
    const { manager, log } = await reopen(dataDir);
    expect(manager.report.truncatedBytes).toBe(4096);
    expect(manager.report.quarantinedBytes).toBe(0);
    expect(await readAll(log)).toEqual(expected);
    await manager.close();
  });

  it('moves data after a corrupt batch aside as *.corrupted and continues from the last good batch', async () => {
    const dataDir = tempDir();
    const expected = await writeLog(dataDir, 100, false);
    const files = segmentFiles(dataDir);
    expect(files.length).toBeGreaterThan(3);
    const victim = join(partitionDir(dataDir), files[1]!);
    const bytes = readFileSync(victim);
    const firstBatchSize = bytes.readInt32BE(8) + 12;
    bytes.writeUInt8(bytes.readUInt8(firstBatchSize + 70) ^ 0x01, firstBatchSize + 70); // inside the second batch's records
    writeFileSync(victim, bytes);
    const { manager, log, events } = await reopen(dataDir);
    const goodUpTo = Number(files[1]!.slice(0, 20)) + 1;
    expect(log.logEndOffset).toBe(goodUpTo);
    expect(await readAll(log)).toEqual(expected.slice(0, goodUpTo));
    expect(manager.report.quarantinedBytes).toBeGreaterThan(0);
    const corrupted = readdirSync(partitionDir(dataDir)).filter((f) => f.endsWith('.corrupted'));
    expect(corrupted.length).toBe(files.length - 1);
    expect(events.messages('error').some((m) => m.startsWith('corrupt record batch'))).toBe(true);
    // Nothing was lost: the quarantined bytes plus the kept ones are the original segment.
    const kept = readFileSync(victim);
    const aside = readFileSync(victim + '.corrupted');
    expect(Buffer.concat([kept, aside]).equals(bytes)).toBe(true);
    await manager.close();
    // A later start reports the quarantined files instead of touching them.
    const { manager: again } = await reopen(dataDir);
    expect(again.report.partitionReports[0]!.quarantinedFiles.length).toBe(files.length - 1);
    await again.close();
  });

  it('rebuilds zeroed and deleted indexes', async () => {
    const dataDir = tempDir();
    const expected = await writeLog(dataDir, 100, true);
    const files = segmentFiles(dataDir);
    const stem = (i: number) => join(partitionDir(dataDir), files[i]!.replace('.log', ''));
    writeFileSync(stem(0) + '.index', Buffer.alloc(statSync(stem(0) + '.index').size));
    unlinkSync(stem(1) + '.index');
    unlinkSync(stem(1) + '.timeindex');
    writeFileSync(stem(files.length - 1) + '.index', Buffer.alloc(80));
    const { manager, log, events } = await reopen(dataDir);
    expect(manager.report.cleanShutdown).toBe(true);
    expect(existsSync(stem(1) + '.index')).toBe(true);
    expect(await readAll(log)).toEqual(expected);
    for (let offset = 0; offset < 100; offset += 7) expect((await readAll(log, offset))[0]).toEqual(expected[offset]);
    expect(events.messages('warn').filter((m) => m === 'rebuilt index from the log').length).toBeGreaterThanOrEqual(3);
    await manager.close();
  });

  it('handles stray, leftover and unknown files without crashing', async () => {
    const dataDir = tempDir();
    const expected = await writeLog(dataDir, 20, true);
    const dir = partitionDir(dataDir);
    writeFileSync(join(dir, '00000000000000000000.log.deleted'), 'old');
    writeFileSync(join(dir, '00000000000000000007.snapshot.tmp'), 'half');
    writeFileSync(join(dir, '00000000000000099999.index'), Buffer.alloc(8));
    writeFileSync(join(dir, 'notes.txt'), 'operator notes');
    writeFileSync(join(dir, '00000000000000000099.snapshot'), 'not json');
    mkdirSync(join(dataDir, 'not-a-partition'));
    mkdirSync(join(dataDir, 'events-9.1700000000000-delete'));
    writeFileSync(join(dataDir, 'recovery-point-offset-checkpoint.tmp'), 'x');
    const { manager, log, events } = await reopen(dataDir);
    expect(manager.report.removedStrayFiles).toEqual(
      expect.arrayContaining([
        'events-9.1700000000000-delete',
        'recovery-point-offset-checkpoint.tmp',
        'events-3/00000000000000000000.log.deleted',
        'events-3/00000000000000000007.snapshot.tmp',
        'events-3/00000000000000099999.index',
      ]),
    );
    expect(manager.report.unknownFiles).toEqual(expect.arrayContaining(['not-a-partition/', 'events-3/notes.txt']));
    expect(existsSync(join(dir, 'notes.txt'))).toBe(true);
    expect(events.messages('warn')).toContain('unknown files in the data directory were left alone');
    expect(await readAll(log)).toEqual(expected);
    await manager.close();
  });

  it('falls back to a full recovery when the checkpoint file is garbage', async () => {
    const dataDir = tempDir();
    const expected = await writeLog(dataDir, 50, false);
    writeFileSync(join(dataDir, 'recovery-point-offset-checkpoint'), 'garbage\n');
    const { manager, log } = await reopen(dataDir);
    expect(manager.report.checkpointProblem).toMatch(/version/);
    expect(await readAll(log)).toEqual(expected);
    await manager.close();
  });
});

describe('recovery: torn and repeated corruption', () => {
  it('a torn first batch that claims more bytes than its file holds is truncated, not quarantined', async () => {
    const dataDir = tempDir();
    const expected = await writeLog(dataDir, 60, false);
    const active = join(partitionDir(dataDir), segmentFiles(dataDir).at(-1)!);
    const big = batchOf(['z'.repeat(100_000)]);
    writeFileSync(active, Buffer.concat([readFileSync(active), big.subarray(0, 500)]));
    const { manager, log } = await reopen(dataDir);
    expect(manager.report.quarantinedBytes).toBe(0);
    expect(manager.report.truncatedBytes).toBe(500);
    expect(await readAll(log)).toEqual(expected);
    await manager.close();
  });

  it('a second quarantine never overwrites the bytes of the first', async () => {
    const dataDir = tempDir();
    await writeLog(dataDir, 60, false);
    const corrupt = () => {
      const files = segmentFiles(dataDir);
      const victim = join(partitionDir(dataDir), files[0]!);
      const bytes = readFileSync(victim);
      const at = bytes.readInt32BE(8) + 12 + 70;
      bytes.writeUInt8(bytes.readUInt8(at) ^ 1, at);
      writeFileSync(victim, bytes);
    };
    corrupt();
    let { manager, log } = await reopen(dataDir);
    for (let i = 0; i < 30; i++) await log.append(batchOf([`again-${i}`.padEnd(100, '.')]));
    manager.abandon();
    corrupt();
    ({ manager, log } = await reopen(dataDir));
    const aside = readdirSync(partitionDir(dataDir)).filter((f) => f.endsWith('.corrupted'));
    expect(aside).toContain('00000000000000000000.log.corrupted');
    expect(aside).toContain('00000000000000000000.log.1.corrupted');
    await manager.close();
  });
});

describe('a poison batch already on disk', () => {
  /** The probe's batch as an older broker stored it: header only, recordCount 0, lastOffsetDelta 2^31-1. */
  function storedPoison(baseOffset: number): Buffer {
    const b = Buffer.from(batchOf(['x']).subarray(0, BATCH_HEADER_SIZE));
    b.writeInt32BE(BATCH_HEADER_SIZE - LOG_OVERHEAD, BATCH.batchLength);
    b.writeInt32BE(0, BATCH.recordCount);
    b.writeInt32BE(0x7fffffff, BATCH.lastOffsetDelta);
    writeInt64(b, BATCH.baseOffset, baseOffset);
    b.writeUInt32BE(computeBatchCrc(b, 0, b.length), BATCH.crc);
    return b;
  }

  for (const clean of [false, true]) {
    it(`is moved aside at start-up (${clean ? 'clean' : 'unclean'} stop) and the log goes on from the last good batch`, async () => {
      const dataDir = tempDir();
      const expected = await writeLog(dataDir, 10, clean);
      const active = segmentFiles(dataDir).at(-1)!;
      appendFileSync(join(partitionDir(dataDir), active), storedPoison(10));
      const { manager, log, events } = await reopen(dataDir);
      expect(manager.report.unloadablePartitions).toEqual([]);
      expect(log.logEndOffset).toBe(10);
      expect(await readAll(log)).toEqual(expected);
      expect(events.messages('error').some((m) => /corrupt record batch/.test(m))).toBe(true);
      await log.append(batchOf(['after']));
      expect(log.logEndOffset).toBe(11);
      await manager.close();
    });
  }
});

describe('data directory lock', () => {
  it('refuses a second owner of a data directory and takes over a dead owner\'s lock', async () => {
    const dataDir = tempDir();
    const manager = await LogManager.open({ dataDir });
    await expect(LogManager.open({ dataDir })).rejects.toMatchObject({ code: 'KAFKA_STORAGE_ERROR', message: /already open/ });
    const { spawnSync } = await import('node:child_process');
    const other = spawnSync(process.execPath, ['--import', 'tsx', '-e', `import('${join(process.cwd(), 'src/log/log-manager.ts')}').then((m) => m.LogManager.open({ dataDir: '${dataDir}' })).catch((e) => { console.log(e.message); process.exit(3); })`], { encoding: 'utf8' });
    expect(other.status).toBe(3);
    expect(other.stdout).toMatch(new RegExp(`in use by process ${process.pid}`));
    await manager.close();
    writeFileSync(join(dataDir, '.lock'), '999999999\n');
    const next = await LogManager.open({ dataDir });
    expect(readFileSync(join(dataDir, '.lock'), 'utf8')).toBe(`${process.pid}\n`);
    await next.close();
    expect(existsSync(join(dataDir, '.lock'))).toBe(false);
  });
});
