/**
 * Parked long polls (consumer fetches, follower fetches): each waits until any of its partitions has news,
 * its max wait passes, its client goes away, or the broker shuts down. One place for the bookkeeping that
 * every kind of long poll needs, so a wait is never left registered after it resolved.
 */
import type { Clock } from '../log/clock.js';

/** Registers `wake` with one partition's delayed operations; returns its cancel function. */
export type Subscribe = (wake: () => void) => () => void;

export class LongPolls {
  private readonly wakeOnClose = new Set<() => void>();
  #waiting = 0;

  constructor(private readonly clock: Clock) {}

  /** Long polls waiting right now. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Resolves when any subscription fires, after `maxWaitMs`, when `signal` aborts, or at `wakeAll`. */
  waitForAny(subscriptions: Iterable<Subscribe>, maxWaitMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      this.#waiting++;
      let finished = false;
      const cancels: (() => void)[] = [];
      const done = () => {
        if (finished) return;
        finished = true;
        for (const cancel of cancels) cancel();
        cancelTimer();
        signal?.removeEventListener('abort', done);
        this.wakeOnClose.delete(done);
        this.#waiting--;
        resolve();
      };
      const cancelTimer = this.clock.setTimer(maxWaitMs, done);
      signal?.addEventListener('abort', done);
      this.wakeOnClose.add(done);
      for (const subscribe of subscriptions) {
        if (finished) break;
        cancels.push(subscribe(done));
      }
    });
  }

  /** Wakes every waiting long poll (shutdown). */
  wakeAll(): void {
    for (const wake of [...this.wakeOnClose]) wake();
  }
}
