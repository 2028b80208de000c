/**
 * The client's types as an application meets them: headers by key in both directions (repeated keys in
 * headerList), and topic config keys checked by the compiler (this file is type-checked by `npm run typecheck`;
 * each @ts-expect-error fails the check if the line ever compiles).
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { ConsumerRecord, ProducerRecord, TopicConfigChanges, TopicConfigKey } from '../../src/client/index.js';
import { consumerRecordsOf, prepareRecord } from '../../src/client/records.js';
import { encodeBatch } from '../../src/log/record-batch.js';

function roundTrip(record: ProducerRecord): ConsumerRecord {
  const { input } = prepareRecord(record, 1_000);
  const [received] = consumerRecordsOf(encodeBatch({ records: [input] }), record.topic, 0, 0);
  return received!;
}

describe('headers', () => {
  it('go in as an object and come back as one, readable by key', () => {
    const r = roundTrip({ topic: 't', value: 'v', headers: { source: 'web-1', trace: new Uint8Array([1, 2]), empty: null } });
    expectTypeOf(r.headers['source']).toEqualTypeOf<Buffer | null | undefined>();
    expect(r.headers['source']!.toString()).toBe('web-1');
    expect(r.headers['trace']).toEqual(Buffer.from([1, 2]));
    expect(r.headers['empty']).toBeNull();
    expect(Object.keys(r.headers)).toEqual(['source', 'trace', 'empty']);
  });

  it('keep repeated keys in order in headerList; headers has the last value', () => {
    const r = roundTrip({ topic: 't', value: 'v', headers: [{ key: 'hop', value: 'a' }, { key: 'hop', value: 'b' }, { key: '__proto__', value: 'x' }] });
    expect(r.headerList.map((h) => [h.key, h.value?.toString()])).toEqual([['hop', 'a'], ['hop', 'b'], ['__proto__', 'x']]);
    expect(r.headers['hop']!.toString()).toBe('b');
    expect(Object.hasOwn(r.headers, '__proto__')).toBe(true); // an own key, not the prototype
  });
});

describe('topic config keys', () => {
  it('are the broker\'s camelCase keys; misspelled or dotted names do not compile', () => {
    const ok: TopicConfigChanges = { retentionMs: 1_000, retentionBytes: null, compression: 'lz4' };
    expect(ok.retentionMs).toBe(1_000);
    // @ts-expect-error wrong case
    const wrongCase: TopicConfigChanges = { retentionMS: 1_000 };
    // @ts-expect-error Kafka's dotted name (the CLI accepts it; the typed client does not)
    const dotted: TopicConfigChanges = { 'retention.ms': 1_000 };
    // @ts-expect-error a string where a number goes
    const wrongType: TopicConfigChanges = { segmentBytes: '1GB' };
    // @ts-expect-error not a codec
    const codec: TopicConfigChanges = { compression: 'zstd' };
    expect([wrongCase, dotted, wrongType, codec]).toHaveLength(4);
    expectTypeOf<'retention.ms'>().not.toMatchTypeOf<TopicConfigKey>();
    expectTypeOf<'retentionMs'>().toMatchTypeOf<TopicConfigKey>();
  });
});
