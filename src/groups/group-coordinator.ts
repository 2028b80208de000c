/**
 * Consumer groups on this broker: membership (consumer-group.ts) kept in memory, commits and group
 * generations kept durably in `__consumer_offsets` (offsets-store.ts). Sessions, release deadlines and the
 * initial rebalance delay run on the injected clock; offsets of a group that stayed empty for
 * `offsetsRetentionMs` expire too. Heartbeats may be held as long polls (heartbeat-waits.ts) and are answered
 * as soon as the member's view changes.
 *
 * After a restart the groups come back with their committed offsets, their generation (so a member from
 * before the restart stays fenced) and the number of members they had, but without members: a member's next
 * heartbeat gets UNKNOWN_MEMBER_ID and it joins again, and the group assigns once that many are back (or the
 * initial delay ends). Groups are empty from that start on, for offsets retention.
 *
 * A group that is deleted or expires leaves the in-memory map before its tombstone is written, so a join
 * arriving meanwhile starts a new group instead of joining one that is about to vanish.
 */
import type { Clock } from '../log/clock.js';
import { BrokerError } from '../common/errors.js';
import type { LogEvents } from '../log/log-config.js';
import type { AssignedPartition } from './assignors.js';
import { ConsumerGroup, type JoinRequest, type MemberView } from './consumer-group.js';
import { HeartbeatWaits } from './heartbeat-waits.js';
import { runPeriodically } from '../replication/periodic-task.js';
import { OFFSETS_TOPIC, OffsetsStore, splitKey, type OffsetsEntry } from './offsets-store.js';
import type { TopicManager } from '../topics/topic-manager.js';

export interface CoordinatorOptions {
  offsetsTopicPartitions: number;
  offsetsRetentionMs: number;
  /** how often sessions, topic changes and offsets retention are checked */
  sweepIntervalMs?: number;
  /** how long a group without members waits after its first join before it assigns (0: not at all) */
  initialRebalanceDelayMs?: number;
  hash: (key: Uint8Array) => number;
  /** most members a group may have (GROUP_MAX_SIZE_REACHED beyond); none when absent */
  groupMaxSize?: number;
  /** called when a group's generation moves (membership or target changed): metrics */
  onRebalance?: (group: string, generation: number) => void;
}

export interface HeartbeatRequest {
  released?: AssignedPartition[];
  /** hold the reply up to this long (capped at half the member's session) unless something changes */
  maxWaitMs?: number;
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
  private readonly waits: HeartbeatWaits;
  private readonly delayTimers = new Set<() => void>();
  private stopSweep: () => void = () => undefined;
  private closed = false;
  /** Whether another group protocol (the Kafka listener's classic groups) drives a group now. */
  private claimedElsewhere: (group: string) => boolean = () => false;

  private constructor(
    private readonly topics: TopicManager,
    private readonly store: OffsetsStore,
    private readonly clock: Clock,
    private readonly events: LogEvents,
    private readonly options: CoordinatorOptions,
  ) {
    this.waits = new HeartbeatWaits(clock);
  }

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
      g.expectedMembers = record?.members ? record.members : null;
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
    const emptySince = g.state === 'Empty' ? this.emptySince.get(g.groupId) ?? null : null;
    return { key: { type: 'group', group: g.groupId }, value: { generation: g.generation, emptySince, members: g.memberCount } };
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

  /** Held heartbeats (metrics). */
  get waitingHeartbeats(): number {
    return this.waits.waiting;
  }

  /**
   * Lets another group protocol claim groups (one protocol drives a group at a time): while `claims(group)`,
   * joins are refused with INCONSISTENT_GROUP_PROTOCOL and member-less commits, resets and deletes with
   * GROUP_NOT_EMPTY. That protocol's own commits pass `protocol: 'classic'`.
   */
  setOtherProtocol(claims: (group: string) => boolean): void {
    this.claimedElsewhere = claims;
  }

  private checkNotClaimed(group: string): void {
    if (this.claimedElsewhere(group)) {
      throw new BrokerError('GROUP_NOT_EMPTY', `group ${group} has live members on the Kafka protocol listener`, { details: { group } });
    }
  }

  async join(group: string, request: JoinRequest): Promise<MemberView> {
    this.checkAvailable(group);
    if (this.claimedElsewhere(group)) {
      throw new BrokerError('INCONSISTENT_GROUP_PROTOCOL', `group ${group} is driven by Kafka's classic group protocol (members on the Kafka listener)`, {
        details: { group },
      });
    }
    for (const topic of request.topics) this.topics.topic(topic);
    const existing = this.groups.get(group);
    const max = this.options.groupMaxSize;
    if (existing && max !== undefined && existing.memberCount >= max) {
      throw new BrokerError('GROUP_MAX_SIZE_REACHED', `group ${group} already has ${existing.memberCount} members (groupMaxSize ${max})`, { details: { groupMaxSize: max } });
    }
    const g = existing ?? new ConsumerGroup(group);
    const before = g.generation;
    const forming = g.formingUntil;
    const view = g.join(request, this.clock.now(), this.partitionCounts(), this.options.initialRebalanceDelayMs ?? 0);
    if (!existing) this.groups.set(group, g);
    if (forming === null && g.formingUntil !== null) this.endDelayAt(g, g.formingUntil - this.clock.now());
    await this.changed(g, before);
    const member = g.memberState(view.memberId);
    this.events.info(
      { group, memberId: view.memberId, clientId: member.clientId, host: member.host, generation: g.generation, state: g.state },
      'member joined',
    );
    const latest = g.view(view.memberId);
    this.waits.sent(group, view.memberId, latest);
    return latest;
  }

  /** Ends a group's initial delay when it is due (unless enough members joined before). */
  private endDelayAt(g: ConsumerGroup, ms: number): void {
    const cancel = this.clock.setTimer(ms, () => {
      this.delayTimers.delete(cancel);
      if (this.closed || this.groups.get(g.groupId) !== g) return;
      const before = g.generation;
      g.tick(this.clock.now(), this.partitionCounts());
      void this.changed(g, before).catch((err) => this.events.error({ err, group: g.groupId }, 'storing a group change failed'));
    });
    this.delayTimers.add(cancel);
  }

  /** After a change to `g`: stores a new generation, counts the rebalance, and wakes held heartbeats. */
  private async changed(g: ConsumerGroup, generationBefore: number): Promise<void> {
    try {
      if (g.generation !== generationBefore) {
        this.options.onRebalance?.(g.groupId, g.generation);
        await this.membershipChanged(g);
      }
    } finally {
      this.waits.changed(g.groupId);
    }
  }

  /**
   * A heartbeat: releases what the member gave up (its new owners get it at once), then answers with the
   * member's view, at once or held up to `maxWaitMs` until it changes.
   */
  async heartbeat(group: string, memberId: string, request: HeartbeatRequest = {}): Promise<MemberView> {
    const g = this.ofMember(group, memberId);
    const before = g.generation;
    let member;
    try {
      // Deadlines that passed go first, so a heartbeat never reports an assignment that includes dead members.
      this.removed(g, g.tick(this.clock.now(), this.partitionCounts()));
      const owned = g.view(memberId).assignments.length;
      const view = g.heartbeat(memberId, this.clock.now(), request.released ?? []);
      member = g.memberState(memberId);
      if (view.assignments.length < owned) {
        this.events.info({ group, memberId, clientId: member.clientId, released: owned - view.assignments.length, generation: g.generation }, 'member released partitions');
      }
    } finally {
      await this.changed(g, before);
    }
    const maxWaitMs = Math.min(request.maxWaitMs ?? 0, Math.floor(member.sessionTimeoutMs / 2));
    return this.waits.wait(group, memberId, maxWaitMs, () => {
      if (this.groups.get(group) !== g) g.memberState(''); // the group is gone: UNKNOWN_MEMBER_ID
      return g.view(memberId);
    });
  }

  async leave(group: string, memberId: string): Promise<void> {
    const g = this.ofMember(group, memberId);
    const before = g.generation;
    const member = g.leave(memberId, this.clock.now(), this.partitionCounts());
    this.waits.forget(group, memberId);
    await this.changed(g, before);
    this.events.info({ group, memberId, clientId: member.clientId, generation: g.generation }, 'member left');
  }

  private removed(g: ConsumerGroup, gone: ReturnType<ConsumerGroup['expire']>): void {
    if (gone.length === 0) return;
    for (const m of gone) this.waits.forget(g.groupId, m.memberId);
    this.events.info({ group: g.groupId, members: gone, generation: g.generation }, 'members removed');
  }

  async commit(group: string, request: { memberId?: string; generation?: number; offsets: OffsetCommit[]; protocol?: 'classic' }): Promise<void> {
    this.checkAvailable(group);
    if (request.memberId === undefined && request.protocol !== 'classic') this.checkNotClaimed(group);
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

  /** Generation and member count per group (metrics). */
  stats(): { group: string; generation: number; members: number }[] {
    return [...this.groups.values()].map((g) => ({ group: g.groupId, generation: g.generation, members: g.memberCount }));
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
    this.checkNotClaimed(group);
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
    this.stopSweep = runPeriodically(this.clock, this.options.sweepIntervalMs ?? 1_000, () => this.sweep(), (err) => this.events.error({ err }, 'group session sweep failed'));
  }

  /**
   * Ends initial delays that are due, removes members whose session or release deadline passed, reassigns
   * groups whose topics changed, and forgets groups that stayed empty for offsetsRetentionMs.
   */
  async sweep(): Promise<void> {
    const now = this.clock.now();
    const counts = this.partitionCounts();
    for (const g of [...this.groups.values()]) {
      const before = g.generation;
      this.removed(g, g.tick(now, counts));
      await this.changed(g, before);
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
    for (const cancel of this.delayTimers) cancel();
    this.delayTimers.clear();
    this.waits.close();
  }
}
