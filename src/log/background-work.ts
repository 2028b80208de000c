/**
 * Work a partition log does off its append path: finishing a rolled segment, and removing the files of
 * deleted segments after `fileDeleteDelayMs`. Failures are logged, never thrown at an appender; `idle()`
 * waits for everything started so far (truncation and close need that).
 */
import type { Clock } from './clock.js';
import type { FileIO } from './file-io.js';
import type { LogEvents } from './log-config.js';
import type { LogSegment } from './log-segment.js';

/** How many of the segments given (from the first) were renamed, and the failure that stopped the rest. */
export interface DeleteOutcome {
  deleted: number;
  error: unknown;
}

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
   * Renames the segments' files to `*.deleted` now, in the order given (readers holding a segment keep working
   * on its files), syncs their directory once, and removes the files after `delayMs`.
   *
   * One directory sync for the whole list, not one per segment: a retention pass deleting a hundred segments
   * would otherwise force a hundred journal commits that every produce's fdatasync waits behind. A crash
   * before the sync can only bring back segments that were being deleted (file systems journal the renames in
   * order, so at worst a suffix of the list is undone); the next retention pass deletes them again.
   */
  async deleteSegments(segments: LogSegment[], delayMs: number): Promise<DeleteOutcome> {
    const renamed: string[] = [];
    const gone: LogSegment[] = [];
    let error: unknown = null;
    for (const segment of segments) {
      try {
        renamed.push(...(await segment.markDeleted()));
        gone.push(segment);
      } catch (err) {
        error = err; // stop here: the segments after this one stay, so the log keeps no gap
        break;
      }
    }
    if (gone.length === 0) return { deleted: 0, error };
    try {
      await gone[0]!.syncDirectory();
    } catch (err) {
      error ??= err;
    }
    const remove = async () => {
      this.pendingDeletes.delete(removeNow);
      for (const segment of gone) segment.dropHandles();
      for (const path of renamed) {
        await this.io.unlink(path).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') this.events.warn({ path, err }, 'could not remove deleted segment file');
        });
      }
    };
    const cancelTimer = this.clock.setTimer(delayMs, () => this.run(remove, 'removing deleted segments'));
    const removeNow = () => {
      cancelTimer();
      this.run(remove, 'removing deleted segments');
    };
    this.pendingDeletes.add(removeNow);
    return { deleted: gone.length, error };
  }

  /** Removes every pending deletion now and waits for all work (close). */
  async finish(): Promise<void> {
    await this.idle();
    for (const removeNow of [...this.pendingDeletes]) removeNow();
    await this.idle();
  }
}
