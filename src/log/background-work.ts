/**
 * Work a partition log does off its append path: finishing a rolled segment, and removing the files of
 * deleted segments after `fileDeleteDelayMs`. Failures are logged, never thrown at an appender; `idle()`
 * waits for everything started so far (truncation and close need that).
 */
import type { Clock } from './clock.js';
import type { FileIO } from './file-io.js';
import type { LogEvents } from './log-config.js';
import type { LogSegment } from './log-segment.js';

export class BackgroundWork {
  private readonly running = new Set<Promise<unknown>>();
  /** deletions waiting for their delay; calling one removes the files now */
  private readonly pendingDeletes = new Set<() => void>();

  constructor(
    private readonly io: FileIO,
    private readonly clock: Clock,
    private readonly events: LogEvents,
    private readonly partition: string,
  ) {}

  run(task: () => Promise<void>, what: string): void {
    const p = task().catch((err) => this.events.error({ partition: this.partition, err }, `${what} failed`));
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  async idle(): Promise<void> {
    await Promise.all(this.running);
  }

  /**
   * Renames the segment's files to `*.deleted` now (readers holding the segment keep working on them) and
   * removes them after `delayMs`.
   */
  async deleteSegment(segment: LogSegment, delayMs: number): Promise<void> {
    const renamed = await segment.markDeleted();
    const remove = async () => {
      this.pendingDeletes.delete(removeNow);
      segment.dropHandles();
      for (const path of renamed) {
        await this.io.unlink(path).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') this.events.warn({ path, err }, 'could not remove deleted segment file');
        });
      }
    };
    const cancelTimer = this.clock.setTimer(delayMs, () => this.run(remove, 'removing deleted segment'));
    const removeNow = () => {
      cancelTimer();
      this.run(remove, 'removing deleted segment');
    };
    this.pendingDeletes.add(removeNow);
  }

  /** Removes every pending deletion now and waits for all work (close). */
  async finish(): Promise<void> {
    await this.idle();
    for (const removeNow of [...this.pendingDeletes]) removeNow();
    await this.idle();
  }
}
