/**
 * Compression codecs of the record batch `attributes` bits 0-2. sluice writes and reads `none` and `lz4`;
 * Kafka's gzip, snappy and zstd codes are recognised so that a batch using them is refused with a clear
 * CORRUPT_MESSAGE instead of being misread.
 *
 * LZ4 is a standard LZ4 frame (magic 0x184D2204), as Kafka's producer writes it. lz4-napi decompresses only
 * the first frame of concatenated frames, so the frame's structure is walked first and a payload with bytes
 * after its one frame is refused.
 *
 * Decompression is bounded: 823 KB of LZ4 can hold 200 MiB of zeros. Every decompression takes a limit, checks
 * the frame's upper bound (lz4FrameShape, from the block sizes) against it before inflating anything, and the
 * real length after; above it is RECORD_TOO_LARGE. `decompressAsync` inflates on the libuv threadpool, so that a
 * big payload does not stop the event loop.
 */
import { compressFrameSync, decompressFrame, decompressFrameSync } from 'lz4-napi';
import { BrokerError, corruptMessage } from '../common/errors.js';

export type CompressionCodec = 'none' | 'lz4';

export const CODEC_IDS: Record<CompressionCodec, number> = { none: 0, lz4: 3 };

const KAFKA_CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

export function codecFromId(id: number): CompressionCodec {
  if (id === 0) return 'none';
  if (id === 3) return 'lz4';
  const name = KAFKA_CODEC_NAMES[id] ?? `unknown codec ${id}`;
  throw corruptMessage(`compression codec ${name} is not supported (sluice reads none and lz4)`, { codec: id });
}

export function compress(codec: CompressionCodec, data: Buffer): Buffer {
  return codec === 'lz4' ? compressFrameSync(data) : data;
}

const LZ4_FRAME_MAGIC = 0x184d2204;
/**
 * Largest decompressed payload any reader inflates (stored batches, the client): a hard cap against a small
 * batch that inflates to gigabytes. The produce path applies the broker's lower, configured limit.
 */
export const MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;
const MAX_LZ4_RATIO = 256;
const BLOCK_MAX_SIZES: Record<number, number> = { 4: 64 * 1024, 5: 256 * 1024, 6: 1024 * 1024, 7: 4 * 1024 * 1024 };

/**
 * Walks an LZ4 frame's structure without decompressing: returns its length in bytes and an upper bound of
 * its decompressed size, or throws CORRUPT_MESSAGE. Layout (little-endian): magic u32, FLG u8 (bit 4 block
 * checksums, bit 3 content size, bit 2 content checksum, bit 0 dictionary id), BD u8 (bits 4-6 block max size),
 * [content size u64], [dictionary id u32], header checksum u8, then blocks: size u32 (bit 31 = stored
 * uncompressed; 0 ends the frame), data, [block checksum u32]; then [content checksum u32].
 *
 * The bound adds, per block, its size when stored and otherwise the smaller of the block max size and
 * MAX_LZ4_RATIO × its size: an LZ4 sequence spends at least one input byte per 255 bytes of match length and
 * one per literal, so no block inflates more than 255-fold. The frame's optional content size is not used:
 * it is the sender's claim, not a bound.
 */
export function lz4FrameShape(data: Buffer): { length: number; maxDecompressed: number } {
  const fail = (why: string): never => {
    throw corruptMessage(`LZ4 payload is not one well-formed frame: ${why}`);
  };
  if (data.length < 7 || data.readUInt32LE(0) !== LZ4_FRAME_MAGIC) fail('no LZ4 frame magic');
  const flags = data[4]!;
  if (flags >> 6 !== 1) fail(`frame version ${flags >> 6}`);
  const blockMax = BLOCK_MAX_SIZES[(data[5]! >> 4) & 7] ?? fail('invalid block size code');
  let at = 6 + (flags & 0x08 ? 8 : 0) + (flags & 0x01 ? 4 : 0) + 1;
  let maxDecompressed = 0;
  for (;;) {
    if (at + 4 > data.length) fail('frame ends inside a block header');
    const word = data.readUInt32LE(at);
    at += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    if (size > blockMax) fail(`block of ${size} bytes exceeds the frame's ${blockMax}`);
    at += size + (flags & 0x10 ? 4 : 0);
    maxDecompressed += word & 0x80000000 ? size : Math.min(blockMax, size * MAX_LZ4_RATIO);
  }
  at += flags & 0x04 ? 4 : 0;
  if (at > data.length) fail('frame is truncated');
  return { length: at, maxDecompressed };
}

/**
 * An upper bound of the inflated size of a batch payload, without decompressing: the payload itself when
 * uncompressed, lz4FrameShape's bound for LZ4 (a bomb's full blocks count at their exact size).
 * Throws CORRUPT_MESSAGE for a payload that is not exactly one well-formed frame.
 */
export function inflatedSizeBound(codec: CompressionCodec, data: Buffer): number {
  if (codec === 'none') return data.length;
  const shape = lz4FrameShape(data);
  if (shape.length !== data.length) {
    throw corruptMessage(`${data.length - shape.length} bytes after the LZ4 frame (one frame per batch)`);
  }
  return shape.maxDecompressed;
}

/** RECORD_TOO_LARGE for a payload that inflates (or, from its frame, may inflate) above `limit`. */
function inflatedTooLarge(inflatedBytes: number, limit: number, exact: boolean): BrokerError {
  const verb = exact ? 'inflates' : 'may inflate';
  return new BrokerError('RECORD_TOO_LARGE', `a compressed record batch ${verb} to ${inflatedBytes} bytes, above the limit of ${limit}`, {
    details: { inflatedBytes, maxInflatedBytes: limit },
  });
}

/** Decompresses a batch payload of at most `maxBytes` inflated; throws RECORD_TOO_LARGE or CORRUPT_MESSAGE. */
export function decompress(codec: CompressionCodec, data: Buffer, maxBytes = MAX_DECOMPRESSED_BYTES): Buffer {
  if (codec === 'none') return data;
  checkBound(data, maxBytes);
  let out: Buffer;
  try {
    out = decompressFrameSync(data);
  } catch (err) {
    throw corruptMessage(`LZ4 payload does not decompress: ${(err as Error).message}`);
  }
  return checkInflated(out, maxBytes);
}

/** As `decompress`, with the inflation on the libuv threadpool (the event loop keeps running meanwhile). */
export async function decompressAsync(codec: CompressionCodec, data: Buffer, maxBytes = MAX_DECOMPRESSED_BYTES): Promise<Buffer> {
  if (codec === 'none') return data;
  checkBound(data, maxBytes);
  let out: Buffer;
  try {
    out = await decompressFrame(data);
  } catch (err) {
    throw corruptMessage(`LZ4 payload does not decompress: ${(err as Error).message}`);
  }
  return checkInflated(out, maxBytes);
}

function checkBound(data: Buffer, maxBytes: number): void {
  const bound = inflatedSizeBound('lz4', data);
  if (bound > maxBytes) throw inflatedTooLarge(bound, maxBytes, false);
}

/** The second check, on the real length: the frame bound should already hold, but the decoder is not ours. */
function checkInflated(out: Buffer, maxBytes: number): Buffer {
  if (out.length > maxBytes) throw inflatedTooLarge(out.length, maxBytes, true);
  return out;
}
