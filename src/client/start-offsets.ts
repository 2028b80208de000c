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
import type { HttpClient } from './http.js';
import type { OffsetReset } from './consumer-options.js';
import { withRetries, type BackoffOptions } from './retry.js';

/** How long the lookups, which are safe to repeat, are retried. */
const READ_RETRY_MS = 60_000;

export class StartOffsets {
  constructor(
    private readonly http: HttpClient,
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
    const reply = await withRetries(
      () =>
        this.http.json<{ partitions: ({ highWatermark: number; logStartOffset: number } | { error: Record<string, unknown> })[] }>('POST', '/fetch', {
          json: { partitions: states.map((s) => ({ topic: s.topic, partition: s.partition, offset: 0 })), maxBytes: 1, maxBytesPerPartition: 1 },
        }),
      Date.now() + READ_RETRY_MS,
      this.backoff,
      undefined,
      'start offsets',
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
      const start = this.startOffset;
      out.set(state, start !== undefined ? Math.min(Math.max(start, range.first), range.end) : this.autoOffsetReset === 'earliest' ? range.first : range.end);
    });
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
