/**
 * The state of one share group on one partition (Kafka's SharePartition, KIP-932), kept in memory by the
 * broker that leads the partition:
 *
 *   startOffset ........ every record below it is done (accepted or archived), or gone by retention
 *   [startOffset, endOffset) the in-flight window: records read from the log, each one
 *                          available -> acquired (a lease: id, deadline) -> accepted | archived
 *                          or back to available when the lease ends without an ack
 *   endOffset .......... the next offset to read from the log
 *
 * Invariants: startOffset <= endOffset; endOffset - startOffset <= the window limit (maxInFlightPerPartition),
 * so the records held here, and the leases, are bounded; an offset in the window without an entry is a gap
 * in the log (a control batch, a record deleted) and counts as done. Done entries above startOffset stay
 * until every record before them is done, then the start moves past them.
 *
 * Durable: what the store wrote (accepted, archived, the start). Not durable: leases and the
 * available/acquired split, which a reload forgets (every record not done is available again).
 */
import type { StoredRecord } from '../log/record-batch.js';

export type RecordState = 'available' | 'acquired' | 'accepted' | 'archived';

export interface InFlightRecord {
  offset: number;
  state: RecordState;
  /** deliveries so far (a lease is a delivery) */
  deliveryCount: number;
  /** the record's data, kept while it may be delivered (null for entries restored as done) */
  record: StoredRecord | null;
  /** while acquired: the lease's id and end (clock ms) */
  leaseId: number;
  deadline: number;
}

/** A record whose lease ended without an ack and that may not be delivered again (maxDeliveryCount). */
export interface Exhausted {
  entry: InFlightRecord;
}

export class SharePartition {
  startOffset: number;
  endOffset: number;
  private readonly entries = new Map<number, InFlightRecord>();
  private nextLeaseId = 1;
  /** no lease ends before this (a lower bound: extensions only move deadlines later) */
  private nextDeadline = Infinity;
  /** no available entry below this */
  private availableFrom: number;
  acquiredCount = 0;
  availableCount = 0;

  constructor(
    readonly topic: string,
    readonly partition: number,
    /** drawn at each load: receipts of an earlier load name leases that are over */
    readonly incarnation: number,
    startOffset: number,
    /** offsets above the start already done, from the durable state */
    done: Iterable<[number, { state: 'accepted' | 'archived'; deliveryCount: number }]> = [],
  ) {
    this.startOffset = startOffset;
    this.endOffset = startOffset;
    this.availableFrom = startOffset;
    for (const [offset, d] of done) {
      if (offset >= startOffset) this.entries.set(offset, { offset, state: d.state, deliveryCount: d.deliveryCount, record: null, leaseId: 0, deadline: 0 });
    }
  }

  get window(): number {
    return this.endOffset - this.startOffset;
  }

  entry(offset: number): InFlightRecord | undefined {
    return this.entries.get(offset);
  }

  /**
   * Takes records read from the log (in offset order) into the window, up to `limit` offsets in it. Records
   * restored as done stay done. Returns how many became available.
   */
  addFetched(records: StoredRecord[], limit: number): number {
    let added = 0;
    for (const record of records) {
      if (record.offset < this.endOffset) continue;
      if (record.offset - this.startOffset >= limit) break;
      const existing = this.entries.get(record.offset);
      if (!existing) {
        this.entries.set(record.offset, { offset: record.offset, state: 'available', deliveryCount: 0, record, leaseId: 0, deadline: 0 });
        this.availableCount++;
        if (record.offset < this.availableFrom) this.availableFrom = record.offset;
        added++;
      }
      this.endOffset = record.offset + 1;
    }
    return added;
  }

  /** Moves the end past a stretch of the log without records (control batches, gaps), within `limit`. */
  skipTo(offset: number, limit: number): void {
    this.endOffset = Math.max(this.endOffset, Math.min(offset, this.startOffset + limit));
  }

  /** Leases up to `max` available records in offset order; each delivery counts. */
  acquire(max: number, now: number, visibilityTimeoutMs: number): InFlightRecord[] {
    const out: InFlightRecord[] = [];
    if (this.availableCount === 0) return out;
    const deadline = now + visibilityTimeoutMs;
    let offset = Math.max(this.availableFrom, this.startOffset);
    for (; offset < this.endOffset && out.length < max && this.availableCount > 0; offset++) {
      const e = this.entries.get(offset);
      if (!e || e.state !== 'available') continue;
      e.state = 'acquired';
      e.deliveryCount++;
      e.leaseId = this.nextLeaseId++;
      e.deadline = deadline;
      this.availableCount--;
      this.acquiredCount++;
      out.push(e);
    }
    this.availableFrom = offset;
    if (out.length > 0 && deadline < this.nextDeadline) this.nextDeadline = deadline;
    return out;
  }

  /** When the earliest lease may end (Infinity when none is held). */
  get earliestDeadline(): number {
    return this.acquiredCount === 0 ? Infinity : this.nextDeadline;
  }

  /**
   * Ends the leases whose deadline has passed: their records are available again, except those delivered
   * `maxDeliveryCount` times, which are archived and returned (to be dead-lettered and stored).
   */
  expire(now: number, maxDeliveryCount: number): { released: number; exhausted: InFlightRecord[] } {
    const exhausted: InFlightRecord[] = [];
    let released = 0;
    if (now < this.nextDeadline || this.acquiredCount === 0) return { released, exhausted };
    let next = Infinity;
    for (const e of this.entries.values()) {
      if (e.state !== 'acquired') continue;
      if (e.deadline > now) {
        if (e.deadline < next) next = e.deadline;
        continue;
      }
      if (this.endLease(e, maxDeliveryCount)) released++;
      else exhausted.push(e);
    }
    this.nextDeadline = next;
    return { released, exhausted };
  }

  /**
   * The lease a receipt names, if it is live: the entry, or 'expired' (over: timed out, released, acked,
   * leased again, or never in this window).
   */
  leaseOf(offset: number, leaseId: number, now: number): InFlightRecord | 'expired' {
    const e = this.entries.get(offset);
    if (!e || e.state !== 'acquired' || e.leaseId !== leaseId || e.deadline <= now) return 'expired';
    return e;
  }

  /** Ends a live lease early (release): available again, or archived (returned false) past maxDeliveryCount. */
  release(e: InFlightRecord, maxDeliveryCount: number): boolean {
    return this.endLease(e, maxDeliveryCount);
  }

  private endLease(e: InFlightRecord, maxDeliveryCount: number): boolean {
    this.acquiredCount--;
    e.leaseId = 0;
    if (e.deliveryCount >= maxDeliveryCount) {
      e.state = 'archived';
      return false;
    }
    e.state = 'available';
    this.availableCount++;
    if (e.offset < this.availableFrom) this.availableFrom = e.offset;
    return true;
  }

  /** A leased record is done (accept, reject): it will not be delivered again. */
  settle(e: InFlightRecord, state: 'accepted' | 'archived'): void {
    if (e.state === 'acquired') this.acquiredCount--;
    else if (e.state === 'available') this.availableCount--;
    e.state = state;
    e.leaseId = 0;
  }

  /** Undoes `settle` after the store failed to write it: the record is available again. */
  unsettle(e: InFlightRecord): void {
    if (e.state !== 'accepted' && e.state !== 'archived') return;
    e.state = 'available';
    this.availableCount++;
    if (e.offset < this.availableFrom) this.availableFrom = e.offset;
  }

  /** Leases stay valid for `ms` more from now. */
  extend(e: InFlightRecord, now: number, ms: number): void {
    e.deadline = now + ms;
    if (e.deadline < this.nextDeadline) this.nextDeadline = e.deadline;
  }

  /**
   * Moves the start past done records and gaps, and past what retention deleted (`logStartOffset`); returns
   * whether it moved.
   */
  advance(logStartOffset: number): boolean {
    const before = this.startOffset;
    if (logStartOffset > this.startOffset) {
      for (let o = this.startOffset; o < Math.min(logStartOffset, this.endOffset); o++) this.drop(o);
      this.startOffset = logStartOffset;
      if (this.endOffset < logStartOffset) this.endOffset = logStartOffset;
    }
    while (this.startOffset < this.endOffset) {
      const e = this.entries.get(this.startOffset);
      if (e && e.state !== 'accepted' && e.state !== 'archived') break;
      this.entries.delete(this.startOffset);
      this.startOffset++;
    }
    // Records restored as done above the end: the start may pass them too once the end reaches them.
    if (this.availableFrom < this.startOffset) this.availableFrom = this.startOffset;
    return this.startOffset !== before;
  }

  private drop(offset: number): void {
    const e = this.entries.get(offset);
    if (!e) return;
    if (e.state === 'acquired') this.acquiredCount--;
    if (e.state === 'available') this.availableCount--;
    this.entries.delete(offset);
  }

  /** Done entries above the start (for the store's snapshot). */
  *doneEntries(): Generator<[number, { state: 'accepted' | 'archived'; deliveryCount: number }]> {
    for (const e of this.entries.values()) {
      if (e.state === 'accepted' || e.state === 'archived') yield [e.offset, { state: e.state, deliveryCount: e.deliveryCount }];
    }
  }

  /** Every lease ends now (the group is deleted or the partition moves away). */
  clear(): void {
    this.entries.clear();
    this.acquiredCount = 0;
    this.availableCount = 0;
  }
}
