/**
 * Consumer: reads partitions on the binary fast path with long polling, in a group (the broker assigns the
 * partitions; see group-member.ts) or from partitions it is given. Records come out of
 * `for await (const record of consumer)` or `poll()`.
 *
 * Commits (with a group and `autoCommit`, the default): a record counts as processed once the application asks
 * for the next one; processed positions are committed every `autoCommitIntervalMs` and before every heartbeat,
 * so when a rebalance takes a partition away only the records processed since the last commit are delivered
 * again (at least once). Leaving the loop (break, return, throw) or `close()` commits everything handed out and
 * leaves the group. A partition the consumer gains starts at the group's committed offset, or where
 * `autoOffsetReset` says when there is none.
 */
import { BrokerError, asBrokerError, errorFromResponse, invalidArgument, invalidOption } from './errors.js';
import { Fetcher, PartitionState } from './fetcher.js';
import { GroupMember, type Assignment } from './group-member.js';
import { HttpClient, segment } from './http.js';
import { boolOption, enumOption, intOption } from './options.js';
import { withRetries, type BackoffOptions } from './retry.js';
import type { CommittedOffset, ConsumerRecord, TopicDescription, TopicPartition, TopicPartitionOffset } from './types.js';

export type OffsetReset = 'earliest' | 'latest' | 'none';

export interface ConsumerOptions {
  broker: string;
  /** Topics to consume: with `group`, the subscription; without, every partition of them. */
  topics?: string[];
  group?: string;
  /** Without a group: exactly these partitions (optionally from an offset). */
  partitions?: (TopicPartition & { offset?: number })[];
  /** Where to start without a committed offset, and after OFFSET_OUT_OF_RANGE (default "latest"). */
  autoOffsetReset?: OffsetReset;
  /**
   * Where a partition without a committed offset starts instead: this offset, moved into the partition's
   * range (log start to high watermark). Later OFFSET_OUT_OF_RANGE still follows `autoOffsetReset`.
   */
  startOffset?: number;
  autoCommit?: boolean;
  autoCommitIntervalMs?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  assignor?: 'range' | 'roundrobin';
  /** Long-poll wait per fetch (default 500). */
  maxWaitMs?: number;
  maxBytesPerPartition?: number;
  /** Fetched but not yet handed out (default 33,554,432); fetching pauses above it. */
  maxBufferedBytes?: number;
  requestTimeoutMs?: number;
  retryBackoffMs?: number;
  retryBackoffMaxMs?: number;
}

/** How long reads that are safe to repeat (offsets, metadata) are retried. */
const READ_RETRY_MS = 60_000;
/** Sockets a consumer keeps to its broker, however many partitions it reads. */
const CONSUMER_CONNECTIONS = 4;

export class Consumer implements AsyncIterable<ConsumerRecord> {
  private readonly http: HttpClient;
  private readonly fetcher: Fetcher;
  private readonly member: GroupMember | null;
  private readonly backoff: BackoffOptions;
  private readonly autoOffsetReset: OffsetReset;
  private readonly autoCommit: boolean;
  private readonly autoCommitIntervalMs: number;
  private readonly group: string | undefined;
  private readonly states = new Map<string, PartitionState>();
  private started: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private closed = false;
  private error: BrokerError | null = null;
  private commitTimer: NodeJS.Timeout | null = null;
  private committing: Promise<void> = Promise.resolve();
  private assignmentChain: Promise<void> = Promise.resolve();

  constructor(private readonly options: ConsumerOptions) {
    if (!options || typeof options.broker !== 'string') throw invalidArgument('new Consumer({ broker }) needs the broker URL');
    const topics = options.topics ?? [];
    if (!Array.isArray(topics) || topics.some((t) => typeof t !== 'string')) throw invalidOption('topics must be an array of topic names');
    if (options.group !== undefined && (typeof options.group !== 'string' || options.group.length === 0)) throw invalidOption('group must be a group id');
    if (options.group !== undefined && options.partitions) throw invalidOption('partitions are assigned by the group; give topics instead');
    if (topics.length === 0 && !options.partitions?.length) throw invalidOption('give topics (or, without a group, partitions) to consume');
    this.group = options.group;
    this.autoOffsetReset = enumOption(options, 'autoOffsetReset', ['earliest', 'latest', 'none'] as const, 'latest');
    if (options.startOffset !== undefined) intOption(options, 'startOffset', 0, 0);
    this.autoCommit = boolOption(options, 'autoCommit', true);
    this.autoCommitIntervalMs = intOption(options, 'autoCommitIntervalMs', 1_000, 10);
    this.backoff = { retryBackoffMs: intOption(options, 'retryBackoffMs', 100, 1), retryBackoffMaxMs: intOption(options, 'retryBackoffMaxMs', 1_000, 1) };
    const requestTimeoutMs = intOption(options, 'requestTimeoutMs', 30_000, 1);
    const sessionTimeoutMs = intOption(options, 'sessionTimeoutMs', 45_000, 1_000, 1_800_000);
    const heartbeatIntervalMs = intOption(options, 'heartbeatIntervalMs', Math.min(3_000, Math.floor(sessionTimeoutMs / 3)), 10, sessionTimeoutMs);
    // One long poll for every partition, plus heartbeats, commits and offset lookups beside it.
    this.http = new HttpClient(options.broker, { connections: CONSUMER_CONNECTIONS, requestTimeoutMs });
    this.fetcher = new Fetcher(this.http, {
      maxWaitMs: intOption(options, 'maxWaitMs', 500, 0, 30_000),
      maxBytesPerPartition: intOption(options, 'maxBytesPerPartition', 1_048_576, 1),
      maxBufferedBytes: intOption(options, 'maxBufferedBytes', 33_554_432, 1),
      requestTimeoutMs,
      backoff: this.backoff,
      resetTo: (state, err) => this.resetPosition(state, err),
      onError: (err) => this.fail(err),
    });
    this.member = this.group
      ? new GroupMember(this.http, {
          group: this.group,
          topics,
          sessionTimeoutMs,
          heartbeatIntervalMs,
          assignor: options.assignor === undefined ? undefined : enumOption(options, 'assignor', ['range', 'roundrobin'] as const, 'range'),
          backoff: this.backoff,
          beforeHeartbeat: () => this.commitProcessed(),
          onAssignment: (a) => this.assign(a),
          onError: (err) => this.fail(err),
        })
      : null;
  }

  /** The partitions this consumer owns now. */
  assignment(): TopicPartition[] {
    return [...this.states.values()].map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  /** The group generation (-1 without a group or before joining). */
  get generation(): number {
    return this.member?.generation ?? -1;
  }

  /** The next record; waits for one. Iteration ends when the consumer is closed. */
  async next(): Promise<IteratorResult<ConsumerRecord, undefined>> {
    this.fetcher.markProcessed();
    for (;;) {
      if (this.closing) return { value: undefined, done: true }; // nothing is handed out after the final commit
      const record = this.fetcher.take(1)[0];
      if (record) return { value: record, done: false };
      await this.ready();
      if (this.error) throw this.takeError();
      if (this.closed || this.closing) return { value: undefined, done: true };
      await this.fetcher.waitForRecords(1_000);
    }
  }

  /**
   * Up to `maxRecords` records (default 500), waiting up to `timeoutMs` (default 1,000) for the first; [] when
   * none came. Records of earlier polls count as processed.
   */
  async poll(options: { maxRecords?: number; timeoutMs?: number } = {}): Promise<ConsumerRecord[]> {
    const maxRecords = intOption(options, 'maxRecords', 500, 1);
    const deadline = Date.now() + intOption(options, 'timeoutMs', 1_000, 0);
    this.fetcher.markProcessed();
    for (;;) {
      if (this.closing) return [];
      const records = this.fetcher.take(maxRecords);
      if (records.length > 0) return records;
      await this.ready();
      if (this.error) throw this.takeError();
      const left = deadline - Date.now();
      if (this.closed || this.closing || left <= 0) return [];
      await this.fetcher.waitForRecords(left);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<ConsumerRecord, undefined> {
    return {
      next: () => this.next(),
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }

  /** Continues a partition from `offset` (dropping what was fetched but not handed out). */
  seek(partition: TopicPartition, offset: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalidArgument(`seek needs an offset >= 0, not ${offset}`);
    const state = this.stateOf(partition);
    state.startAt(offset);
    state.consumed = state.processed = offset;
    this.fetcher.start(state);
  }

  /** The offset of the next record this consumer will hand out for an owned partition (Kafka's position()). */
  position(partition: TopicPartition): number {
    return this.stateOf(partition).nextOffset;
  }

  /** Stops handing out and fetching records of these partitions until resume(). */
  pause(partitions: TopicPartition[]): void {
    for (const p of partitions) this.stateOf(p).paused = true;
  }

  resume(partitions: TopicPartition[]): void {
    for (const p of partitions) {
      const state = this.stateOf(p);
      state.paused = false;
    }
    this.fetcher.wakeLoops();
    this.fetcher.wake();
  }

  /**
   * Commits offsets now: the given ones, or else everything handed out so far. Needs a group; with a live
   * membership the commit carries the member id and generation.
   */
  async commit(offsets?: TopicPartitionOffset[]): Promise<void> {
    if (!this.group) throw invalidArgument('commit needs a consumer with a group');
    await this.ready();
    await this.sendCommit(offsets ?? this.uncommitted('consumed'));
  }

  /** The group's committed offsets (with lag), as the broker has them. */
  async committed(): Promise<CommittedOffset[]> {
    if (!this.group) throw invalidArgument('committed offsets need a consumer with a group');
    return (await this.http.json<{ offsets: CommittedOffset[] }>('GET', `/groups/${segment(this.group)}/offsets`)).offsets;
  }

  /** Commits what was handed out (with autoCommit), leaves the group and closes the connections. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    if (this.commitTimer) clearInterval(this.commitTimer);
    this.fetcher.wake();
    try {
      await this.started?.catch(() => undefined);
      if (this.member && this.autoCommit && !this.error) {
        this.fetcher.markProcessed();
        await this.commit().catch(() => undefined); // a commit refused after a rebalance is not the caller's failure
      }
      await this.member?.leave().catch(() => undefined);
    } finally {
      this.closed = true;
      this.fetcher.stopAll();
      for (const state of this.states.values()) this.fetcher.stop(state);
      await this.http.close();
    }
  }

  private ready(): Promise<void> {
    this.started ??= this.start();
    return this.started;
  }

  private async start(): Promise<void> {
    try {
      if (this.member) {
        await this.member.start();
        if (this.autoCommit) {
          this.commitTimer = setInterval(() => void this.commitProcessed(), this.autoCommitIntervalMs);
          this.commitTimer.unref();
        }
        return;
      }
      const partitions: (TopicPartition & { offset?: number })[] = this.options.partitions ?? (await this.allPartitions(this.options.topics ?? []));
      const states = partitions.map((p) => new PartitionState(p.topic, p.partition));
      const starts = await this.startOffsets(states.filter((_, i) => partitions[i]!.offset === undefined));
      states.forEach((state, i) => {
        state.startAt(partitions[i]!.offset ?? starts.get(state)!);
        this.states.set(state.key, state);
        this.fetcher.start(state);
      });
    } catch (err) {
      this.fail(asBrokerError(err));
    }
  }

  private async allPartitions(topics: string[]): Promise<TopicPartition[]> {
    const out: TopicPartition[] = [];
    for (const topic of topics) {
      const description = await this.read<TopicDescription>(`/topics/${segment(topic)}`);
      for (const p of description.partitions) out.push({ topic, partition: p.partition });
    }
    return out;
  }

  /** Applies a new assignment: revoked partitions stop, gained ones start from the committed offset. */
  private assign(assignment: Assignment): Promise<void> {
    const apply = async () => {
      const wanted = new Set(assignment.assignments.map((a) => `${a.topic}/${a.partition}`));
      for (const [key, state] of this.states) {
        if (!wanted.has(key)) {
          this.fetcher.stop(state);
          this.states.delete(key);
        }
      }
      const gained = assignment.assignments.filter((a) => !this.states.has(`${a.topic}/${a.partition}`));
      if (gained.length === 0) return;
      const committed = await this.read<{ offsets: CommittedOffset[] }>(`/groups/${segment(this.group!)}/offsets`).catch((err: unknown) => {
        if (err instanceof BrokerError && err.code === 'UNKNOWN_GROUP') return { offsets: [] };
        throw err;
      });
      const byKey = new Map(committed.offsets.map((o) => [`${o.topic}/${o.partition}`, o.offset]));
      const states = gained.map((p) => new PartitionState(p.topic, p.partition));
      for (const state of states) state.committed = byKey.get(state.key) ?? null;
      const starts = await this.startOffsets(states.filter((state) => state.committed === null));
      for (const state of states) {
        state.startAt(state.committed ?? starts.get(state)!);
        this.states.set(state.key, state);
        this.fetcher.start(state);
      }
    };
    this.assignmentChain = this.assignmentChain.then(apply, apply);
    return this.assignmentChain;
  }

  /** Where a partition without a committed offset starts. */
  private async startOffset(state: PartitionState): Promise<number> {
    return (await this.startOffsets([state])).get(state)!;
  }

  /**
   * Where partitions without a committed offset start, for many at once: one multi-partition fetch at
   * offset 0 with a one-byte budget reports every partition's log start offset and high watermark (in its
   * entry, or in the OFFSET_OUT_OF_RANGE error when the log no longer starts at 0) and reads almost nothing.
   */
  private async startOffsets(states: PartitionState[]): Promise<Map<PartitionState, number>> {
    const out = new Map<PartitionState, number>();
    if (states.length === 0) return out;
    if (this.options.startOffset === undefined && this.autoOffsetReset === 'none') {
      const state = states[0]!;
      throw new BrokerError('OFFSET_OUT_OF_RANGE', `no committed offset for ${state.key} and autoOffsetReset is none`, { details: { topic: state.topic, partition: state.partition } });
    }
    const reply = await withRetries(
      () =>
        this.http.json<{ partitions: ({ highWatermark: number; logStartOffset: number } | { error: Record<string, unknown> })[] }>('POST', '/fetch', {
          json: { partitions: states.map((s) => ({ topic: s.topic, partition: s.partition, offset: 0 })), maxBytes: 1, maxBytesPerPartition: 1 },
        }),
      Date.now() + READ_RETRY_MS,
      this.backoff,
    );
    states.forEach((state, i) => {
      const entry = reply.partitions[i]!;
      let range: { first: number; end: number };
      if ('error' in entry) {
        const { logStartOffset, highWatermark } = entry.error;
        if (entry.error.code !== 'OFFSET_OUT_OF_RANGE' || typeof logStartOffset !== 'number' || typeof highWatermark !== 'number') {
          throw errorFromResponse(0, entry, `${state.topic}-${state.partition}`);
        }
        range = { first: logStartOffset, end: highWatermark };
      } else {
        range = { first: entry.logStartOffset, end: entry.highWatermark };
      }
      const start = this.options.startOffset;
      out.set(state, start !== undefined ? Math.min(Math.max(start, range.first), range.end) : this.autoOffsetReset === 'earliest' ? range.first : range.end);
    });
    return out;
  }

  private async resetPosition(state: PartitionState, err: BrokerError): Promise<number | null> {
    if (this.autoOffsetReset === 'none') throw err;
    const start = Number(err.details?.logStartOffset);
    const end = Number(err.details?.highWatermark);
    if (this.autoOffsetReset === 'earliest' && Number.isSafeInteger(start)) return start;
    if (this.autoOffsetReset === 'latest' && Number.isSafeInteger(end)) return end;
    return this.startOffset(state);
  }

  /** Commits processed positions that moved (the background auto-commit). */
  private commitProcessed(): Promise<void> {
    if (!this.autoCommit || !this.member || this.closed) return Promise.resolve();
    this.committing = this.committing.then(async () => {
      await this.sendCommit(this.uncommitted('processed')).catch(() => undefined); // retried at the next interval; a lost partition is not ours to commit
    });
    return this.committing;
  }

  /**
   * Owned partitions whose `consumed` (handed out) or `processed` position differs from the last commit. A
   * partition with nothing handed out yet commits where it started, as Kafka's consumer commits its position:
   * a group that began at "latest" or past deleted records does not go back there next time.
   */
  private uncommitted(position: 'consumed' | 'processed'): TopicPartitionOffset[] {
    const out: TopicPartitionOffset[] = [];
    for (const s of this.states.values()) {
      const offset = s[position] ?? s.start;
      if (offset !== s.committed) out.push({ topic: s.topic, partition: s.partition, offset });
    }
    return out;
  }

  private async sendCommit(list: TopicPartitionOffset[]): Promise<void> {
    const owned = list.filter((o) => this.states.has(`${o.topic}/${o.partition}`));
    if (owned.length === 0) return;
    const member = this.member;
    const body = member?.memberId ? { memberId: member.memberId, generation: member.generation, offsets: owned } : { offsets: owned };
    try {
      await this.http.json('POST', `/groups/${segment(this.group!)}/offsets`, { json: body });
    } catch (err) {
      if (err instanceof BrokerError && member && (err.code === 'ILLEGAL_GENERATION' || err.code === 'UNKNOWN_MEMBER_ID' || err.code === 'INVALID_REQUEST')) {
        await member.beat().catch(() => undefined); // learn the new generation and assignment at once
      }
      throw err;
    }
    for (const o of owned) {
      const state = this.states.get(`${o.topic}/${o.partition}`);
      if (state) state.committed = o.offset;
    }
  }

  private stateOf(partition: TopicPartition): PartitionState {
    const state = this.states.get(`${partition?.topic}/${partition?.partition}`);
    if (!state) throw invalidArgument(`${partition?.topic}/${partition?.partition} is not assigned to this consumer`);
    return state;
  }

  private read<T>(path: string, query?: Record<string, string | number>): Promise<T> {
    return this.http.getWithRetries(path, Date.now() + READ_RETRY_MS, this.backoff, query);
  }

  private fail(err: BrokerError): void {
    this.error ??= err;
    this.fetcher.wake();
  }

  private takeError(): BrokerError {
    const err = this.error!;
    this.error = null;
    return err;
  }
}
