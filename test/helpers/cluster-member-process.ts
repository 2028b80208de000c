/**
 * Runs test/cluster/fixtures/cluster-member.ts as a real child process (a broker's membership and election
 * without the rest of the broker) and lets a test await the lines it prints, then SIGKILL it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MEMBER = fileURLToPath(new URL('../cluster/fixtures/cluster-member.ts', import.meta.url));

export class ClusterMemberProcess {
  readonly lines: string[] = [];
  private readonly child: ChildProcess;
  private listeners: (() => void)[] = [];
  readonly exited: Promise<void>;

  constructor(etcdUrl: string, clusterName: string, readonly brokerId: number, sessionTimeoutMs: number, options: { campaign?: boolean } = {}) {
    const args = ['--import', 'tsx', MEMBER, etcdUrl, clusterName, String(brokerId), String(sessionTimeoutMs), ...(options.campaign ? ['campaign'] : [])];
    this.child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffered = '';
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      this.lines.push(...lines);
      for (const listener of this.listeners) listener();
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  /** Resolves with the first printed line matching `pattern` (also one printed before the call). */
  waitForLine(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = this.lines.find((l) => pattern.test(l));
        if (line === undefined) return false;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== listener);
        resolve(line);
        return true;
      };
      const listener = () => void check();
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== listener);
        reject(new Error(`broker ${this.brokerId} printed no line matching ${pattern} within ${timeoutMs} ms; it printed:\n${this.lines.join('\n')}`));
      }, timeoutMs);
      this.listeners.push(listener);
      check();
    });
  }

  /** SIGKILL (no lease revoked, nothing cleaned up) and wait for the exit. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}
