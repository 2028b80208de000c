import fc from 'fast-check';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeFileIO } from '../../src/log/file-io.js';
import { HandleCache } from '../../src/log/handle-cache.js';
import { OffsetIndex } from '../../src/log/offset-index.js';
import { TimeIndex } from '../../src/log/time-index.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const handles = () => new HandleCache(nodeFileIO, 16);

describe('offset index', () => {
  it('finds the greatest entry <= target at every boundary (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 0, max: 100_000 }), { minLength: 0, maxLength: 200 }), async (raw) => {
        const offsets = [...raw].sort((a, b) => a - b);
        const index = new OffsetIndex(handles(), join(tempDir(), 'x.index'), 1000, 8 * 1000);
        await index.create();
        offsets.forEach((o, i) => index.append(1000 + o, i * 10));
        for (const probe of [0, ...offsets.flatMap((o) => [o - 1, o, o + 1]), 100_001]) {
          let expected = 0;
          offsets.forEach((o, i) => {
            if (o <= probe) expected = i * 10;
          });
          expect(index.lookup(1000 + probe)).toBe(expected);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('is preallocated, flushed, trimmed, and reloads its entries', async () => {
    const dir = tempDir();
    const path = join(dir, '00000000000000000100.index');
    const index = new OffsetIndex(handles(), path, 100, 8 * 64);
    await index.create();
    expect(readFileSync(path).length).toBe(8 * 64);
    index.append(105, 0);
    index.append(110, 4200);
    await index.trimToEntries();
    expect(readFileSync(path).toString('hex')).toBe('00000005' + '00000000' + '0000000a' + '00001068');
    const again = new OffsetIndex(handles(), path, 100, 8 * 64);
    expect(await again.load(10_000)).toBeNull();
    expect(again.lookup(109)).toBe(0);
    expect(again.lookup(110)).toBe(4200);
    expect(again.lastEntry()).toEqual({ offset: 110, position: 4200 });
  });

  it('reports zeroed, torn and out-of-range files as needing a rebuild', async () => {
    const dir = tempDir();
    const path = join(dir, 'a.index');
    writeFileSync(path, Buffer.alloc(8 * 4));
    expect(await new OffsetIndex(handles(), path, 0, 1024).load(10_000)).toMatch(/does not increase/);
    writeFileSync(path, Buffer.alloc(13));
    expect(await new OffsetIndex(handles(), path, 0, 1024).load(10_000)).toMatch(/not a multiple/);
    writeFileSync(path, Buffer.from('0000000100010000', 'hex'));
    expect(await new OffsetIndex(handles(), path, 0, 1024).load(100)).toMatch(/outside the log/);
    expect(await new OffsetIndex(handles(), join(dir, 'missing.index'), 0, 1024).load(100)).toMatch(/missing/);
  });

  it('refuses entries beyond its maximum and says it is full', async () => {
    const index = new OffsetIndex(handles(), join(tempDir(), 'f.index'), 0, 16);
    await index.create();
    index.append(1, 0);
    index.append(2, 10);
    expect(index.isFull).toBe(true);
    expect(() => index.append(3, 20)).toThrow(/full/);
  });

  it('truncates entries at and after an offset', async () => {
    const index = new OffsetIndex(handles(), join(tempDir(), 't.index'), 0, 1024);
    await index.create();
    [5, 10, 15].forEach((o, i) => index.append(o, i * 100));
    index.truncateTo(10);
    expect(index.entries).toBe(1);
    expect(index.lastEntry()).toEqual({ offset: 5, position: 0 });
  });
});

describe('time index', () => {
  it('keeps a running maximum and finds where timestamps >= T can start', async () => {
    const index = new TimeIndex(handles(), join(tempDir(), 'x.timeindex'), 50, 12 * 100);
    await index.create();
    index.maybeAppend(1000, 55);
    index.maybeAppend(900, 60); // not larger: ignored
    index.maybeAppend(2000, 70);
    index.maybeAppend(2000, 75); // equal: ignored
    index.maybeAppend(3000, 80);
    expect(index.entries).toBe(3);
    expect(index.lookup(500)).toBe(50); // before every entry: scan from the base offset
    expect(index.lookup(1000)).toBe(50); // an entry == T may hide earlier records with T
    expect(index.lookup(1001)).toBe(55);
    expect(index.lookup(2500)).toBe(70);
    expect(index.lookup(99_999)).toBe(80);
    expect(index.lastEntry()).toEqual({ timestamp: 3000, offset: 80 });
  });

  it('detects timestamps going backwards in a file', async () => {
    const path = join(tempDir(), 'b.timeindex');
    const bytes = Buffer.alloc(24);
    bytes.writeBigInt64BE(2000n, 0);
    bytes.writeInt32BE(1, 8);
    bytes.writeBigInt64BE(1000n, 12);
    bytes.writeInt32BE(2, 20);
    writeFileSync(path, bytes);
    expect(await new TimeIndex(handles(), path, 0, 1200).load(1000)).toMatch(/backwards/);
  });
});
