/**
 * Servers that a suite runs as separate processes (the broker, a plain fastify baseline): started from
 * compiled JS, polled until they answer, stopped with SIGTERM (SIGKILL after a grace period), and measured
 * from outside through /proc (CPU time).
 *
 * Every child is tracked until it exits. `killAllChildren()` SIGKILLs the ones still running; bench/run.ts
 * calls it on Ctrl-C / SIGTERM before removing the scratch directory (so no server writes into a directory
 * being removed), and it also runs on process exit, so an error or a forgotten stop never leaves a broker
 * behind.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const running = new Set<ChildProcess>();

/** SIGKILLs every child still running (synchronous, so it can run in an exit handler). */
export function killAllChildren(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  running.clear();
}

process.on('exit', killAllChildren);

/** A free TCP port on the loopback interface (bound, read and released: a tiny race, fine for a benchmark). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const OUTPUT_LINES_KEPT = 40;
const STOP_GRACE_MS = 15_000;

export interface ServiceOptions {
  /** for messages: "broker", "plain fastify server" */
  name: string;
  /** arguments after `node` (flags such as --cpu-prof first, then the script) */
  nodeArgs: string[];
  port: number;
  /** a GET path that answers 2xx once the server is ready */
  readyPath: string;
  env?: NodeJS.ProcessEnv;
  startTimeoutMs?: number;
}

/** One server process listening on 127.0.0.1:`port`. */
export class ServiceProcess {
  private readonly output: string[] = [];
  private exited: Promise<void>;

  private constructor(
    readonly name: string,
    readonly url: string,
    private readonly child: ChildProcess,
  ) {
    const keep = (data: Buffer) => {
      for (const line of data.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        this.output.push(line);
        if (this.output.length > OUTPUT_LINES_KEPT) this.output.shift();
      }
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.exited.then(() => running.delete(child));
  }

  static async start(options: ServiceOptions): Promise<ServiceProcess> {
    const child = spawn(process.execPath, options.nodeArgs, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
    running.add(child);
    const service = new ServiceProcess(options.name, `http://127.0.0.1:${options.port}`, child);
    try {
      await service.waitReady(options.readyPath, options.startTimeoutMs ?? 20_000);
    } catch (err) {
      await service.kill();
      throw err;
    }
    return service;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines the process printed (for error messages). */
  recentOutput(): string {
    return this.output.join('\n');
  }

  /** Throws with the process's last output when it is no longer running. */
  checkAlive(): void {
    if (!this.alive) {
      throw new Error(`${this.name} exited (code ${this.child.exitCode}, signal ${this.child.signalCode}); last output:\n${this.recentOutput()}`);
    }
  }

  private async waitReady(path: string, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      this.checkAlive();
      try {
        const response = await fetch(`${this.url}${path}`);
        await response.arrayBuffer();
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`${this.name} did not answer ${path} within ${timeoutMs} ms; last output:\n${this.recentOutput()}`);
  }

  /** SIGTERM (a graceful stop: the broker flushes and writes its clean-shutdown marker), SIGKILL if it hangs. */
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  async kill(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** CPU time (user + system, all threads) the process has used so far, in ms, from /proc/<pid>/stat. */
  cpuTimeMs(): number {
    return processCpuTimeMs(this.pid);
  }

  /** The same at scheduler precision (ns), summed over /proc/<pid>/task/<tid>/schedstat. */
  cpuTimeNs(): number | null {
    return processSchedstatNs(this.pid);
  }
}

let clockTicksPerSecond: number | null = null;

function clockTicks(): number {
  if (clockTicksPerSecond === null) {
    try {
      clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicksPerSecond = 100;
    }
  }
  return clockTicksPerSecond;
}

/**
 * utime + stime of /proc/<pid>/stat (fields 14 and 15, in clock ticks) in ms. The second field, comm, is in
 * parentheses and may hold spaces, so the fields are counted from the last ')'.
 */
export function processCpuTimeMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (14) and stime (15) are fields[11] and fields[12]
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / clockTicks();
}

/** Sum of the first field (ns on CPU) of every thread's schedstat; null where the kernel does not offer it. */
export function processSchedstatNs(pid: number): number | null {
  try {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    }
    return total;
  } catch {
    return null;
  }
}
