/**
 * A receiver process for the share-group tests: one ShareConsumer that receives batches and accepts them
 * (or, with `neverAck`, holds them), reporting to its parent over IPC each receive (when the request was
 * sent and answered, and the records with their delivery counts) and each batch of accepts the broker
 * confirmed. The parent sends 'stop' for a clean exit.
 *
 * Run with `node --import tsx share-worker.ts` (startShareWorker below); arguments come as one JSON document
 * in the SLUICE_SHARE_WORKER environment variable.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ShareWorkerConfig {
  name: string;
  broker: string;
  group: string;
  topic: string;
  maxRecords: number;
  visibilityTimeoutMs: number;
  neverAck?: boolean;
}

/** [partition, offset, deliveryCount] */
export type Delivery = [number, number, number];

export type ShareWorkerMessage =
  | { type: 'received'; name: string; sentAt: number; receivedAt: number; records: Delivery[] }
  | { type: 'accepted'; name: string; at: number; records: [number, number][] }
  | { type: 'ack-failed'; name: string; records: [number, number][]; codes: string[] }
  | { type: 'closed' }
  | { type: 'error'; message: string };

export function startShareWorker(config: ShareWorkerConfig, onMessage: (m: ShareWorkerMessage) => void): ChildProcess {
  const child = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, SLUICE_SHARE_WORKER: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child.on('message', (m) => onMessage(m as ShareWorkerMessage));
  return child;
}

async function main(config: ShareWorkerConfig): Promise<void> {
  const { ShareConsumer } = await import('../../src/client/index.js');
  const send = (m: ShareWorkerMessage) => process.send!(m);
  const consumer = new ShareConsumer({ broker: config.broker, group: config.group, topics: [config.topic], clientId: config.name, maxRecords: config.maxRecords, visibilityTimeoutMs: config.visibilityTimeoutMs, maxWaitMs: 200 });
  let stopping = false;
  process.on('message', (m) => {
    if (m === 'stop') stopping = true;
  });
  try {
    while (!stopping) {
      const sentAt = Date.now();
      const batch = await consumer.receive();
      const receivedAt = Date.now();
      if (batch.length === 0) continue;
      send({ type: 'received', name: config.name, sentAt, receivedAt, records: batch.map((m) => [m.partition, m.offset, m.deliveryCount]) });
      if (config.neverAck) continue;
      const results = await Promise.allSettled(batch.map((m) => m.ack()));
      const ok = batch.filter((_, i) => results[i]!.status === 'fulfilled');
      const failed = batch.filter((_, i) => results[i]!.status === 'rejected');
      if (ok.length > 0) send({ type: 'accepted', name: config.name, at: Date.now(), records: ok.map((m) => [m.partition, m.offset]) });
      if (failed.length > 0) {
        const codes = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String((r.reason as { code?: string }).code));
        send({ type: 'ack-failed', name: config.name, records: failed.map((m) => [m.partition, m.offset]), codes });
      }
    }
    await consumer.close();
    send({ type: 'closed' });
  } catch (err) {
    send({ type: 'error', message: String((err as Error).stack ?? err) });
  }
  process.disconnect();
}

if (process.env.SLUICE_SHARE_WORKER && process.send) void main(JSON.parse(process.env.SLUICE_SHARE_WORKER) as ShareWorkerConfig);
