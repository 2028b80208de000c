/** Property tests of the generated codecs: encode then decode is the identity; any truncation is detected. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ApiVersions, Fetch, JoinGroup } from '../../src/kafka/generated/index.js';
import { MalformedFrameError, Reader } from '../../src/kafka/protocol/reader.js';
import { Writer } from '../../src/kafka/protocol/writer.js';

const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const int64 = fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 });
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));

const fetchResponse = fc.record({
  throttleTimeMs: int32,
  errorCode: fc.integer({ min: -1, max: 100 }),
  sessionId: int32,
  responses: fc.array(
    fc.record({
      topic: fc.string({ maxLength: 20 }),
      partitions: fc.array(
        fc.record(
          {
            partitionIndex: int32,
            errorCode: fc.integer({ min: -1, max: 100 }),
            highWatermark: int64,
            lastStableOffset: int64,
            logStartOffset: int64,
            currentLeader: fc.record({ leaderId: int32, leaderEpoch: int32 }),
            abortedTransactions: fc.option(fc.array(fc.record({ producerId: int64, firstOffset: int64 }), { maxLength: 2 })),
            preferredReadReplica: int32,
            records: fc.option(bytes(3000)),
          },
          { requiredKeys: ['partitionIndex', 'errorCode', 'highWatermark', 'lastStableOffset', 'logStartOffset', 'abortedTransactions', 'preferredReadReplica', 'records'] },
        ),
        { maxLength: 3 },
      ),
    }),
    { maxLength: 3 },
  ),
});

function roundTrip<T>(write: (w: Writer, v: number, x: T) => void, read: (r: Reader, v: number) => T, version: number, value: T): { bytes: Buffer; decoded: T } {
  const w = new Writer();
  write(w, version, value);
  const out = w.toBuffer();
  const r = new Reader(out);
  const decoded = read(r, version);
  expect(r.remaining).toBe(0);
  return { bytes: out, decoded };
}

describe('generated codecs', () => {
  it('Fetch response v12 (flexible, tagged fields, records linked without a copy) decodes to what was encoded', () => {
    fc.assert(
      fc.property(fetchResponse, (value) => {
        const { decoded } = roundTrip(Fetch.writeFetchResponse, Fetch.readFetchResponse, 12, value as Fetch.FetchResponse);
        expect(decoded).toEqual(value);
      }),
      { numRuns: 200 },
    );
  });

  it('any truncation of an encoded message is detected (MalformedFrameError), never misread silently', () => {
    fc.assert(
      fc.property(fetchResponse, fc.nat(), (value, cut) => {
        const { bytes: full } = roundTrip(Fetch.writeFetchResponse, Fetch.readFetchResponse, 12, value as Fetch.FetchResponse);
        const truncated = full.subarray(0, cut % full.length);
        expect(() => Fetch.readFetchResponse(new Reader(truncated), 12)).toThrow(MalformedFrameError);
      }),
      { numRuns: 200 },
    );
  });

  it('JoinGroup request round-trips in its non-flexible and flexible versions', () => {
    const request = fc.record({
      groupId: fc.string({ maxLength: 30 }),
      sessionTimeoutMs: int32,
      rebalanceTimeoutMs: int32,
      memberId: fc.string({ maxLength: 30 }),
      groupInstanceId: fc.option(fc.string({ maxLength: 10 })),
      protocolType: fc.string({ maxLength: 10 }),
      protocols: fc.array(fc.record({ name: fc.string({ maxLength: 10 }), metadata: bytes(50) }), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(request, (value) => {
        for (const v of [5, 6, 7]) expect(roundTrip(JoinGroup.writeJoinGroupRequest, JoinGroup.readJoinGroupRequest, v, value).decoded).toEqual(value);
      }),
    );
  });

  it('unknown tagged fields are skipped; ApiVersions v3 tags are read', () => {
    const w = new Writer();
    ApiVersions.writeApiVersionsResponse(w, 3, { errorCode: 0, apiKeys: [], throttleTimeMs: 0, finalizedFeaturesEpoch: 42 });
    const out = w.toBuffer();
    expect(ApiVersions.readApiVersionsResponse(new Reader(out), 3).finalizedFeaturesEpoch).toBe(42);
    // Request v3 with an unknown tag 9 carrying 3 bytes.
    const req = Buffer.from([2, 0x61, 2, 0x62, 1, 9, 3, 1, 2, 3]);
    const r = new Reader(req);
    expect(ApiVersions.readApiVersionsRequest(r, 3)).toEqual({ clientSoftwareName: 'a', clientSoftwareVersion: 'b' });
    expect(r.remaining).toBe(0);
  });
});
