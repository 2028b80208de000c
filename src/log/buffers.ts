/**
 * Reader and Writer: the two cursors every binary format in sluice goes through.
 *
 * Reader walks one Buffer and throws a RangeError as soon as a read would pass its end, so a truncated
 * structure is always detected, never read as garbage. Writer builds output as a chain of chunks: small
 * fields go into a scratch chunk, large byte strings are linked in without a copy, and `toBuffer()`
 * concatenates once at the end.
 *
 * i64 fields are read as JavaScript numbers, not bigints: offsets, timestamps and producer ids in a
 * partition stay far below 2^53 in practice (2^53 offsets is 285 years at a million records a second), and a
 * value that does not fit is refused as corrupt instead of being rounded silently.
 *
 * Varints are zigzag-encoded like protobuf's sint32/sint64, as Kafka's record format requires.
 */

const TWO_32 = 0x1_0000_0000;

/** Size in bytes of `value` as a zigzag varint (Kafka's varint and varlong share the encoding). */
export function sizeOfVarint(value: number): number {
  let zz = value >= 0 ? value * 2 : -value * 2 - 1;
  let size = 1;
  while (zz >= 0x80) {
    zz = Math.floor(zz / 128);
    size++;
  }
  return size;
}

export class Reader {
  position: number;

  constructor(
    readonly buffer: Buffer,
    position = 0,
    readonly end = buffer.length,
  ) {
    this.position = position;
  }

  get remaining(): number {
    return this.end - this.position;
  }

  private need(bytes: number): number {
    const at = this.position;
    if (bytes < 0 || at + bytes > this.end) {
      throw new RangeError(`read of ${bytes} bytes at ${at} passes the end (${this.end})`);
    }
    this.position = at + bytes;
    return at;
  }

  readInt8(): number {
    return this.buffer.readInt8(this.need(1));
  }

  readInt16(): number {
    return this.buffer.readInt16BE(this.need(2));
  }

  readInt32(): number {
    return this.buffer.readInt32BE(this.need(4));
  }

  readUInt32(): number {
    return this.buffer.readUInt32BE(this.need(4));
  }

  readInt64(): number {
    return readInt64(this.buffer, this.need(8));
  }

  /** Zigzag varint or varlong; refuses encodings longer than 10 bytes or values beyond 2^53. */
  readVarint(): number {
    let raw = 0;
    let multiplier = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.buffer[this.need(1)]!;
      raw += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) {
        if (!Number.isSafeInteger(raw)) throw new RangeError('varint does not fit in 53 bits');
        return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
      }
      multiplier *= 128;
    }
    throw new RangeError('varint longer than 10 bytes');
  }

  readBytes(length: number): Buffer {
    const at = this.need(length);
    return this.buffer.subarray(at, at + length);
  }

  /** A varint length followed by that many bytes; length -1 is null. */
  readNullableBytes(): Buffer | null {
    const length = this.readVarint();
    if (length < -1) throw new RangeError(`invalid length ${length}`);
    return length === -1 ? null : this.readBytes(length);
  }

  skip(bytes: number): void {
    this.need(bytes);
  }
}

/** Big-endian signed 64-bit integer as a number; throws when it does not fit in 53 bits. */
export function readInt64(buffer: Buffer, at: number): number {
  const high = buffer.readInt32BE(at);
  const low = buffer.readUInt32BE(at + 4);
  const value = high * TWO_32 + low;
  if (!Number.isSafeInteger(value)) throw new RangeError(`int64 at ${at} does not fit in 53 bits`);
  return value;
}

export function writeInt64(buffer: Buffer, at: number, value: number): void {
  const high = Math.floor(value / TWO_32);
  buffer.writeInt32BE(high, at);
  buffer.writeUInt32BE(value - high * TWO_32, at + 4);
}

const CHUNK_SIZE = 16 * 1024;
/** Byte strings at least this large are linked into the chain instead of copied. */
const LINK_THRESHOLD = 512;

export class Writer {
  private readonly chunks: Buffer[] = [];
  private scratch: Buffer = Buffer.allocUnsafe(CHUNK_SIZE);
  private start = 0;
  private at = 0;
  private total = 0;

  get length(): number {
    return this.total;
  }

  private room(bytes: number): Buffer {
    if (this.at + bytes > this.scratch.length) {
      this.seal();
      this.scratch = Buffer.allocUnsafe(Math.max(CHUNK_SIZE, bytes));
      this.start = 0;
      this.at = 0;
    }
    this.total += bytes;
    return this.scratch;
  }

  private seal(): void {
    if (this.at > this.start) this.chunks.push(this.scratch.subarray(this.start, this.at));
    this.start = this.at;
  }

  int8(value: number): this {
    this.room(1).writeInt8(value, this.at);
    this.at += 1;
    return this;
  }

  int16(value: number): this {
    this.room(2).writeInt16BE(value, this.at);
    this.at += 2;
    return this;
  }

  int32(value: number): this {
    this.room(4).writeInt32BE(value, this.at);
    this.at += 4;
    return this;
  }

  uint32(value: number): this {
    this.room(4).writeUInt32BE(value, this.at);
    this.at += 4;
    return this;
  }

  int64(value: number): this {
    writeInt64(this.room(8), this.at, value);
    this.at += 8;
    return this;
  }

  varint(value: number): this {
    let zz = value >= 0 ? value * 2 : -value * 2 - 1;
    const buffer = this.room(sizeOfVarint(value));
    while (zz >= 0x80) {
      buffer[this.at++] = (zz % 128) | 0x80;
      zz = Math.floor(zz / 128);
    }
    buffer[this.at++] = zz;
    return this;
  }

  bytes(data: Uint8Array): this {
    if (data.length >= LINK_THRESHOLD) {
      this.seal();
      this.chunks.push(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length));
      this.total += data.length;
    } else {
      this.room(data.length).set(data, this.at);
      this.at += data.length;
    }
    return this;
  }

  /** A varint length then the bytes; null is written as length -1. */
  nullableBytes(data: Uint8Array | null): this {
    if (data === null) return this.varint(-1);
    return this.varint(data.length).bytes(data);
  }

  /** Concatenates the chain once. The Writer must not be used afterwards. */
  toBuffer(): Buffer {
    this.seal();
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.total);
  }
}
