/**
 * Work a partition log does off its append path: finishing a rolled segment, and removing the files of
 * deleted segments after `fileDeleteDelayMs`. Failures are logged, never thrown at an appender; `idle()`
 * waits for everything started so far (truncation and close need that).
 */
import type { Clock } from './clock.js';
import type { FileIO } from './file-io.js';
import type { LogEvents } from './log-config.js';
import type { LogSegment } from './log-segment.js';
import { storageError } from '../common/errors.js';
import { DELETED_SUFFIX } from './segment-files.js';

/** How many of the segments given (from the first) were renamed, and the failure that stopped the rest. */
export interface DeleteOutcome {
  deleted: number;
  error: unknown;
}

/**
 * Pause between two segments of a retention deletion. A rename is metadata in the file system's journal that
 * the next fdatasync of any file commits; a hundred renames back to back put ~30 ms of journal work in front
 * of the produce requests of that moment (p99 about 2.2× a quiet one in the retention benchmark), paced they
 * spread over many commits (about 1.3×). A real timer rather than the Clock: it paces I/O, it is no deadline,
 * and a manual clock in tests must not be able to stall it.
 */
const RENAME_PACING_MS = 1;

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
   * on its files), syncs their directory once, and removes the files after `delayMs`. A rename that fails
   * stops the list there: the segments renamed before it are synced and removed as usual, the rest are left
   * to the caller, with the error.
   */
  async deleteSegments(segments: LogSegment[], delayMs: number): Promise<DeleteOutcome> {
    return this.renameSyncAndRemove(segments, delayMs, 0);
  }

  /**
   * Retention's deletion, for segments already taken out of the log (the log start offset has moved): the same
   * renames, one directory sync and delayed removal, done in the background and paced `RENAME_PACING_MS` apart
   * per segment, so the partition's appends do not wait for it and the file system's journal takes the
   * renames a few at a time rather than a hundred in one commit that every produce's fdatasync waits behind.
   *
   * A crash before the directory sync, or a rename that fails, can only leave segments that were being
   * deleted on disk: they are loaded again at the next start (the log start offset goes back to them, nothing
   * retained is lost) and the next retention pass deletes them again.
   */
  deleteSegmentsInBackground(segments: LogSegment[], delayMs: number): void {
    if (segments.length === 0) return;
    this.run(async () => {
      const { deleted, error } = await this.renameSyncAndRemove(segments, delayMs, RENAME_PACING_MS);
      if (error) this.events.warn({ partition: this.partition, err: error, left: segments.length - deleted }, 'segments stay on disk until the next start');
    }, 'deleting segments');
  }

  private async renameSyncAndRemove(segments: LogSegment[], delayMs: number, pacingMs: number): Promise<DeleteOutcome> {
    const renamed: string[] = [];
    const gone: LogSegment[] = [];
    let error: unknown = null;
    for (const segment of segments) {
      if (gone.length > 0 && pacingMs > 0) await new Promise((resolve) => setTimeout(resolve, pacingMs));
      try {
        renamed.push(...(await markDeleted(this.io, segment)));
        gone.push(segment);
      } catch (err) {
        error = err; // stop here: the segments after this one keep their files, so the log has no gap
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

/**
 * Renames all files of a segment to `*.deleted`. The segment keeps working on the renamed files, so reads
 * already holding it finish; the caller syncs the directory and removes the files later.
 */
async function markDeleted(io: FileIO, segment: LogSegment): Promise<string[]> {
  const renamed: string[] = [];
  const targets: { path: string; set: (p: string) => void }[] = [
    { path: segment.logPath, set: (p) => (segment.logPath = p) },
    { path: segment.offsetIndex.path, set: (p) => (segment.offsetIndex.path = p) },
    { path: segment.timeIndex.path, set: (p) => (segment.timeIndex.path = p) },
  ];
  segment.dropHandles();
  for (const { path, set } of targets) {
    try {
      await io.rename(path, path + DELETED_SUFFIX);
      set(path + DELETED_SUFFIX);
      renamed.push(path + DELETED_SUFFIX);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw storageError(`renaming the files of ${segment.describe()}`, err, path);
    }
  }
  return renamed;
}
