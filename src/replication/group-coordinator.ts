/**
 * Consumer groups on this broker: membership (consumer-group.ts) kept in memory, commits and group
 * generations kept durably in `__consumer_offsets` (offsets-store.ts). Sessions expire on the injected
 * clock; offsets of a group that stayed empty for `offsetsRetentionMs` expire too.
 *
 * After a restart the groups come back with their committed offsets and their generation (so a member from
 * before the restart stays fenced), but without members: a member's next heartbeat gets UNKNOWN_MEMBER_ID and
 * it joins again.
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
  /** how often sessions and offsets retention are checked */
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

export class GroupCoordinator {
  private readonly groups = new Map<string, ConsumerGroup>();
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
    const existing = topics.list().find((t) => t.name === OFFSETS_TOPIC);
    if (!existing) {
      await topics.create({ name: OFFSETS_TOPIC, partitions: options.offsetsTopicPartitions, config: { segmentBytes: 1_048_576 } }, true);
    }
    const count = topics.topic(OFFSETS_TOPIC).partitions;
    const logs = Array.from({ length: count }, (_, p) => topics.partitionLog(OFFSETS_TOPIC, p));
    const store = new OffsetsStore(logs, clock);
    await store.load();
    const coordinator = new GroupCoordinator(topics, store, clock, events, options);
    for (const group of store.groupsOf()) {
      const g = coordinator.groupFor(group);
      g.generation = store.groupRecord(coordinator.indexOf(group), group)?.generation ?? 0;
    }
    coordinator.scheduleSweep();
    return coordinator;
  }

  private indexOf(group: string): number {
    return this.store.partitionOf(group, this.options.hash);
  }

  private groupFor(group: string): ConsumerGroup {
    let g = this.groups.get(group);
    if (!g) this.groups.set(group, (g = new ConsumerGroup(group)));
    return g;
  }

  /** The group if it exists (members, offsets or a stored generation); UNKNOWN_GROUP otherwise. */
  private existing(group: string): ConsumerGroup {
    const g = this.groups.get(group);
    if (!g) throw new BrokerError('UNKNOWN_GROUP', `group ${JSON.stringify(group)} does not exist`, { details: { group } });
    return g;
  }

  private partitionCounts(): Map<string, number> {
    return new Map(this.topics.list().map((t) => [t.name, t.partitions]));
  }

  private async persistGeneration(group: ConsumerGroup): Promise<void> {
    const emptySince = group.state === 'Empty' ? this.clock.now() : null;
    await this.store.write(this.indexOf(group.groupId), [{ key: { type: 'group', group: group.groupId }, value: { generation: group.generation, emptySince } }]);
  }

  async join(group: string, request: { topics: string[]; sessionTimeoutMs?: number; assignor?: AssignorName }): Promise<MemberView> {
    for (const topic of request.topics) this.topics.topic(topic);
    const g = this.groupFor(group);
    const view = g.join(request, this.clock.now(), this.partitionCounts());
    await this.persistGeneration(g);
    this.events.info({ group, memberId: view.memberId, generation: view.generation }, 'member joined');
    return { ...view, generation: g.generation, assignments: g.heartbeat(view.memberId, this.clock.now()).assignments };
  }

  async heartbeat(group: string, memberId: string): Promise<{ generation: number; assignments: AssignedPartition[] }> {
    const g = this.existing(group);
    const before = g.generation;
    // Sessions that ran out go first, so a heartbeat never reports an assignment that includes dead members.
    g.expire(this.clock.now(), this.partitionCounts());
    g.refresh(this.partitionCounts());
    const view = g.heartbeat(memberId, this.clock.now());
    if (g.generation !== before) await this.persistGeneration(g);
    return { generation: view.generation, assignments: view.assignments };
  }

  async leave(group: string, memberId: string): Promise<void> {
    const g = this.existing(group);
    g.leave(memberId, this.partitionCounts());
    await this.persistGeneration(g);
    this.events.info({ group, memberId, generation: g.generation }, 'member left');
  }

  async commit(group: string, request: { memberId?: string; generation?: number; offsets: OffsetCommit[] }): Promise<void> {
    // A standalone commit may create the group, but only once it is stored.
    const g = this.groups.get(group) ?? (request.memberId === undefined ? new ConsumerGroup(group) : this.existing(group));
    g.checkCommit(request.memberId, request.generation);
    if (request.offsets.length === 0) throw new BrokerError('INVALID_REQUEST', 'offsets must not be empty');
    const now = this.clock.now();
    const entries: OffsetsEntry[] = request.offsets.map((o) => {
      const log = this.topics.partitionLog(o.topic, o.partition);
      if (!Number.isSafeInteger(o.offset) || o.offset < 0 || o.offset > log.highWatermark) {
        throw new BrokerError('OFFSET_OUT_OF_RANGE', `offset ${o.offset} for ${o.topic}-${o.partition} is outside [0, ${log.highWatermark}]`, {
          details: { topic: o.topic, partition: o.partition, logStartOffset: log.logStartOffset, highWatermark: log.highWatermark },
        });
      }
      const metadata = o.metadata ?? '';
      if (metadata.length > MAX_METADATA_LENGTH) throw new BrokerError('INVALID_REQUEST', `metadata is longer than ${MAX_METADATA_LENGTH} characters`);
      return { key: { type: 'offset', group, topic: o.topic, partition: o.partition }, value: { offset: o.offset, metadata, commitTimestamp: now } };
    });
    if (!this.store.groupRecord(this.indexOf(group), group)) {
      entries.push({ key: { type: 'group', group }, value: { generation: g.generation, emptySince: g.state === 'Empty' ? now : null } });
    }
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
        highWatermark = this.topics.partitionLog(topic, partition).highWatermark;
      } catch {
        // the topic was deleted since the commit: report no lag
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
    await this.store.write(this.indexOf(group), [{ key: { type: 'group', group }, value: null }]);
    this.groups.delete(group);
    this.events.info({ group }, 'group deleted');
  }

  /** Lag per group and partition (metrics). */
  allLags(): { group: string; topic: string; partition: number; lag: number }[] {
    return [...this.groups.keys()].flatMap((group) => this.offsets(group).map((o) => ({ group, topic: o.topic, partition: o.partition, lag: o.lag })));
  }

  private scheduleSweep(): void {
    const interval = this.options.sweepIntervalMs ?? 1_000;
    let running = false;
    const tick = () => {
      if (!this.closed) this.stopSweep = this.clock.setTimer(interval, tick);
      if (running) return;
      running = true;
      void this.sweep()
        .catch((err) => this.events.error({ err }, 'group session sweep failed'))
        .finally(() => (running = false));
    };
    this.stopSweep = this.clock.setTimer(interval, tick);
  }

  /** Expires members whose session ran out, and the offsets of groups empty for offsetsRetentionMs. */
  async sweep(): Promise<void> {
    const now = this.clock.now();
    const counts = this.partitionCounts();
    for (const g of [...this.groups.values()]) {
      const gone = g.expire(now, counts);
      if (gone.length > 0) {
        this.events.info({ group: g.groupId, members: gone, generation: g.generation }, 'member sessions expired');
        await this.persistGeneration(g);
      }
      const record = this.store.groupRecord(this.indexOf(g.groupId), g.groupId);
      if (g.state === 'Empty' && record?.emptySince != null && now - record.emptySince >= this.options.offsetsRetentionMs) {
        await this.store.write(this.indexOf(g.groupId), [{ key: { type: 'group', group: g.groupId }, value: null }]);
        this.groups.delete(g.groupId);
        this.events.info({ group: g.groupId }, 'offsets of an empty group expired');
      }
    }
  }

  close(): void {
    this.closed = true;
    this.stopSweep();
  }
}

