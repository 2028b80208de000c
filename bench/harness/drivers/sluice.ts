/**
 * sluice's two paths: its own client (`sluice/client`: Kafka record batches on the binary fast path, consumer
 * groups run by the broker) and the JSON route a program without the client uses (POST /topics/:t/records,
 * GET .../records). The JSON consumer has no group protocol of its own here: the members of a group split
 * the partitions statically and each reads its partitions from offset 0.
 */
import { Pool } from 'undici';
import { Admin, Consumer, Producer } from '../../../src/client/index.js';
import type { ConsumerDriver, ConsumerSpec, DriverSpec, ProducerDriver, SystemAdmin } from './types.js';
import { pause, staticShare } from './types.js';

export function sluiceAdmin(urls: string[]): SystemAdmin {
  const admin = new Admin({ broker: urls });
  return {
    async createTopics(names, partitions, replicationFactor, config) {
      for (const name of names) await admin.createTopic({ name, partitions, replicationFactor, ...(config ? { config: config as never } : {}) });
    },
    async deleteTopics(names) {
      for (const name of names) {
        try {
          await admin.deleteTopic(name);
        } catch (err) {
          if ((err as { code?: string }).code !== 'UNKNOWN_TOPIC') throw err;
        }
      }
    },
  };
}

export function clientProducer(spec: DriverSpec): ProducerDriver {
  const producer = new Producer({ broker: spec.urls, acks: spec.acks, compression: spec.compression, idempotent: spec.acks === 'all' });
  return {
    async send(topic, key, value) {
      const { delivery } = await producer.enqueue({ topic, key, value });
      return { acked: delivery };
    },
    close: () => producer.close(),
  };
}

export function clientConsumer(spec: DriverSpec, member: ConsumerSpec): ConsumerDriver {
  const consumer = new Consumer({ broker: spec.urls, group: member.group, topics: spec.topics, autoOffsetReset: 'earliest', maxWaitMs: 100 });
  return {
    async poll() {
      const records = await consumer.poll({ maxRecords: 10_000, timeoutMs: 100 });
      return records.map((r) => r.value!);
    },
    assignedPartitions: () => consumer.assignment().length,
    close: () => consumer.close(),
  };
}

const JSON_RECORDS_PER_REQUEST = 1_000;
const JSON_REQUESTS_IN_FLIGHT = 4;

interface Pending {
  key: string | null;
  value: string;
  done: (err?: Error) => void;
}

/** Buffers records per topic and POSTs them, up to 1,000 a request and 4 requests in flight. */
export function jsonProducer(spec: DriverSpec): ProducerDriver {
  const pool = new Pool(spec.urls[0]!, { connections: JSON_REQUESTS_IN_FLIGHT, keepAliveTimeout: 60_000 });
  const queues = new Map<string, Pending[]>();
  let inFlight = 0;
  let waiting: (() => void)[] = [];
  let scheduled = false;

  const post = async (topic: string, batch: Pending[]) => {
    inFlight++;
    try {
      const body = JSON.stringify({ acks: spec.acks, records: batch.map((p) => (p.key === null ? { value: p.value } : { key: p.key, value: p.value })) });
      const reply = await pool.request({ method: 'POST', path: `/topics/${topic}/records`, headers: { 'content-type': 'application/json' }, body });
      const text = await reply.body.text();
      if (reply.statusCode !== 200) throw new Error(`POST /topics/${topic}/records answered ${reply.statusCode}: ${text.slice(0, 300)}`);
      for (const p of batch) p.done();
    } catch (err) {
      for (const p of batch) p.done(err as Error);
    } finally {
      inFlight--;
      drain();
    }
  };
  const drain = () => {
    for (const [topic, queue] of queues) {
      while (queue.length > 0 && inFlight < JSON_REQUESTS_IN_FLIGHT) void post(topic, queue.splice(0, JSON_RECORDS_PER_REQUEST));
    }
    const room = [...queues.values()].every((q) => q.length < JSON_RECORDS_PER_REQUEST * JSON_REQUESTS_IN_FLIGHT);
    if (room) {
      const wake = waiting;
      waiting = [];
      for (const w of wake) w();
    }
  };
  return {
    async send(topic, key, value) {
      let queue = queues.get(topic);
      if (!queue) queues.set(topic, (queue = []));
      while (queue.length >= JSON_RECORDS_PER_REQUEST * JSON_REQUESTS_IN_FLIGHT) await new Promise<void>((resolve) => waiting.push(resolve));
      const acked = new Promise<void>((resolve, reject) => queue.push({ key, value: value.toString('latin1'), done: (err) => (err ? reject(err) : resolve()) }));
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          drain();
        });
      }
      return { acked };
    },
    async close() {
      while (inFlight > 0 || [...queues.values()].some((q) => q.length > 0)) await new Promise<void>((resolve) => waiting.push(resolve));
      await pool.close();
    },
  };
}

interface FetchReply {
  records: { value: string | null }[];
  nextOffset: number;
}

/** Reads this member's share of the partitions of every topic from offset 0, round-robin. */
export function jsonConsumer(spec: DriverSpec, member: ConsumerSpec): ConsumerDriver {
  const pool = new Pool(spec.urls[0]!, { connections: 2, keepAliveTimeout: 60_000 });
  const positions = spec.topics.flatMap((topic) => staticShare(spec.partitions, member.member, member.members).map((partition) => ({ topic, partition, offset: 0 })));
  let next = 0;
  const fetchOne = async (p: (typeof positions)[number], maxWaitMs: number): Promise<string[]> => {
    const path = `/topics/${p.topic}/partitions/${p.partition}/records?offset=${p.offset}&maxRecords=${JSON_RECORDS_PER_REQUEST}&maxBytes=4194304&maxWaitMs=${maxWaitMs}`;
    const reply = await pool.request({ method: 'GET', path });
    const text = await reply.body.text();
    if (reply.statusCode !== 200) throw new Error(`GET ${path} answered ${reply.statusCode}: ${text.slice(0, 300)}`);
    const body = JSON.parse(text) as FetchReply;
    p.offset = body.nextOffset;
    return body.records.map((r) => r.value ?? '');
  };
  return {
    async poll() {
      if (positions.length === 0) {
        await pause(50);
        return [];
      }
      // one pass over the partitions without waiting; a single partition long-polls instead
      for (let i = 0; i < positions.length; i++) {
        const p = positions[next]!;
        next = (next + 1) % positions.length;
        const values = await fetchOne(p, positions.length === 1 ? 100 : 0);
        if (values.length > 0) return values;
      }
      if (positions.length > 1) await pause(5);
      return [];
    },
    assignedPartitions: () => positions.length,
    close: () => pool.close(),
  };
}
