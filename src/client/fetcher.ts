/**
 * The consumer's fetching: one long-polling loop per broker that asks for every owned, unpaused partition that
 * broker leads in one request (`POST /fetch`, binary frames), so a consumer of 1,000 partitions holds one
 * connection per broker, not 1,000. A partition whose leader moved (NOT_LEADER_OR_FOLLOWER) backs off, its
 * topic's leaders are looked up again, and the loop of its new leader picks it up. The loops feed
 * one FIFO of fetched chunks that the consumer hands out. Memory is bounded by `maxBufferedBytes`: a request
 * asks for at most the space left, and the loop waits while the buffer is full. A seek, pause or revocation
 * bumps the partition's `session`, so a reply that was under way is dropped for it; a start or seek also
 * aborts the request in flight, so the next one includes the partition at its new position at once.
 *
 * Errors are per partition: out of range asks `resetTo`, a retriable one backs that partition off, any other
 * goes to `onError` and the partition is no longer fetched. The request order rotates, so the total byte limit
 * does not always favour the same partitions.
 *
 * Positions per partition: `position` is the next offset to fetch; `consumed` the offset after the last
 * record handed out; `processed` what `consumed` was when the application asked for more (so those records
 * are done); `committed` what the group last stored.
 */
import { BrokerError, asBrokerError } from './errors.js';
import { decodeFetchFrames, type FetchFrame } from '../common/fetch-frames.js';
import { errorFromResponse } from './errors.js';
import { RECORD_BATCH_MEDIA_TYPE } from './http.js';
import type { Brokers } from './brokers.js';
import { consumerRecordsOf } from './records.js';
import { backoffMs, sleep, type BackoffOptions } from './retry.js';
import type { ConsumerRecord } from './types.js';

export class PartitionState {
  /** The next offset to fetch. */
  position = 0;
  /** Where the consumer started (or was reset to) before handing anything out since. */
  start = 0;
  /** One past the last offset handed out to the application (null: nothing yet). */
  consumed: number | null = null;
  processed: number | null = null;
  committed: number | null = null;
  paused = false;
  owned = true;
  session = 0;
  /** fetch errors in a row (retriable ones back the partition off until `retryAt`) */
  failures = 0;
  retryAt = 0;
  highWatermark = -1;
  logStartOffset = -1;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  get key(): string {
    return `${this.topic}/${this.partition}`;
  }

  /** Where requests for this partition go (its leader). */
  get route(): { topic: string; partition: number } {
    return { topic: this.topic, partition: this.partition };
  }

  /** Fetches from `offset` next; nothing fetched before it will be handed out as the next record. */
  startAt(offset: number): void {
    this.position = this.start = offset;
  }

  /** The offset of the next record the application will get (Kafka's position). */
  get nextOffset(): number {
    return this.consumed ?? this.start;
  }
}

interface Chunk {
  state: PartitionState;
  session: number;
  records: ConsumerRecord[];
  next: number;
  bytes: number;
}

export interface FetcherOptions {
  maxWaitMs: number;
  maxBytesPerPartition: number;
  maxBufferedBytes: number;
  requestTimeoutMs: number;
  backoff: BackoffOptions;
  /** Where to go when a position is out of range; null: report OFFSET_OUT_OF_RANGE to the application. */
  resetTo: (state: PartitionState, err: BrokerError) => Promise<number | null>;
  onError: (err: BrokerError) => void;
}

export class Fetcher {
  private readonly chunks: Chunk[] = [];
  private bufferedBytes = 0;
  private waiters: (() => void)[] = [];
  private spaceWaiters: (() => void)[] = [];
  /** Partitions whose `consumed` moved since the last markProcessed(). */
  private readonly moved = new Set<PartitionState>();
  /** Partitions to fetch (owned, and not given up after a non-retriable error). */
  private readonly active = new Set<PartitionState>();
  private stopped = false;
  /** broker URL -> its loop's request in flight (null between requests), aborted to send a new one when the
   * set of partitions or a position changes */
  private readonly loops = new Map<string, AbortController | null>();
  private rotation = 0;
  /** failed requests in a row, per broker URL */
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly http: Brokers,
    private readonly options: FetcherOptions,
  ) {}

  /** Starts (or restarts after a seek) fetching a partition. */
  start(state: PartitionState): void {
    state.session++;
    state.failures = 0;
    state.retryAt = 0;
    this.dropChunks(state);
    this.active.add(state);
    this.abortRequests();
    this.wakeLoops();
    this.startLoops();
  }

  /** Starts a loop for every broker that leads an active partition and has none yet. */
  private startLoops(): void {
    if (this.stopped) return;
    for (const state of this.active) {
      const url = this.http.urlFor(state.route);
      if (this.loops.has(url)) continue;
      this.loops.set(url, null);
      void this.loop(url).finally(() => {
        this.loops.delete(url);
        // A partition may have moved to this broker while the loop was ending.
        if ([...this.active].some((s) => this.http.urlFor(s.route) === url)) this.startLoops();
      });
    }
  }

  private abortRequests(): void {
    for (const request of this.loops.values()) request?.abort();
  }

  /**
   * Stops fetching a partition and forgets what was fetched but not handed out. With `keepProgress` (a
   * partition being released) what was handed out still becomes processed when the application asks for more.
   */
  stop(state: PartitionState, keepProgress = false): void {
    state.owned = false;
    state.session++;
    this.active.delete(state);
    this.dropChunks(state);
    if (!keepProgress) this.moved.delete(state);
  }

  stopAll(): void {
    this.stopped = true;
    this.abortRequests();
    this.wakeLoops();
    this.wake();
  }

  /** Lets loops that wait for buffer space (or a resume) look again. */
  wakeLoops(): void {
    for (const w of this.spaceWaiters.splice(0)) w();
  }

  /** Wakes whoever waits for records (a new error, a resume, close). */
  wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when records may be available, or after `timeoutMs`. */
  waitForRecords(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const waiters = this.waiters;
      function done() {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      }
      waiters.push(done);
    });
  }

  /** Hands out up to `max` records, oldest chunk first, skipping paused partitions. */
  take(max: number, out: ConsumerRecord[] = []): ConsumerRecord[] {
    for (let i = 0; i < this.chunks.length && out.length < max; ) {
      const chunk = this.chunks[i]!;
      const { state } = chunk;
      if (chunk.session !== state.session || !state.owned) {
        this.removeChunk(i);
        continue;
      }
      if (state.paused) {
        i++;
        continue;
      }
      while (chunk.next < chunk.records.length && out.length < max) out.push(chunk.records[chunk.next++]!);
      state.consumed = out[out.length - 1]!.offset + 1;
      this.moved.add(state);
      if (chunk.next === chunk.records.length) this.removeChunk(i);
    }
    return out;
  }

  /** The application asked for more: everything handed out so far counts as processed. */
  markProcessed(): void {
    if (this.moved.size === 0) return;
    for (const state of this.moved) state.processed = state.consumed;
    this.moved.clear();
  }

  /**
   * Moves a partition whose position fell out of range to `to`: records of it still buffered are dropped (they
   * lie outside the partition's range now), and the application's next record is at `to`, which a commit then
   * stores (auto-commit too, through `moved`).
   */
  private resetTo(state: PartitionState, to: number): void {
    for (let i = this.chunks.length - 1; i >= 0; i--) if (this.chunks[i]!.state === state) this.removeChunk(i);
    if (state.consumed !== null) {
      state.consumed = to;
      this.moved.add(state);
    }
    state.startAt(to);
  }

  private removeChunk(i: number): void {
    const [chunk] = this.chunks.splice(i, 1);
    this.bufferedBytes -= chunk!.bytes;
    this.wakeLoops();
  }

  private dropChunks(state: PartitionState): void {
    for (let i = this.chunks.length - 1; i >= 0; i--) if (this.chunks[i]!.state === state) this.removeChunk(i);
  }

  private current(state: PartitionState, session: number): boolean {
    return !this.stopped && state.owned && state.session === session;
  }

  /** What the next request to `url` asks for: active, unpaused partitions it leads not backing off, rotated. */
  private eligible(url: string, now: number): PartitionState[] {
    const all = this.activeAt(url).filter((s) => !s.paused && s.owned && s.retryAt <= now);
    if (all.length === 0) return all;
    const from = this.rotation++ % all.length;
    return [...all.slice(from), ...all.slice(0, from)];
  }

  /** Waits for a start, resume, close or freed buffer space, or `ms` at most (a partition backing off). */
  private idle(ms: number | null): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = ms === null ? null : setTimeout(resolve, ms);
      this.spaceWaiters.push(() => {
        if (timer) clearTimeout(timer);
        resolve();
      });
    });
  }

  private activeAt(url: string): PartitionState[] {
    return [...this.active].filter((s) => this.http.urlFor(s.route) === url);
  }

  private async loop(url: string): Promise<void> {
    while (!this.stopped && this.activeAt(url).length > 0) {
      const now = Date.now();
      const wanted = this.eligible(url, now);
      if (wanted.length === 0 || this.bufferedBytes >= this.options.maxBufferedBytes) {
        const backingOff = this.activeAt(url).filter((s) => !s.paused && s.retryAt > now);
        await this.idle(backingOff.length > 0 && wanted.length === 0 ? Math.min(...backingOff.map((s) => s.retryAt)) - now : null);
        continue;
      }
      const asked = wanted.map((state) => ({ state, session: state.session, from: state.position }));
      const abort = new AbortController();
      this.loops.set(url, abort);
      // The buffer's free space is shared by the loops of every broker.
      const share = Math.max(1, Math.floor((this.options.maxBufferedBytes - this.bufferedBytes) / Math.max(1, this.loops.size)));
      let frames: FetchFrame[];
      try {
        const response = await this.http.request('POST', '/fetch', {
          json: {
            partitions: asked.map((a) => ({ topic: a.state.topic, partition: a.state.partition, offset: a.from })),
            maxWaitMs: this.options.maxWaitMs,
            maxBytes: share,
            maxBytesPerPartition: this.options.maxBytesPerPartition,
          },
          accept: RECORD_BATCH_MEDIA_TYPE,
          signal: abort.signal,
          timeoutMs: this.options.requestTimeoutMs + this.options.maxWaitMs,
          route: wanted.length === 1 ? wanted[0]!.route : undefined,
        });
        frames = decodeFetchFrames(response.body);
        this.failures.delete(url);
      } catch (err) {
        if (abort.signal.aborted) continue; // a start, seek or close: ask again with what changed
        const error = asBrokerError(err);
        if (!error.retriable) {
          this.options.onError(error);
          return;
        }
        const attempt = (this.failures.get(url) ?? 0) + 1;
        this.failures.set(url, attempt);
        const delayMs = backoffMs(attempt - 1, this.options.backoff);
        this.options.backoff.onRetry?.({ operation: 'fetch', attempt, delayMs, error });
        // The broker may be gone: its partitions go back to their bootstrap route and a fresh metadata look.
        if (error.code === 'BROKER_NOT_AVAILABLE' || error.code === 'REQUEST_TIMED_OUT') this.relocate(wanted);
        await sleep(delayMs);
        continue;
      } finally {
        if (this.loops.get(url) === abort) this.loops.set(url, null);
      }
      await this.handle(asked, frames);
    }
  }

  /**
   * Partitions whose leader moved or cannot be reached: forget where they were and learn their topics' leaders
   * again; a loop for their new broker starts once known (the backoff of each partition paces the retries).
   */
  private relocate(states: PartitionState[]): void {
    for (const state of states) this.http.forget(state.route);
    const topics = new Set(states.map((s) => s.topic));
    for (const topic of topics) {
      void this.http
        .refreshTopic(topic)
        .catch(() => undefined)
        .finally(() => this.startLoops());
    }
    this.startLoops();
  }

  private async handle(asked: { state: PartitionState; session: number; from: number }[], frames: FetchFrame[]): Promise<void> {
    for (let i = 0; i < asked.length; i++) {
      const { state, session, from } = asked[i]!;
      const frame = frames[i];
      if (!this.current(state, session) || !frame) continue;
      if (frame.kind === 'records') {
        state.failures = 0;
        state.highWatermark = frame.highWatermark;
        state.logStartOffset = frame.logStartOffset;
        const records = consumerRecordsOf(frame.batches, state.topic, state.partition, from);
        state.position = frame.nextOffset > from ? frame.nextOffset : records.length > 0 ? records[records.length - 1]!.offset + 1 : from;
        if (records.length > 0) {
          this.chunks.push({ state, session, records, next: 0, bytes: frame.batches.length });
          this.bufferedBytes += frame.batches.length;
          this.wake();
        }
        continue;
      }
      const error = errorFromResponse(0, { error: frame.error }, `${state.topic}-${state.partition}`);
      if (error.code === 'OFFSET_OUT_OF_RANGE') {
        const to = await this.options.resetTo(state, error).catch((e: unknown) => {
          this.options.onError(e instanceof BrokerError ? e : error);
          return null;
        });
        if (to === null) this.active.delete(state);
        else if (this.current(state, session)) this.resetTo(state, to);
      } else if (error.retriable) {
        state.retryAt = Date.now() + backoffMs(state.failures++, this.options.backoff);
        if (error.code === 'NOT_LEADER_OR_FOLLOWER') this.relocate([state]);
      } else {
        this.active.delete(state);
        this.options.onError(error);
      }
    }
  }
}
