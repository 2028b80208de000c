/**
 * Compression codecs of the record batch `attributes` bits 0-2. sluice writes and reads `none` and `lz4`;
 * Kafka's gzip, snappy and zstd codes are recognised so that a batch using them is refused with a clear
 * CORRUPT_MESSAGE instead of being misread.
 *
 * LZ4 is a standard LZ4 frame (magic 0x184D2204), as Kafka's producer writes it. lz4-napi decompresses only
 * the first frame of concatenated frames, so a payload with trailing bytes after its frame is refused.
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

export function decompress(codec: CompressionCodec, data: Buffer): Buffer {
  if (codec === 'none') return data;
  if (data.length < 7 || data.readUInt32LE(0) !== LZ4_FRAME_MAGIC) {
    throw corruptMessage('LZ4 payload does not start with an LZ4 frame header');
  }
  try {
    return decompressFrameSync(data);
  } catch (err) {
    throw corruptMessage(`LZ4 payload does not decompress: ${(err as Error).message}`);
  }
}
