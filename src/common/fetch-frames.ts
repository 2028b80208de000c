/**
 * The binary reply of the multi-partition fetch (`POST /fetch` with `Accept: application/vnd.sluice.record-batch`):
 * one frame per requested partition, in request order, back to back. Integers are big-endian.
 *
 *   frame   := kind u8, topicLength u16, topic (UTF-8), partition i32, body
 *   kind 0  := highWatermark i64, logStartOffset i64, nextOffset i64, length i32, batches (length bytes)
 *   kind 1  := length i32, error (length bytes of UTF-8 JSON {"code", "message", "retriable", ...details})
 *
 * `batches` are whole stored record batches as they lie on disk (the first may start before the requested
 * offset: readers skip records below it). Offsets are i64 on the wire and numbers here (below 2^53).
 * Pure: shared by the broker (encode) and the client (decode).
 */

import { readInt64, writeInt64 } from '../log/buffers.js';

export const FRAME_RECORDS = 0;
export const FRAME_ERROR = 1;

export type FetchFrame =
  | { kind: 'records'; topic: string; partition: number; highWatermark: number; logStartOffset: number; nextOffset: number; batches: Buffer }
  | { kind: 'error'; topic: string; partition: number; error: { code: string; message: string; retriable?: boolean; [detail: string]: unknown } };

function headerSize(topic: Buffer): number {
  return 1 + 2 + topic.length + 4;
}

/** The frames as a list of buffers to send with one write (the batches are not copied). */
export function encodeFetchFrames(frames: readonly FetchFrame[]): Buffer[] {
  const out: Buffer[] = [];
  for (const frame of frames) {
    const topic = Buffer.from(frame.topic, 'utf8');
    if (frame.kind === 'records') {
      const head = Buffer.allocUnsafe(headerSize(topic) + 8 * 3 + 4);
      const at = writeHead(head, FRAME_RECORDS, topic, frame.partition);
      writeInt64(head, at, frame.highWatermark);
      writeInt64(head, at + 8, frame.logStartOffset);
      writeInt64(head, at + 16, frame.nextOffset);
      head.writeInt32BE(frame.batches.length, at + 24);
      out.push(head);
      if (frame.batches.length > 0) out.push(frame.batches);
    } else {
      const error = Buffer.from(JSON.stringify(frame.error), 'utf8');
      const head = Buffer.allocUnsafe(headerSize(topic) + 4);
      const at = writeHead(head, FRAME_ERROR, topic, frame.partition);
      head.writeInt32BE(error.length, at);
      out.push(head, error);
    }
  }
  return out;
}

/** Parses a whole reply; throws RangeError when it is not well-formed. The batches are views of `data`. */
export function decodeFetchFrames(data: Buffer): FetchFrame[] {
  const frames: FetchFrame[] = [];
  let at = 0;
  const need = (bytes: number) => {
    if (at + bytes > data.length) throw new RangeError(`fetch reply ends inside a frame (byte ${at}, needs ${bytes} more)`);
  };
  while (at < data.length) {
    need(3);
    const kind = data.readUInt8(at);
    const topicLength = data.readUInt16BE(at + 1);
    at += 3;
    need(topicLength + 4);
    const topic = data.toString('utf8', at, at + topicLength);
    at += topicLength;
    const partition = data.readInt32BE(at);
    at += 4;
    if (kind === FRAME_RECORDS) {
      need(28);
      const highWatermark = readInt64(data, at);
      const logStartOffset = readInt64(data, at + 8);
      const nextOffset = readInt64(data, at + 16);
      const length = data.readInt32BE(at + 24);
      at += 28;
      if (length < 0) throw new RangeError(`negative batch length ${length}`);
      need(length);
      frames.push({ kind: 'records', topic, partition, highWatermark, logStartOffset, nextOffset, batches: data.subarray(at, at + length) });
      at += length;
    } else if (kind === FRAME_ERROR) {
      need(4);
      const length = data.readInt32BE(at);
      at += 4;
      if (length < 0) throw new RangeError(`negative error length ${length}`);
      need(length);
      frames.push({ kind: 'error', topic, partition, error: JSON.parse(data.toString('utf8', at, at + length)) });
      at += length;
    } else {
      throw new RangeError(`unknown frame kind ${kind} at byte ${at - 7 - topicLength}`);
    }
  }
  return frames;
}

function writeHead(buffer: Buffer, kind: number, topic: Buffer, partition: number): number {
  buffer.writeUInt8(kind, 0);
  buffer.writeUInt16BE(topic.length, 1);
  topic.copy(buffer, 3);
  buffer.writeInt32BE(partition, 3 + topic.length);
  return headerSize(topic);
}
