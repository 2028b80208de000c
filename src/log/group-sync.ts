/**
 * Group commit: many appenders share one fdatasync.
 *
 * `waitDurable(offset)` resolves once a sync that began after the bytes of `offset - 1` were written has
 * finished. While a sync runs, new waiters queue; when it ends, one more sync covers all of them. With 64
 * concurrent appenders this turns 64 fsyncs into two or three.
 *
 * A failed sync rejects every waiter that it or a later sync would have covered (their bytes may not be on
 * disk) and reports the failure to `onFailure`, which repairs the log before anything else is appended.
 */
export interface SyncTarget {
  /** The end offset that a sync started now would make durable, and the work to do it. */
  beginSync(): { upTo: number; run: () => Promise<void> };
  /** Offset after the last written byte; waiters beyond it were truncated away. */
  endOffset(): number;
  onFailure(durableOffset: number, error: unknown): Promise<void>;
}

interface Waiter {
  offset: number;
  resolve(): void;
  reject(err: unknown): void;
}

export class GroupSync {
  private waiters: Waiter[] = [];
  private running = false;
  private looping: Promise<void> = Promise.resolve();
  /** every offset below this is on disk */
  durableOffset: number;

  constructor(
    private readonly target: SyncTarget,
    durableOffset: number,
  ) {
    this.durableOffset = durableOffset;
  }

  waitDurable(offset: number): Promise<void> {
    if (offset <= this.durableOffset) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ offset, resolve, reject });
      if (!this.running) this.looping = this.loop();
    });
  }

  /** Forces a sync of everything written so far (used by the interval flusher and clean close). */
  async syncNow(): Promise<void> {
    await this.waitDurable(this.target.endOffset());
  }

  /** Waits until no sync (and no repair after a failed one) is running. */
  async idle(): Promise<void> {
    while (this.running) await this.looping;
  }

  /** After truncation the durable offset can go down. */
  resetDurableOffset(offset: number): void {
    this.durableOffset = offset;
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.waiters.some((w) => w.offset > this.durableOffset)) {
        const { upTo, run } = this.target.beginSync();
        try {
          await run();
        } catch (err) {
          const failed = this.waiters;
          this.waiters = [];
          for (const w of failed) w.reject(err);
          await this.target.onFailure(this.durableOffset, err);
          continue;
        }
        this.durableOffset = Math.max(this.durableOffset, upTo);
        const still: Waiter[] = [];
        for (const w of this.waiters) {
          if (w.offset <= this.durableOffset) w.resolve();
          else if (w.offset > this.target.endOffset()) w.reject(new Error(`offset ${w.offset - 1} was truncated before it became durable`));
          else still.push(w);
        }
        this.waiters = still;
      }
    } finally {
      this.running = false;
    }
  }
}
