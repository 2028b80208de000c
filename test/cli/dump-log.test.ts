/** Runs the real `sluice` binary (compiled by `npm test`'s pretest build) on segment files. */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LogManager } from '../../src/log/log-manager.js';
import { KAFKA_FIXTURES, loadFixture } from '../helpers/fixtures.js';
import { batchOf } from '../helpers/log-builder.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const BIN = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));
const SEGMENT = `${KAFKA_FIXTURES}segment-00000000000000000000.log`;

function sluice(...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('sluice dump-log', () => {
  it('prints every record of a kafkajs-written segment exactly (--json)', () => {
    const { code, stdout } = sluice('dump-log', '--json', SEGMENT);
    expect(code).toBe(0);
    const lines = jsonLines(stdout);
    const batches = lines.filter((l) => 'baseOffset' in l);
    const records = lines.filter((l) => 'offset' in l);
    expect(batches.map((b) => [b.baseOffset, b.codec, b.crcValid])).toEqual([[0, 'none', true], [5, 'lz4', true], [105, 'none', true]]);
    const expected = ['plain', 'lz4', 'idempotent'].flatMap((name) => loadFixture(name).expected.records);
    expect(records).toEqual(expected);
    expect(batches[2]).toMatchObject({ producerId: 4242, producerEpoch: 3, baseSequence: 17, lastSequence: 18 });
  });

  it('prints a readable line per batch and record', () => {
    const { code, stdout } = sluice('dump-log', SEGMENT);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^baseOffset: 5 lastOffset: 104 count: 100 .* compresscodec: lz4 crc: \d+ isvalid: true$/m);
    expect(stdout).toMatch(/^\| offset: 4 CreateTime: 1700000300000 .* key: ünïcödé ✓ payload: ключ значение 値$/m);
  });

  it('prints binary keys and values as base64 with --encoding base64', () => {
    const { stdout } = sluice('dump-log', '--json', '--encoding', 'base64', SEGMENT);
    const first = jsonLines(stdout).find((l) => l.offset === 0)!;
    expect(first).toMatchObject({ key: Buffer.from('user-1').toString('base64'), value: Buffer.from('signed up').toString('base64') });
  });

  it('--verify exits 1 on a flipped byte and on a torn tail, 0 on an intact segment', () => {
    const dir = tempDir();
    const bytes = readFileSync(SEGMENT);
    expect(sluice('dump-log', '--verify', SEGMENT).code).toBe(0);
    const flipped = Buffer.from(bytes);
    flipped.writeUInt8(flipped.readUInt8(300) ^ 0x40, 300);
    writeFileSync(join(dir, 'flipped.log'), flipped);
    const bad = sluice('dump-log', '--verify', '--json', join(dir, 'flipped.log'));
    expect(bad.code).toBe(1);
    expect(jsonLines(bad.stdout).find((l) => l.baseOffset === 5)).toMatchObject({ crcValid: false });
    expect(bad.stderr).toMatch(/invalid batch/);
    writeFileSync(join(dir, 'torn.log'), bytes.subarray(0, bytes.length - 10));
    const torn = sluice('dump-log', '--verify', join(dir, 'torn.log'));
    expect(torn.code).toBe(1);
    expect(torn.stdout).toMatch(/torn batch/);
    expect(sluice('dump-log', join(dir, 'torn.log')).code).toBe(0);
  });

  it('reads a segment and its indexes written by the storage engine', async () => {
    const dataDir = tempDir();
    const manager = await LogManager.open({ dataDir });
    const log = await manager.create({ topic: 't', partition: 0 }, { indexIntervalBytes: 1 });
    for (let i = 0; i < 5; i++) await log.append(batchOf([`v${i}`], { timestamp: 1000 + i }));
    await manager.close();
    const stem = join(dataDir, 't-0', '00000000000000000000');
    expect(jsonLines(sluice('dump-log', '--json', `${stem}.log`).stdout).filter((l) => 'offset' in l).map((l) => l.value)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
    expect(jsonLines(sluice('dump-log', '--json', `${stem}.index`).stdout)).toEqual([1, 2, 3, 4].map((o) => ({ offset: o, position: expect.any(Number) })));
    expect(jsonLines(sluice('dump-log', '--json', `${stem}.timeindex`).stdout).at(-1)).toEqual({ timestamp: 1004, offset: 4 });
  });

  it('reports usage errors with exit 2 and missing files with exit 1', () => {
    expect(sluice('dump-log').code).toBe(2);
    expect(sluice('dump-log', '--nope', SEGMENT).code).toBe(2);
    const missing = sluice('dump-log', '/nonexistent/x.log');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read \/nonexistent\/x.log: no such file/);
    expect(sluice('dump-log', '--help').stdout).toMatch(/Examples:/);
  });
});
