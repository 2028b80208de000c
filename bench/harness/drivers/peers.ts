/**
 * Drivers of the systems sluice is compared with, through their usual Node clients:
 *
 * - Redis Streams (ioredis, auto-pipelining): partition p of topic t is the stream `t-p`; XADD per record;
 *   a consumer group is a Redis consumer group (XREADGROUP ... NOACK, so no pending-entry bookkeeping, as
 *   sluice's consumers commit offsets rather than ack each record).
 * - NATS JetStream (nats): topic t is the stream `t` with subjects `t.<p>`; js.publish waits for the PubAck;
 *   a consumer group is a durable pull consumer with AckPolicy none shared by its members, read with consume().
 * - RabbitMQ streams (amqplib, AMQP 0.9.1): partition p is the stream queue `t-p`; publisher confirms are the
 *   acks; the members of a group split the streams and read each from its first offset. (The stream-protocol
 *   client rabbitmq-stream-js-client needs RabbitMQ >= 3.11 and Debian 12 ships 3.10, so the harness speaks
 *   AMQP 0.9.1 to the same stream queues.)
 *
 * Records with a key go to partition hash(key) mod P, keyless ones round-robin. Each producer keeps at most
 * MAX_OUTSTANDING records unacknowledged (the clients have no byte budget of their own).
 */
import { createHash } from 'node:crypto';
import type { ConsumerDriver, ConsumerSpec, DriverSpec, ProducerDriver } from './types.js';
import { pause, staticShare } from './types.js';

const MAX_OUTSTANDING = 20_000;

/** Bounds the records in flight: `acquire` waits while MAX_OUTSTANDING are unacknowledged. */
class Window {
  private outstanding = 0;
  private waiters: (() => void)[] = [];

  async acquire(): Promise<void> {
    while (this.outstanding >= MAX_OUTSTANDING) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.outstanding++;
  }

  release(): void {
    this.outstanding--;
    const w = this.waiters.shift();
    if (w) w();
  }

  track<T>(p: Promise<T>): Promise<T> {
    return p.finally(() => this.release());
  }

  async drained(): Promise<void> {
    while (this.outstanding > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}

function partitioner(partitions: number): (key: string | null) => number {
  let next = 0;
  return (key) => (key === null ? next++ % partitions : createHash('md5').update(key).digest().readUInt32BE(0) % partitions);
}

const hostPort = (url: string) => {
  const [host, port] = url.replace(/^[a-z]+:\/\//, '').split(':');
  return { host: host!, port: Number(port) };
};

export async function peerProducer(spec: DriverSpec): Promise<ProducerDriver> {
  const window = new Window();
  const pick = partitioner(spec.partitions);
  const { host, port } = hostPort(spec.urls[0]!);
  if (spec.system === 'redis') {
    const { Redis } = await import('ioredis');
    const redis = new Redis({ host, port, enableAutoPipelining: true, maxRetriesPerRequest: 3 });
    return {
      async send(topic, key, value) {
        await window.acquire();
        return { acked: window.track(redis.xadd(`${topic}-${pick(key)}`, '*', 'v', value)) };
      },
      async close() {
        await window.drained();
        await redis.quit();
      },
    };
  }
  if (spec.system === 'nats') {
    const { connect } = await import('nats');
    const nc = await connect({ servers: `${host}:${port}` });
    const js = nc.jetstream();
    return {
      async send(topic, key, value) {
        await window.acquire();
        return { acked: window.track(js.publish(`${topic}.${pick(key)}`, value)) };
      },
      async close() {
        await window.drained();
        await nc.drain();
      },
    };
  }
  if (spec.system === 'rabbitmq') {
    const amqp = await import('amqplib');
    const connection = await amqp.connect(`amqp://guest:guest@${host}:${port}`);
    let failure: Error | null = null;
    connection.on('error', (err: Error) => (failure ??= err));
    const channel = await connection.createConfirmChannel();
    channel.on('error', (err: Error) => (failure ??= err));
    let drained: Promise<void> | null = null;
    return {
      async send(topic, key, value) {
        if (failure) throw failure;
        await window.acquire();
        while (drained) await drained;
        const acked = new Promise<void>((resolve, reject) => {
          const room = channel.sendToQueue(`${topic}-${pick(key)}`, value, { persistent: true }, (err: unknown) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve()));
          if (!room) drained = new Promise<void>((resolve) => channel.once('drain', () => ((drained = null), resolve())));
        });
        return { acked: window.track(acked) };
      },
      async close() {
        await window.drained();
        await connection.close();
      },
    };
  }
  throw new Error(`no producer driver for ${spec.system}`);
}

export async function peerConsumer(spec: DriverSpec, member: ConsumerSpec): Promise<ConsumerDriver> {
  const { host, port } = hostPort(spec.urls[0]!);
  if (spec.system === 'redis') {
    const { Redis } = await import('ioredis');
    const redis = new Redis({ host, port, maxRetriesPerRequest: 3 });
    const streams = spec.topics.flatMap((t) => Array.from({ length: spec.partitions }, (_, p) => `${t}-${p}`));
    for (const stream of streams) {
      try {
        await redis.xgroup('CREATE', stream, member.group, '0', 'MKSTREAM');
      } catch (err) {
        if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
      }
    }
    const name = `m${member.member}`;
    return {
      async poll() {
        const reply = (await redis.xreadgroup('GROUP', member.group, name, 'COUNT', 2_000, 'BLOCK', 100, 'NOACK', 'STREAMS', ...streams, ...streams.map(() => '>'))) as [string, [string, string[]][]][] | null;
        if (!reply) return [];
        return reply.flatMap(([, entries]) => entries.map(([, fields]) => fields[1]!));
      },
      assignedPartitions: () => streams.length,
      close: async () => void (await redis.quit()),
    };
  }
  if (spec.system === 'nats') {
    const { connect, AckPolicy, DeliverPolicy } = await import('nats');
    const nc = await connect({ servers: `${host}:${port}` });
    const jsm = await nc.jetstreamManager();
    const js = nc.jetstream();
    const consumers: Awaited<ReturnType<typeof js.consumers.get>>[] = [];
    for (const topic of spec.topics) {
      try {
        await jsm.consumers.add(topic, { durable_name: member.group, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All });
      } catch (err) {
        // another member created it first
        if (!String((err as Error).message).includes('already')) throw err;
      }
      consumers.push(await js.consumers.get(topic, member.group));
    }
    // consume(): the client keeps pull requests outstanding and hands messages over as they arrive (a fetch
    // would wait for a full batch or its expiry, adding that wait to the end-to-end latency)
    let buffered: Buffer[] = [];
    const streams = await Promise.all(consumers.map((c) => c.consume({ max_messages: 2_000 })));
    for (const messages of streams) {
      void (async () => {
        for await (const m of messages) buffered.push(Buffer.from(m.data));
      })();
    }
    return {
      async poll() {
        if (buffered.length === 0) await pause(2);
        const out = buffered;
        buffered = [];
        return out;
      },
      assignedPartitions: () => spec.partitions * spec.topics.length,
      close: async () => {
        for (const messages of streams) messages.stop();
        await nc.drain();
      },
    };
  }
  if (spec.system === 'rabbitmq') {
    const amqp = await import('amqplib');
    const connection = await amqp.connect(`amqp://guest:guest@${host}:${port}`);
    let failure: Error | null = null;
    connection.on('error', (err: Error) => (failure ??= err));
    const channel = await connection.createChannel();
    channel.on('error', (err: Error) => (failure ??= err));
    // a stream queue needs a prefetch limit and manual acks; acks are sent for everything up to the last message taken
    await channel.prefetch(2_000);
    const streams = spec.topics.flatMap((t) => staticShare(spec.partitions, member.member, member.members).map((p) => `${t}-${p}`));
    let buffered: Buffer[] = [];
    let last: import('amqplib').ConsumeMessage | null = null;
    for (const stream of streams) {
      await channel.consume(
        stream,
        (message) => {
          if (!message) return;
          buffered.push(message.content);
          last = message;
        },
        { noAck: false, arguments: { 'x-stream-offset': 'first' } },
      );
    }
    return {
      async poll() {
        if (failure) throw failure;
        if (buffered.length === 0) await pause(5);
        const out = buffered;
        buffered = [];
        if (last) channel.ack(last, true);
        last = null;
        return out;
      },
      assignedPartitions: () => streams.length,
      close: async () => void (await connection.close()),
    };
  }
  throw new Error(`no consumer driver for ${spec.system}`);
}
