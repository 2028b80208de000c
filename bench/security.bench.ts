/**
 * The cost of security on the client's binary produce path, all variants in the same run against real
 * `sluice serve` processes (fsync never, so the CPU cost of the checks is not hidden behind fdatasync):
 * plain HTTP, auth + ACLs (bearer token, prefix ACL, a per-principal quota high enough never to throttle),
 * TLS, and TLS + auth. Throughput: 1 KiB records sent as fast as the producer batches them; latency: one send
 * at a time (acks all, lingerMs 0), p50 and p99. Three rounds in alternating order, best of each.
 *
 *   npm run build && node dist/bench/security.bench.js [--quick]
 *
 * Writes bench/results/security/cost.json (a folder of its own: bench/report.ts reads only suite reports).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Producer } from '../src/client/producer.js';
import { Admin } from '../src/client/admin.js';
import { newToken } from '../src/security/tokens.js';

const quick = process.argv.includes('--quick');
const RECORDS = quick ? 5_000 : 40_000;
const LATENCY_SENDS = quick ? 300 : 2_000;
const ROUNDS = quick ? 1 : 3;
const VALUE = Buffer.alloc(1_024, 'v');
const BIN = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));
const RESULTS = fileURLToPath(new URL('../../bench/results/security/cost.json', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Variant {
  name: string;
  tls: boolean;
  auth: boolean;
}

async function startBroker(dir: string, variant: Variant, files: { cert: string; key: string; auth: string }): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const args = [BIN, 'serve', '--data-dir', join(dir, variant.name), '--port', String(port), '--fsync', 'never', '--log-level', 'warn'];
  if (variant.tls) args.push('--tls-cert', files.cert, '--tls-key', files.key);
  if (variant.auth) args.push('--auth-file', files.auth);
  const child = spawn(process.execPath, args, { stdio: 'ignore' });
  const url = `${variant.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const ca = readFileSync(files.cert);
  for (let i = 0; i < 200; i++) {
    try {
      const admin = new Admin({ broker: url, ca, retryTimeoutMs: 0 });
      await admin.close();
      const res = await fetchHealth(url, ca);
      if (res) return { url, child };
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${variant.name}: broker did not start`);
}

async function fetchHealth(url: string, ca: Buffer): Promise<boolean> {
  const { Agent, request } = await import('undici');
  const dispatcher = new Agent({ connect: { ca } });
  try {
    const r = await request(`${url}/health`, { dispatcher });
    await r.body.text();
    return r.statusCode === 200;
  } catch {
    return false;
  } finally {
    await dispatcher.close();
  }
}

async function measure(url: string, connection: { token?: string; ca?: Buffer }) {
  const admin = new Admin({ broker: url, ...connection });
  await admin.createTopic({ name: 'bench-t', partitions: 1 });
  await admin.close();
  const producer = new Producer({ broker: url, ...connection, lingerMs: 5 });
  // warm-up
  await Promise.all(Array.from({ length: 500 }, () => producer.send({ topic: 'bench-t', partition: 0, value: VALUE })));
  const start = process.hrtime.bigint();
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < RECORDS; i++) sends.push(producer.send({ topic: 'bench-t', partition: 0, value: VALUE }));
  await Promise.all(sends);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await producer.close();
  const single = new Producer({ broker: url, ...connection, lingerMs: 0 });
  const latencies: number[] = [];
  for (let i = 0; i < LATENCY_SENDS; i++) {
    const t = process.hrtime.bigint();
    await single.send({ topic: 'bench-t', partition: 0, value: VALUE });
    latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  await single.close();
  latencies.sort((a, b) => a - b);
  return {
    recordsPerSec: Math.round(RECORDS / seconds),
    mibPerSec: Math.round((RECORDS * VALUE.length) / seconds / 1_048_576 * 10) / 10,
    p50Ms: Math.round(latencies[Math.floor(latencies.length * 0.5)]! * 1000) / 1000,
    p99Ms: Math.round(latencies[Math.floor(latencies.length * 0.99)]! * 1000) / 1000,
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-security-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-subj', '/CN=localhost', '-days', '2', '-addext', 'subjectAltName=IP:127.0.0.1'], { cwd: dir, stdio: 'ignore' });
    const { token, tokenSha256 } = newToken();
    const others = Array.from({ length: 20 }, (_, i) => ({ name: `other-${i}`, tokenSha256: newToken().tokenSha256, acls: [] }));
    writeFileSync(
      join(dir, 'auth.json'),
      JSON.stringify({
        principals: [
          ...others,
          { name: 'bench', tokenSha256, acls: [{ resource: 'topic', name: 'bench-', pattern: 'prefix', operations: ['create', 'write', 'read'] }], quotas: { produceBytesPerSec: 1_073_741_824, requestsPerSec: 1_000_000 } },
        ],
      }),
    );
    const files = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), auth: join(dir, 'auth.json') };
    const variants: Variant[] = [
      { name: 'plain', tls: false, auth: false },
      { name: 'auth+acl', tls: false, auth: true },
      { name: 'tls', tls: true, auth: false },
      { name: 'tls+auth', tls: true, auth: true },
    ];
    // Rounds in alternating order; each variant reports its best throughput and its lowest p50 (noise on a
    // shared machine only ever slows a run down).
    const runs = new Map<string, Awaited<ReturnType<typeof measure>>[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
        const runDir = join(dir, `${variant.name}-${round}`);
        mkdirSync(runDir);
        const { url, child } = await startBroker(runDir, variant, files);
        try {
          const connection = { ...(variant.auth ? { token } : {}), ...(variant.tls ? { ca: readFileSync(files.cert) } : {}) };
          const result = await measure(url, connection);
          runs.set(variant.name, [...(runs.get(variant.name) ?? []), result]);
          console.log(`round ${round + 1} ${variant.name.padEnd(10)} ${JSON.stringify(result)}`);
        } finally {
          child.kill('SIGKILL');
        }
      }
    }
    const results: Record<string, unknown> = {};
    const best = (name: string) => {
      const r = runs.get(name)!;
      return { recordsPerSec: Math.max(...r.map((x) => x.recordsPerSec)), p50Ms: Math.min(...r.map((x) => x.p50Ms)), p99Ms: Math.min(...r.map((x) => x.p99Ms)) };
    };
    const plain = best('plain');
    for (const variant of variants) {
      const b = best(variant.name);
      results[variant.name] = { ...b, throughputVsPlain: Math.round((b.recordsPerSec / plain.recordsPerSec) * 1000) / 1000, p50DeltaMs: Math.round((b.p50Ms - plain.p50Ms) * 1000) / 1000, runs: runs.get(variant.name) };
      console.log(`${variant.name.padEnd(10)} best ${b.recordsPerSec} rec/s (${((b.recordsPerSec / plain.recordsPerSec) * 100).toFixed(1)}% of plain), p50 ${b.p50Ms} ms (${(b.p50Ms - plain.p50Ms).toFixed(3)} ms vs plain)`);
    }

    const out = { generatedAt: new Date().toISOString(), quick, rounds: ROUNDS, records: RECORDS, latencySends: LATENCY_SENDS, recordBytes: VALUE.length, fsync: 'never', cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, results };
    writeFileSync(RESULTS, JSON.stringify(out, null, 2) + '\n');
    console.log(`wrote ${RESULTS}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
