import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nodeFileIO } from '../../src/log/file-io.js';
import { LEADER_EPOCH_FILE, LeaderEpochCache, UNDEFINED_EPOCH_OFFSET, readLeaderEpochFile } from '../../src/log/leader-epoch-cache.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();

describe('leader-epoch cache', () => {
  it('answers the end offset of an epoch as the next epoch\'s start, or the log end for the latest', () => {
    const cache = new LeaderEpochCache(nodeFileIO, '/nowhere');
    cache.assign(0, 0);
    cache.assign(2, 100);
    cache.assign(5, 250);
    expect(cache.latestEpoch).toBe(5);
    expect(cache.endOffsetFor(0, 300)).toEqual({ epoch: 0, endOffset: 100 });
    expect(cache.endOffsetFor(1, 300)).toEqual({ epoch: 0, endOffset: 100 });
    expect(cache.endOffsetFor(4, 300)).toEqual({ epoch: 2, endOffset: 250 });
    expect(cache.endOffsetFor(5, 300)).toEqual({ epoch: 5, endOffset: 300 });
    expect(cache.endOffsetFor(9, 300)).toEqual({ epoch: 5, endOffset: 300 });
    expect(new LeaderEpochCache(nodeFileIO, '/nowhere', [{ epoch: 3, startOffset: 10 }]).endOffsetFor(2, 50)).toEqual(UNDEFINED_EPOCH_OFFSET);
  });

  it('ignores known epochs and keeps start offsets increasing', () => {
    const cache = new LeaderEpochCache(nodeFileIO, '/nowhere');
    expect(cache.assign(1, 0)).toBe(true);
    expect(cache.assign(1, 50)).toBe(false);
    expect(cache.assign(0, 60)).toBe(false);
    expect(cache.assign(-1, 70)).toBe(false);
    cache.assign(2, 80);
    // A newer epoch starting where an older one started replaces it there.
    cache.assign(3, 80);
    expect(cache.all()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 3, startOffset: 80 },
    ]);
  });

  it('truncates from the end (a cut log) and from the start (deleted segments)', () => {
    const cache = new LeaderEpochCache(nodeFileIO, '/nowhere', [
      { epoch: 0, startOffset: 0 },
      { epoch: 1, startOffset: 100 },
      { epoch: 4, startOffset: 200 },
    ]);
    cache.truncateFromEnd(200);
    expect(cache.all().map((e) => e.epoch)).toEqual([0, 1]);
    cache.truncateFromStart(150);
    expect(cache.all()).toEqual([{ epoch: 1, startOffset: 150 }]);
    cache.truncateFromStart(100);
    expect(cache.all()).toEqual([{ epoch: 1, startOffset: 150 }]);
  });

  it('keeps its invariants under any sequence of operations (property)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('assign' as const), epoch: fc.integer({ min: -1, max: 20 }), offset: fc.integer({ min: 0, max: 1000 }) }),
      fc.record({ kind: fc.constant('end' as const), offset: fc.integer({ min: 0, max: 1000 }) }),
      fc.record({ kind: fc.constant('start' as const), offset: fc.integer({ min: 0, max: 1000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const cache = new LeaderEpochCache(nodeFileIO, '/nowhere');
        for (const o of ops) {
          if (o.kind === 'assign') cache.assign(o.epoch, o.offset);
          else if (o.kind === 'end') cache.truncateFromEnd(o.offset);
          else cache.truncateFromStart(o.offset);
        }
        const entries = cache.all();
        for (let i = 1; i < entries.length; i++) {
          expect(entries[i]!.epoch).toBeGreaterThan(entries[i - 1]!.epoch);
          expect(entries[i]!.startOffset).toBeGreaterThan(entries[i - 1]!.startOffset);
        }
      }),
    );
  });

  it('writes Kafka\'s text format and reads it back; a bad file is reported, not trusted', async () => {
    const dir = tempDir();
    const cache = new LeaderEpochCache(nodeFileIO, dir, [
      { epoch: 0, startOffset: 0 },
      { epoch: 3, startOffset: 1200 },
    ]);
    await cache.flush();
    expect(readFileSync(join(dir, LEADER_EPOCH_FILE), 'utf8')).toBe('0\n2\n0 0\n3 1200\n');
    expect(await readLeaderEpochFile(nodeFileIO, dir)).toEqual({ entries: cache.all(), problem: null });
    for (const bad of ['1\n0\n', '0\n2\n0 0\n', '0\n1\nx 0\n', '0\n2\n3 10\n2 20\n', '0\n2\n1 10\n2 10\n', '0\n1\n-1 0\n']) {
      writeFileSync(join(dir, LEADER_EPOCH_FILE), bad);
      const read = await readLeaderEpochFile(nodeFileIO, dir);
      expect(read.entries).toBeNull();
      expect(read.problem).toBeTruthy();
    }
    expect(await readLeaderEpochFile(nodeFileIO, tempDir())).toEqual({ entries: null, problem: null });
  });
});
