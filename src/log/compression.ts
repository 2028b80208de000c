/**
 * Compression codecs of the record batch `attributes` bits 0-2. sluice writes and reads `none` and `lz4`;
 * Kafka's gzip, snappy and zstd codes are recognised so that a batch using them is refused with a clear
 * CORRUPT_MESSAGE instead of being misread.
 *
 * LZ4 is a standard LZ4 frame (magic 0x184D2204), as Kafka's producer writes it. lz4-napi decompresses only
 * the first frame of concatenated frames, so the frame's structure is walked first and a payload with bytes
 * after its one frame is refused.
 */
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import { corruptMessage } from './errors.js';

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
/** Largest decompressed payload accepted: guards against a small batch that inflates to gigabytes. */
export const MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;
const BLOCK_MAX_SIZES: Record<number, number> = { 4: 64 * 1024, 5: 256 * 1024, 6: 1024 * 1024, 7: 4 * 1024 * 1024 };

/**
 * Walks an LZ4 frame's structure without decompressing: returns its length in bytes and an upper bound of
 * its decompressed size, or throws CORRUPT_MESSAGE. Layout (little-endian): magic u32, FLG u8 (bit 4 block
 * checksums, bit 3 content size, bit 2 content checksum, bit 0 dictionary id), BD u8 (bits 4-6 block max size),
 * [content size u64], [dictionary id u32], header checksum u8, then blocks: size u32 (bit 31 = stored
 * uncompressed; 0 ends the frame), data, [block checksum u32]; then [content checksum u32].
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
  let blocks = 0;
  for (;;) {
    if (at + 4 > data.length) fail('frame ends inside a block header');
    const word = data.readUInt32LE(at);
    at += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    if (size > blockMax) fail(`block of ${size} bytes exceeds the frame's ${blockMax}`);
    at += size + (flags & 0x10 ? 4 : 0);
    blocks++;
  }
  at += flags & 0x04 ? 4 : 0;
  if (at > data.length) fail('frame is truncated');
  return { length: at, maxDecompressed: blocks * blockMax };
}

export function decompress(codec: CompressionCodec, data: Buffer): Buffer {
  if (codec === 'none') return data;
  const shape = lz4FrameShape(data);
  if (shape.length !== data.length) {
    throw corruptMessage(`${data.length - shape.length} bytes after the LZ4 frame (one frame per batch)`);
  }
  if (shape.maxDecompressed > MAX_DECOMPRESSED_BYTES) {
    throw corruptMessage(`LZ4 payload may decompress to ${shape.maxDecompressed} bytes, above ${MAX_DECOMPRESSED_BYTES}`);
  }
  try {
    return decompressFrameSync(data);
  } catch (err) {
    throw corruptMessage(`LZ4 payload does not decompress: ${(err as Error).message}`);
  }
}
