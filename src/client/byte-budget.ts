/**
 * A counting semaphore over bytes: what bounds the producer's memory (`bufferBytes`). Waiters are served first
 * come, first served, so a large record is not starved by a stream of small ones, and sends keep their order.
 */
import { BrokerError } from './errors.js';

interface Waiter {
  bytes: number;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | null;
}

export class ByteBudget {
  private used = 0;
  private readonly waiters: Waiter[] = [];

  constructor(readonly limit: number) {}

  get usedBytes(): number {
    return this.used;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Takes `bytes` now if they fit and nobody waits before us. */
  tryAcquire(bytes: number): boolean {
    if (this.waiters.length > 0 || this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  /** Takes `bytes`, waiting up to `timeoutMs` for others to release them (REQUEST_TIMED_OUT after). */
  acquire(bytes: number, timeoutMs: number): Promise<void> {
    if (this.tryAcquire(bytes)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { bytes, resolve, reject, timer: null };
      waiter.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new BrokerError('REQUEST_TIMED_OUT', `the producer's buffer (bufferBytes ${this.limit}) stayed full for ${timeoutMs} ms (maxBlockMs)`));
        this.grant();
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  release(bytes: number): void {
    this.used -= bytes;
    this.grant();
  }

  /** Fails every waiter (the producer is closing or fenced). */
  rejectAll(err: Error): void {
    for (const waiter of this.waiters.splice(0)) {
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.reject(err);
    }
  }

  private grant(): void {
    while (this.waiters.length > 0 && this.used + this.waiters[0]!.bytes <= this.limit) {
      const waiter = this.waiters.shift()!;
      if (waiter.timer) clearTimeout(waiter.timer);
      this.used += waiter.bytes;
      waiter.resolve();
    }
  }
}
