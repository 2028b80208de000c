/**
 * The follower's side of replication (Kafka's ReplicaFetcherManager / ReplicaFetcherThread): one fetcher per
 * leader broker pulls all the partitions this broker follows from it, in one request at a time over one
 * keep-alive connection (replica-protocol.ts).
 *
 * Per partition, after `follow` (the cluster layer calls it after Partition.makeFollower):
 *   truncating  ask the leader where this log's latest epoch ends and cut the diverged tail (KIP-101/279),
 *               again with an older epoch while the leader does not know ours
 *   fetching    fetch from the log end offset (the acknowledgement), append the leader's batches as they are
 *               (offsets, epochs, producer state), adopt min(leader high watermark, own log end), follow the
 *               leader's log start offset (retention there deletes segments here)
 *   stopped     the leader fenced us or no longer leads: nothing until the next role (`follow` again)
 *   backoff     an error that may pass (the leader does not know our epoch yet, a storage error): retried
 *               after `backoffMs`; a network error backs the whole fetcher off
 * Appends are durable under this broker's fsync policy before the next fetch says so.
 */
import { Pool } from 'undici';
import type { Clock } from '../log/clock.js';
import type { LogEvents } from '../log/log-config.js';
import { BrokerError, type ErrorCode } from '../common/errors.js';
import { decodeFetchFrames, type FetchFrame } from '../common/fetch-frames.js';
import { partitionKey } from '../common/topic-names.js';
import type { Partition } from './partition.js';
import {
  decodeEpochEndOffsets,
  encodeEpochEndOffsetsRequest,
  encodeReplicaFetchRequest,
  EPOCH_END_OFFSETS_PATH,
  REPLICA_FETCH_PATH,
  REPLICA_REQUEST_MEDIA_TYPE,
  type ErrorBody,
} from './replica-protocol.js';
import { truncationTarget } from './truncation.js';

export interface ReplicaFetcherOptions {
  brokerId: number;
  clock: Clock;
  events: LogEvents;
  /** long poll at the leader */
  maxWaitMs: number;
  /** most bytes per fetch, all partitions together */
  maxBytes: number;
  maxBytesPerPartition?: number;
  backoffMs: number;
  /** sent as a bearer token to leaders that check authentication (the inter-broker token); null: none */
  interBrokerToken?: string | null;
}

export interface LeaderEndpoint {
  leaderId: number;
  leaderUrl: string;
}

type Phase = 'truncating' | 'fetching' | 'stopped' | 'backoff';

interface Followed {
  partition: Partition;
  /** the partition's leader epoch when followed: every request carries it */
  leaderEpoch: number;
  phase: Phase;
  /** backoff: when it may go on, and to which phase */
  retryAt: number;
  resume: Phase;
}

export class ReplicaFetcherManager {
  private readonly fetchers = new Map<number, ReplicaFetcher>();

  constructor(private readonly options: ReplicaFetcherOptions) {}

  /**
   * Starts (or restarts, for a new leader or epoch) replicating `partition` from `leader`. Call after
   * partition.makeFollower(role) with that role's leader; the partition's leader epoch is the one sent.
   */
  follow(partition: Partition, leader: LeaderEndpoint): void {
    for (const [id, fetcher] of this.fetchers) {
      if (id === leader.leaderId) continue;
      fetcher.remove(partition);
      if (fetcher.isEmpty) {
        fetcher.close();
        this.fetchers.delete(id);
      }
    }
    let fetcher = this.fetchers.get(leader.leaderId);
    if (fetcher && fetcher.url !== leader.leaderUrl) {
      fetcher.close();
      this.fetchers.delete(leader.leaderId);
      fetcher = undefined;
    }
    if (!fetcher) this.fetchers.set(leader.leaderId, (fetcher = new ReplicaFetcher(leader, this.options)));
    fetcher.add(partition);
  }

  /** Stops replicating `partition` (it became leader, or left this broker). A fetcher left with none closes. */
  unfollow(partition: Partition): void {
    for (const [id, fetcher] of this.fetchers) {
      fetcher.remove(partition);
      if (fetcher.isEmpty) {
        fetcher.close();
        this.fetchers.delete(id);
      }
    }
  }

  /** What each fetcher is doing, by leader (describe, tests). */
  status(): { leaderId: number; partitions: { name: string; phase: Phase; logEndOffset: number }[] }[] {
    return [...this.fetchers.values()].map((f) => ({ leaderId: f.leaderId, partitions: f.status() }));
  }

  close(): void {
    for (const fetcher of this.fetchers.values()) fetcher.close();
    this.fetchers.clear();
  }
}

/**
 * Our epoch is older than the leader's: a role change passed us by; wait for it. NOT_LEADER_OR_FOLLOWER is
 * retried after backoff instead (as Kafka's followers do): in a cluster the broker the controller named as
 * leader may not have applied its own role yet (a new topic, a fresh election), and when leadership really
 * moved on, the new role stops this fetch anyway.
 */
const STOP_CODES = new Set<string>(['FENCED_LEADER_EPOCH'] satisfies ErrorCode[]);

export class ReplicaFetcher {
  readonly leaderId: number;
  readonly url: string;
  private readonly followed = new Map<string, Followed>();
  private readonly pool: Pool;
  private closed = false;
  private running = false;
  /** aborts the request in flight at close */
  private inFlight: AbortController | null = null;
  private wake: (() => void) | null = null;

  constructor(
    leader: LeaderEndpoint,
    private readonly options: ReplicaFetcherOptions,
  ) {
    this.leaderId = leader.leaderId;
    this.url = leader.leaderUrl;
    this.pool = new Pool(leader.leaderUrl, { connections: 1, pipelining: 1 });
  }

  private get requestHeaders(): Record<string, string> {
    const token = this.options.interBrokerToken;
    return token ? { 'content-type': REPLICA_REQUEST_MEDIA_TYPE, authorization: `Bearer ${token}` } : { 'content-type': REPLICA_REQUEST_MEDIA_TYPE };
  }

  add(partition: Partition): void {
    const key = partitionKey(partition.topicPartition.topic, partition.topicPartition.partition);
    const existing = this.followed.get(key);
    if (existing?.partition === partition && existing.leaderEpoch === partition.leaderEpoch && existing.phase !== 'stopped') return;
    this.followed.set(key, { partition, leaderEpoch: partition.leaderEpoch, phase: 'truncating', retryAt: 0, resume: 'truncating' });
    this.kick();
  }

  get isEmpty(): boolean {
    return this.followed.size === 0;
  }

  remove(partition: Partition): void {
    const key = partitionKey(partition.topicPartition.topic, partition.topicPartition.partition);
    if (this.followed.get(key)?.partition !== partition) return;
    this.followed.delete(key);
  }

  status() {
    return [...this.followed.values()].map((f) => ({ name: f.partition.name, phase: f.phase, logEndOffset: f.partition.logEndOffset }));
  }

  close(): void {
    this.closed = true;
    this.inFlight?.abort();
    this.wake?.();
    void this.pool.destroy().catch(() => undefined);
  }

  /**
   * Starts the loop, or wakes it from a backoff sleep. A long poll in flight is not aborted: an aborted
   * request leaves its connection in a state the leader's graceful shutdown waits on; the partition joins
   * the next request, at most one long poll (replicaFetchWaitMaxMs) later.
   */
  private kick(): void {
    this.wake?.();
    if (this.running || this.closed) return;
    this.running = true;
    void this.run().finally(() => (this.running = false));
  }

  private async run(): Promise<void> {
    while (!this.closed && this.followed.size > 0) {
      const now = this.options.clock.now();
      for (const f of this.followed.values()) {
        if (f.phase === 'backoff' && f.retryAt <= now) f.phase = f.resume;
        // A role changed under us without a new follow(): nothing to do until the cluster layer says so.
        if (f.phase !== 'stopped' && (f.partition.isLeader || f.partition.isClosed || f.partition.leaderEpoch !== f.leaderEpoch)) f.phase = 'stopped';
      }
      const active = [...this.followed.values()];
      try {
        const truncating = active.filter((f) => f.phase === 'truncating');
        if (truncating.length > 0) await this.truncate(truncating);
        const fetching = active.filter((f) => f.phase === 'fetching');
        if (fetching.length > 0) await this.fetch(fetching);
        else if (truncating.length === 0) await this.sleep(this.nextRetryIn(active));
      } catch (err) {
        if (this.closed) return;
        if ((err as { name?: string }).name !== 'AbortError' && (err as { code?: string }).code !== 'UND_ERR_ABORTED') {
          this.options.events.warn({ leader: this.leaderId, url: this.url, err }, 'replica fetch failed; backing off');
          await this.sleep(this.options.backoffMs);
        }
      }
    }
  }

  private nextRetryIn(active: Followed[]): number {
    const waits = active.filter((f) => f.phase === 'backoff').map((f) => f.retryAt - this.options.clock.now());
    return waits.length > 0 ? Math.max(1, Math.min(...waits)) : 60_000;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = this.options.clock.setTimer(ms, () => {
        this.wake = null;
        resolve();
      });
      this.wake = () => {
        cancel();
        this.wake = null;
        resolve();
      };
    });
  }

  private async post(path: string, body: Buffer): Promise<Buffer> {
    const controller = new AbortController();
    this.inFlight = controller;
    try {
      const response = await this.pool.request({ path, method: 'POST', body, headers: this.requestHeaders, signal: controller.signal });
      const data = Buffer.from(await response.body.arrayBuffer());
      if (response.statusCode !== 200) throw new Error(`leader ${this.leaderId} answered ${response.statusCode} to ${path}: ${data.toString('utf8', 0, 300)}`);
      return data;
    } finally {
      if (this.inFlight === controller) this.inFlight = null;
    }
  }

  /** KIP-101/279: asks where our latest epoch ends at the leader, cuts our log there (maybe in rounds). */
  private async truncate(list: Followed[]): Promise<void> {
    const asked = list.map((f) => ({ f, epoch: f.partition.latestLogEpoch }));
    // A log without epochs (empty, or written before epochs) can only trust its high watermark.
    for (const { f } of asked.filter((a) => a.epoch < 0)) {
      await this.guard(f, () => this.cut(f, f.partition.highWatermark, true));
    }
    const withEpoch = asked.filter((a) => a.epoch >= 0);
    if (withEpoch.length === 0) return;
    const request = encodeEpochEndOffsetsRequest({
      replicaId: this.options.brokerId,
      partitions: withEpoch.map(({ f, epoch }) => ({ ...f.partition.topicPartition, currentLeaderEpoch: f.leaderEpoch, leaderEpoch: epoch })),
    });
    const answers = decodeEpochEndOffsets(await this.post(EPOCH_END_OFFSETS_PATH, request));
    for (const [i, { f, epoch }] of withEpoch.entries()) {
      const answer = answers[i];
      if (!answer || f.phase !== 'truncating' || this.followed.get(keyOf(f)) !== f) continue;
      if (answer.kind === 'error') {
        await this.onError(f, answer.error, 'truncating');
        continue;
      }
      const target = truncationTarget({ askedEpoch: epoch, leaderEpoch: answer.leaderEpoch, leaderEndOffset: answer.endOffset }, f.partition);
      await this.guard(f, () => this.cut(f, target.offset, target.done));
    }
  }

  private async cut(f: Followed, offset: number, done: boolean): Promise<void> {
    if (offset < f.partition.logEndOffset) await f.partition.truncateTo(offset);
    if (done) f.phase = 'fetching';
  }

  private async fetch(list: Followed[]): Promise<void> {
    const perPartition = this.options.maxBytesPerPartition ?? this.options.maxBytes;
    const request = encodeReplicaFetchRequest({
      replicaId: this.options.brokerId,
      maxWaitMs: this.options.maxWaitMs,
      minBytes: 1,
      maxBytes: this.options.maxBytes,
      partitions: list.map((f) => ({
        ...f.partition.topicPartition,
        currentLeaderEpoch: f.leaderEpoch,
        fetchOffset: f.partition.logEndOffset,
        highWatermark: f.partition.highWatermark,
        maxBytes: perPartition,
      })),
    });
    const offsets = list.map((f) => f.partition.logEndOffset);
    const frames = decodeFetchFrames(await this.post(REPLICA_FETCH_PATH, request));
    await Promise.all(list.map((f, i) => (frames[i] ? this.guard(f, () => this.apply(f, frames[i]!, offsets[i]!)) : undefined)));
  }

  private async apply(f: Followed, frame: FetchFrame, fetchOffset: number): Promise<void> {
    if (this.followed.get(keyOf(f)) !== f || f.phase !== 'fetching' || f.partition.leaderEpoch !== f.leaderEpoch) return;
    if (frame.kind === 'error') return this.onError(f, frame.error, 'fetching', fetchOffset);
    if (frame.batches.length > 0) {
      if (f.partition.logEndOffset !== fetchOffset) return; // the log moved meanwhile (a truncation): fetch again
      await f.partition.appendAsFollower(frame.batches);
    }
    f.partition.updateFollowerHighWatermark(frame.highWatermark);
    if (frame.logStartOffset > f.partition.logStartOffset) await f.partition.deleteSegmentsBefore(frame.logStartOffset);
  }

  private async onError(f: Followed, error: ErrorBody, phase: Phase, fetchOffset?: number): Promise<void> {
    const partition = f.partition.name;
    if (STOP_CODES.has(error.code)) {
      f.phase = 'stopped';
      this.options.events.warn({ partition, leader: this.leaderId, code: error.code, message: error.message }, 'leader refused the follower; waiting for the next role');
      return;
    }
    if (error.code === 'OFFSET_OUT_OF_RANGE' && fetchOffset !== undefined) {
      const leaderStart = Number(error.logStartOffset);
      if (Number.isSafeInteger(leaderStart) && fetchOffset < leaderStart) {
        // Our log ends below the leader's log start (retention there): start over at its start.
        await f.partition.truncateFullyAndStartAt(leaderStart);
        return;
      }
      f.phase = 'truncating'; // past the leader's end: our tail diverged, find where
      return;
    }
    this.options.events.warn({ partition, leader: this.leaderId, code: error.code, message: error.message }, 'replica fetch error; retrying after backoff');
    this.backoff(f, phase);
  }

  private backoff(f: Followed, resume: Phase): void {
    f.phase = 'backoff';
    f.resume = resume;
    f.retryAt = this.options.clock.now() + this.options.backoffMs;
  }

  /** Runs one partition's step; a failure there (a storage error) backs that partition off, not the others. */
  private async guard(f: Followed, step: () => Promise<void>): Promise<void> {
    const resume = f.phase === 'backoff' ? f.resume : f.phase;
    try {
      await step();
    } catch (err) {
      if (this.closed) return;
      this.options.events.warn({ partition: f.partition.name, leader: this.leaderId, err }, 'replicating a partition failed; retrying after backoff');
      this.backoff(f, err instanceof BrokerError && err.code === 'OFFSET_OUT_OF_RANGE' ? 'truncating' : resume);
    }
  }
}

function keyOf(f: Followed): string {
  return partitionKey(f.partition.topicPartition.topic, f.partition.topicPartition.partition);
}
