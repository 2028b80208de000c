/**
 * The ack side of share groups: accept, release and reject with one result per receipt, visibility
 * extensions, and archiving (dead-letter topic, then the share-state log) of records that may not be
 * delivered again. Accepts and rejects are marked done in memory before they are written (so a lease timer
 * cannot lease them again meanwhile) and undone if the write fails; the reply waits for the write.
 */
import { BrokerError } from '../common/errors.js';
import type { Clock } from '../log/clock.js';
import type { LogEvents } from '../log/log-config.js';
import { partitionKey } from '../common/topic-names.js';
import type { Partition } from '../replication/partition.js';
import type { TopicManager } from '../topics/topic-manager.js';
import { appendDeadLetters, type DeadLetter, type DeadLetterReason } from './dead-letters.js';
import { parseReceipt, verifyReceipt } from './receipts.js';
import type { ShareGroup } from './share-group.js';
import type { ShareGroupStats } from './share-group-stats.js';
import type { InFlightRecord, SharePartition } from './share-partition.js';
import { doneList, type ShareStateStore, type StateEntry } from './share-state-store.js';

export type AckType = 'accept' | 'release' | 'reject';

export type ItemResult = { receipt: unknown; ok: true } | { receipt: unknown; error: BrokerError };

/** What the ack side needs from the manager. */
export interface AckHost {
  /** the live group of that name */
  group(name: string): ShareGroup | undefined;
  /** ends leases that are over and moves the start (may call `archive`) */
  maintain(g: ShareGroup, sp: SharePartition, partition: Partition): void;
  /** wakes the group's waiting receives */
  wake(g: ShareGroup): void;
  /** keeps the share-partition's lease timer at its earliest deadline */
  scheduleExpiry(g: ShareGroup, sp: SharePartition): void;
}

export class ShareAcks {
  constructor(
    private readonly host: AckHost,
    private readonly topics: TopicManager,
    private readonly store: ShareStateStore,
    private readonly clock: Clock,
    private readonly events: LogEvents,
    private readonly stats: ShareGroupStats,
  ) {}

  /** Resolves a receipt to its live lease, or the per-item error (never issued, or its lease is over). */
  private lease(g: ShareGroup | undefined, receipt: unknown): { sp: SharePartition; e: InFlightRecord } | BrokerError {
    const parsed = parseReceipt(receipt);
    if (!parsed || !g) return invalidReceipt();
    let secret: string;
    try {
      secret = this.store.secretOf(this.store.indexOfPartition(parsed.topic, parsed.partition));
    } catch {
      return invalidReceipt();
    }
    if (!verifyReceipt(secret, g.name, parsed)) return invalidReceipt();
    const sp = g.partitions.get(partitionKey(parsed.topic, parsed.partition));
    if (sp && sp.incarnation === parsed.incarnation) {
      try {
        this.host.maintain(g, sp, this.topics.partition(sp.topic, sp.partition));
      } catch {
        // the topic is gone: its leases are over
      }
      const e = sp.leaseOf(parsed.offset, parsed.leaseId, this.clock.now());
      if (e !== 'expired') return { sp, e };
    }
    return new BrokerError('RECEIPT_EXPIRED', `the lease of ${parsed.topic}/${parsed.partition} offset ${parsed.offset} is over (timed out, released, acknowledged or leased again)`, {
      details: { topic: parsed.topic, partition: parsed.partition, offset: parsed.offset },
    });
  }

  /** Applies acks in order; accepts and rejects are durable before this resolves. */
  async acknowledge(group: string, acks: { receipt: unknown; type: AckType }[]): Promise<ItemResult[]> {
    const g = this.host.group(group);
    const results: ItemResult[] = [];
    const settled: { sp: SharePartition; e: InFlightRecord; index: number }[] = [];
    const rejected: { sp: SharePartition; e: InFlightRecord; index: number }[] = [];
    const exhausted = new Map<SharePartition, InFlightRecord[]>();
    acks.forEach(({ receipt, type }, index) => {
      const lease = this.lease(g, receipt);
      if (lease instanceof BrokerError) {
        results.push({ receipt, error: lease });
        return;
      }
      results.push({ receipt, ok: true });
      const { sp, e } = lease;
      if (type === 'release') {
        this.stats.released++;
        if (!sp.release(e, g!.config.maxDeliveryCount)) {
          const list = exhausted.get(sp);
          if (list) list.push(e);
          else exhausted.set(sp, [e]);
        }
        return;
      }
      sp.settle(e, type === 'accept' ? 'accepted' : 'archived');
      (type === 'accept' ? settled : rejected).push({ sp, e, index });
    });
    if (!g) return results;
    for (const [sp, entries] of exhausted) this.archive(g, sp, entries, 'max-deliveries');
    if (exhausted.size > 0 || acks.some((a) => a.type === 'release')) this.host.wake(g);
    // Rejected records reach the dead-letter topic before the reject is stored: at least once there.
    if (rejected.length > 0 && g.config.deadLetterTopic) {
      try {
        await appendDeadLetters(this.topics, g.config.deadLetterTopic, rejected.map(({ sp, e }) => this.letter(sp, e, 'rejected')));
        this.stats.deadLettered += rejected.length;
      } catch (err) {
        for (const { sp, e, index } of rejected) {
          sp.unsettle(e);
          results[index] = { receipt: acks[index]!.receipt, error: toBrokerError(err) };
        }
        rejected.length = 0;
        this.host.wake(g);
      }
    }
    const stored = [...settled, ...rejected];
    try {
      await this.storeDone(g, stored.map(({ sp, e }) => ({ sp, e })));
    } catch (err) {
      for (const { sp, e } of stored) sp.unsettle(e);
      this.host.wake(g);
      throw err;
    }
    this.stats.accepted += settled.length;
    this.stats.rejected += rejected.length;
    return results;
  }

  /** Extends live leases to `ms` from now (SQS ChangeMessageVisibility). */
  changeVisibility(group: string, receipts: unknown[], ms: number): ItemResult[] {
    const g = this.host.group(group);
    const now = this.clock.now();
    return receipts.map((receipt) => {
      const lease = this.lease(g, receipt);
      if (lease instanceof BrokerError) return { receipt, error: lease };
      lease.sp.extend(lease.e, now, ms);
      this.host.scheduleExpiry(g!, lease.sp);
      return { receipt, ok: true };
    });
  }

  private letter(sp: SharePartition, e: InFlightRecord, reason: DeadLetterReason): DeadLetter {
    return { topic: sp.topic, partition: sp.partition, record: e.record!, deliveryCount: e.deliveryCount, reason };
  }

  /** Writes done records (and each share-partition's start) to the share-state log, then moves the starts. */
  private async storeDone(g: ShareGroup, done: { sp: SharePartition; e: InFlightRecord }[]): Promise<void> {
    // A group deleted meanwhile must not get state back (its tombstones are queued before this write).
    if (done.length === 0 || this.host.group(g.name) !== g) return;
    const bySp = new Map<SharePartition, InFlightRecord[]>();
    for (const { sp, e } of done) {
      const list = bySp.get(sp);
      if (list) list.push(e);
      else bySp.set(sp, [e]);
    }
    const byIndex = new Map<number, StateEntry[]>();
    for (const [sp, entries] of bySp) {
      const index = this.store.indexOfPartition(sp.topic, sp.partition);
      const list = byIndex.get(index) ?? [];
      list.push({
        key: { t: 'sp', g: g.name, topic: sp.topic, p: sp.partition },
        value: { start: sp.startOffset, done: doneList(entries.map((e) => [e.offset, { state: e.state as 'accepted' | 'archived', deliveryCount: e.deliveryCount }])) },
      });
      byIndex.set(index, list);
    }
    await Promise.all([...byIndex].map(([index, entries]) => this.store.write(index, entries)));
    for (const sp of bySp.keys()) {
      try {
        sp.advance(this.topics.partition(sp.topic, sp.partition).logStartOffset);
      } catch {
        // the topic went away meanwhile
      }
    }
  }

  /**
   * Records that may not be delivered again (maxDeliveryCount reached): to the dead-letter topic if the
   * group has one, then stored as archived. In the background; a failure is logged (the records are then
   * delivered again after a restart, which forgets them).
   */
  archive(g: ShareGroup, sp: SharePartition, entries: InFlightRecord[], reason: DeadLetterReason): void {
    const dlq = g.config.deadLetterTopic;
    void (async () => {
      if (dlq) {
        await appendDeadLetters(this.topics, dlq, entries.map((e) => this.letter(sp, e, reason)));
        this.stats.deadLettered += entries.length;
      }
      this.stats.archived += entries.length;
      await this.storeDone(g, entries.map((e) => ({ sp, e })));
    })().catch((err) => this.events.error({ err, group: g.name, topic: sp.topic, partition: sp.partition }, 'archiving records past maxDeliveryCount failed'));
  }
}

function invalidReceipt(): BrokerError {
  return new BrokerError('INVALID_RECEIPT', 'this receipt was not issued by this share group');
}

function toBrokerError(err: unknown): BrokerError {
  return err instanceof BrokerError ? err : new BrokerError('UNKNOWN_SERVER_ERROR', 'appending to the dead-letter topic failed', { cause: err });
}
