/**
 * Consumer groups on this broker: membership (consumer-group.ts) kept in memory, commits and group
 * generations kept durably in `__consumer_offsets` (offsets-store.ts). Sessions expire on the injected
 * clock; offsets of a group that stayed empty for `offsetsRetentionMs` expire too.
 *
 * After a restart the groups come back with their committed offsets and their generation (so a member from
 * before the restart stays fenced), but without members: a member's next heartbeat gets UNKNOWN_MEMBER_ID and
 * it joins again. Groups are empty from that start on, for offsets retention.
 *
 * A group that is deleted or expires leaves the in-memory map before its tombstone is written, so a join
 * arriving meanwhile starts a new group instead of joining one that is about to vanish.
 */
import type { Clock } from '../log/clock.js';
import { BrokerError } from '../log/errors.js';
import type { LogEvents } from '../log/log-config.js';
import type { AssignedPartition, AssignorName } from './assignors.js';
import { ConsumerGroup, type MemberView } from './consumer-group.js';
import { OFFSETS_TOPIC, OffsetsStore, splitKey, type OffsetsEntry } from './offsets-store.js';
import type { TopicManager } from './topic-manager.js';

export interface CoordinatorOptions {
  offsetsTopicPartitions: number;
  offsetsRetentionMs: number;
  /** how often sessions, topic changes and offsets retention are checked */
  sweepIntervalMs?: number;
  hash: (key: Uint8Array) => number;
}

export interface OffsetCommit {
  topic: string;
  partition: number;
  offset: number;
  metadata?: string;
}

export interface OffsetWithLag {
  topic: string;
  partition: number;
  offset: number;
  metadata: string;
  highWatermark: number;
  lag: number;
}

const MAX_METADATA_LENGTH = 4096;
const OFFSETS_TOPIC_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

export class GroupCoordinator {
  private readonly groups = new Map<string, ConsumerGroup>();
  /** when each group without members became empty (offsets retention counts from here) */
  private readonly emptySince = new Map<string, number>();
  private stopSweep: () => void = () => undefined;
  private closed = false;

  private constructor(
    private readonly topics: TopicManager,
    private readonly store: OffsetsStore,
    private readonly clock: Clock,
    private readonly events: LogEvents,
    private readonly options: CoordinatorOptions,
  ) {}

  static async open(topics: TopicManager, clock: Clock, events: LogEvents, options: CoordinatorOptions): Promise<GroupCoordinator> {
    if (!topics.list().some((t) => t.name === OFFSETS_TOPIC)) {
      await topics.create(
        { name: OFFSETS_TOPIC, partitions: options.offsetsTopicPartitions, config: { segmentBytes: 1_048_576, maxMessageBytes: OFFSETS_TOPIC_MAX_MESSAGE_BYTES } },
        true,
      );
    }
    const count = topics.topic(OFFSETS_TOPIC).partitions;
    const store = new OffsetsStore(count, (p) => topics.partition(OFFSETS_TOPIC, p), clock, events);
    await store.load();
    const coordinator = new GroupCoordinator(topics, store, clock, events, options);
    const now = clock.now();
    for (const group of store.groupsOf()) {
      const g = new ConsumerGroup(group);
      const record = store.groupRecord(coordinator.indexOf(group), group);
      g.generation = record?.generation ?? 0;
      coordinator.groups.set(group, g);
      coordinator.emptySince.set(group, record?.emptySince ?? now);
    }
    await coordinator.forgetDeletedTopics();
    coordinator.scheduleSweep();
    return coordinator;
  }

  private indexOf(group: string): number {
    return this.store.partitionOf(group, this.options.hash);
  }

  /** Refuses, before anything changes in memory, a call for a group whose offsets partition is offline. */
  private checkAvailable(group: string): void {
    const unavailable = this.store.unavailable(this.indexOf(group));
    if (unavailable) throw unavailable;
  }

  /** The group if it exists (members, offsets or a stored generation); UNKNOWN_GROUP otherwise. */
  private existing(group: string): ConsumerGroup {
    const g = this.groups.get(group);
    if (!g) throw new BrokerError('UNKNOWN_GROUP', `group ${JSON.stringify(group)} does not exist`, { details: { group } });
    return g;
  }

  /** For member-scoped calls: an unknown group means an unknown member. */
  private ofMember(group: string, memberId: string): ConsumerGroup {
    const g = this.groups.get(group);
    if (!g) {
      throw new BrokerError('UNKNOWN_MEMBER_ID', `member ${memberId} is not in group ${group} (expired or never joined)`, { details: { group, memberId } });
    }
    return g;
  }

  private partitionCounts(): Map<string, number> {
    return new Map(this.topics.list().map((t) => [t.name, t.partitions]));
  }

  private groupEntry(g: ConsumerGroup): OffsetsEntry {
    return { key: { type: 'group', group: g.groupId }, value: { generation: g.generation, emptySince: g.state === 'Empty' ? this.emptySince.get(g.groupId) ?? null : null } };
  }

  /** Records emptiness and writes the group's generation after a membership change. */
  private async membershipChanged(g: ConsumerGroup): Promise<void> {
    if (g.state === 'Empty') {
      if (!this.emptySince.has(g.groupId)) this.emptySince.set(g.groupId, this.clock.now());
    } else {
      this.emptySince.delete(g.groupId);
    }
    await this.store.write(this.indexOf(g.groupId), [this.groupEntry(g)]);
  }

  async join(group: string, request: { topics: string[]; sessionTimeoutMs?: number; assignor?: AssignorName }): Promise<MemberView> {
    this.checkAvailable(group);
    for (const topic of request.topics) this.topics.topic(topic);
    const existing = this.groups.get(group);
    const g = existing ?? new ConsumerGroup(group);
    const view = g.join(request, this.clock.now(), this.partitionCounts());
    if (!existing) this.groups.set(group, g);
    await this.membershipChanged(g);
    this.events.info({ group, memberId: view.memberId, generation: view.generation }, 'member joined');
    return { ...view, generation: g.generation, assignments: g.heartbeat(view.memberId, this.clock.now()).assignments };
  }

  async heartbeat(group: string, memberId: string): Promise<{ generation: number; assignments: AssignedPartition[] }> {
    const g = this.ofMember(group, memberId);
    const before = g.generation;
    try {
      // Sessions that ran out go first, so a heartbeat never reports an assignment that includes dead members.
      g.tick(this.clock.now(), this.partitionCounts());
      const view = g.heartbeat(memberId, this.clock.now());
      return { generation: view.generation, assignments: view.assignments };
    } finally {
      if (g.generation !== before) await this.membershipChanged(g);
    }
  }

  async leave(group: string, memberId: string): Promise<void> {
    const g = this.ofMember(group, memberId);
    g.leave(memberId, this.partitionCounts());
    await this.membershipChanged(g);
    this.events.info({ group, memberId, generation: g.generation }, 'member left');
  }

  async commit(group: string, request: { memberId?: string; generation?: number; offsets: OffsetCommit[] }): Promise<void> {
    this.checkAvailable(group);
    const existing = this.groups.get(group);
    // A standalone commit may create the group, but only once it is stored.
    const g = existing ?? (request.memberId === undefined ? new ConsumerGroup(group) : this.ofMember(group, request.memberId));
    g.checkCommit(request.memberId, request.generation);
    if (request.offsets.length === 0) throw new BrokerError('INVALID_REQUEST', 'offsets must not be empty');
    if (request.memberId !== undefined) g.checkOwnership(request.memberId, request.offsets);
    const now = this.clock.now();
    const entries: OffsetsEntry[] = request.offsets.map((o) => {
      const partition = this.topics.partition(o.topic, o.partition);
      if (!Number.isSafeInteger(o.offset) || o.offset < 0 || o.offset > partition.highWatermark) {
        throw new BrokerError('OFFSET_OUT_OF_RANGE', `offset ${o.offset} for ${o.topic}-${o.partition} is outside [0, ${partition.highWatermark}]`, {
          details: { topic: o.topic, partition: o.partition, logStartOffset: partition.logStartOffset, highWatermark: partition.highWatermark },
        });
      }
      const metadata = o.metadata ?? '';
      if (metadata.length > MAX_METADATA_LENGTH) throw new BrokerError('INVALID_REQUEST', `metadata is longer than ${MAX_METADATA_LENGTH} characters`);
      return { key: { type: 'offset', group, topic: o.topic, partition: o.partition }, value: { offset: o.offset, metadata, commitTimestamp: now } };
    });
    // A commit to a group without members is activity: offsets retention counts from the latest one.
    if (g.state === 'Empty') this.emptySince.set(group, now);
    entries.push(this.groupEntry(g));
    await this.store.write(this.indexOf(group), entries);
    if (!this.groups.has(group)) this.groups.set(group, g);
  }

  offsets(group: string): OffsetWithLag[] {
    this.existing(group);
    const out: OffsetWithLag[] = [];
    for (const [key, committed] of this.store.offsets(this.indexOf(group), group)) {
      const [topic, partition] = splitKey(key);
      let highWatermark = committed.offset;
      try {
        highWatermark = this.topics.partition(topic, partition).highWatermark;
      } catch {
        // the topic is gone (its offsets are being forgotten): report no lag
      }
      out.push({ topic, partition, offset: committed.offset, metadata: committed.metadata, highWatermark, lag: Math.max(0, highWatermark - committed.offset) });
    }
    return out.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  }

  list(): { group: string; state: string; members: number }[] {
    return [...this.groups.values()].map((g) => ({ group: g.groupId, state: g.state, members: g.memberCount })).sort((a, b) => (a.group < b.group ? -1 : 1));
  }

  describe(group: string) {
    const g = this.existing(group);
    return { group, state: g.state, generation: g.generation, assignor: g.assignor, members: g.describeMembers() };
  }

  /** Sets every partition of `topic` to `offsetFor(partition)` (the group must be empty); returns the offsets. */
  async resetOffsets(
    group: string,
    topic: string,
    offsetFor: (partition: number) => Promise<number>,
  ): Promise<{ topic: string; partition: number; offset: number }[]> {
    const g = this.existing(group);
    g.checkEmpty('reset offsets');
    const meta = this.topics.topic(topic);
    const offsets: OffsetCommit[] = [];
    for (let p = 0; p < meta.partitions; p++) offsets.push({ topic, partition: p, offset: await offsetFor(p), metadata: '' });
    await this.commit(group, { offsets });
    return offsets.map(({ topic: t, partition, offset }) => ({ topic: t, partition, offset }));
  }

  async deleteGroup(group: string): Promise<void> {
    const g = this.existing(group);
    g.checkEmpty('delete the group');
    await this.forget(g);
    this.events.info({ group }, 'group deleted');
  }

  /** Drops the group from memory now, then writes its tombstone. */
  private async forget(g: ConsumerGroup): Promise<void> {
    this.groups.delete(g.groupId);
    this.emptySince.delete(g.groupId);
    await this.store.write(this.indexOf(g.groupId), [{ key: { type: 'group', group: g.groupId }, value: null }]);
  }

  /** Removes every group's offsets of a deleted topic (a new topic of that name starts fresh). */
  async forgetTopic(topic: string): Promise<void> {
    const byIndex = new Map<number, OffsetsEntry[]>();
    for (const { index, group, partition } of this.store.offsetsOfTopic(topic)) {
      const entries = byIndex.get(index) ?? [];
      entries.push({ key: { type: 'offset', group, topic, partition }, value: null });
      byIndex.set(index, entries);
    }
    for (const [index, entries] of byIndex) await this.store.write(index, entries);
  }

  private async forgetDeletedTopics(): Promise<void> {
    const live = new Set(this.topics.list().map((t) => t.name));
    const gone = new Set(
      [...this.groups.keys()]
        .flatMap((group) => [...this.store.offsets(this.indexOf(group), group).keys()].map((k) => splitKey(k)[0]))
        .filter((t) => !live.has(t)),
    );
    for (const topic of gone) await this.forgetTopic(topic);
  }

  /** Lag per group and partition (metrics). */
  allLags(): { group: string; topic: string; partition: number; lag: number }[] {
    return [...this.groups.keys()].flatMap((group) => this.offsets(group).map((o) => ({ group, topic: o.topic, partition: o.partition, lag: o.lag })));
  }

  private scheduleSweep(): void {
    const interval = this.options.sweepIntervalMs ?? 1_000;
    // One sweep at a time; a tick that comes while one runs makes it run once more when it ends.
    let running = false;
    let again = false;
    const run = () => {
      running = true;
      void this.sweep()
        .catch((err) => this.events.error({ err }, 'group session sweep failed'))
        .finally(() => {
          running = false;
          if (again && !this.closed) {
            again = false;
            run();
          }
        });
    };
    const tick = () => {
      if (!this.closed) this.stopSweep = this.clock.setTimer(interval, tick);
      if (running) again = true;
      else run();
    };
    this.stopSweep = this.clock.setTimer(interval, tick);
  }

  /**
   * Expires members whose session ran out, reassigns groups whose topics changed, and forgets groups that
   * stayed empty for offsetsRetentionMs.
   */
  async sweep(): Promise<void> {
    const now = this.clock.now();
    const counts = this.partitionCounts();
    for (const g of [...this.groups.values()]) {
      const before = g.generation;
      const gone = g.tick(now, counts);
      if (gone.length > 0) this.events.info({ group: g.groupId, members: gone, generation: g.generation }, 'member sessions expired');
      if (g.generation !== before) await this.membershipChanged(g);
      const since = this.emptySince.get(g.groupId);
      if (g.state === 'Empty' && since !== undefined && now - since >= this.options.offsetsRetentionMs && this.groups.get(g.groupId) === g) {
        await this.forget(g);
        this.events.info({ group: g.groupId }, 'offsets of an empty group expired');
      }
    }
  }

  close(): void {
    this.closed = true;
    this.stopSweep();
  }
}
