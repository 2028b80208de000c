/**
 * The wire format of the two internal requests between brokers (Content-Type
 * application/vnd.sluice.replica-request; docs/http-api.md, internal section). Binary, big-endian, no JSON
 * on the hot path; offsets are i64 on the wire and numbers here (below 2^53). Pure: the follower's fetcher
 * encodes requests, the leader's route decodes them.
 *
 * `POST /internal/replica/fetch` (Kafka's Fetch from a replica):
 *   request := replicaId i32, maxWaitMs i32, minBytes i32, maxBytes i32, count i32, entry*count
 *   entry   := topicLength u16, topic (UTF-8), partition i32, currentLeaderEpoch i32, fetchOffset i64,
 *              highWatermark i64 (the follower's: the leader answers at once when its own is higher),
 *              maxBytes i32
 *   reply   := the frames of src/common/fetch-frames.ts, one per entry in request order: stored batches
 *              from fetchOffset up to the leader's acknowledged end, the leader's high watermark and log
 *              start offset; or an error frame (FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH,
 *              NOT_LEADER_OR_FOLLOWER, OFFSET_OUT_OF_RANGE with logStartOffset/logEndOffset, ...)
 *
 * `POST /internal/replica/epoch-end-offsets` (Kafka's OffsetsForLeaderEpoch):
 *   request := replicaId i32, count i32, entry*count
 *   entry   := topicLength u16, topic, partition i32, currentLeaderEpoch i32, leaderEpoch i32
 *   reply   := answer*count, in request order
 *   answer  := kind u8, topicLength u16, topic, partition i32, then
 *              kind 0: leaderEpoch i32, endOffset i64   (the largest epoch <= the one asked, where it ends;
 *                                                        -1 / -1 when the leader knows no such epoch)
 *              kind 1: length i32, error (UTF-8 JSON {"code", "message", "retriable", ...details})
 */
import { readInt64, writeInt64 } from '../log/buffers.js';

export const REPLICA_REQUEST_MEDIA_TYPE = 'application/vnd.sluice.replica-request';
export const REPLICA_FETCH_PATH = '/internal/replica/fetch';
export const EPOCH_END_OFFSETS_PATH = '/internal/replica/epoch-end-offsets';

export interface ReplicaFetchEntry {
  topic: string;
  partition: number;
  currentLeaderEpoch: number;
  fetchOffset: number;
  highWatermark: number;
  maxBytes: number;
}

export interface ReplicaFetchRequest {
  replicaId: number;
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  partitions: ReplicaFetchEntry[];
}

export interface EpochEndOffsetEntry {
  topic: string;
  partition: number;
  currentLeaderEpoch: number;
  leaderEpoch: number;
}

export interface EpochEndOffsetsRequest {
  replicaId: number;
  partitions: EpochEndOffsetEntry[];
}

export type ErrorBody = { code: string; message: string; retriable?: boolean; [detail: string]: unknown };

export type EpochEndOffsetAnswer =
  | { kind: 'offset'; topic: string; partition: number; leaderEpoch: number; endOffset: number }
  | { kind: 'error'; topic: string; partition: number; error: ErrorBody };

/** Reads a buffer front to back; every read checks the length first (RangeError when it runs out). */
class Cursor {
  at = 0;
  constructor(private readonly data: Buffer) {}
  private need(bytes: number): void {
    if (this.at + bytes > this.data.length) throw new RangeError(`request ends at byte ${this.data.length}, needs ${this.at + bytes}`);
  }
  get done(): boolean {
    return this.at >= this.data.length;
  }
  u8(): number {
    this.need(1);
    return this.data.readUInt8(this.at++);
  }
  i32(): number {
    this.need(4);
    const v = this.data.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  i64(): number {
    this.need(8);
    const v = readInt64(this.data, this.at);
    this.at += 8;
    return v;
  }
  string(): string {
    this.need(2);
    const length = this.data.readUInt16BE(this.at);
    this.at += 2;
    this.need(length);
    const s = this.data.toString('utf8', this.at, this.at + length);
    this.at += length;
    return s;
  }
  bytes(length: number): Buffer {
    this.need(length);
    const b = this.data.subarray(this.at, this.at + length);
    this.at += length;
    return b;
  }
}

/** Appends to a list of small buffers, joined once at the end. */
class Out {
  readonly parts: Buffer[] = [];
  i32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(v, 0);
    this.parts.push(b);
    return this;
  }
  i64(v: number): this {
    const b = Buffer.allocUnsafe(8);
    writeInt64(b, 0, v);
    this.parts.push(b);
    return this;
  }
  u8(v: number): this {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  string(s: string): this {
    const text = Buffer.from(s, 'utf8');
    const length = Buffer.allocUnsafe(2);
    length.writeUInt16BE(text.length, 0);
    this.parts.push(length, text);
    return this;
  }
  join(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function count(cursor: Cursor): number {
  const n = cursor.i32();
  if (n < 0 || n > 100_000) throw new RangeError(`partition count ${n} out of range`);
  return n;
}

export function encodeReplicaFetchRequest(request: ReplicaFetchRequest): Buffer {
  const out = new Out().i32(request.replicaId).i32(request.maxWaitMs).i32(request.minBytes).i32(request.maxBytes).i32(request.partitions.length);
  for (const p of request.partitions) out.string(p.topic).i32(p.partition).i32(p.currentLeaderEpoch).i64(p.fetchOffset).i64(p.highWatermark).i32(p.maxBytes);
  return out.join();
}

/** Throws RangeError when the body is not a well-formed request. */
export function decodeReplicaFetchRequest(data: Buffer): ReplicaFetchRequest {
  const c = new Cursor(data);
  const replicaId = c.i32();
  const maxWaitMs = c.i32();
  const minBytes = c.i32();
  const maxBytes = c.i32();
  const n = count(c);
  const partitions: ReplicaFetchEntry[] = [];
  for (let i = 0; i < n; i++) {
    partitions.push({ topic: c.string(), partition: c.i32(), currentLeaderEpoch: c.i32(), fetchOffset: c.i64(), highWatermark: c.i64(), maxBytes: c.i32() });
  }
  if (!c.done) throw new RangeError(`${data.length - c.at} bytes after the last partition`);
  return { replicaId, maxWaitMs, minBytes, maxBytes, partitions };
}

export function encodeEpochEndOffsetsRequest(request: EpochEndOffsetsRequest): Buffer {
  const out = new Out().i32(request.replicaId).i32(request.partitions.length);
  for (const p of request.partitions) out.string(p.topic).i32(p.partition).i32(p.currentLeaderEpoch).i32(p.leaderEpoch);
  return out.join();
}

export function decodeEpochEndOffsetsRequest(data: Buffer): EpochEndOffsetsRequest {
  const c = new Cursor(data);
  const replicaId = c.i32();
  const n = count(c);
  const partitions: EpochEndOffsetEntry[] = [];
  for (let i = 0; i < n; i++) partitions.push({ topic: c.string(), partition: c.i32(), currentLeaderEpoch: c.i32(), leaderEpoch: c.i32() });
  if (!c.done) throw new RangeError(`${data.length - c.at} bytes after the last partition`);
  return { replicaId, partitions };
}

export function encodeEpochEndOffsets(answers: readonly EpochEndOffsetAnswer[]): Buffer {
  const out = new Out();
  for (const a of answers) {
    out.u8(a.kind === 'offset' ? 0 : 1).string(a.topic).i32(a.partition);
    if (a.kind === 'offset') out.i32(a.leaderEpoch).i64(a.endOffset);
    else {
      const error = Buffer.from(JSON.stringify(a.error), 'utf8');
      out.i32(error.length).parts.push(error);
    }
  }
  return out.join();
}

export function decodeEpochEndOffsets(data: Buffer): EpochEndOffsetAnswer[] {
  const c = new Cursor(data);
  const answers: EpochEndOffsetAnswer[] = [];
  while (!c.done) {
    const kind = c.u8();
    const topic = c.string();
    const partition = c.i32();
    if (kind === 0) answers.push({ kind: 'offset', topic, partition, leaderEpoch: c.i32(), endOffset: c.i64() });
    else if (kind === 1) {
      const length = c.i32();
      if (length < 0) throw new RangeError(`negative error length ${length}`);
      answers.push({ kind: 'error', topic, partition, error: JSON.parse(c.bytes(length).toString('utf8')) as ErrorBody });
    } else throw new RangeError(`unknown answer kind ${kind}`);
  }
  return answers;
}
