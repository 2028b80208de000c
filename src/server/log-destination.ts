/**
 * Where the broker's log lines go: a pino destination that never blocks the event loop and never spins.
 *
 * pino calls `write(line)` synchronously for every line. The line is buffered in memory and written to a
 * file descriptor (stdout) with asynchronous fs.write, one write at a time, batching whatever arrived in
 * the meantime. A destination that cannot take more does not stop the broker:
 * - it is slow or full (a pipe nobody reads: EAGAIN): lines wait in the buffer, and once the buffer holds
 *   maxBufferedBytes, new lines are dropped;
 * - its writes fail (a full disk: ENOSPC, EIO, a closed pipe: EPIPE): the lines of that write are dropped.
 * Either way the next attempt comes retryDelayMs later (a timer that does not keep the process alive), and
 * every dropped line is counted in `droppedLines` (the metric sluice_log_lines_dropped_total).
 *
 * Invariants: at most one write in flight; buffered bytes (pending lines plus the unwritten rest of the
 * write in flight) stay at or below maxBufferedBytes, counting one byte per UTF-16 unit of pending lines;
 * each line is written whole, or counted as dropped (a line cut by a failed write counts as dropped).
 */
import { write as fsWrite } from 'node:fs';

export type WriteFn = (
  fd: number,
  buffer: Buffer,
  offset: number,
  length: number,
  position: null,
  callback: (err: NodeJS.ErrnoException | null, written: number) => void,
) => void;

export interface LogDestinationOptions {
  /** default 1 (stdout) */
  fd?: number;
  /** default 4 MiB */
  maxBufferedBytes?: number;
  /** wait before writing again after EAGAIN or a failed write; default 100 */
  retryDelayMs?: number;
  /** turns each line before it is buffered (pino-pretty's formatter on a terminal) */
  format?: (line: string) => string;
  /** tests inject failures here; default fs.write */
  write?: WriteFn;
}

interface InFlight {
  buffer: Buffer;
  written: number;
  lines: number;
}

export class LogDestination {
  droppedLines = 0;
  private readonly fd: number;
  private readonly maxBufferedBytes: number;
  private readonly retryDelayMs: number;
  private readonly format: ((line: string) => string) | undefined;
  private readonly writeFn: WriteFn;
  private pending: string[] = [];
  private pendingBytes = 0;
  private inFlight: InFlight | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private idleWaiters: (() => void)[] = [];

  constructor(options: LogDestinationOptions = {}) {
    this.fd = options.fd ?? 1;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 4 * 1024 * 1024;
    this.retryDelayMs = options.retryDelayMs ?? 100;
    this.format = options.format;
    this.writeFn = options.write ?? (fsWrite as unknown as WriteFn);
  }

  /** Called by pino for every line; never blocks, never throws. */
  write(line: string): boolean {
    let text = line;
    if (this.format) {
      try {
        text = this.format(line);
      } catch {
        // an unformattable line is written as pino made it
      }
    }
    const inFlightRest = this.inFlight ? this.inFlight.buffer.length - this.inFlight.written : 0;
    if (this.pendingBytes + inFlightRest + text.length > this.maxBufferedBytes) {
      this.droppedLines++;
      return true;
    }
    this.pending.push(text);
    this.pendingBytes += text.length;
    if (this.inFlight === null && this.retryTimer === null) this.writeNext();
    return true;
  }

  /** True when nothing is buffered and no write is in flight. */
  get idle(): boolean {
    return this.pending.length === 0 && this.inFlight === null;
  }

  /** pino's logger.flush(cb): calls back once everything buffered now is written or dropped. */
  flush(callback?: (err?: Error) => void): void {
    void this.drain(Number.MAX_SAFE_INTEGER).then(() => callback?.());
  }

  /**
   * Waits until the buffer is empty (true), or `timeoutMs` pass (false: the destination is stuck; what is
   * left stays unwritten). For shutdown.
   */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.idle) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        resolve(false);
      }, Math.min(timeoutMs, 2 ** 31 - 1));
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(done);
    });
  }

  private writeNext(): void {
    if (this.pending.length === 0) {
      for (const waiter of this.idleWaiters.splice(0)) waiter();
      return;
    }
    this.inFlight = { buffer: Buffer.from(this.pending.join(''), 'utf8'), written: 0, lines: this.pending.length };
    this.pending = [];
    this.pendingBytes = 0;
    this.writeInFlight();
  }

  private writeInFlight(): void {
    const chunk = this.inFlight!;
    try {
      this.writeFn(this.fd, chunk.buffer, chunk.written, chunk.buffer.length - chunk.written, null, (err, written) => this.afterWrite(chunk, err, written));
    } catch (err) {
      this.afterWrite(chunk, err as NodeJS.ErrnoException, 0);
    }
  }

  private afterWrite(chunk: InFlight, err: NodeJS.ErrnoException | null, written: number): void {
    if (err && err.code !== 'EAGAIN' && err.code !== 'EWOULDBLOCK') {
      this.droppedLines += chunk.lines;
      this.inFlight = null;
      this.retryLater(() => this.writeNext());
      return;
    }
    chunk.written += err ? 0 : written;
    if (chunk.written >= chunk.buffer.length) {
      this.inFlight = null;
      this.writeNext();
    } else if (err || written === 0) {
      // Full (EAGAIN) or no progress: wait, keep the chunk.
      this.retryLater(() => this.writeInFlight());
    } else {
      this.writeInFlight();
    }
  }

  private retryLater(action: () => void): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      action();
    }, this.retryDelayMs);
    this.retryTimer.unref();
  }
}
