/**
 * Reader, and the in-place writers: the cursors every binary format in sluice goes through.
 *
 * Reader walks one Buffer and throws a RangeError as soon as a read would pass its end, so a truncated
 * structure is always detected, never read as garbage. Writing goes the other way round: the encoder
 * measures a structure exactly first (`sizeOfVarint`), allocates once, and writes in place (`writeVarint`,
 * `writeInt64`), so every byte string is copied once.
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

/** Writes `value` as a zigzag varint at `at`; returns the position after it. */
export function writeVarint(buffer: Buffer, at: number, value: number): number {
  let zz = value >= 0 ? value * 2 : -value * 2 - 1;
  while (zz >= 0x80) {
    buffer[at++] = (zz % 128) | 0x80;
    zz = Math.floor(zz / 128);
  }
  buffer[at++] = zz;
  return at;
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
