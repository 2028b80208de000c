/**
 * Cluster-mode targets of issue 15 (run compiled: `npm run build && node dist/bench/cluster.js`; needs
 * `etcd` on PATH). Not part of `npm run bench` yet (a suite of its own is the next step); prints JSON and
 * writes bench/results/cluster.json.
 *
 *   failover      kill -9 of a partition's leader -> first successful produce (JSON, acks=all) on the new leader,
 *                 learnt from a surviving broker's metadata as a client does; brokerSessionTimeoutMs 2,000
 *   metadata      GET /topics/:topic on a broker that leads nothing of it: HTTP round-trip p50/p99 (served
 *                 from the watched copy) next to GET /health on the same broker as the baseline
 *   create        POST /topics with 1,000 partitions, replication factor 3, until 201 (placed, records written,
 *                 leaders elected, every broker's copy caught up on the accepting broker)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));
const children = new Set<ChildProcess>();

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const ok = (url: string) => fetch(url).then((r) => r.ok);
const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(5_000) });

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'sluice-cluster-bench-'));
  try {
    const [client, peer] = [await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${client}`;
    const etcd = spawn('etcd', ['--name', 'b', '--data-dir', join(root, 'etcd'), '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl, '--listen-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`, '--initial-cluster', `b=http://127.0.0.1:${peer}`, '--heartbeat-interval', '10', '--election-timeout', '100', '--logger', 'zap', '--log-level', 'error'], { stdio: 'ignore' });
    children.add(etcd);
    await until('etcd', () => ok(`${etcdUrl}/health`));
    const ports = [await freePort(), await freePort(), await freePort()];
    const urls = ports.map((p) => `http://127.0.0.1:${p}`);
    const brokers: (ChildProcess | null)[] = [null, null, null];
    const startBroker = async (i: number) => {
      mkdirSync(join(root, `b${i}`), { recursive: true });
      const child = spawn(process.execPath, [BIN, 'serve', '--etcd', etcdUrl, '--broker-id', String(i + 1), '--port', String(ports[i]), '--data-dir', join(root, `b${i}`), '--broker-session-timeout-ms', '2000', '--fsync', 'always'], {
        stdio: ['ignore', process.env.SLUICE_BENCH_LOGS ? openSync(`${process.env.SLUICE_BENCH_LOGS}-${i + 1}.log`, 'a') : 'ignore', 'inherit'],
        env: { ...process.env, SLUICE_LOG_LEVEL: process.env.SLUICE_LOG_LEVEL ?? 'warn' },
      });
      children.add(child);
      brokers[i] = child;
      await until(`broker ${i + 1}`, () => ok(`${urls[i]}/health`));
    };
    await Promise.all([0, 1, 2].map(startBroker));

    // 1,000 partitions in one topic
    const t0 = performance.now();
    const created = await post(`${urls[0]}/topics`, { name: 'wide', partitions: 1_000, replicationFactor: 3 });
    const createMs = performance.now() - t0;
    if (created.status !== 201) throw new Error(`create: ${created.status} ${await created.text()}`);

    // metadata reads
    await post(`${urls[0]}/topics`, { name: 'meta', partitions: 1, replicationFactor: 1 });
    const metaLeader = ((await (await fetch(`${urls[0]}/topics/meta`)).json()) as { partitions: { leader: number }[] }).partitions[0]!.leader;
    const reader = urls[[0, 1, 2].find((i) => i + 1 !== metaLeader)!]!;
    const sample = async (path: string) => {
      const times: number[] = [];
      for (let i = 0; i < 3_000; i++) {
        const s = performance.now();
        await (await fetch(`${reader}${path}`)).arrayBuffer();
        if (i >= 500) times.push(performance.now() - s);
      }
      return times.sort((a, b) => a - b);
    };
    const metaTimes = await sample('/topics/meta');
    const healthTimes = await sample('/health');
    const clusterTimes = await sample('/cluster');

    // failover
    const failovers: number[] = [];
    for (let run = 0; run < 3; run++) {
      const name = `f${run}`;
      await post(`${urls[0]}/topics`, { name, partitions: 1, replicationFactor: 3 });
      const leader = ((await (await fetch(`${urls[0]}/topics/${name}`)).json()) as { partitions: { leader: number }[] }).partitions[0]!.leader;
      const via = urls[[0, 1, 2].find((i) => i + 1 !== leader)!]!;
      const r0 = await post(`${via}/topics/${name}/records`, { records: [{ value: 'before' }] });
      if (!r0.ok) throw new Error(`produce before: ${r0.status}`);
      const victim = brokers[leader - 1]!;
      const killedAt = performance.now();
      victim.kill('SIGKILL');
      // As a client does: learn the leader from any broker's metadata, produce straight to it.
      await until('produce on the new leader', async () => {
        const now = ((await (await fetch(`${via}/topics/${name}`)).json()) as { partitions: { leader: number }[] }).partitions[0]!.leader;
        if (now === -1 || now === leader) return false;
        return (await post(`${urls[now - 1]}/topics/${name}/records`, { records: [{ value: 'after' }], timeoutMs: 1_000 })).ok;
      }, 30_000);
      failovers.push(performance.now() - killedAt);
      await new Promise((r) => victim.once('exit', r).exitCode !== null && r(null));
      await startBroker(leader - 1);
    }
    const result = {
      when: new Date().toISOString(),
      createThousandPartitionsRf3Ms: Math.round(createMs),
      metadataReadMs: { p50: quantile(metaTimes, 0.5), p99: quantile(metaTimes, 0.99) },
      baselineHealthMs: { p50: quantile(healthTimes, 0.5), p99: quantile(healthTimes, 0.99) },
      clusterReadMs: { p50: quantile(clusterTimes, 0.5), p99: quantile(clusterTimes, 0.99) },
      leaderFailoverMs: failovers.map(Math.round),
    };
    console.log(JSON.stringify(result, null, 2));
    const out = fileURLToPath(new URL('../../bench/results/cluster.json', import.meta.url));
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    rmSync(root, { recursive: true, force: true });
  }
}

process.on('SIGINT', () => {
  for (const c of children) c.kill('SIGKILL');
  process.exit(130);
});
await main();
