/**
 * Finishing rolled segments. When a newer segment takes over, the old one gets its last time-index entry and
 * its preallocated index files cut to their entries; under fsync `interval` and `never` its .log is
 * fdatasynced (under `always` the group commit made each of its records durable before acknowledging it, and
 * only the group commit syncs it, see log-durability.ts); and a producer snapshot is written at the base
 * offset of the segment that took over. Then the recovery point may pass the segment.
 *
 * This runs off the append path (BackgroundWork), one segment after another in roll order. A failure (a full
 * disk, say) leaves that segment and every later one pending. Acknowledged records need none of this:
 * indexes are derived data that recovery rebuilds from the recovery point on, and a snapshot only shortens
 * loading. So the partition stays online, and the work is tried again at the next roll, by the next append
 * once the backoff has passed, and at close. The exception is the .log fdatasync under `interval` and
 * `never`: those records were acknowledged, so its failure takes the partition offline (offline-state.ts).
 *
 * Invariant: the recovery point never passes a pending segment (it moves only when one is finished).
 */
import type { Clock } from './clock.js';
import { storageError, type BrokerError } from '../common/errors.js';
import type { FileIO } from './file-io.js';
import type { FsyncPolicy, LogEvents } from './log-config.js';
import type { LogSegment } from './log-segment.js';
import { writeSnapshot } from './producer-snapshot.js';
import type { ProducerEntry } from './producer-state.js';
import { Serial } from './serial.js';

export interface RolledSegmentsHost {
  readonly name: string;
  readonly dir: string;
  /** the log's segments now: a truncation may have removed a pending segment or made it active again */
  currentSegments(): readonly LogSegment[];
  logEndOffset(): number;
  isClosed(): boolean;
  /** every offset below `offset` has its data and indexes on disk */
  finishedBelow(offset: number): void;
  /** the .log of `segment` is durable: the group commit need not sync it again */
  synced(segment: LogSegment): void;
  /** the fdatasync of a .log whose records were acknowledged failed */
  goOffline(reason: BrokerError): void;
}

export interface RolledSegmentsOptions {
  io: FileIO;
  clock: Clock;
  events: LogEvents;
  fsyncPolicy: FsyncPolicy;
  retryBackoffMs: number;
}

interface Pending {
  segment: LogSegment;
  /** base offset of the segment that took over: the snapshot's offset */
  nextBase: number;
  /** producer state at `nextBase`; null once written */
  snapshot: ProducerEntry[] | null;
  logSynced: boolean;
}

export class RolledSegments {
  private pending: Pending[] = [];
  private readonly serial = new Serial();
  /** when the last attempt failed; null when nothing failed since */
  private failedAt: number | null = null;
  /** attempts queued or running (an append asks for a retry only when none is) */
  private attempts = 0;

  constructor(
    private readonly host: RolledSegmentsHost,
    private readonly options: RolledSegmentsOptions,
  ) {}

  /** Base offset of the oldest segment not finished yet, or null. */
  get oldestPending(): number | null {
    return this.pending[0]?.segment.baseOffset ?? null;
  }

  /** True when an attempt failed and the backoff has passed since (the next append tries again). */
  get retryDue(): boolean {
    if (this.attempts > 0 || this.failedAt === null || this.pending.length === 0) return false;
    return this.options.clock.now() - this.failedAt >= this.options.retryBackoffMs;
  }

  /** `segment` was rolled; `snapshot` is the producer state at `nextBase`, the base offset of its successor. */
  add(segment: LogSegment, nextBase: number, snapshot: ProducerEntry[]): void {
    this.pending.push({ segment, nextBase, snapshot, logSynced: this.options.fsyncPolicy === 'always' });
  }

  /** Forgets all pending work (the log was reloaded from disk, which redoes it). */
  reset(): void {
    this.pending = [];
    this.failedAt = null;
  }

  /** Finishes the pending segments in roll order; stops at the first failure (logged), never throws. */
  finish(): Promise<void> {
    this.attempts++;
    return this.serial.run(() => this.finishInOrder().finally(() => this.attempts--));
  }

  private async finishInOrder(): Promise<void> {
    while (this.pending.length > 0 && !this.host.isClosed()) {
      const next = this.pending[0]!;
      const segments = this.host.currentSegments();
      if (!segments.includes(next.segment) || next.segment === segments[segments.length - 1]) {
        this.pending.shift(); // truncated away, or active again: nothing to finish
        continue;
      }
      try {
        await this.finishOne(next);
      } catch (err) {
        if (this.host.isClosed()) return;
        this.failedAt = this.options.clock.now();
        this.options.events.warn(
          { partition: this.host.name, segment: next.segment.baseOffset, pending: this.pending.length, err },
          'finishing a rolled segment failed; it is tried again later, and the recovery point stays below it',
        );
        return;
      }
      this.pending.shift();
      this.host.finishedBelow(next.nextBase);
    }
    this.failedAt = null;
  }

  private async finishOne(p: Pending): Promise<void> {
    if (!p.logSynced) {
      try {
        await p.segment.sync();
      } catch (err) {
        this.host.goOffline(storageError(`fdatasync of rolled segment ${p.segment.baseOffset} of ${this.host.name} (its records were acknowledged)`, err));
        throw err;
      }
      p.logSynced = true;
      this.host.synced(p.segment);
    }
    await p.segment.finishIndexes();
    if (p.snapshot !== null) {
      if (this.host.logEndOffset() >= p.nextBase) await writeSnapshot(this.options.io, this.host.dir, p.nextBase, p.snapshot);
      p.snapshot = null;
    }
  }
}
