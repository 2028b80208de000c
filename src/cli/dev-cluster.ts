/**
 * `sluice dev-cluster` (= `npm run cluster`): a local cluster to try: an etcd from PATH (data under
 * ./data-cluster/etcd) and three brokers, ids 1..3, on http://127.0.0.1:8081..8083 with data under
 * ./data-cluster/broker-N. Prints the URLs; Ctrl-C (or SIGTERM) stops the brokers gracefully, then etcd.
 * Not for production: one etcd, everything on one machine.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CliFailure } from './errors.js';
import type { CliIO } from './program.js';

const ETCD_PORT = 2379;
const ETCD_PEER_PORT = 2380;
const BROKER_PORTS = [8081, 8082, 8083];

function waitForUrl(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((done, fail) => {
    const attempt = () => {
      if (child.exitCode !== null) return fail(new CliFailure(`${url}: the process exited with ${child.exitCode}`));
      fetch(url, { signal: AbortSignal.timeout(1_000) })
        .then((r) => (r.ok ? done() : retry()))
        .catch(retry);
    };
    const retry = () => (Date.now() > deadline ? fail(new CliFailure(`${url} did not answer within ${timeoutMs} ms`)) : setTimeout(attempt, 200));
    attempt();
  });
}

export function addDevClusterCommand(program: Command, io: CliIO): void {
  program
    .command('dev-cluster')
    .description('run a local cluster to try: etcd (from PATH) and three brokers on http://127.0.0.1:8081..8083, data under ./data-cluster/; Ctrl-C stops all')
    .option('--data-dir <dir>', 'where the cluster keeps its data', './data-cluster')
    .addHelpText(
      'after',
      `
Examples:
  $ sluice dev-cluster
  $ npm run cluster
  $ sluice dev-cluster --data-dir /tmp/sluice-cluster`,
    )
    .action(async (options: { dataDir: string }) => {
      if (spawnSync('etcd', ['--version']).error) {
        throw new CliFailure('etcd is not on PATH: install it (Debian/Ubuntu: `apt-get install etcd-server`; or a release from https://github.com/etcd-io/etcd/releases) and run `sluice dev-cluster` again');
      }
      const root = resolve(options.dataDir);
      mkdirSync(root, { recursive: true });
      const children: ChildProcess[] = [];
      const etcdUrl = `http://127.0.0.1:${ETCD_PORT}`;
      const peer = `http://127.0.0.1:${ETCD_PEER_PORT}`;
      const etcd = spawn('etcd', ['--name', 'dev', '--data-dir', join(root, 'etcd'), '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
        '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `dev=${peer}`, '--logger', 'zap', '--log-level', 'error'], { stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(etcd);
      const stopAll = async () => {
        const brokers = children.slice(1);
        await Promise.all(brokers.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : (c.once('exit', r), c.kill('SIGTERM'))))));
        await new Promise((r) => (etcd.exitCode !== null ? r(null) : (etcd.once('exit', r), etcd.kill('SIGTERM'))));
      };
      try {
        await waitForUrl(`${etcdUrl}/health`, etcd, 20_000);
        const bin = process.argv[1]!;
        const urls = BROKER_PORTS.map((port) => `http://127.0.0.1:${port}`);
        BROKER_PORTS.forEach((port, i) => {
          const id = i + 1;
          children.push(spawn(process.execPath, [bin, 'serve', '--etcd', etcdUrl, '--broker-id', String(id), '--port', String(port), '--data-dir', join(root, `broker-${id}`), '--default-replication-factor', '3'], {
            stdio: ['ignore', 'inherit', 'inherit'],
            env: { ...process.env, SLUICE_LOG_LEVEL: process.env.SLUICE_LOG_LEVEL ?? 'warn' },
          }));
        });
        await Promise.all(urls.map((url, i) => waitForUrl(`${url}/health`, children[i + 1]!, 60_000)));
        io.stdout(`sluice dev cluster is up (etcd ${etcdUrl}, data in ${root}):`);
        for (const [i, url] of urls.entries()) io.stdout(`  broker ${i + 1}: ${url}`);
        io.stdout(`try: sluice --broker ${urls[0]} topics create orders --partitions 6 --replication-factor 3   (Ctrl-C stops the cluster)`);
      } catch (err) {
        await stopAll();
        throw err;
      }
      await new Promise<void>((done) => {
        const stop = () => void stopAll().then(done);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        for (const child of children) child.once('exit', (code) => code !== 0 && code !== null && io.stderr(`a cluster process exited with ${code}`));
      });
      io.stdout('sluice dev cluster stopped');
    });
}
