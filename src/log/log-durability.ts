/**
 * Durability of one partition log under its fsync policy, and what a failed fdatasync does (see
 * docs/architecture.md, "Durability" and "Failure handling"). Owns the group commit (group-sync.ts) over the
 * segments written since their last fdatasync, and the partition's offline state (offline-state.ts).
 *
 * While a segment may hold records that are not yet durable, only the group commit fdatasyncs its .log. The
 * kernel reports a write-back error once per file and may drop the pages it could not write: had another
 * caller's fdatasync seen the error, a later group fdatasync could succeed and acknowledge records that are
 * not on disk. (Rolled segments under `interval` and `never` are the exception, see rolled-segments.ts: there
 * every record was acknowledged already, and a failure takes the partition offline.)
 *
 * A failed fdatasync:
 * - under `always` rejects every waiter that is not durable (group-sync.ts) and has the log cut itself back to
 *   the durable offset (`DurabilityHost.repair`), with appends held meanwhile (`repairing`); if that fails
 *   too, the partition goes offline;
 * - under `interval` and `never` cuts nothing, since the records after the durable offset were acknowledged
 *   already: the partition goes offline.
 * A log that was closed or abandoned (its topic deleted) reports nothing and repairs nothing: its files are
 * going away, and they are no longer its to change.
 */
import type { Clock } from './clock.js';
import { storageError, type BrokerError } from '../common/errors.js';
import { GroupSync } from './group-sync.js';
import type { FsyncPolicy, LogEvents } from './log-config.js';
import type { LogSegment } from './log-segment.js';
import { OfflineState } from './offline-state.js';

export interface DurabilityHost {
  readonly name: string;
  logEndOffset(): number;
  /** Cuts the log back to `durableOffset` and makes that durable (after a failed fdatasync under `always`). */
  repair(durableOffset: number): Promise<void>;
  /** True once the log was closed or abandoned. */
  isClosed(): boolean;
  /** The repair is over (or was not needed): queued appends may go on. */
  resume(): void;
}

export interface DurabilityOptions {
  clock: Clock;
  events: LogEvents;
  fsyncPolicy: FsyncPolicy;
  /** how long an offline partition waits before the next append may try to reopen it */
  storageRetryBackoffMs: number;
  /** told how long each fdatasync of a group took (metrics) */
  onSync?: (seconds: number) => void;
}

export class LogDurability {
  readonly offline: OfflineState;
  /** set while the log is cut back after a failed fdatasync: queued appends wait */
  repairing = false;
  private dirty = new Set<LogSegment>();
  private readonly sync: GroupSync;

  constructor(
    private readonly host: DurabilityHost,
    private readonly options: DurabilityOptions,
    durableOffset: number,
  ) {
    this.offline = new OfflineState(options.clock, options.storageRetryBackoffMs);
    this.sync = new GroupSync(
      {
        beginSync: () => this.beginSync(),
        endOffset: () => host.logEndOffset(),
        onFailure: (durable, err) => this.onSyncFailure(durable, err),
      },
      durableOffset,
    );
  }

  /** Every offset below it is on disk. */
  get durableOffset(): number {
    return this.sync.durableOffset;
  }

  /** `segment` was written to: the next sync covers it. */
  written(segment: LogSegment): void {
    this.dirty.add(segment);
  }

  /** `segment` left the log (truncation, retention, a reopen): no sync touches it any more. */
  forget(segment: LogSegment): void {
    this.dirty.delete(segment);
  }

  /** After the log was cut back to `endOffset` (truncation) or reloaded from disk (then every segment is synced). */
  resetDurableOffset(endOffset: number, reloaded = false): void {
    if (reloaded) this.dirty = new Set();
    this.sync.resetDurableOffset(reloaded ? endOffset : Math.min(this.sync.durableOffset, endOffset));
  }

  /** Resolves when the records before `endOffset` may be acknowledged under the fsync policy. */
  acknowledgeable(endOffset: number): Promise<void> {
    if (this.options.fsyncPolicy !== 'always') return Promise.resolve();
    return this.sync.waitDurable(endOffset);
  }

  /** Writes everything appended so far to disk (fsync policy `interval`, checkpoints, clean close). */
  flush(): Promise<void> {
    return this.sync.syncNow();
  }

  /** Waits until no fdatasync and no repair is running. */
  idle(): Promise<void> {
    return this.sync.idle();
  }

  /** Stops appends after a failure that could not be repaired (logged once). */
  goOffline(reason: BrokerError): void {
    if (this.host.isClosed()) return;
    if (this.offline.fail(reason)) this.options.events.error({ partition: this.host.name, err: reason }, 'partition is offline');
  }

  private beginSync(): { upTo: number; run: () => Promise<void> } {
    const upTo = this.host.logEndOffset();
    const segments = [...this.dirty];
    this.dirty = new Set();
    return {
      upTo,
      run: async () => {
        const started = process.hrtime.bigint();
        for (const s of segments) await s.sync();
        this.options.onSync?.(Number(process.hrtime.bigint() - started) / 1e9);
      },
    };
  }

  /**
   * An fdatasync failed: the bytes after `durableOffset` may or may not be on disk, and the kernel may have
   * dropped them from the page cache. Never throws (the group commit's loop awaits it).
   */
  private async onSyncFailure(durableOffset: number, error: unknown): Promise<void> {
    if (this.host.isClosed()) return;
    if (this.options.fsyncPolicy !== 'always') {
      this.goOffline(storageError(`fdatasync of ${this.host.name} (records up to the log end offset were acknowledged)`, error));
      return;
    }
    this.options.events.error({ partition: this.host.name, err: error, durableOffset }, 'fdatasync failed; truncating to the durable offset');
    this.repairing = true;
    try {
      await this.host.repair(durableOffset);
    } catch (err) {
      this.goOffline(storageError(`repairing ${this.host.name} after a failed fdatasync`, err));
    } finally {
      this.repairing = false;
    }
    this.host.resume();
  }
}
