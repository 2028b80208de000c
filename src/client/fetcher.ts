/**
 * The consumer's fetching: one long-polling loop per owned partition on the binary path, feeding one FIFO of
 * fetched chunks that the consumer hands out. Memory is bounded by `maxBufferedBytes`: loops wait while the
 * buffer is full. A seek, pause or revocation bumps the partition's `session`, so a reply that was under way
 * is dropped instead of handed out.
 *
 * Positions per partition: `position` is the next offset to fetch; `consumed` the offset after the last
 * record handed out; `processed` what `consumed` was when the application asked for more (so those records
 * are done); `committed` what the group last stored.
 */
import { BrokerError, asBrokerError } from './errors.js';
import { HttpClient, RECORD_BATCH_MEDIA_TYPE, segment } from './http.js';
import { recordsFromBatches } from './records.js';
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
  abort: AbortController | null = null;
  highWatermark = -1;
  logStartOffset = -1;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  get key(): string {
    return `${this.topic}/${this.partition}`;
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
  private stopped = false;

  constructor(
    private readonly http: HttpClient,
    private readonly options: FetcherOptions,
  ) {}

  /** Starts (or restarts after a seek) the fetch loop of a partition. */
  start(state: PartitionState): void {
    state.abort?.abort();
    const session = ++state.session;
    const abort = new AbortController();
    state.abort = abort;
    this.dropChunks(state);
    this.wakeLoops(); // a loop of the old session that waits exits now
    void this.loop(state, session, abort.signal);
  }

  /** Stops fetching a partition and forgets what was fetched but not handed out. */
  stop(state: PartitionState): void {
    state.owned = false;
    state.session++;
    state.abort?.abort();
    state.abort = null;
    this.dropChunks(state);
    this.moved.delete(state);
  }

  stopAll(): void {
    this.stopped = true;
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

  private async loop(state: PartitionState, session: number, signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (this.current(state, session)) {
      if (state.paused || this.bufferedBytes >= this.options.maxBufferedBytes) {
        await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
        continue;
      }
      try {
        const from = state.position;
        const response = await this.http.request('GET', `/topics/${segment(state.topic)}/partitions/${state.partition}/records`, {
          query: { offset: from, maxWaitMs: this.options.maxWaitMs, maxBytes: this.options.maxBytesPerPartition },
          accept: RECORD_BATCH_MEDIA_TYPE,
          signal,
          timeoutMs: this.options.requestTimeoutMs + this.options.maxWaitMs,
        });
        if (!this.current(state, session)) return;
        failures = 0;
        const records = recordsFromBatches(response.body, state.topic, state.partition, from);
        state.highWatermark = Number(response.headers['sluice-high-watermark']);
        state.logStartOffset = Number(response.headers['sluice-log-start-offset']);
        const next = Number(response.headers['sluice-next-offset']);
        state.position = Number.isSafeInteger(next) && next > from ? next : records.length > 0 ? records[records.length - 1]!.offset + 1 : from;
        if (records.length > 0) {
          this.chunks.push({ state, session, records, next: 0, bytes: response.body.length });
          this.bufferedBytes += response.body.length;
          this.wake();
        }
      } catch (err) {
        if (!this.current(state, session)) return;
        const error = asBrokerError(err);
        if (error.code === 'OFFSET_OUT_OF_RANGE') {
          const to = await this.options.resetTo(state, error).catch((e: unknown) => {
            this.options.onError(e instanceof BrokerError ? e : error);
            return null;
          });
          if (to === null) return;
          if (this.current(state, session)) this.resetTo(state, to);
          continue;
        }
        if (!error.retriable) {
          this.options.onError(error);
          return;
        }
        await sleep(backoffMs(failures++, this.options.backoff), signal);
      }
    }
  }
}
