/**
 * What the HTTP suite sends and expects, shared by the load generator and the plain fastify baseline server
 * so both sides of every comparison move the same bytes:
 *
 * - record values: `recordBytes` ASCII characters from the base64 alphabet (seeded, so every run sends the
 *   same text; nothing in them needs escaping in JSON), used as JSON strings and, as their UTF-8 bytes, as
 *   the values of binary record batches;
 * - JSON produce bodies `{"records":[{"value":"…","partition":p}, …],"acks":"all"}`, encoded once;
 * - RecordBatch v2 bodies built with the broker's own encoder;
 * - the JSON fetch reply shape `{records:[{offset,timestamp,key,value,headers}],nextOffset,highWatermark,
 *   logStartOffset}` (src/server/json-records.ts, routes/fetch.ts).
 */
import { encodeBatch } from '../../src/log/record-batch.js';
import { seededRandom } from '../lib/random.js';

export const RECORD_BATCH_MEDIA_TYPE = 'application/vnd.sluice.record-batch';
/** CreateTime of the records the suite stores through the binary path (any past time is accepted). */
export const RECORD_TIMESTAMP = 1_700_000_000_000;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** `count` distinct strings of `bytes` ASCII characters each. */
export function recordValues(count: number, bytes: number, seed = 1): string[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    let text = '';
    for (let i = 0; i < bytes; i++) text += ALPHABET[(random() * 64) | 0];
    return text;
  });
}

/** A JSON produce body putting every record on `partition` (explicit), acks=all. */
export function jsonProduceBody(values: readonly string[], partition: number | null): Buffer {
  const records = values.map((value) => (partition === null ? { value } : { value, partition }));
  return Buffer.from(JSON.stringify({ records, acks: 'all' }));
}

/** One RecordBatch v2 holding `values` (offsets are assigned by the broker, so it can be sent again). */
export function recordBatch(values: readonly string[]): Buffer {
  return encodeBatch({ records: values.map((value) => ({ key: null, value: Buffer.from(value, 'utf8'), timestamp: RECORD_TIMESTAMP })) });
}

import type { FetchedRecord } from '../../src/server/json-records.js';

export type { FetchedRecord };

export interface JsonFetchReply {
  records: FetchedRecord[];
  nextOffset: number;
  highWatermark: number;
  logStartOffset: number;
}

/**
 * The tail of a JSON fetch reply ends `…],"nextOffset":N,"highWatermark":H,"logStartOffset":L}`; reading N
 * from the last bytes checks the reply without paying a full JSON.parse in the load generator.
 */
export function nextOffsetOfJsonTail(tail: string): number | null {
  const match = /"nextOffset":(\d+)/.exec(tail);
  return match ? Number(match[1]) : null;
}
