/**
 * Consumer: reads partitions on the binary fast path with long polling, in a group (the broker assigns the
 * partitions; see group-member.ts and group-assignment.ts) or from partitions it is given. Records come out
 * of `for await (const record of consumer)` or `poll()`.
 *
 * Commits (with a group and `autoCommit`, the default): a record counts as processed once the application asks
 * for the next one; processed positions are committed every `autoCommitIntervalMs`, and a partition the group
 * moves to another member is released only after everything handed out of it was processed and committed,
 * so a planned rebalance delivers nothing twice. Leaving the loop (break, return, throw) or `close()` commits
 * everything handed out and leaves the group. A partition the consumer gains starts at the group's committed
 * offset, or where `autoOffsetReset` says when there is none.
 *
 * `poll({ timeoutMs })` returns by its timeout whatever happens. A broker unreachable for requestTimeoutMs is
 * an `error` event; a consumer without a group, or before its first join, then also fails poll and the
 * iterator with BROKER_NOT_AVAILABLE naming the URL. Topics that do not exist yet are waited for.
 */
import { EventEmitter } from 'node:events';
import { consumerSettings, type ConsumerOptions, type ConsumerSettings } from './consumer-options.js';
import { BrokerError, asBrokerError, invalidArgument } from './errors.js';
import { BrokerHealth, emitError, type ClientEventMap } from './events.js';
import { Fetcher, PartitionState } from './fetcher.js';
import { GroupAssignment } from './group-assignment.js';
import { GroupMember } from './group-member.js';
import { connectionOf, segment } from './http.js';
import { Brokers, brokerList } from './brokers.js';
import { intOption } from './options.js';
import { StartOffsets } from './start-offsets.js';
import { TopicWaiter } from './topic-wait.js';
import type { CommittedOffset, ConsumerRecord, TopicPartition, TopicPartitionOffset } from './types.js';

export type { ConsumerOptions, OffsetReset, RebalanceHook } from './consumer-options.js';

/** How long reads that are safe to repeat (committed offsets) are retried. */
const READ_RETRY_MS = 60_000;
/** Sockets a consumer keeps to its broker, however many partitions it reads. */
const CONSUMER_CONNECTIONS = 4;

export class Consumer extends EventEmitter<ClientEventMap> implements AsyncIterable<ConsumerRecord> {
  private readonly settings: ConsumerSettings;
  private readonly http: Brokers;
  private readonly health: BrokerHealth;
  private readonly fetcher: Fetcher;
  private readonly member: GroupMember | null;
  private readonly group: GroupAssignment | null;
  private readonly topicWaiter: TopicWaiter;
  private readonly startOffsets: StartOffsets;
  private readonly states = new Map<string, PartitionState>();
  private readonly stopping = new AbortController();
  private started: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private closed = false;
  private error: BrokerError | null = null;
  private commitTimer: NodeJS.Timeout | null = null;
  private committing: Promise<void> = Promise.resolve();
  private processedWaiters: (() => void)[] = [];

  constructor(private readonly options: ConsumerOptions) {
    super();
    const settings = (this.settings = consumerSettings(options));
    const backoff = { ...settings.backoff, onRetry: (e: Parameters<NonNullable<typeof settings.backoff.onRetry>>[0]) => this.emit('retry', e) };
    this.health = new BrokerHealth(brokerList(options.broker).join(','), settings.requestTimeoutMs, settings.logger, (err) => {
      emitError(this, err);
      this.fetcher.wake();
    });
    // One long poll for every partition and one held heartbeat, plus commits and offset lookups beside them.
    this.http = new Brokers(options.broker, { connections: CONSUMER_CONNECTIONS, requestTimeoutMs: settings.requestTimeoutMs, clientId: settings.clientId, health: this.health, ...connectionOf(options) });
    this.startOffsets = new StartOffsets(this.http, settings.autoOffsetReset, options.startOffset, backoff);
    this.topicWaiter = new TopicWaiter(this.http, { autoCreate: settings.autoCreateTopics, backoff, logger: settings.logger, signal: this.stopping.signal });
    this.fetcher = new Fetcher(this.http, {
      maxWaitMs: settings.maxWaitMs,
      maxBytesPerPartition: settings.maxBytesPerPartition,
      maxBufferedBytes: settings.maxBufferedBytes,
      requestTimeoutMs: settings.requestTimeoutMs,
      backoff,
      resetTo: (state, err) => this.startOffsets.resetPosition(state, err),
      onError: (err) => this.fail(err),
    });
    if (settings.group === undefined) {
      this.member = this.group = null;
      return;
    }
    const self = this;
    const group = (this.group = new GroupAssignment({
      settings,
      states: this.states,
      fetcher: this.fetcher,
      startOffsets: this.startOffsets,
      emitter: this,
      get closing() {
        return self.closing !== null;
      },
      member: () => this.member!,
      committedOffsets: () => this.committed(),
      commitOffsets: (offsets) => this.sendCommit(offsets),
      nextProcessed: () => new Promise<void>((resolve) => (this.closing ? resolve() : this.processedWaiters.push(resolve))),
      fail: (err) => this.fail(err),
    }));
    this.member = new GroupMember(this.http, {
      group: settings.group,
      topics: settings.topics,
      sessionTimeoutMs: settings.sessionTimeoutMs,
      heartbeatIntervalMs: settings.heartbeatIntervalMs,
      requestTimeoutMs: settings.requestTimeoutMs,
      assignor: settings.assignor,
      clientId: settings.clientId,
      backoff,
      logger: settings.logger,
      ensureTopics: async () => (await this.topicWaiter.describeAll(settings.topics)) !== null,
      claims: () => group.claims(),
      onView: (view) => group.onView(view),
      onLost: () => group.onLost(),
      onError: (err) => this.fail(err),
    });
  }

  /** The client id sent with every request (`groups describe` shows it). */
  get clientId(): string {
    return this.settings.clientId;
  }

  /** The partitions this consumer owns now (including any it is releasing). */
  assignment(): TopicPartition[] {
    return [...this.states.values()].map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  /**
   * Partitions the group has given this consumer that it does not own yet: their previous owner is still
   * releasing them, or the group is still forming (its initial delay). [] without a group.
   */
  pendingAssignment(): TopicPartition[] {
    return this.group?.pending ?? [];
  }

  /** The group generation (-1 without a group or before joining). */
  get generation(): number {
    return this.member?.generation ?? -1;
  }

  /** The next record; waits for one. Iteration ends when the consumer is closed. */
  async next(): Promise<IteratorResult<ConsumerRecord, undefined>> {
    this.processed();
    for (;;) {
      if (this.closing) return { value: undefined, done: true }; // nothing is handed out after the final commit
      const record = this.fetcher.take(1)[0];
      if (record) return { value: record, done: false };
      await this.ready();
      this.throwIfFailed();
      if (this.closed || this.closing) return { value: undefined, done: true };
      await this.fetcher.waitForRecords(1_000);
    }
  }

  /**
   * Up to `maxRecords` records (default 500), waiting up to `timeoutMs` (default 1,000) for the first; [] when
   * none came. Returns (or throws) by `timeoutMs` whatever the broker does. Records of earlier polls count as
   * processed.
   */
  async poll(options: { maxRecords?: number; timeoutMs?: number } = {}): Promise<ConsumerRecord[]> {
    const maxRecords = intOption(options, 'maxRecords', 500, 1);
    const deadline = Date.now() + intOption(options, 'timeoutMs', 1_000, 0);
    this.processed();
    for (;;) {
      if (this.closing) return [];
      const records = this.fetcher.take(maxRecords);
      if (records.length > 0) return records;
      const started = this.ready();
      const left = deadline - Date.now();
      if (left > 0) await Promise.race([started, this.fetcher.waitForRecords(left)]);
      this.throwIfFailed();
      const after = deadline - Date.now();
      if (this.closed || this.closing || after <= 0) return [];
      await this.fetcher.waitForRecords(after);
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
    for (const p of partitions) this.stateOf(p).paused = false;
    this.fetcher.wakeLoops();
    this.fetcher.wake();
  }

  /**
   * Commits offsets now: the given ones, or else everything handed out so far. Needs a group; with a live
   * membership the commit carries the member id and generation.
   */
  async commit(offsets?: TopicPartitionOffset[]): Promise<void> {
    if (!this.settings.group) throw invalidArgument('commit needs a consumer with a group');
    await this.ready();
    await this.sendCommit(offsets ?? this.uncommitted('consumed'));
  }

  /** The group's committed offsets (with lag), as the broker has them. */
  async committed(): Promise<CommittedOffset[]> {
    if (!this.settings.group) throw invalidArgument('committed offsets need a consumer with a group');
    const path = `/groups/${segment(this.settings.group)}/offsets`;
    return (await this.http.getWithRetries<{ offsets: CommittedOffset[] }>(path, Date.now() + READ_RETRY_MS, this.settings.backoff, undefined, { group: this.settings.group })).offsets;
  }

  /** Commits what was handed out (with autoCommit), leaves the group and closes the connections. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    if (this.commitTimer) clearInterval(this.commitTimer);
    this.stopping.abort();
    this.fetcher.wake();
    this.processed();
    try {
      await this.started?.catch(() => undefined);
      this.fetcher.markProcessed();
      await this.group?.beforeClose();
      if (this.member && this.settings.autoCommit && !this.error) {
        await this.commit().catch(() => undefined); // a commit refused after a rebalance is not the caller's failure
      }
      await this.member?.leave().catch(() => undefined);
    } finally {
      this.closed = true;
      this.fetcher.stopAll();
      for (const state of this.states.values()) this.fetcher.stop(state);
      this.health.close();
      await this.http.close();
    }
  }

  /** The application asked for more: what it was handed counts as processed (a release may go on). */
  private processed(): void {
    this.fetcher.markProcessed();
    for (const w of this.processedWaiters.splice(0)) w();
  }

  private ready(): Promise<void> {
    this.started ??= this.start();
    return this.started;
  }

  private async start(): Promise<void> {
    try {
      if (this.member) {
        await this.member.start();
        await this.group!.settled(); // the first assignment is in place
        if (this.settings.autoCommit) {
          this.commitTimer = setInterval(() => void this.commitProcessed(), this.settings.autoCommitIntervalMs);
          this.commitTimer.unref();
        }
        return;
      }
      const partitions: (TopicPartition & { offset?: number })[] | null = this.options.partitions ?? (await this.allPartitions());
      if (!partitions) return; // closed while waiting for the topics
      const states = partitions.map((p) => new PartitionState(p.topic, p.partition));
      const starts = await this.startOffsets.lookup(states.filter((_, i) => partitions[i]!.offset === undefined));
      states.forEach((state, i) => {
        state.startAt(partitions[i]!.offset ?? starts.get(state)!);
        this.states.set(state.key, state);
        this.fetcher.start(state);
      });
    } catch (err) {
      this.fail(asBrokerError(err));
    }
  }

  /** Every partition of the topics (once they exist). */
  private async allPartitions(): Promise<TopicPartition[] | null> {
    const described = await this.topicWaiter.describeAll(this.settings.topics);
    if (!described) return null;
    return [...described].flatMap(([topic, d]) => d.partitions.map((p) => ({ topic, partition: p.partition })));
  }

  /** Commits processed positions that moved (the background auto-commit). */
  private commitProcessed(): Promise<void> {
    if (!this.settings.autoCommit || !this.member || this.closed) return Promise.resolve();
    this.committing = this.committing.then(async () => {
      await this.sendCommit(this.uncommitted('processed')).catch((err: unknown) => {
        // retried at the next interval; a partition that moved is not ours to commit
        this.settings.logger.debug({ group: this.settings.group, err: (err as Error).message }, 'auto-commit failed');
      });
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
      await this.http.json('POST', `/groups/${segment(this.settings.group!)}/offsets`, { json: body, route: { group: this.settings.group! } });
    } catch (err) {
      if (err instanceof BrokerError && member && (err.code === 'ILLEGAL_GENERATION' || err.code === 'UNKNOWN_MEMBER_ID' || err.code === 'INVALID_REQUEST')) {
        await member.beatNow(); // learn the new generation and assignment at once
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

  /**
   * Throws what poll and next must report: a failure the consumer cannot get past, or a broker unreachable
   * for requestTimeoutMs while this consumer has no group membership to keep it going.
   */
  private throwIfFailed(): void {
    if (this.error) {
      const err = this.error;
      this.error = null;
      throw err;
    }
    const down = this.health.unreachable;
    if (down && (!this.member || !this.member.joined)) throw down;
  }

  private fail(err: BrokerError): void {
    this.error ??= err;
    this.settings.logger.error({ group: this.settings.group, code: err.code, err: err.message }, 'consumer failed');
    this.fetcher.wake();
  }
}
