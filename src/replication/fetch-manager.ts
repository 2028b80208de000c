/**
 * Fetches for consumers, one partition or many: whole stored batches below each partition's high watermark.
 * A fetch with nothing to return and `maxWaitMs` > 0 is a delayed fetch (Kafka's fetch purgatory): it parks on
 * the partitions' high watermarks (Partition.whenHighWatermarkReaches) and completes when any of them moves
 * past its offset, when the time passes, when the client goes away, or at shutdown; never by polling.
 */
import type { Clock } from '../log/clock.js';
import { LongPolls } from './long-polls.js';
import { BrokerError } from '../common/errors.js';
import type { ReadResult } from '../log/partition-log.js';
import { partitionKey } from '../common/topic-names.js';
import type { Partition, PartitionDirectory } from './partition.js';

export interface FetchOptions {
  maxBytes: number;
  maxWaitMs: number;
  /** aborted when the client goes away: a long poll stops waiting */
  signal?: AbortSignal;
}

export interface FetchResult extends ReadResult {
  highWatermark: number;
  logStartOffset: number;
}

export interface FetchManyRequest {
  topic: string;
  partition: number;
  offset: number;
}

export interface FetchManyOptions {
  maxWaitMs: number;
  /** all partitions together (the first partition with data gets one whole batch even when it is larger) */
  maxBytes: number;
  maxBytesPerPartition: number;
  signal?: AbortSignal;
}

export type FetchManyEntry = { topic: string; partition: number } & ({ result: FetchResult } | { error: BrokerError });

const EMPTY = Buffer.alloc(0);

export class FetchManager {
  private closing = false;
  private readonly polls: LongPolls;

  constructor(
    private readonly topics: PartitionDirectory,
    clock: Clock,
  ) {
    this.polls = new LongPolls(clock);
  }

  /** Long-poll fetches waiting right now (metrics). */
  get waitingFetches(): number {
    return this.polls.waiting;
  }

  /**
   * Reads whole batches from `offset` below the high watermark. At the high watermark with maxWaitMs > 0
   * the call waits until the high watermark moves, the time passes, or the broker shuts down.
   */
  async fetch(topic: string, partition: number, offset: number, options: FetchOptions): Promise<FetchResult> {
    let p = this.topics.partition(topic, partition);
    if (offset === p.highWatermark && options.maxWaitMs > 0 && !this.closing) {
      await this.waitForAny([{ partition: p, offset }], options.maxWaitMs, options.signal);
      // The topic may have been deleted (or deleted and created again) while the fetch waited.
      p = this.topics.partition(topic, partition);
    }
    return resultOf(p, await p.read(offset, options.maxBytes));
  }

  /**
   * Fetches from many partitions with one long poll (the multi-partition fetch): answers at once when any
   * partition has records or an error, else waits until any of them gets records (or `maxWaitMs`). Each
   * partition gets at most `maxBytesPerPartition` and all together at most `maxBytes`, except that the first
   * partition with data always gets one whole batch (so a reader makes progress, as Kafka's fetch does).
   * Per-partition errors are answered in their place and do not fail the others.
   */
  async fetchMany(requests: readonly FetchManyRequest[], options: FetchManyOptions): Promise<FetchManyEntry[]> {
    const seen = new Set<string>();
    for (const r of requests) {
      const key = partitionKey(r.topic, r.partition);
      if (seen.has(key)) throw new BrokerError('INVALID_REQUEST', `partition ${r.topic}-${r.partition} is named twice`);
      seen.add(key);
    }
    let entries = await this.readMany(requests, options);
    if (options.maxWaitMs > 0 && !this.closing && entries.every((e) => 'result' in e && e.result.bytes.length === 0)) {
      const watched = entries.flatMap((e, i) => (e.partitionObject ? [{ partition: e.partitionObject, offset: requests[i]!.offset }] : []));
      await this.waitForAny(watched, options.maxWaitMs, options.signal);
      // Look the partitions up again: a topic may have been deleted (or created again) during the wait.
      entries = await this.readMany(requests, options);
    }
    return entries.map(({ partitionObject: _p, ...entry }) => entry);
  }

  /** Wakes every waiting fetch (shutdown). */
  close(): void {
    this.closing = true;
    this.polls.wakeAll();
  }

  private async readMany(requests: readonly FetchManyRequest[], options: FetchManyOptions): Promise<(FetchManyEntry & { partitionObject?: Partition })[]> {
    let remaining = options.maxBytes;
    const out: (FetchManyEntry & { partitionObject?: Partition })[] = [];
    for (const { topic, partition, offset } of requests) {
      try {
        const p = this.topics.partition(topic, partition);
        const maxBytes = Math.max(1, Math.min(options.maxBytesPerPartition, remaining));
        let read: ReadResult = offset === p.highWatermark ? { bytes: EMPTY, nextOffset: offset } : await p.read(offset, maxBytes);
        // Only the first partition with data may pass the total (one whole batch); later ones wait their turn.
        if (read.bytes.length > remaining && remaining < options.maxBytes) read = { bytes: EMPTY, nextOffset: offset };
        remaining -= read.bytes.length;
        out.push({ topic, partition, partitionObject: p, result: resultOf(p, read) });
      } catch (err) {
        if (!(err instanceof BrokerError)) throw err;
        out.push({ topic, partition, error: err });
      }
    }
    return out;
  }

  /**
   * Resolves when the high watermark of any of the partitions passes its offset (or the partition closes),
   * when `maxWaitMs` passes, when `signal` aborts, or at shutdown.
   */
  private waitForAny(watched: { partition: Partition; offset: number }[], maxWaitMs: number, signal?: AbortSignal): Promise<void> {
    return this.polls.waitForAny(
      watched.map(({ partition, offset }) => (wake: () => void) => partition.whenHighWatermarkReaches(offset + 1, wake)),
      maxWaitMs,
      signal,
    );
  }
}

function resultOf(p: Partition, read: ReadResult): FetchResult {
  return { ...read, highWatermark: p.highWatermark, logStartOffset: p.logStartOffset };
}
