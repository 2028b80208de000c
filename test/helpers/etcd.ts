/**
 * A real etcd server for tests: one process per test file (or per test), on free loopback ports, with its
 * data in a temp dir. Started with fast Raft timings (`--heartbeat-interval 10 --election-timeout 100`) so
 * the first write does not wait a second for a leader, and so etcd's minimum lease TTL is 1 s.
 *
 * `stop()` kills it (SIGKILL, like a crash: leases and keys persist in its data dir) and `start()` brings it
 * back on the same ports and data, which is how "etcd down for N seconds" is tested. `destroy()` stops it and
 * removes its directory.
 *
 * The binary comes from Debian's `etcd-server`: `ensureEtcdInstalled()` installs it when it is missing (the
 * test machines run as root) and otherwise fails loudly; cluster tests never skip.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { freePort } from './broker-process.js';

const INSTALL_LOCK = join(tmpdir(), 'sluice-etcd-install.lock');

function findEtcd(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin', '/usr/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    try {
      accessSync(join(dir, 'etcd'), constants.X_OK);
      return join(dir, 'etcd');
    } catch {
      // not in this directory
    }
  }
  return null;
}

function run(command: string, args: string[]): { ok: boolean; output: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 300_000 });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}` };
}

/**
 * The path of the etcd binary, installing Debian's `etcd-server` first when it is missing (one process at a
 * time: a lock directory keeps parallel test workers from racing apt). Throws with what to do otherwise.
 */
export function ensureEtcdInstalled(): string {
  const found = findEtcd();
  if (found) return found;
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(INSTALL_LOCK);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`etcd is missing and another process holds ${INSTALL_LOCK} (installing it?) for too long`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    const again = findEtcd();
    if (again) return again;
    const tail = (text: string) => text.split('\n').slice(-15).join('\n');
    if (process.getuid?.() !== 0) {
      throw new Error('the cluster tests need a real etcd: `etcd` is not on PATH and this is not root, so it cannot be installed here; run `apt-get install -y etcd-server`');
    }
    let install = run('apt-get', ['install', '-y', 'etcd-server']);
    if (!install.ok) {
      const update = run('apt-get', ['update']);
      install = run('apt-get', ['install', '-y', 'etcd-server']);
      if (!install.ok) throw new Error(`the cluster tests need a real etcd, and \`apt-get install -y etcd-server\` failed (also after apt-get update):\n${tail(update.output)}\n${tail(install.output)}`);
    }
    const installed = findEtcd();
    if (!installed) throw new Error(`apt-get installed etcd-server but no etcd binary is on PATH:\n${tail(install.output)}`);
    return installed;
  } finally {
    rmdirSync(INSTALL_LOCK);
  }
}

export class TestEtcd {
  private child: ChildProcess | null = null;
  /** the last lines etcd printed, for error messages */
  private output = '';

  private constructor(
    readonly binary: string,
    readonly dataDir: string,
    private clientPort: number,
    private peerPort: number,
  ) {}

  /** Starts a new etcd on free ports (new ones again if another process took them first). */
  static async start(): Promise<TestEtcd> {
    const binary = ensureEtcdInstalled();
    const dir = mkdtempSync(join(tmpdir(), 'sluice-etcd-'));
    const etcd = new TestEtcd(binary, join(dir, 'data'), await freePort(), await freePort());
    for (let attempt = 1; ; attempt++) {
      try {
        await etcd.start();
        return etcd;
      } catch (err) {
        if (attempt >= 3) {
          rmSync(dir, { recursive: true, force: true });
          throw err;
        }
        rmSync(etcd.dataDir, { recursive: true, force: true });
        etcd.clientPort = await freePort();
        etcd.peerPort = await freePort();
      }
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** (Re)starts the server on its ports and data dir and waits until /health says it is healthy. */
  async start(): Promise<void> {
    if (this.child) return;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    // etcd 3.4's default logger is deprecated and chatty; zap at error level keeps the test output clean.
    const args = ['--name', 't', '--data-dir', this.dataDir, '--listen-client-urls', this.url, '--advertise-client-urls', this.url,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `t=${peer}`,
      '--heartbeat-interval', '10', '--election-timeout', '100', '--logger', 'zap', '--log-level', 'error'];
    const child = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.output = '';
    const collect = (d: Buffer) => (this.output = (this.output + d.toString()).slice(-4_000));
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      try {
        const response = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(1_000) });
        if (response.ok && ((await response.json()) as { health?: string }).health === 'true') return;
      } catch {
        // not listening yet
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20))]);
    }
    child.kill('SIGKILL');
    await exited;
    this.child = null;
    throw new Error(`etcd on ${this.url} did not become healthy:\n${this.output}`);
  }

  /** Kills the server (SIGKILL by default: a crash) and waits for it to exit. Data and ports are kept. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(join(this.dataDir, '..'), { recursive: true, force: true });
  }
}

/** One etcd for the test file: started before its tests, destroyed after them. */
export function useEtcd(): () => TestEtcd {
  let etcd: TestEtcd | undefined;
  beforeAll(async () => {
    etcd = await TestEtcd.start();
  });
  afterAll(async () => {
    await etcd?.destroy();
  });
  return () => {
    if (!etcd) throw new Error('useEtcd(): etcd is only available inside tests');
    return etcd;
  };
}
