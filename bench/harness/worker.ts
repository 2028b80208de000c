/**
 * A client process of the harness (forked by bench/harness/clients.ts): runs some producers or some consumers
 * of one system through its driver and reports back over IPC.
 *
 * Messages from the coordinator: `init` (role, driver spec, what to run), `go` (run start time, warm-up end,
 * end time or record count), `stop` (consumers: close and report). To the coordinator: `ready`, `progress`
 * (every 250 ms: records so far, and for consumers the partitions assigned per group), `done` (a
 * ClientReport), `failed` (message).
 *
 * Producers run closed loop for rate "max" (as fast as the driver accepts records, its buffer bounding what is
 * in flight) and open loop otherwise: sends follow a schedule fixed at the start, and send-to-ack latency is
 * counted from the scheduled time, so a stalled system is not hidden by a producer that waited for it
 * (no coordinated omission).
 */
import { setImmediate as yieldToIo } from 'node:timers/promises';
import { clientConsumer, clientProducer, jsonConsumer, jsonProducer } from './drivers/sluice.js';
import { peerConsumer, peerProducer } from './drivers/peers.js';
import type { ConsumerDriver, ConsumerSpec, DriverSpec, ProducerDriver } from './drivers/types.js';
import { keyGenerator, makeValue, nowMicros, sentMicros, sizeGenerator } from './records.js';
import { addToWindow, encodeHistogram, newHistogram, type ClientReport, type Windows } from './stats.js';
import type { KeyDistribution, RecordSize } from './workload.js';

export interface InitMessage {
  type: 'init';
  role: 'producer' | 'consumer';
  spec: DriverSpec;
  /** producer indexes (global, for the record header) this process runs */
  producers: number[];
  /** records per second per producer, or 'max' */
  rate: number | 'max';
  recordSize: RecordSize;
  keys: KeyDistribution;
  consumers: ConsumerSpec[];
}

export interface GoMessage {
  type: 'go';
  /** epoch ms: window 0 starts here */
  startMs: number;
  /** epoch ms: latency is recorded for records sent from here on */
  warmupEndMs: number;
  /** epoch ms: producers stop sending (duration workloads) */
  endMs: number | null;
  /** records per producer (count workloads) */
  recordsPerProducer: number | null;
}

async function makeProducer(spec: DriverSpec): Promise<ProducerDriver> {
  if (spec.system === 'sluice-client') return clientProducer(spec);
  if (spec.system === 'sluice-json') return jsonProducer(spec);
  return peerProducer(spec);
}

async function makeConsumer(spec: DriverSpec, member: ConsumerSpec): Promise<ConsumerDriver> {
  if (spec.system === 'sluice-client') return clientConsumer(spec, member);
  if (spec.system === 'sluice-json') return jsonConsumer(spec, member);
  return peerConsumer(spec, member);
}

const send = (message: unknown) => process.send!(message);
const epochMs = () => performance.timeOrigin + performance.now();

class Tally {
  records = 0;
  bytes = 0;
  measuredRecords = 0;
  measuredBytes = 0;
  windows: Windows = { records: [], bytes: [] };
  latency = newHistogram();
  errors = 0;
  firstError: string | null = null;

  count(bytes: number, startMs: number, measured: boolean): void {
    this.records++;
    this.bytes += bytes;
    addToWindow(this.windows, Math.floor((epochMs() - startMs) / 1000), bytes);
    if (measured) {
      this.measuredRecords++;
      this.measuredBytes += bytes;
    }
  }

  fail(err: unknown): void {
    this.errors++;
    this.firstError ??= err instanceof Error ? err.message : String(err);
  }
}

async function runProducers(init: InitMessage, go: GoMessage): Promise<ClientReport> {
  const tally = new Tally();
  const drivers = await Promise.all(init.producers.map(() => makeProducer(init.spec)));
  const topics = init.spec.topics;
  const timer = setInterval(() => send({ type: 'progress', records: tally.records, bytes: tally.bytes }), 250);
  let lateSends = 0;
  const runOne = async (driver: ProducerDriver, producer: number) => {
    const nextSize = sizeGenerator(init.recordSize, 1_000 + producer);
    const nextKey = keyGenerator(init.keys, 2_000 + producer);
    const acks: Promise<unknown>[] = [];
    const limit = go.recordsPerProducer ?? Infinity;
    const intervalMs = init.rate === 'max' ? 0 : 1000 / init.rate;
    const firstAt = go.startMs;
    for (let seq = 0; seq < limit; seq++) {
      let sentAtMs: number;
      // let acks, timers and the driver's own I/O run now and then, even when behind schedule
      if (seq % 128 === 127) await yieldToIo();
      if (init.rate === 'max') {
        sentAtMs = epochMs();
        if (go.endMs !== null && sentAtMs >= go.endMs) break;
      } else {
        sentAtMs = firstAt + seq * intervalMs;
        if (go.endMs !== null && sentAtMs >= go.endMs) break;
        const wait = sentAtMs - epochMs();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
        else if (wait < -10) lateSends++;
      }
      const value = makeValue(producer, seq, nextSize());
      const measured = sentAtMs >= go.warmupEndMs;
      const size = value.length;
      const { acked } = await driver.send(topics[seq % topics.length]!, nextKey(), value);
      acks.push(
        acked.then(
          () => {
            tally.count(size, go.startMs, measured);
            if (measured) tally.latency.recordValue(Math.max(1, Math.round((epochMs() - sentAtMs) * 1000)));
          },
          (err: unknown) => tally.fail(err),
        ),
      );
      if (acks.length >= 65_536) await Promise.all(acks.splice(0, acks.length));
    }
    await Promise.all(acks);
    await driver.close();
  };
  try {
    await Promise.all(drivers.map((d, i) => runOne(d, init.producers[i]!)));
  } finally {
    clearInterval(timer);
  }
  return report('producer', tally, { lateSends });
}

let stopRequested: () => void = () => undefined;
const stopped = new Promise<void>((resolve) => (stopRequested = resolve));

async function runConsumers(init: InitMessage, goPromise: Promise<GoMessage>): Promise<ClientReport> {
  const tally = new Tally();
  const groups: Record<string, { records: number; bytes: number }> = {};
  const drivers = await Promise.all(init.consumers.map((c) => makeConsumer(init.spec, c)));
  let go: GoMessage | null = null;
  void goPromise.then((g) => (go = g));
  const progress = () => {
    const assigned: Record<string, number> = {};
    init.consumers.forEach((c, i) => (assigned[c.group] = (assigned[c.group] ?? 0) + drivers[i]!.assignedPartitions()));
    send({ type: 'progress', records: tally.records, bytes: tally.bytes, groups, assigned });
  };
  const timer = setInterval(progress, 250);
  let stopping = false;
  void stopped.then(() => (stopping = true));
  const runOne = async (driver: ConsumerDriver, member: ConsumerSpec) => {
    const group = (groups[member.group] ??= { records: 0, bytes: 0 });
    while (!stopping) {
      let values: (Buffer | string)[];
      try {
        values = await driver.poll();
      } catch (err) {
        tally.fail(err);
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      const now = nowMicros();
      for (const v of values) {
        const sent = sentMicros(v);
        const g = go as GoMessage | null;
        const measured = g !== null && sent >= g.warmupEndMs * 1000;
        tally.count(v.length, g?.startMs ?? epochMs(), measured);
        group.records++;
        group.bytes += v.length;
        if (measured) tally.latency.recordValue(Math.max(1, now - sent));
      }
    }
    await driver.close();
  };
  send({ type: 'ready' });
  try {
    await Promise.all(drivers.map((d, i) => runOne(d, init.consumers[i]!)));
  } finally {
    clearInterval(timer);
    progress();
  }
  return report('consumer', tally, { groups });
}

function report(role: ClientReport['role'], tally: Tally, extra: Partial<ClientReport>): ClientReport {
  return {
    role,
    records: tally.records,
    bytes: tally.bytes,
    measuredRecords: tally.measuredRecords,
    measuredBytes: tally.measuredBytes,
    windows: tally.windows,
    latency: encodeHistogram(tally.latency),
    errors: tally.errors,
    firstError: tally.firstError,
    ...extra,
  };
}

function main(): void {
  let resolveGo: (go: GoMessage) => void = () => undefined;
  const goPromise = new Promise<GoMessage>((resolve) => (resolveGo = resolve));
  process.on('message', (message: { type: string }) => {
    if (message.type === 'go') resolveGo(message as GoMessage);
    else if (message.type === 'stop') stopRequested();
    else if (message.type === 'init') {
      const init = message as InitMessage;
      const work =
        init.role === 'producer'
          ? (async () => {
              send({ type: 'ready' });
              return runProducers(init, await goPromise);
            })()
          : runConsumers(init, goPromise);
      work.then(
        (result) => {
          send({ type: 'done', report: result });
          process.disconnect();
        },
        (err: unknown) => {
          send({ type: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
          process.disconnect();
        },
      );
    }
  });
}

main();
