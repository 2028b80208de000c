/**
 * sluice as the system under test: either a broker the harness starts from the build (`node bin/sluice.js
 * serve` on a temporary data dir, with the workload's fsync policy and broker settings) or brokers the user
 * points it at with `--broker URL[,URL...]`.
 *
 * Features being built in parallel are probed, never assumed: cluster mode (an `etcd` broker setting), the
 * Kafka listener (a `kafkaListener` setting) and share groups (GET /share-groups answers). A workload that
 * needs a missing one is reported as "not available in this build".
 */
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ServiceProcess, freePort } from '../lib/child-processes.js';
import { projectRoot } from '../lib/paths.js';
import { BROKER_SETTINGS } from '../../src/server/broker-config.js';
import { sluiceAdmin } from './drivers/sluice.js';
import type { SystemUnderTest } from './system-run.js';
import type { Workload } from './workload.js';

const run = promisify(execFile);

/** What the workload needs that this build (or the given broker) does not have; null when it can run. */
export async function missingFeature(w: Workload, brokerUrl: string | null): Promise<string | null> {
  const keys = new Set(BROKER_SETTINGS.map((s) => s.key));
  if ((w.brokers > 1 || w.replicationFactor > 1) && !keys.has('etcd')) return 'cluster mode (brokers > 1, replication factor > 1)';
  if (w.brokers > 1 && brokerUrl === null) return 'a local cluster started by the harness (point it at a running cluster with --broker URL,URL,...)';
  if (w.protocol === 'kafka') return keys.has('kafkaListener') ? 'a kafkajs driver in the harness' : 'the Kafka protocol listener';
  if (w.shareGroups) return 'share groups';
  return null;
}

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export interface LocalBroker {
  service: ServiceProcess;
  dataDir: string;
}

export async function startLocalBroker(w: Workload, dataDir: string): Promise<LocalBroker> {
  const port = await freePort();
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('SLUICE_')) delete env[key];
  const settings: Record<string, string | number> = { fsync: w.fsync, logLevel: 'warn', groupInitialRebalanceDelayMs: 200, ...(w.brokerConfig ?? {}) };
  const flags = Object.entries(settings).flatMap(([k, v]) => [`--${kebab(k)}`, String(v)]);
  const service = await ServiceProcess.start({
    name: 'broker',
    nodeArgs: [join(projectRoot, 'bin', 'sluice.js'), 'serve', '--data-dir', dataDir, '--port', String(port), ...flags],
    port,
    readyPath: '/health',
    env,
  });
  return { service, dataDir };
}

/**
 * Evicts the segment files of `topics` from the page cache: `dd iflag=nocache count=0` calls
 * posix_fadvise(POSIX_FADV_DONTNEED) on the whole file. Clean pages go at once; with fsync policy `always`
 * every acknowledged page is clean.
 */
export async function dropTopicsFromPageCache(dataDir: string, topics: string[]): Promise<string> {
  let files = 0;
  let failed = 0;
  for (const dir of await readdir(dataDir)) {
    if (!topics.some((t) => dir.startsWith(`${t}-`))) continue;
    for (const name of await readdir(join(dataDir, dir))) {
      if (!name.endsWith('.log')) continue;
      try {
        await run('dd', [`if=${join(dataDir, dir, name)}`, 'iflag=nocache', 'count=0', 'status=none']);
        files++;
      } catch {
        failed++;
      }
    }
  }
  return `page cache dropped for ${files} segment files (posix_fadvise DONTNEED through dd)${failed ? `; ${failed} failed` : ''}`;
}

export const SLUICE_DURABILITY: Record<Workload['fsync'], string> = {
  always: 'fsync always: acks=all replies after fdatasync (group commit)',
  interval: 'fsync interval: replies after the write, fdatasync every flushIntervalMs (acks before fsync)',
  never: 'fsync never: replies after the write, the OS flushes (acks before fsync)',
};

export function sluiceSystem(w: Workload, path: 'client' | 'json', urls: string[], local: LocalBroker | null): SystemUnderTest {
  return {
    label: `sluice (${path === 'client' ? 'client, binary' : 'JSON route'})`,
    system: path === 'client' ? 'sluice-client' : 'sluice-json',
    urls,
    admin: sluiceAdmin(urls),
    durability: local ? SLUICE_DURABILITY[w.fsync] : `as configured on ${urls.join(', ')} (acks=${w.acks})`,
    serverPids: () => (local && local.service.alive ? [local.service.pid] : []),
    metricsUrl: `${urls[0]}/metrics`,
    ...(local ? { dropPageCache: (topics: string[]) => dropTopicsFromPageCache(local.dataDir, topics) } : {}),
  };
}
