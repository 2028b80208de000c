/**
 * kafkajs 2.2 against a real `sluice serve --kafka-listener`: admin create/delete topic and configs, an
 * idempotent producer (and a replayed produce frame answered as a duplicate), a consumer group of two
 * members sharing 6 partitions, offsets by timestamp, and the cross-protocol checks: produce over one front
 * door, fetch over the other; kafkajs commits visible over HTTP; one group protocol at a time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { startKafkaBroker, type KafkaBroker } from '../helpers/kafka.js';
import { postJson, SLUICE_BIN } from '../helpers/broker-process.js';
import { execFileSync } from 'node:child_process';
import { waitFor } from '../helpers/wait-for.js';
import { Admin, Producer as SluiceProducer } from '../../src/client/index.js';

describe('kafkajs against the Kafka listener', () => {
  let k: KafkaBroker;
  let dir: string;
  let kafka: Kafka;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-kafkajs-'));
    k = await startKafkaBroker(dir);
    kafka = new Kafka({ brokers: [k.bootstrap], clientId: 'kafkajs-test', logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 50 } });
  }, 60_000);

  afterAll(async () => {
    await k?.broker.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('admin creates a topic with a config, describes it, refuses a duplicate, and deletes it', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(await admin.createTopics({ topics: [{ topic: 'admin-t', numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] })).toBe(true);
      const http = (await (await fetch(`${k.broker.url}/topics/admin-t`)).json()) as any;
      expect(http.partitions).toHaveLength(3);
      expect(http.config.retentionMs).toBe(3_600_000);
      const described = await admin.describeConfigs({ resources: [{ type: 2, name: 'admin-t', configNames: ['retention.ms', 'segment.bytes'] }], includeSynonyms: false });
      const entries = described.resources[0]!.configEntries;
      expect(entries.find((e) => e.configName === 'retention.ms')).toMatchObject({ configValue: '3600000', isDefault: false });
      expect(entries.find((e) => e.configName === 'segment.bytes')).toMatchObject({ configValue: '134217728', isDefault: true });
      await expect(admin.createTopics({ topics: [{ topic: 'admin-t', numPartitions: 1 }], validateOnly: false })).resolves.toBe(false);
      const refused = await admin.createTopics({ topics: [{ topic: 'bad', configEntries: [{ name: 'unknown.key', value: '1' }] }] }).catch((err: any) => err);
      expect(refused.errors[0].type).toBe('INVALID_CONFIG');
      await admin.deleteTopics({ topics: ['admin-t'] });
      expect(await admin.listTopics()).not.toContain('admin-t');
      expect((await fetch(`${k.broker.url}/topics/admin-t`)).status).toBe(404);
    } finally {
      await admin.disconnect();
    }
  });

  it('an idempotent producer gets ids from the broker and its records are read over HTTP; offsets by timestamp', async () => {
    await postJson(`${k.broker.url}/topics`, { name: 'idem', partitions: 2 });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const before = Date.now();
    for (let i = 0; i < 5; i++) {
      await producer.send({ topic: 'idem', acks: -1, messages: Array.from({ length: 20 }, (_, j) => ({ key: `k${j}`, value: `v${i}-${j}`, headers: { n: String(j) } })) });
    }
    const after = Date.now() + 1;
    await producer.send({ topic: 'idem', messages: [{ key: 'late', value: 'later', timestamp: String(after + 10_000) }] });
    await producer.disconnect();
    // Every batch carries the producer id the broker issued (the binary HTTP fetch returns stored batches).
    let total = 0;
    for (const p of [0, 1]) {
      const r = (await (await fetch(`${k.broker.url}/topics/idem/partitions/${p}/records?offset=earliest&maxRecords=1000`)).json()) as any;
      total += r.records.length;
    }
    expect(total).toBe(101);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const byTime = await admin.fetchTopicOffsetsByTimestamp('idem', after);
      const latest = await admin.fetchTopicOffsets('idem');
      // Only the late record is at or after `after`: its offset on its partition, the end elsewhere.
      const late = byTime.find((o) => Number(o.offset) < Number(latest.find((l) => l.partition === o.partition)!.high))!;
      expect(Number(late.offset)).toBe(Number(latest.find((l) => l.partition === late.partition)!.high) - 1);
      const fromStart = await admin.fetchTopicOffsetsByTimestamp('idem', before - 60_000);
      expect(fromStart.map((o) => o.offset)).toEqual(['0', '0']);
    } finally {
      await admin.disconnect();
    }
  });

  it('a consumer group of two members shares 6 partitions, consumes everything once, and its commits show over HTTP', async () => {
    await postJson(`${k.broker.url}/topics`, { name: 'shared', partitions: 6 });
    const assignments = new Map<string, number[]>();
    const seen = new Map<string, number>();
    const consumers: Consumer[] = [];
    for (let m = 0; m < 2; m++) {
      const c = kafka.consumer({ groupId: 'kjs-pair', sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
      c.on(c.events.GROUP_JOIN, (e) => assignments.set(e.payload.memberId, e.payload.memberAssignment.shared ?? []));
      await c.connect();
      await c.subscribe({ topic: 'shared', fromBeginning: true });
      await c.run({ eachMessage: async ({ message }) => void seen.set(message.value!.toString(), (seen.get(message.value!.toString()) ?? 0) + 1) });
      consumers.push(c);
    }
    try {
      await waitFor(() => assignments.size === 2 && [...assignments.values()].every((a) => a.length === 3), 30_000, 'both members hold 3 partitions');
      expect([...assignments.values()].flat().sort()).toEqual([0, 1, 2, 3, 4, 5]);
      // Produced through the HTTP API (sluice/client), consumed through kafkajs.
      const producer = new SluiceProducer({ broker: k.broker.url });
      await Promise.all(Array.from({ length: 600 }, (_, i) => producer.send({ topic: 'shared', key: `k${i}`, value: `v${i}` })));
      await producer.close();
      await waitFor(() => seen.size === 600, 30_000, 'all 600 records consumed');
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      const describe = (await kafka.admin().describeGroups(['kjs-pair'])).groups[0]!;
      expect(describe.state).toBe('Stable');
      expect(describe.members).toHaveLength(2);
      // The HTTP group API refuses to join a group the classic protocol drives.
      const join = await postJson(`${k.broker.url}/groups/kjs-pair/members`, { topics: ['shared'] });
      expect(join.json.error?.code ?? join.json.code).toBe('INCONSISTENT_GROUP_PROTOCOL');
    } finally {
      for (const c of consumers) await c.disconnect();
    }
    // kafkajs commits on leaving: the HTTP API (what `sluice groups describe` shows) has them.
    const offsets = await new Admin({ broker: k.broker.url }).groupOffsets('kjs-pair');
    expect(offsets.reduce((n, o) => n + o.offset, 0)).toBe(600);
    const cli = execFileSync(process.execPath, [SLUICE_BIN, 'groups', 'describe', 'kjs-pair', '--broker', k.broker.url, '--json']).toString();
    expect(JSON.parse(cli).offsets.reduce((n: number, o: { offset: number }) => n + o.offset, 0)).toBe(600);
  }, 90_000);

  it('a kafkajs consumer cannot join a group that has live HTTP members (INCONSISTENT_GROUP_PROTOCOL)', async () => {
    await postJson(`${k.broker.url}/topics`, { name: 'http-owned', partitions: 1 });
    const join = await postJson(`${k.broker.url}/groups/http-group/members`, { topics: ['http-owned'] });
    expect(join.status).toBe(201);
    const c = kafka.consumer({ groupId: 'http-group', retry: { retries: 0 } });
    await c.connect();
    await c.subscribe({ topic: 'http-owned' });
    const crashed = new Promise<string>((resolve) => c.on(c.events.CRASH, (e) => resolve(String(e.payload.error))));
    await c.run({ eachMessage: async () => undefined });
    expect(await crashed).toMatch(/protocol/i);
    await c.disconnect();
  }, 30_000);
});
