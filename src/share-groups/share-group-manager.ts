/**
 * Share groups on this broker (queue semantics on a topic, KIP-932 style): each record goes to one receiver
 * at a time under a lease, and is delivered again only when its lease ends without an accept or reject.
 *
 * Owns the groups (config, durable in the share-state log), and per group and partition a SharePartition
 * (share-partition.ts) made on first use from the durable state. Receives are served from memory: a
 * share-partition reads batches from the log once into its window and hands out leases on ranges of it; a
 * receive with nothing to hand out waits on the partitions' high watermarks (delayed operations) and on
 * leases ending, up to maxWaitMs. Acks are written to the share-state log before the reply.
 *
 * Leadership: share-partitions live with the partition's leader. `unloadPartition` drops a partition's state
 * here (its leases end; waiting receives return), `loadPartition` replays it from the share-state log, as a
 * new leader does. Partitions this broker does not lead are skipped by receives and their receipts expire.
 *
 * Concurrency: everything that changes a share-partition happens synchronously on the event loop, except
 * reading from the log (one read at a time per share-partition) and durable writes. Acks mark records done
 * before the write and undo it if the write fails, so a lease timer can never re-lease a record being acked.
 */
import { randomInt } from 'node:crypto';
import { BrokerError } from '../common/errors.js';
import { batchesOf, decodeRecords } from '../log/batch-decoder.js';
import type { Clock } from '../log/clock.js';
import type { LogEvents } from '../log/log-config.js';
import { isControlBatch, lastOffsetOf, type StoredRecord } from '../log/record-batch.js';
import { partitionKey, INTERNAL_TOPIC_PREFIX } from '../common/topic-names.js';
import type { Partition } from '../replication/partition.js';
import { validateTopicName, type TopicManager } from '../topics/topic-manager.js';
import { encodeReceipt } from './receipts.js';
import { mergeConfig, SHARE_GROUP_DEFAULTS, validateGroupId, type ShareGroupConfig } from './share-group-config.js';
import { SharePartition } from './share-partition.js';
import { SHARE_STATE_TOPIC, ShareStateStore } from './share-state-store.js';
import { ShareAcks, type AckType, type ItemResult } from './share-acks.js';
import type { ShareGroup } from './share-group.js';
import { ShareGroupStats } from './share-group-stats.js';

export interface ShareGroupOptions {
  stateTopicPartitions: number;
  maxInFlightPerPartition: number;
  hash: (key: Uint8Array) => number;
  /** bytes read from the log per fill of a share-partition's window */
  readBytes?: number;
}

export interface ReceiveRequest {
  topics: string[];
  maxRecords: number;
  maxWaitMs: number;
  visibilityTimeoutMs?: number;
}

export interface ReceivedRecord {
  topic: string;
  partition: number;
  record: StoredRecord;
  deliveryCount: number;
  receipt: string;
}

export interface SharePartitionDescription {
  topic: string;
  partition: number;
  startOffset: number;
  acquired: number;
  available: number;
  lag: number;
}


const STATE_SEGMENT_BYTES = 1_048_576;

export class ShareGroupManager {
  readonly stats = new ShareGroupStats();
  private readonly groups = new Map<string, ShareGroup>();
  private readonly fills = new WeakMap<SharePartition, Promise<void>>();
  /** the Partition each share-partition was made for (a topic created again has a new one) */
  private readonly sources = new WeakMap<SharePartition, Partition>();
  private readonly timers = new Map<SharePartition, { at: number; cancel: () => void }>();
  private closed = false;
  private readonly acks: ShareAcks;

  private constructor(
    private readonly topics: TopicManager,
    private readonly store: ShareStateStore,
    private readonly clock: Clock,
    private readonly events: LogEvents,
    private readonly options: ShareGroupOptions,
  ) {
    const host = {
      group: (name: string) => this.groups.get(name),
      maintain: (g: ShareGroup, sp: SharePartition, partition: Partition) => this.maintain(g, sp, partition),
      wake: (g: ShareGroup) => this.wake(g),
      scheduleExpiry: (g: ShareGroup, sp: SharePartition) => this.scheduleExpiry(g, sp),
    };
    this.acks = new ShareAcks(host, topics, store, clock, events, this.stats);
  }

  static async open(topics: TopicManager, clock: Clock, events: LogEvents, options: ShareGroupOptions): Promise<ShareGroupManager> {
    if (!topics.list().some((t) => t.name === SHARE_STATE_TOPIC)) {
      await topics.create({ name: SHARE_STATE_TOPIC, partitions: options.stateTopicPartitions, config: { segmentBytes: STATE_SEGMENT_BYTES, maxMessageBytes: 8 * 1024 * 1024 } }, true);
    }
    const count = topics.topic(SHARE_STATE_TOPIC).partitions;
    const store = new ShareStateStore(count, (p) => topics.partition(SHARE_STATE_TOPIC, p), options.hash, clock, events);
    await store.load();
    const manager = new ShareGroupManager(topics, store, clock, events, options);
    for (const [name, config] of store.configs()) manager.groups.set(name, { name, config, partitions: new Map(), waiters: new Set(), cursor: 0 });
    return manager;
  }

  // ---------------------------------------------------------------- groups

  /** Creates or updates a group's config (durable before it applies). */
  async configure(group: string, changes: Partial<ShareGroupConfig>): Promise<ShareGroupConfig> {
    validateGroupId(group);
    const existing = this.groups.get(group);
    const config = mergeConfig(existing?.config ?? SHARE_GROUP_DEFAULTS, changes);
    if (changes.deadLetterTopic) {
      validateTopicName(changes.deadLetterTopic);
      if (changes.deadLetterTopic.startsWith(INTERNAL_TOPIC_PREFIX)) throw new BrokerError('INVALID_REQUEST', 'the dead-letter topic cannot be an internal topic');
      this.topics.topic(changes.deadLetterTopic);
    }
    await this.store.write(this.store.indexOfGroup(group), [{ key: { t: 'group', g: group }, value: config }]);
    const g = this.groups.get(group);
    if (g) g.config = config;
    else this.groups.set(group, { name: group, config, partitions: new Map(), waiters: new Set(), cursor: 0 });
    return config;
  }

  private existing(group: string): ShareGroup {
    const g = this.groups.get(group);
    if (!g) throw new BrokerError('UNKNOWN_GROUP', `share group ${JSON.stringify(group)} does not exist`, { details: { group } });
    return g;
  }

  list(): { group: string; topics: string[] }[] {
    const topicsOf = new Map<string, Set<string>>([...this.groups.keys()].map((g) => [g, new Set<string>()]));
    for (const [g, topic] of this.store.sharePartitions()) topicsOf.get(g)?.add(topic);
    for (const g of this.groups.values()) for (const sp of g.partitions.values()) topicsOf.get(g.name)?.add(sp.topic);
    return [...topicsOf].sort(([a], [b]) => (a < b ? -1 : 1)).map(([group, topics]) => ({ group, topics: [...topics].sort() }));
  }

  describe(group: string): { group: string; config: ShareGroupConfig; partitions: SharePartitionDescription[] } {
    const g = this.existing(group);
    const keys = new Map<string, [string, number]>();
    for (const [name, topic, p] of this.store.sharePartitions()) if (name === group) keys.set(partitionKey(topic, p), [topic, p]);
    for (const sp of g.partitions.values()) keys.set(partitionKey(sp.topic, sp.partition), [sp.topic, sp.partition]);
    const partitions: SharePartitionDescription[] = [];
    for (const [topic, p] of [...keys.values()].sort((a, b) => (a[0] === b[0] ? a[1] - b[1] : a[0] < b[0] ? -1 : 1))) {
      let partition: Partition;
      try {
        partition = this.topics.partition(topic, p);
      } catch {
        continue; // its topic was deleted
      }
      const sp = g.partitions.get(partitionKey(topic, p));
      if (sp) this.maintain(g, sp, partition);
      const startOffset = sp?.startOffset ?? Math.max(this.store.durableState(group, topic, p)?.start ?? 0, partition.logStartOffset);
      const acquired = sp?.acquiredCount ?? 0;
      const available = (sp?.availableCount ?? 0) + Math.max(0, partition.highWatermark - (sp?.endOffset ?? startOffset));
      partitions.push({ topic, partition: p, startOffset, acquired, available, lag: acquired + available });
    }
    return { group, config: g.config, partitions };
  }

  /** Deletes a group: its leases end at once, its state and config go from the share-state log. */
  async delete(group: string): Promise<void> {
    const g = this.existing(group);
    this.groups.delete(group);
    for (const sp of g.partitions.values()) this.drop(sp);
    this.wake(g);
    const indexes = new Set([this.store.indexOfGroup(group)]);
    for (const [name, topic, p] of this.store.sharePartitions()) if (name === group) indexes.add(this.store.indexOfPartition(topic, p));
    await Promise.all([...indexes].map((i) => this.store.write(i, [{ key: { t: 'group', g: group }, value: null }])));
  }

  // ---------------------------------------------------------------- leadership

  /** This broker leads the partition now: its share-partitions are read from the share-state log on first use. */
  async loadPartition(topic: string, partition: number): Promise<void> {
    this.unloadPartition(topic, partition);
    await this.store.loadPartition(this.store.indexOfPartition(topic, partition));
  }

  /** This broker no longer leads the partition: its share-partitions (and their leases) are dropped here. */
  unloadPartition(topic: string, partition: number): void {
    const key = partitionKey(topic, partition);
    for (const g of this.groups.values()) {
      const sp = g.partitions.get(key);
      if (!sp) continue;
      g.partitions.delete(key);
      this.drop(sp);
      this.wake(g);
    }
  }

  private drop(sp: SharePartition): void {
    sp.clear();
    this.timers.get(sp)?.cancel();
    this.timers.delete(sp);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    for (const g of this.groups.values()) this.wake(g);
  }

  /** Every group's share-partitions (metrics). */
  /** Applies acks in order; accepts and rejects are durable before this resolves (share-acks.ts). */
  acknowledge(group: string, acks: { receipt: unknown; type: AckType }[]): Promise<ItemResult[]> {
    return this.acks.acknowledge(group, acks);
  }

  /** Extends live leases to `ms` from now (SQS ChangeMessageVisibility). */
  changeVisibility(group: string, receipts: unknown[], ms: number): ItemResult[] {
    return this.acks.changeVisibility(group, receipts, ms);
  }

  *allSharePartitions(): Generator<{ group: string; sp: SharePartition }> {
    for (const g of this.groups.values()) for (const sp of g.partitions.values()) yield { group: g.name, sp };
  }

  // ---------------------------------------------------------------- receive

  async receive(group: string, request: ReceiveRequest): Promise<ReceivedRecord[]> {
    validateGroupId(group);
    const targets: [string, number][] = [];
    for (const topic of new Set(request.topics)) {
      if (topic.startsWith(INTERNAL_TOPIC_PREFIX)) throw new BrokerError('INVALID_REQUEST', `${topic} is an internal topic`);
      const count = this.topics.topic(topic).partitions;
      for (let p = 0; p < count; p++) targets.push([topic, p]);
    }
    let g = this.groups.get(group);
    if (!g) {
      await this.configure(group, {});
      g = this.groups.get(group)!;
    }
    const visibilityTimeoutMs = request.visibilityTimeoutMs ?? g.config.visibilityTimeoutMs;
    const deadline = this.clock.now() + request.maxWaitMs;
    for (;;) {
      const out = await this.tryReceive(g, targets, request.maxRecords, visibilityTimeoutMs);
      const left = deadline - this.clock.now();
      if (out.length > 0 || left <= 0 || this.closed || this.groups.get(group) !== g) return out;
      await this.waitForRecords(g, targets, left);
    }
  }

  private async tryReceive(g: ShareGroup, targets: [string, number][], maxRecords: number, visibilityTimeoutMs: number): Promise<ReceivedRecord[]> {
    const out: ReceivedRecord[] = [];
    const first = g.cursor++ % targets.length;
    for (let i = 0; i < targets.length && out.length < maxRecords; i++) {
      const [topic, p] = targets[(first + i) % targets.length]!;
      const partition = this.topics.partition(topic, p);
      if (!partition.isLeader) continue;
      const sp = await this.sharePartition(g, topic, p, partition);
      if (!sp) return out; // the group went away meanwhile
      this.maintain(g, sp, partition);
      if (sp.availableCount < maxRecords - out.length) await this.fill(sp, partition);
      if (this.groups.get(g.name) !== g || g.partitions.get(partitionKey(topic, p)) !== sp) continue;
      const now = this.clock.now();
      const secret = this.store.secretOf(this.store.indexOfPartition(topic, p));
      for (const e of sp.acquire(maxRecords - out.length, now, visibilityTimeoutMs)) {
        const receipt = encodeReceipt(secret, g.name, { topic, partition: p, offset: e.offset, incarnation: sp.incarnation, leaseId: e.leaseId });
        out.push({ topic, partition: p, record: e.record!, deliveryCount: e.deliveryCount, receipt });
        this.stats.delivered++;
        if (e.deliveryCount > 1) this.stats.redelivered++;
      }
      this.scheduleExpiry(g, sp);
    }
    return out;
  }

  /** The group's share-partition, made from the durable state on first use (null if the group was deleted). */
  private async sharePartition(g: ShareGroup, topic: string, p: number, partition: Partition): Promise<SharePartition | null> {
    const key = partitionKey(topic, p);
    const existing = g.partitions.get(key);
    if (existing && this.sources.get(existing) === partition) return existing;
    let durable = this.store.durableState(g.name, topic, p);
    // A share-partition of a topic that was deleted and created again (a new Partition here, or a start past
    // the log's end after a restart) starts over.
    const stale = existing !== undefined || (durable !== undefined && durable.start > partition.logEndOffset);
    if (existing) {
      g.partitions.delete(key);
      this.drop(existing);
    }
    if (stale) durable = undefined;
    let start = durable?.start;
    if (start === undefined) {
      start = g.config.startFrom === 'earliest' ? partition.logStartOffset : partition.highWatermark;
      // The start is durable before the first lease, so a restart does not skip (latest) what came after it.
      await this.store.write(this.store.indexOfPartition(topic, p), [{ key: { t: 'sp', g: g.name, topic, p }, value: { start, done: [], snapshot: true } }]);
      if (this.groups.get(g.name) !== g) return null;
      const raced = g.partitions.get(key);
      if (raced) return raced;
    }
    const sp = new SharePartition(topic, p, randomInt(1, 2 ** 47), start, durable?.done ?? []);
    g.partitions.set(key, sp);
    this.sources.set(sp, partition);
    return sp;
  }

  /** Ends leases that are over, moves the start past done records and retention. */
  private maintain(g: ShareGroup, sp: SharePartition, partition: Partition): void {
    const { released, exhausted } = sp.expire(this.clock.now(), g.config.maxDeliveryCount);
    this.stats.expired += released + exhausted.length;
    if (exhausted.length > 0) this.acks.archive(g, sp, exhausted, 'max-deliveries');
    if (released > 0) this.wake(g);
    sp.advance(partition.logStartOffset);
  }

  /** Reads from the log into the window (one read at a time per share-partition). */
  private fill(sp: SharePartition, partition: Partition): Promise<void> {
    const running = this.fills.get(sp);
    if (running) return running;
    const limit = this.options.maxInFlightPerPartition;
    if (sp.window >= limit || partition.highWatermark <= sp.endOffset) return Promise.resolve();
    const work = (async () => {
      const from = Math.max(sp.endOffset, partition.logStartOffset);
      const { bytes, nextOffset } = await partition.read(from, this.options.readBytes ?? 1 << 20);
      const records: StoredRecord[] = [];
      let end = from;
      for (const batch of batchesOf(bytes)) {
        if (sp.window + records.length >= limit) break;
        end = lastOffsetOf(batch.header) + 1;
        if (isControlBatch(batch.header) || end <= from) continue;
        for (const r of decodeRecords(batch.bytes, batch.header)) if (r.offset >= from) records.push(r);
      }
      sp.advance(partition.logStartOffset);
      sp.addFetched(records, limit);
      sp.skipTo(Math.min(end, nextOffset), limit);
    })().finally(() => this.fills.delete(sp));
    this.fills.set(sp, work);
    return work;
  }

  private waitForRecords(g: ShareGroup, targets: [string, number][], ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let finished = false;
      const cancels: (() => void)[] = [];
      const done = () => {
        if (finished) return;
        finished = true;
        g.waiters.delete(done);
        for (const cancel of cancels) cancel();
        resolve();
      };
      g.waiters.add(done);
      cancels.push(this.clock.setTimer(ms, done));
      for (const [topic, p] of targets) {
        if (finished) break;
        const sp = g.partitions.get(partitionKey(topic, p));
        if (!sp || sp.window >= this.options.maxInFlightPerPartition) continue;
        cancels.push(this.topics.partition(topic, p).whenHighWatermarkReaches(sp.endOffset + 1, done));
      }
    });
  }

  private wake(g: ShareGroup): void {
    for (const waiter of [...g.waiters]) waiter();
  }

  /** A timer at the share-partition's earliest lease end, so leases end (and waiting receives wake) on time. */
  private scheduleExpiry(g: ShareGroup, sp: SharePartition): void {
    const at = sp.earliestDeadline;
    const current = this.timers.get(sp);
    if (at === Infinity || this.closed || (current && current.at <= at)) return;
    current?.cancel();
    const cancel = this.clock.setTimer(Math.max(0, at - this.clock.now()), () => {
      this.timers.delete(sp);
      if (this.groups.get(g.name) !== g || g.partitions.get(partitionKey(sp.topic, sp.partition)) !== sp) return;
      try {
        this.maintain(g, sp, this.topics.partition(sp.topic, sp.partition));
      } catch (err) {
        this.events.warn({ err, group: g.name, topic: sp.topic, partition: sp.partition }, 'ending share-group leases failed');
      }
      this.scheduleExpiry(g, sp);
    });
    this.timers.set(sp, { at, cancel });
  }
}
