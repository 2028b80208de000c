/**
 * The peers sluice is compared with, each started by the harness from its Debian package on loopback, on a
 * scratch directory, and stopped (SIGTERM, then SIGKILL) at the end:
 *
 * - Redis (`redis-server`): AOF on, appendfsync matching the workload's fsync policy (always / everysec /
 *   no), RDB snapshots off;
 * - NATS (`nats-server -js`): JetStream with file storage;
 * - RabbitMQ (`rabbitmq-server` from /usr/lib/rabbitmq/bin, as root): stream queues over AMQP 0.9.1; its own
 *   epmd on a private port, stopped with it (the whole process group).
 *
 * A peer whose package is not installed is reported as missing (with the apt-get command), never faked;
 * `--install-peers` installs the missing packages first (apt-get, as root, services not started).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../lib/child-processes.js';
import type { SystemAdmin, SystemName } from './drivers/types.js';
import type { SystemUnderTest } from './system-run.js';
import type { Workload } from './workload.js';

const run = promisify(execFile);

export type PeerName = 'redis' | 'nats' | 'rabbitmq';
export const PEERS: PeerName[] = ['redis', 'nats', 'rabbitmq'];

const BINARIES: Record<PeerName, { binary: string; apt: string }> = {
  redis: { binary: '/usr/bin/redis-server', apt: 'redis-server' },
  nats: { binary: '/usr/sbin/nats-server', apt: 'nats-server' },
  rabbitmq: { binary: '/usr/lib/rabbitmq/bin/rabbitmq-server', apt: 'rabbitmq-server' },
};

export const peerInstalled = (peer: PeerName) => existsSync(BINARIES[peer].binary);
export const installCommand = (peers: PeerName[]) => `apt-get install -y ${peers.map((p) => BINARIES[p].apt).join(' ')}`;

/** Installs the packages of `peers` with apt-get (RUNLEVEL=1 keeps their services from starting). */
export async function installPeers(peers: PeerName[]): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', RUNLEVEL: '1' };
  await run('apt-get', ['install', '-y', ...peers.map((p) => BINARIES[p].apt)], { env, maxBuffer: 64 * 1024 * 1024 });
}

export const PEER_DURABILITY = (peer: PeerName, fsync: Workload['fsync']): string => {
  if (peer === 'redis') {
    const mode = { always: 'always', interval: 'everysec', never: 'no' }[fsync];
    return `AOF appendfsync ${mode}: ${mode === 'always' ? 'the AOF is fsynced before the reply' : 'replies before fsync'}`;
  }
  if (peer === 'nats') return 'JetStream file storage: the PubAck comes after the write to the OS, before fsync (JetStream syncs its files in the background)';
  return 'stream queue, publisher confirm after the write to the OS, before fsync (RabbitMQ streams leave fsync to the OS)';
};

class Server {
  private exited: Promise<void>;
  private output = '';
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stdout?.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-4000)));
    child.stderr?.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-4000)));
    process.on('exit', () => {
      if (child.exitCode !== null) return;
      try {
        process.kill(-child.pid!, 'SIGKILL'); // a detached server leads its own process group
      } catch {
        child.kill('SIGKILL');
      }
    });
  }
  get alive() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  recent() {
    return this.output;
  }
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

async function waitForPort(server: Server, port: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await tcpOpen(port))) {
    if (!server.alive) throw new Error(`${server.name} exited: ${server.recent()}`);
    if (performance.now() > deadline) throw new Error(`${server.name} did not listen on ${port} within ${timeoutMs / 1000} s: ${server.recent()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface RunningPeer {
  sut: SystemUnderTest;
  stop(): Promise<void>;
}

function pidsOf(servers: Server[]): () => number[] {
  return () => servers.filter((s) => s.alive).map((s) => s.child.pid!);
}

async function startRedis(dir: string, w: Workload): Promise<RunningPeer> {
  const port = await freePort();
  const fsync = { always: 'always', interval: 'everysec', never: 'no' }[w.fsync];
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', fsync, '--save', '', '--protected-mode', 'no'];
  const server = new Server('redis-server', spawn(BINARIES.redis.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  await waitForPort(server, port, 20_000);
  const { Redis } = await import('ioredis');
  const admin: SystemAdmin = {
    async createTopics() {
      // streams and groups are created by the first XADD / XGROUP CREATE ... MKSTREAM
    },
    async deleteTopics(names) {
      const redis = new Redis({ port, host: '127.0.0.1' });
      const keys = (await Promise.all(names.map((n) => redis.keys(`${n}-*`)))).flat();
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    },
  };
  return { sut: peerSut('redis', port, admin, w, [server]), stop: () => server.stop() };
}

async function startNats(dir: string, w: Workload): Promise<RunningPeer> {
  const port = await freePort();
  const server = new Server('nats-server', spawn(BINARIES.nats.binary, ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] }));
  await waitForPort(server, port, 20_000);
  const nats = await import('nats');
  const withJsm = async <T>(f: (jsm: Awaited<ReturnType<Awaited<ReturnType<typeof nats.connect>>['jetstreamManager']>>) => Promise<T>) => {
    const nc = await nats.connect({ servers: `127.0.0.1:${port}` });
    try {
      return await f(await nc.jetstreamManager());
    } finally {
      await nc.close();
    }
  };
  const admin: SystemAdmin = {
    createTopics: (names) =>
      withJsm(async (jsm) => {
        for (const name of names) await jsm.streams.add({ name, subjects: [`${name}.*`], storage: nats.StorageType.File });
      }),
    deleteTopics: (names) =>
      withJsm(async (jsm) => {
        for (const name of names) await jsm.streams.delete(name).catch(() => false);
      }),
  };
  return { sut: peerSut('nats', port, admin, w, [server]), stop: () => server.stop() };
}

async function startRabbit(dir: string, w: Workload): Promise<RunningPeer> {
  const [amqpPort, distPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
  await mkdir(join(dir, 'home'), { recursive: true });
  await writeFile(join(dir, 'enabled_plugins'), '[].\n');
  await writeFile(join(dir, 'rabbitmq.conf'), [`listeners.tcp.default = 127.0.0.1:${amqpPort}`, ''].join('\n'));
  const env = {
    ...process.env,
    HOME: join(dir, 'home'),
    RABBITMQ_NODENAME: `bench${amqpPort}@localhost`,
    RABBITMQ_DIST_PORT: String(distPort),
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
  };
  const server = new Server('rabbitmq-server', spawn(BINARIES.rabbitmq.binary, [], { stdio: ['ignore', 'pipe', 'pipe'], env, detached: true }));
  await waitForPort(server, amqpPort, 90_000);
  const amqp = await import('amqplib');
  const withChannel = async (f: (c: Awaited<ReturnType<Awaited<ReturnType<typeof amqp.connect>>['createChannel']>>) => Promise<void>) => {
    const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${amqpPort}`);
    connection.on('error', () => undefined);
    try {
      await f(await connection.createChannel());
    } finally {
      await connection.close();
    }
  };
  const created = new Map<string, number>();
  const admin: SystemAdmin = {
    createTopics: (names, partitions) =>
      withChannel(async (c) => {
        for (const n of names) {
          created.set(n, partitions);
          for (let p = 0; p < partitions; p++) await c.assertQueue(`${n}-${p}`, { durable: true, arguments: { 'x-queue-type': 'stream' } });
        }
      }),
    deleteTopics: (names) =>
      withChannel(async (c) => {
        for (const n of names) for (let p = 0; p < (created.get(n) ?? 0); p++) await c.deleteQueue(`${n}-${p}`);
      }),
  };
  const stop = async () => {
    // the whole process group: the shell wrapper, beam.smp and the epmd it started on its private port
    try {
      process.kill(-server.child.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
    await server.stop();
    try {
      process.kill(-server.child.pid!, 'SIGKILL');
    } catch {
      // all gone
    }
    // epmd daemonizes out of the process group: stop the one on our private port by its own command
    await run('epmd', ['-kill'], { env: { ...process.env, ERL_EPMD_PORT: String(epmdPort) } }).catch(() => undefined);
  };
  const pids = () => {
    if (!server.alive) return [];
    try {
      const out = execFileSyncSafe('pgrep', ['-g', String(server.child.pid)]);
      return out.split('\n').filter(Boolean).map(Number);
    } catch {
      return [server.child.pid!];
    }
  };
  return { sut: { ...peerSut('rabbitmq', amqpPort, admin, w, [server]), serverPids: pids }, stop };
}

const execFileSyncSafe = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

function peerSut(peer: PeerName, port: number, admin: SystemAdmin, w: Workload, servers: Server[]): SystemUnderTest {
  return {
    label: { redis: 'Redis Streams', nats: 'NATS JetStream', rabbitmq: 'RabbitMQ streams' }[peer],
    system: peer as SystemName,
    urls: [`127.0.0.1:${port}`],
    admin,
    durability: PEER_DURABILITY(peer, w.fsync),
    serverPids: pidsOf(servers),
    metricsUrl: null,
  };
}

export async function startPeer(peer: PeerName, dir: string, w: Workload): Promise<RunningPeer> {
  await mkdir(dir, { recursive: true });
  if (peer === 'redis') return startRedis(dir, w);
  if (peer === 'nats') return startNats(dir, w);
  return startRabbit(dir, w);
}
