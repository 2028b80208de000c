/**
 * Where a consumer's partitions start when it has no committed offset for them, and where one goes after
 * OFFSET_OUT_OF_RANGE: `startOffset` moved into the partition's range, else `autoOffsetReset` (earliest: the
 * log start offset; latest: the high watermark; none: an error).
 *
 * Many partitions are looked up at once: one multi-partition fetch at offset 0 with a one-byte budget reports
 * every partition's log start offset and high watermark (in its entry, or in the OFFSET_OUT_OF_RANGE error
 * when the log no longer starts at 0) and reads almost nothing.
 */
import { BrokerError, errorFromResponse } from './errors.js';
import type { PartitionState } from './fetcher.js';
import type { Brokers } from './brokers.js';
import type { OffsetReset } from './consumer-options.js';
import { withRetries, type BackoffOptions } from './retry.js';

type RangeEntry = { highWatermark: number; logStartOffset: number } | { error: Record<string, unknown> };

/** How long the lookups, which are safe to repeat, are retried. */
const READ_RETRY_MS = 60_000;

export class StartOffsets {
  constructor(
    private readonly http: Brokers,
    private readonly autoOffsetReset: OffsetReset,
    private readonly startOffset: number | undefined,
    private readonly backoff: BackoffOptions,
  ) {}

  async lookup(states: PartitionState[]): Promise<Map<PartitionState, number>> {
    const out = new Map<PartitionState, number>();
    if (states.length === 0) return out;
    if (this.startOffset === undefined && this.autoOffsetReset === 'none') {
      const state = states[0]!;
      throw new BrokerError('OFFSET_OUT_OF_RANGE', `no committed offset for ${state.key} and autoOffsetReset is none`, { details: { topic: state.topic, partition: state.partition } });
    }
    const entries = await withRetries(() => this.ranges(states), Date.now() + READ_RETRY_MS, this.backoff, undefined, 'start offsets');
    states.forEach((state, i) => {
      const entry = entries[i]!;
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
      const start = this.startOffset;
      out.set(state, start !== undefined ? Math.min(Math.max(start, range.first), range.end) : this.autoOffsetReset === 'earliest' ? range.first : range.end);
    });
    return out;
  }

  /**
   * Each partition's offsets range, asked of its leader (one request per broker). A partition whose leader
   * moved fails the attempt with its retriable error, after its topic's leaders were looked up again.
   */
  private async ranges(states: PartitionState[]): Promise<RangeEntry[]> {
    const byUrl = new Map<string, number[]>();
    states.forEach((s, i) => {
      const url = this.http.urlFor(s.route);
      byUrl.set(url, [...(byUrl.get(url) ?? []), i]);
    });
    const out: RangeEntry[] = new Array(states.length);
    await Promise.all(
      [...byUrl.values()].map(async (indexes) => {
        const reply = await this.http.json<{ partitions: RangeEntry[] }>('POST', '/fetch', {
          json: { partitions: indexes.map((i) => ({ topic: states[i]!.topic, partition: states[i]!.partition, offset: 0 })), maxBytes: 1, maxBytesPerPartition: 1 },
          route: indexes.length === 1 ? states[indexes[0]!]!.route : undefined,
        });
        indexes.forEach((i, k) => (out[i] = reply.partitions[k]!));
      }),
    );
    const moved = states.filter((_, i) => 'error' in out[i]! && out[i]!.error.code === 'NOT_LEADER_OR_FOLLOWER');
    if (moved.length > 0) {
      for (const s of moved) this.http.forget(s.route);
      await Promise.all([...new Set(moved.map((s) => s.topic))].map((t) => this.http.refreshTopic(t).catch(() => undefined)));
      const first = out[states.indexOf(moved[0]!)]!;
      throw errorFromResponse(0, first, `${moved[0]!.topic}-${moved[0]!.partition}`);
    }
    return out;
  }

  /** Where a partition whose position fell out of range goes (null: report the error). */
  async resetPosition(state: PartitionState, err: BrokerError): Promise<number | null> {
    if (this.autoOffsetReset === 'none') throw err;
    const start = Number(err.details?.logStartOffset);
    const end = Number(err.details?.highWatermark);
    if (this.autoOffsetReset === 'earliest' && Number.isSafeInteger(start)) return start;
    if (this.autoOffsetReset === 'latest' && Number.isSafeInteger(end)) return end;
    return (await this.lookup([state])).get(state)!;
  }
}
