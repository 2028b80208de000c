/**
 * The leader's side of the internal replica requests (replica-protocol.ts): followers' fetches and their
 * epoch end offset questions. A fetch records each follower's position first (its acknowledgement: the high
 * watermark may move and acks=all produces complete), then reads stored batches up to what this leader
 * acknowledged, committed or not. With nothing new for any partition it is a delayed fetch: it parks on the
 * partitions (Partition.whenFollowerHasNews) until records arrive, the high watermark passes what the
 * follower knows, a role changes, `maxWaitMs` passes or the follower goes away; never by polling.
 * Per-partition errors (fencing, offsets out of range) answer in their place and do not fail the others.
 */
import type { Clock } from '../log/clock.js';
import { LongPolls } from './long-polls.js';
import { BrokerError } from '../common/errors.js';
import type { FetchFrame } from '../common/fetch-frames.js';
import { partitionKey } from '../common/topic-names.js';
import type { Partition, PartitionDirectory } from './partition.js';
import type { EpochEndOffsetAnswer, EpochEndOffsetsRequest, ErrorBody, ReplicaFetchEntry, ReplicaFetchRequest } from './replica-protocol.js';

const EMPTY = Buffer.alloc(0);

export function errorBodyOf(err: BrokerError): ErrorBody {
  return { ...(err.details ?? {}), code: err.code, message: err.message, retriable: err.retriable };
}

export class ReplicaFetchHandler {
  private closing = false;
  private readonly polls: LongPolls;

  constructor(
    private readonly topics: PartitionDirectory,
    clock: Clock,
  ) {
    this.polls = new LongPolls(clock);
  }

  async fetch(request: ReplicaFetchRequest, signal?: AbortSignal): Promise<FetchFrame[]> {
    const seen = new Set<string>();
    for (const p of request.partitions) {
      const key = partitionKey(p.topic, p.partition);
      if (seen.has(key)) throw new BrokerError('INVALID_REQUEST', `partition ${key} is named twice`);
      seen.add(key);
    }
    const first = await this.readAll(request, true);
    const news = first.frames.some((f, i) => f.kind === 'error' || f.batches.length > 0 || f.highWatermark > request.partitions[i]!.highWatermark);
    if (news || first.bytes >= request.minBytes || request.maxWaitMs <= 0 || this.closing) return first.frames;
    await this.waitForNews(first.watched, request.maxWaitMs, signal);
    return (await this.readAll(request, false)).frames;
  }

  /** For each partition: the largest epoch <= the asked one in this leader's epoch cache, and where it ends. */
  epochEndOffsets(request: EpochEndOffsetsRequest): EpochEndOffsetAnswer[] {
    return request.partitions.map(({ topic, partition, currentLeaderEpoch, leaderEpoch }) => {
      try {
        const p = this.topics.partition(topic, partition);
        p.checkReplicaRequest(request.replicaId, currentLeaderEpoch);
        const { epoch, endOffset } = p.endOffsetForEpoch(leaderEpoch);
        return { kind: 'offset', topic, partition, leaderEpoch: epoch, endOffset };
      } catch (err) {
        if (!(err instanceof BrokerError)) throw err;
        return { kind: 'error', topic, partition, error: errorBodyOf(err) };
      }
    });
  }

  /** Wakes every parked fetch (shutdown). */
  close(): void {
    this.closing = true;
    this.polls.wakeAll();
  }

  private async readAll(request: ReplicaFetchRequest, record: boolean) {
    let remaining = request.maxBytes;
    let bytes = 0;
    const frames: FetchFrame[] = [];
    const watched: { partition: Partition; entry: ReplicaFetchEntry }[] = [];
    for (const entry of request.partitions) {
      const { topic, partition, fetchOffset } = entry;
      try {
        const p = this.topics.partition(topic, partition);
        if (record) p.recordFollowerFetch(request.replicaId, entry.currentLeaderEpoch, fetchOffset);
        else p.checkReplicaRequest(request.replicaId, entry.currentLeaderEpoch);
        const maxBytes = Math.max(1, Math.min(entry.maxBytes, remaining));
        let read = await p.readForFollower(fetchOffset, maxBytes);
        // Only the first partition with data may pass the total (one whole batch); later ones wait their turn.
        if (read.bytes.length > remaining && bytes > 0) read = { bytes: EMPTY, nextOffset: fetchOffset };
        remaining = Math.max(0, remaining - read.bytes.length);
        bytes += read.bytes.length;
        watched.push({ partition: p, entry });
        frames.push({ kind: 'records', topic, partition, highWatermark: p.highWatermark, logStartOffset: p.logStartOffset, nextOffset: read.nextOffset, batches: read.bytes });
      } catch (err) {
        if (!(err instanceof BrokerError)) throw err;
        frames.push({ kind: 'error', topic, partition, error: errorBodyOf(err) });
      }
    }
    return { frames, bytes, watched };
  }

  private waitForNews(watched: { partition: Partition; entry: ReplicaFetchEntry }[], maxWaitMs: number, signal?: AbortSignal): Promise<void> {
    return this.polls.waitForAny(
      watched.map(({ partition, entry }) => (wake: () => void) => partition.whenFollowerHasNews(entry.fetchOffset, entry.highWatermark, wake)),
      maxWaitMs,
      signal,
    );
  }
}
