/**
 * Fetch (v4-12): the stored record batches of each partition, sent as they lie on disk (the bytes the log
 * read are linked into the reply, not copied), below the high watermark. Isolation: sluice has no
 * transactions, so read_committed and read_uncommitted see the same records and the last stable offset is
 * the high watermark. Fetch sessions are not kept: the reply's session id is 0, which tells the client to
 * keep sending full requests (allowed by KIP-227).
 *
 * Waiting: with fewer than minBytes available the fetch is delayed (Kafka's fetch purgatory) on the
 * partitions' high watermarks (FetchManager's long poll, then Partition.whenHighWatermarkReaches) until
 * minBytes are there, maxWaitMs passes (capped at maxFetchWaitMs), or the connection closes.
 */
import { Fetch } from '../generated/index.js';
import type { FetchManyEntry, FetchManyRequest } from '../../replication/fetch-manager.js';
import type { Partition } from '../../replication/partition.js';
import { kafkaErrorOf, KafkaErrors } from '../errors.js';
import type { RequestContext } from '../api-table.js';
import type { KafkaServices } from '../services.js';

const EMPTY = Buffer.alloc(0);

export function fetchHandler(s: KafkaServices) {
  return async (ctx: RequestContext, _version: number, request: Fetch.FetchRequest): Promise<Fetch.FetchResponse> => {
    const wanted: FetchManyRequest[] = [];
    let perPartition = 1;
    for (const t of request.topics) {
      for (const p of t.partitions) {
        wanted.push({ topic: t.topic, partition: p.partition, offset: p.fetchOffset });
        perPartition = Math.max(perPartition, p.partitionMaxBytes);
      }
    }
    const maxWaitMs = Math.min(Math.max(0, request.maxWaitMs), s.maxFetchWaitMs);
    const deadline = s.clock.now() + maxWaitMs;
    const options = { maxBytes: Math.max(1, request.maxBytes), maxBytesPerPartition: perPartition, signal: ctx.signal };
    let entries = wanted.length === 0 ? [] : await s.fetches.fetchMany(wanted, { ...options, maxWaitMs });
    // fetchMany waits only while every partition is empty; wait on until minBytes are there.
    while (bytesOf(entries) < request.minBytes && !ctx.signal.aborted && !entries.some((e) => 'error' in e)) {
      const left = deadline - s.clock.now();
      if (left <= 0) break;
      await growth(s, wanted, left, ctx.signal);
      entries = await s.fetches.fetchMany(wanted, { ...options, maxWaitMs: 0 });
    }
    const byTopic = new Map<string, Fetch.PartitionData[]>();
    for (const e of entries) {
      let list = byTopic.get(e.topic);
      if (!list) byTopic.set(e.topic, (list = []));
      list.push(partitionData(e));
    }
    return {
      throttleTimeMs: 0,
      errorCode: KafkaErrors.NONE,
      sessionId: 0,
      responses: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
    };
  };
}

function bytesOf(entries: FetchManyEntry[]): number {
  let n = 0;
  for (const e of entries) if ('result' in e) n += e.result.bytes.length;
  return n;
}

/** Resolves when any partition's high watermark moves, after `ms`, or when the connection closes. */
function growth(s: KafkaServices, wanted: FetchManyRequest[], ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const cancels: (() => void)[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      for (const c of cancels) c();
      signal.removeEventListener('abort', finish);
      resolve();
    };
    cancels.push(s.clock.setTimer(ms, finish));
    signal.addEventListener('abort', finish);
    for (const w of wanted) {
      let p: Partition;
      try {
        p = s.topics.partition(w.topic, w.partition);
      } catch {
        continue;
      }
      cancels.push(p.whenHighWatermarkReaches(p.highWatermark + 1, finish));
    }
  });
}

function partitionData(e: FetchManyEntry): Fetch.PartitionData {
  const base = { partitionIndex: e.partition, abortedTransactions: [], preferredReadReplica: -1 };
  if ('error' in e) {
    return { ...base, errorCode: kafkaErrorOf(e.error).code, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, records: EMPTY };
  }
  const { result } = e;
  return {
    ...base,
    errorCode: KafkaErrors.NONE,
    highWatermark: result.highWatermark,
    lastStableOffset: result.highWatermark,
    logStartOffset: result.logStartOffset,
    records: result.bytes,
  };
}
