/**
 * Captures the golden request frames of test/kafka/fixtures/ from real clients: runs an in-process broker
 * whose Kafka listener advertises a recording proxy, drives kcat (librdkafka) and kafkajs through it, and
 * writes the first frame of each (client, api, version) as `<client>-<api>-v<version>.bin` (the frame
 * without its size prefix). Run once (npx tsx scripts/capture-kafka-fixtures.ts); the fixtures are checked in.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Kafka, logLevel } from 'kafkajs';
import { loadBrokerConfig } from '../src/server/broker-config.js';
import { startBroker } from '../src/server/broker.js';
import { startKafkaListener } from '../src/kafka/listener.js';
import { singleNodeView } from '../src/kafka/cluster-view.js';
import { IMPLEMENTED_APIS } from '../src/kafka/generated/index.js';

const OUT = fileURLToPath(new URL('../test/kafka/fixtures/', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'sluice-capture-'));
let client = 'none';
const captured = new Map<string, Buffer>();

const proxy = createServer((down: Socket) => {
  const label = client;
  const up = createConnection({ host: '127.0.0.1', port: kafkaPort });
  let pending = Buffer.alloc(0);
  down.on('data', (chunk: Buffer) => {
    up.write(chunk);
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      const frame = pending.subarray(4, 4 + pending.readInt32BE(0));
      pending = pending.subarray(4 + frame.length);
      const api = IMPLEMENTED_APIS.find((a) => a.apiKey === frame.readInt16BE(0));
      const name = `${label}-${api ? api.name : `api${frame.readInt16BE(0)}`}-v${frame.readInt16BE(2)}.bin`;
      if (!captured.has(name)) captured.set(name, Buffer.from(frame));
    }
  });
  up.on('data', (chunk) => down.write(chunk));
  up.on('close', () => down.destroy());
  down.on('close', () => up.destroy());
  up.on('error', () => down.destroy());
  down.on('error', () => up.destroy());
});
await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
const proxyPort = (proxy.address() as { port: number }).port;
let kafkaPort = 0;

const config = loadBrokerConfig({ overrides: { dataDir, port: 0, logLevel: 'silent', groupInitialRebalanceDelayMs: 0 } });
const broker = await startBroker(config, {
  logger: pino({ level: 'silent' }),
  extraListeners: [
    async (s) => {
      const l = await startKafkaListener(
        {
          clock: s.clock, topics: s.topics, replicas: s.replicas, fetches: s.fetches, groups: s.groups,
          registerProducer: (n) => s.store.registerProducer(n), maxFetchWaitMs: 1_000, initialRebalanceDelayMs: 0, logger: pino({ level: 'silent' }),
        },
        { listen: '127.0.0.1:0', maxFrameBytes: 20_000_000, clusterId: 'capture', cluster: (self) => singleNodeView(s.topics, { ...self, port: proxyPort }, 'capture') },
      );
      kafkaPort = l.port;
      return l;
    },
  ],
});
const b = `127.0.0.1:${proxyPort}`;
try {
  client = 'kcat';
  await broker.services.topics.create({ name: 'fixtures', partitions: 2 });
  // kcat runs as a child process while this one serves it (the event loop must stay free).
  const kcat = (args: string[], input = '') =>
    new Promise<void>((resolve, reject) => {
      const child = spawn('kcat', ['-b', b, ...args], { stdio: ['pipe', 'ignore', 'ignore'] });
      child.stdin.end(input);
      const timer = setTimeout(() => child.kill(), 30_000);
      child.on('exit', (code) => (clearTimeout(timer), code === 0 ? resolve() : reject(new Error(`kcat ${args.join(' ')} exited ${code}`))));
    });
  await kcat(['-L']);
  await kcat(['-P', '-t', 'fixtures', '-K:', '-X', 'enable.idempotence=true'], 'k1:v1\nk2:v2\n');
  await kcat(['-C', '-t', 'fixtures', '-e', '-o', 'beginning']);
  await kcat(['-G', 'kcat-group', '-o', 'beginning', '-c', '2', 'fixtures']);
  await kcat(['-Q', '-t', `fixtures:0:${Date.now() - 60_000}`]);

  client = 'kafkajs';
  const kafka = new Kafka({ brokers: [b], clientId: 'fixtures', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'kjs-fixtures', numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] });
  await admin.describeConfigs({ resources: [{ type: 2, name: 'kjs-fixtures' }], includeSynonyms: false });
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  await producer.send({ topic: 'kjs-fixtures', messages: [{ key: 'a', value: 'one' }, { key: 'b', value: 'two' }] });
  await producer.disconnect();
  await admin.fetchTopicOffsetsByTimestamp('kjs-fixtures', Date.now() - 60_000);
  const consumer = kafka.consumer({ groupId: 'kjs-group' });
  await consumer.connect();
  await consumer.subscribe({ topic: 'kjs-fixtures', fromBeginning: true });
  let seen = 0;
  await consumer.run({ eachMessage: async () => void seen++ });
  while (seen < 2) await new Promise((r) => setTimeout(r, 50));
  await consumer.commitOffsets([{ topic: 'kjs-fixtures', partition: 0, offset: '1' }]).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 3_500)); // one heartbeat
  await admin.listGroups();
  await admin.describeGroups(['kjs-group']);
  await consumer.disconnect();
  await admin.fetchOffsets({ groupId: 'kjs-group', topics: ['kjs-fixtures'] });
  await admin.deleteTopics({ topics: ['kjs-fixtures'] });
  await admin.disconnect();
} finally {
  for (const [name, frame] of captured) writeFileSync(join(OUT, name), frame);
  console.log([...captured.keys()].sort().join('\n'));
  await broker.close();
  proxy.close();
  rmSync(dataDir, { recursive: true, force: true });
}
