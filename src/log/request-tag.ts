/**
 * How the JSON produce route's per-request idempotence is written into Kafka RecordBatch v2 data (pure; the
 * client shares it to hide the tag from consumers).
 *
 * The JSON route numbers a producer's *requests* (0, 1, 2, ... per epoch), one request may write to several
 * partitions, and Kafka's idempotence numbers *records* per partition. The broker maps the first onto the
 * second by acting as a Kafka producer on the HTTP client's behalf:
 *
 * - Producer id: the batches of issued producer id X sent through the JSON route are written under the
 *   request producer id X + 2^52 (`requestProducerId`). Ids are issued below 2^52, so this id is never
 *   issued to anyone: a Kafka or binary-route producer using X keeps its own per-partition sequences, and
 *   the two routes can share X without ever colliding. The producer epoch is X's.
 * - Sequence: per partition, the next Kafka sequence of that request producer (0 for a new epoch), checked
 *   by the same per-partition rules as every other batch.
 * - Request sequence: the first record of the batch carries the record header `sluice.request-sequence`
 *   (its first header; the value is the request sequence in decimal ASCII). It lives in the data, so it
 *   survives a crash exactly as the batch does and travels with the batch to followers. The broker's JSON
 *   fetch and the client drop it from the records they hand out; Kafka tools show it as an ordinary header.
 */
import type { RecordBatchHeader, RecordHeader } from './record-batch.js';

/** Issued producer ids stay below this; request producer ids are issued id + this. */
export const REQUEST_PRODUCER_ID_BASE = 2 ** 52;
export const REQUEST_SEQUENCE_HEADER = 'sluice.request-sequence';

export function requestProducerId(issuedId: number): number {
  return issuedId + REQUEST_PRODUCER_ID_BASE;
}

export function isRequestProducerId(producerId: number): boolean {
  return producerId >= REQUEST_PRODUCER_ID_BASE;
}

/** The issued id behind a request producer id. */
export function issuedProducerId(requestId: number): number {
  return requestId - REQUEST_PRODUCER_ID_BASE;
}

/** The header the broker puts first on the first record of a JSON request's batch. */
export function requestSequenceHeader(sequence: number): { key: string; value: string } {
  return { key: REQUEST_SEQUENCE_HEADER, value: String(sequence) };
}

/** The request sequence in a first record's headers (null when it carries none, or a malformed one). */
export function requestSequenceIn(headers: readonly RecordHeader[]): number | null {
  const first = headers[0];
  if (!first || first.key !== REQUEST_SEQUENCE_HEADER || first.value === null) return null;
  const text = first.value.toString('latin1');
  if (!/^(0|[1-9][0-9]{0,9})$/.test(text)) return null;
  const sequence = Number(text);
  return sequence <= 0x7fffffff ? sequence : null;
}

/**
 * The headers a consumer sees: the broker's tag is dropped from the first record of a request producer's
 * batch (it is the broker's bookkeeping, not the producer's data); everything else is returned as stored.
 */
export function consumerHeaders<H extends RecordHeader>(batch: Pick<RecordBatchHeader, 'producerId' | 'baseOffset'>, offset: number, headers: H[]): H[] {
  if (offset !== batch.baseOffset || !isRequestProducerId(batch.producerId) || headers[0]?.key !== REQUEST_SEQUENCE_HEADER) return headers;
  return headers.slice(1);
}
