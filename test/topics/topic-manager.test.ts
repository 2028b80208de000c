/** Topic lifecycle across restarts, including creates and deletes cut short by a crash. */
import { systemClock } from '../../src/log/clock.js';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogManager } from '../../src/log/log-manager.js';
import { nodeFileIO } from '../../src/log/file-io.js';
import { LocalMetadataStore } from '../../src/topics/metadata-store.js';
import { TOPIC_DEFAULTS } from '../../src/replication/topic-config.js';
import { TopicManager } from '../../src/topics/topic-manager.js';
import { CollectedEvents } from '../helpers/collect-events.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();

async function open(dataDir: string) {
  const store = new LocalMetadataStore(nodeFileIO, dataDir);
  await store.load();
  const logs = await LogManager.open({ dataDir });
  const events = new CollectedEvents();
  const topics = new TopicManager(store, logs, () => TOPIC_DEFAULTS, events, { clock: systemClock });
  const repaired = await topics.repair();
  return { store, logs, topics, repaired, events };
}

function writeTopicMeta(dataDir: string, name: string, partitions: number, state: string) {
  mkdirSync(join(dataDir, 'meta', 'topics'), { recursive: true });
  writeFileSync(
    join(dataDir, 'meta', 'topics', `${name}.json`),
    JSON.stringify({ name, partitions, replicationFactor: 1, config: { retentionMs: 5000 }, state, createdAt: 1 }),
  );
}

describe('topic manager', () => {
  it('topics and their config overrides survive a restart', async () => {
    const dataDir = tempDir();
    let t = await open(dataDir);
    await t.topics.create({ name: 'keep', partitions: 2, config: { retentionMs: 1234, compression: 'lz4' } });
    await t.topics.alterConfig('keep', { segmentBytes: 4096 });
    await t.logs.close();
    t = await open(dataDir);
    expect(t.topics.describe('keep')).toMatchObject({ name: 'keep', config: { retentionMs: 1234, compression: 'lz4', segmentBytes: 4096 } });
    expect(t.topics.describe('keep').partitions).toHaveLength(2);
    expect(t.logs.get({ topic: 'keep', partition: 1 })!.config.segmentBytes).toBe(4096);
    await t.logs.close();
  });

  it('completes a create cut short by a crash', async () => {
    const dataDir = tempDir();
    writeTopicMeta(dataDir, 'half', 3, 'creating');
    const t = await open(dataDir);
    expect(t.repaired.completed).toEqual(['half']);
    expect(t.topics.describe('half').partitions).toHaveLength(3);
    expect(t.store.getTopic('half')!.state).toBe('ready');
    expect(t.events.messages('warn')).toContain('completed topic creations interrupted by a crash');
    await t.logs.close();
  });

  it('finishes a delete cut short by a crash, data and metadata', async () => {
    const dataDir = tempDir();
    let t = await open(dataDir);
    await t.topics.create({ name: 'doomed', partitions: 2 });
    await t.logs.close();
    writeTopicMeta(dataDir, 'doomed', 2, 'deleting');
    t = await open(dataDir);
    expect(t.repaired.deleted).toEqual(['doomed']);
    expect(existsSync(join(dataDir, 'doomed-0'))).toBe(false);
    expect(existsSync(join(dataDir, 'meta', 'topics', 'doomed.json'))).toBe(false);
    expect(() => t.topics.topic('doomed')).toThrow(/does not exist/);
    await t.logs.close();
  });

  it('recreates missing partition directories loudly and leaves orphans alone', async () => {
    const dataDir = tempDir();
    let t = await open(dataDir);
    await t.topics.create({ name: 'a', partitions: 1 });
    await t.logs.create({ topic: 'stray', partition: 0 });
    await t.logs.close();
    writeTopicMeta(dataDir, 'b', 2, 'ready');
    t = await open(dataDir);
    expect(t.repaired.recreatedPartitions).toEqual(['b-0', 'b-1']);
    expect(t.repaired.orphanPartitions).toEqual(['stray-0']);
    expect(t.events.messages('error')).toContain('partition directories were missing and were recreated empty');
    expect(existsSync(join(dataDir, 'stray-0'))).toBe(true);
    await t.logs.close();
  });
});

describe('topic manager: failures', () => {
  it('a create that fails part-way is undone, and the name can be used again', async () => {
    const dataDir = tempDir();
    const { FaultyFileIO } = await import('../helpers/faulty-file-io.js');
    const io = new FaultyFileIO();
    const store = new LocalMetadataStore(io, dataDir);
    await store.load();
    const logs = await LogManager.open({ dataDir, io });
    const topics = new TopicManager(store, logs, () => TOPIC_DEFAULTS, new CollectedEvents(), { clock: systemClock });
    io.inject({ op: 'open', pathIncludes: 'half-2/', errno: 'ENOSPC', times: 1 });
    await expect(topics.create({ name: 'half', partitions: 4 })).rejects.toMatchObject({ code: 'KAFKA_STORAGE_ERROR' });
    expect(store.getTopic('half')).toBeUndefined();
    expect(logs.get({ topic: 'half', partition: 0 })).toBeUndefined();
    expect((await topics.create({ name: 'half', partitions: 4 })).partitions).toHaveLength(4);
    await logs.close();
  });
});
