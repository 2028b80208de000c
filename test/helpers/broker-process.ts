/**
 * Launches the real `sluice serve` (compiled, from bin/sluice.js) as a child process on a free port, waits
 * until /health answers, and stops it with SIGTERM or SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const SLUICE_BIN = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export class BrokerProcess {
  child: ChildProcess | null = null;
  output = '';

  constructor(
    readonly dataDir: string,
    readonly port: number,
    readonly extraArgs: string[] = [],
    /**
     * Where the broker's stdout goes: 'read' (collected into `output`) or a file descriptor (e.g. a FIFO
     * nobody reads, or /dev/full, where every write fails ENOSPC).
     */
    readonly stdout: 'read' | number = 'read',
    readonly env: NodeJS.ProcessEnv = {},
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, [SLUICE_BIN, 'serve', '--data-dir', this.dataDir, '--port', String(this.port), ...this.extraArgs], {
      stdio: ['ignore', typeof this.stdout === 'number' ? this.stdout : 'pipe', 'pipe'],
      // Consumer groups form after 200 ms rather than the default 3 s, to keep tests fast (a flag overrides it).
      env: { SLUICE_GROUP_INITIAL_REBALANCE_DELAY_MS: '200', ...process.env, SLUICE_LOG_LEVEL: process.env.SLUICE_LOG_LEVEL ?? 'warn', ...this.env },
    });
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`broker exited with ${child.exitCode}:\n${this.output}`);
      try {
        const response = await fetch(`${this.url}/health`);
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`broker did not become healthy:\n${this.output}`);
  }

  /** Sends `signal` and waits for the process to exit; returns its exit code (null when killed). */
  stop(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child?.exitCode ?? null);
    return new Promise((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.kill(signal);
    });
  }
}

export async function postJson(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
}
