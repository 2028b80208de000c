/** A first start on an empty data directory says it is new, not that it recovered from an unclean shutdown. */
import { describe, expect, it } from 'vitest';
import { LogManager } from '../../src/log/log-manager.js';
import { CollectedEvents } from '../helpers/collect-events.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const config = { segmentBytes: 2048, indexIntervalBytes: 256 };

describe('the start-up report', () => {
  it('new on an empty data directory, then not new after a clean shutdown', async () => {
    const dataDir = tempDir();
    const first = new CollectedEvents();
    const fresh = await LogManager.open({ dataDir, events: first, logConfigFor: () => config });
    expect(fresh.report).toMatchObject({ newDataDir: true, cleanShutdown: false });
    expect(first.messages('info')).toContain('storage opened: a new data directory');
    await fresh.create({ topic: 't', partition: 0 }, config);
    await fresh.close();

    const clean = await LogManager.open({ dataDir, logConfigFor: () => config });
    expect(clean.report).toMatchObject({ newDataDir: false, cleanShutdown: true });
    await clean.close(); // an unclean reopen is covered by recovery.test.ts (cleanShutdown false, newDataDir false there: it has partitions)
  });
});
