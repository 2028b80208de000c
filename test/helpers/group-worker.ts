/**
 * A worker process for the consumer-group tests: one Consumer in a group that "processes" each record for
 * `workMs` and reports to its parent over IPC every record it starts (partition, offset, time) and every
 * change of ownership (onAssigned, onRevoked, onLost, with times), so the parent can check that no two live
 * workers ever owned a partition at once. The parent sends 'stop' for a graceful exit (the consumer commits
 * and leaves); a SIGKILL is the crash.
 *
 * Run with `node --import tsx group-worker.ts` (startWorker below); arguments come as one JSON document in
 * the SLUICE_WORKER environment variable.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TopicPartition } from '../../src/client/types.js';

export interface WorkerConfig {
  name: string;
  broker: string;
  group: string;
  topic: string;
  workMs: number;
  sessionTimeoutMs?: number;
}

export type WorkerMessage =
  | { type: 'record'; partition: number; offset: number; time: number }
  | { type: 'assigned' | 'revoked' | 'lost'; partitions: number[]; time: number }
  | { type: 'started' | 'closed'; time: number }
  | { type: 'error'; message: string };

/** Starts a worker; `onMessage` gets everything it reports. */
export function startWorker(config: WorkerConfig, onMessage: (m: WorkerMessage) => void): ChildProcess {
  const child = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, SLUICE_WORKER: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child.on('message', (m) => onMessage(m as WorkerMessage));
  return child;
}

/** SLUICE_WORKER_DEBUG=1: the consumer's log lines on stderr, with times. */
function debugLogger(name: string) {
  const line = (level: string) => (obj: object, msg?: string) => process.stderr.write(`${Date.now() % 100_000} ${name} ${level} ${msg} ${JSON.stringify(obj)}\n`);
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

async function main(config: WorkerConfig): Promise<void> {
  const { Consumer } = await import('../../src/client/index.js');
  const send = (m: WorkerMessage) => process.send!(m);
  const partitions = (ps: TopicPartition[]) => ps.map((p) => p.partition);
  const consumer = new Consumer({
    broker: config.broker,
    group: config.group,
    topics: [config.topic],
    clientId: config.name,
    ...(process.env.SLUICE_WORKER_DEBUG ? { logger: debugLogger(config.name) } : {}),
    autoOffsetReset: 'earliest',
    ...(config.sessionTimeoutMs ? { sessionTimeoutMs: config.sessionTimeoutMs } : {}),
    onAssigned: (ps) => void send({ type: 'assigned', partitions: partitions(ps), time: Date.now() }),
    onRevoked: (ps) => void send({ type: 'revoked', partitions: partitions(ps), time: Date.now() }),
    onLost: (ps) => void send({ type: 'lost', partitions: partitions(ps), time: Date.now() }),
  });
  let stopping = false;
  process.on('message', (m) => {
    if (m === 'stop') stopping = true;
  });
  try {
    send({ type: 'started', time: Date.now() });
    // Poll with a short timeout so a stop is noticed on an idle topic too.
    while (!stopping) {
      for (const r of await consumer.poll({ maxRecords: 50, timeoutMs: 100 })) {
        send({ type: 'record', partition: r.partition, offset: r.offset, time: Date.now() });
        await new Promise((resolve) => setTimeout(resolve, config.workMs));
      }
    }
    await consumer.close();
    send({ type: 'closed', time: Date.now() });
  } catch (err) {
    send({ type: 'error', message: String(err) });
  }
  process.disconnect();
}

if (process.env.SLUICE_WORKER && process.send) void main(JSON.parse(process.env.SLUICE_WORKER) as WorkerConfig);
