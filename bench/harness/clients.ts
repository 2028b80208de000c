/**
 * Client processes: forks of bench/harness/worker.js (compiled), one per slice of producers or consumers, so
 * the load generator is not one busy event loop. Each is measured from outside like the servers (CPU time and
 * RSS from /proc), which is how the report tells when a client process, not the system, was the bottleneck.
 * Every client is SIGKILLed when the harness exits, whatever the reason.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ClientReport } from './stats.js';
import type { GoMessage, InitMessage } from './worker.js';

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) if (child.exitCode === null) child.kill('SIGKILL');
});

export interface ClientProgress {
  records: number;
  bytes: number;
  groups?: Record<string, { records: number; bytes: number }>;
  assigned?: Record<string, number>;
}

export class ClientProcess {
  progress: ClientProgress = { records: 0, bytes: 0 };
  readonly ready: Promise<void>;
  readonly done: Promise<ClientReport>;
  private readonly child: ChildProcess;

  constructor(readonly init: InitMessage) {
    this.child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    live.add(this.child);
    let onReady: () => void = () => undefined;
    this.ready = new Promise<void>((resolve) => (onReady = resolve));
    this.done = new Promise<ClientReport>((resolve, reject) => {
      this.child.on('message', (message: { type: string; report?: ClientReport; message?: string } & ClientProgress) => {
        if (message.type === 'ready') onReady();
        else if (message.type === 'progress') this.progress = message;
        else if (message.type === 'done') resolve(message.report!);
        else if (message.type === 'failed') reject(new Error(`${init.role} process (${init.spec.system}) failed: ${message.message}`));
      });
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        reject(new Error(`${init.role} process (${init.spec.system}) exited (code ${code}, signal ${signal}) before reporting`));
      });
    });
    // a failure before `ready` must not hang whoever waits for it
    this.done.catch(() => onReady());
    this.child.send(init);
  }

  get pid(): number {
    return this.child.pid!;
  }

  go(message: GoMessage): void {
    this.child.send(message);
  }

  stop(): void {
    if (this.child.connected) this.child.send({ type: 'stop' });
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
