/**
 * The two servers of the HTTP suite, each its own Node process on loopback, both from compiled JS:
 *
 * - the broker: `node bin/sluice.js serve --data-dir DIR --port PORT --log-level warn --fsync always`, the
 *   command an operator runs (default config otherwise);
 * - the plain fastify server of bench/http/plain-server.ts (the baseline).
 *
 * `SLUICE_BENCH_BROKER_NODE_OPTIONS` adds Node flags to the broker's command line, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where the broker's time goes (the profile is written when the
 * broker stops, which the suite does with SIGTERM, a graceful stop).
 *
 * Also small admin helpers over the broker's API (create and delete topics, read a metric) that use
 * Node's fetch on their own connections, outside the measured pools.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceProcess, freePort } from '../lib/child-processes.js';
import { projectRoot } from '../lib/paths.js';

const PLAIN_SERVER = fileURLToPath(new URL('./plain-server.js', import.meta.url));

function extraNodeOptions(): string[] {
  const raw = process.env.SLUICE_BENCH_BROKER_NODE_OPTIONS?.trim();
  return raw ? raw.split(/\s+/) : [];
}

/** `extraArgs` are more `serve` flags (e.g. `--file-delete-delay-ms 0`); the defaults stay otherwise. */
export async function startBroker(dataDir: string, extraArgs: string[] = []): Promise<ServiceProcess> {
  const port = await freePort();
  const env = { ...process.env };
  // the flags below are the broker's whole config: no SLUICE_* variable of the caller's shell may change it
  for (const key of Object.keys(env)) if (key.startsWith('SLUICE_')) delete env[key];
  return ServiceProcess.start({
    name: 'broker',
    nodeArgs: [
      ...extraNodeOptions(),
      join(projectRoot, 'bin', 'sluice.js'),
      'serve',
      '--data-dir',
      dataDir,
      '--port',
      String(port),
      '--log-level',
      'warn',
      '--fsync',
      'always',
      ...extraArgs,
    ],
    port,
    readyPath: '/health',
    env,
  });
}

export async function startPlainServer(recordBytes: number, recordsPerRequest: number): Promise<ServiceProcess> {
  const port = await freePort();
  return ServiceProcess.start({
    name: 'plain fastify server',
    nodeArgs: [PLAIN_SERVER, '--port', String(port), '--record-bytes', String(recordBytes), '--records', String(recordsPerRequest)],
    port,
    readyPath: '/health',
  });
}

export async function call(service: ServiceProcess, method: string, path: string, body?: unknown): Promise<unknown> {
  service.checkAlive();
  const response = await fetch(`${service.url}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${service.name}: ${method} ${path} answered ${response.status}: ${text.slice(0, 500)}`);
  return text === '' ? null : JSON.parse(text);
}

export async function createTopic(broker: ServiceProcess, name: string, partitions: number, config?: Record<string, number | string | null>): Promise<void> {
  await call(broker, 'POST', '/topics', { name, partitions, ...(config ? { config } : {}) });
}

export async function deleteTopic(broker: ServiceProcess, name: string): Promise<void> {
  await call(broker, 'DELETE', `/topics/${name}`);
}

export interface PartitionState {
  partition: number;
  highWatermark: number;
  sizeBytes: number;
  segments: number;
}

export async function describeTopic(broker: ServiceProcess, name: string): Promise<PartitionState[]> {
  const description = (await call(broker, 'GET', `/topics/${name}`)) as { partitions: PartitionState[] };
  return description.partitions;
}

/** Registers files for the plain server's GET /files/:index route. */
export async function openFilesOnPlainServer(plain: ServiceProcess, paths: string[]): Promise<void> {
  await call(plain, 'POST', '/files', { paths });
}

/** The value of an unlabelled gauge or counter from GET /metrics. */
export async function brokerMetric(broker: ServiceProcess, name: string): Promise<number> {
  broker.checkAlive();
  const response = await fetch(`${broker.url}/metrics`);
  const text = await response.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`the broker's /metrics has no ${name}`);
  return Number(line.slice(name.length + 1));
}

/** Cumulative buckets (upper bound in seconds → count) and count of an unlabelled histogram from GET /metrics. */
export async function brokerHistogram(broker: ServiceProcess, name: string): Promise<{ buckets: Map<number, number>; count: number; sum: number }> {
  broker.checkAlive();
  const text = await (await fetch(`${broker.url}/metrics`)).text();
  const buckets = new Map<number, number>();
  let count = 0;
  let sum = 0;
  for (const line of text.split('\n')) {
    const bucket = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`).exec(line);
    if (bucket) buckets.set(bucket[1] === '+Inf' ? Infinity : Number(bucket[1]), Number(bucket[2]));
    else if (line.startsWith(`${name}_count `)) count = Number(line.slice(name.length + 7));
    else if (line.startsWith(`${name}_sum `)) sum = Number(line.slice(name.length + 5));
  }
  if (buckets.size === 0) throw new Error(`the broker's /metrics has no histogram ${name}`);
  return { buckets, count, sum };
}

export type GcTotals = Record<'minor' | 'major' | 'incremental', { count: number; ms: number }>;

/** Garbage collections of the broker so far by kind (prom-client's sluice_nodejs_gc_duration_seconds). */
export async function brokerGcTotals(broker: ServiceProcess): Promise<GcTotals> {
  broker.checkAlive();
  const text = await (await fetch(`${broker.url}/metrics`)).text();
  const totals: GcTotals = { minor: { count: 0, ms: 0 }, major: { count: 0, ms: 0 }, incremental: { count: 0, ms: 0 } };
  for (const line of text.split('\n')) {
    const match = /^sluice_nodejs_gc_duration_seconds_(sum|count)\{kind="(minor|major|incremental)"\} (\S+)$/.exec(line);
    if (!match) continue;
    const entry = totals[match[2] as keyof GcTotals];
    if (match[1] === 'count') entry.count = Number(match[3]);
    else entry.ms = Number(match[3]) * 1000;
  }
  return totals;
}

/** What happened between two GC scrapes, per second of `seconds`. */
export function gcRates(before: GcTotals, after: GcTotals, seconds: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const kind of ['minor', 'major', 'incremental'] as const) {
    out[`${kind}PerSec`] = (after[kind].count - before[kind].count) / seconds;
    out[`${kind}MsPerSec`] = (after[kind].ms - before[kind].ms) / seconds;
  }
  return out;
}
