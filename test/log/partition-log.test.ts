import { describe, expect, it } from 'vitest';
import { LogManager } from '../../src/log/log-manager.js';
import { batchOf, readAll } from '../helpers/log-builder.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const tempDir = useTempDirs();
const tp = { topic: 'orders', partition: 0 };

describe('partition log', () => {
  it('assigns offsets, reads back, survives a clean reopen', async () => {
    const dataDir = tempDir();
    const clock = new ManualClock();
    let manager = await LogManager.open({ dataDir, clock });
    let log = await manager.create(tp, { segmentBytes: 1024, indexIntervalBytes: 100 });
    for (let i = 0; i < 50; i++) {
      const result = await log.append(batchOf([`a${i}`, `b${i}`]));
      expect(result.batches[0]).toMatchObject({ baseOffset: i * 2, lastOffset: i * 2 + 1, duplicate: false });
      log.setHighWatermark(result.batches[0]!.lastOffset + 1);
    }
    expect(log.segments.length).toBeGreaterThan(3);
    const expected = Array.from({ length: 50 }, (_, i) => [[i * 2, `a${i}`], [i * 2 + 1, `b${i}`]]).flat();
    expect(await readAll(log)).toEqual(expected);
    await manager.close();
    expect(readdirSync(dataDir)).toContain('clean-shutdown');

    manager = await LogManager.open({ dataDir, clock, logConfigFor: () => ({ segmentBytes: 1024, indexIntervalBytes: 100 }) });
    expect(manager.report.cleanShutdown).toBe(true);
    expect(manager.report.recoveredSegments).toBe(0);
    log = manager.get(tp)!;
    expect(log.logEndOffset).toBe(100);
    expect(await readAll(log)).toEqual(expected);
    // Every start offset reads from the right place.
    for (let offset = 0; offset < 100; offset++) {
      expect((await readAll(log, offset))[0]).toEqual(expected[offset]);
    }
    const appended = await log.append(batchOf(['after']));
    expect(appended.batches[0]!.baseOffset).toBe(100);
    await manager.close();
  });
});
