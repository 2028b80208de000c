/**
 * Reads Kafka's wire types from one request frame (a Buffer holding exactly one request, size prefix
 * removed). Every read is bounds-checked: a truncated or lying frame throws MalformedFrameError, which closes
 * that connection only. Lengths and counts are checked against the bytes left before anything is allocated,
 * so a frame cannot make the broker allocate more than the frame's own size.
 *
 * Types (big-endian): int8/16/32/64, uint16, float64, boolean (int8 != 0), unsigned varint (LEB128, at most
 * 5 bytes for 32 bits), strings and bytes with an int16/int32 length (-1: null) or, in flexible versions,
 * "compact" ones with an unsigned varint length + 1 (0: null), uuid (16 bytes).
 *
 * int64 fields are read as JavaScript numbers: offsets, timestamps and producer ids stay far below 2^53 in
 * practice (2^53 offsets is 9 * 10^15 records), and numbers keep the hot paths free of bigint conversions.
 */
export class MalformedFrameError extends Error {
  override readonly name = 'MalformedFrameError';
}

export class Reader {
  offset: number;

  constructor(
    readonly buf: Buffer,
    offset = 0,
  ) {
    this.offset = offset;
  }

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  private need(n: number): number {
    if (n < 0 || this.offset + n > this.buf.length) {
      throw new MalformedFrameError(`frame truncated: ${n} bytes needed at ${this.offset}, ${this.remaining} left`);
    }
    const at = this.offset;
    this.offset += n;
    return at;
  }

  int8(): number {
    return this.buf.readInt8(this.need(1));
  }

  int16(): number {
    return this.buf.readInt16BE(this.need(2));
  }

  uint16(): number {
    return this.buf.readUInt16BE(this.need(2));
  }

  int32(): number {
    return this.buf.readInt32BE(this.need(4));
  }

  int64(): number {
    const at = this.need(8);
    return this.buf.readInt32BE(at) * 4_294_967_296 + this.buf.readUInt32BE(at + 4);
  }

  float64(): number {
    return this.buf.readDoubleBE(this.need(8));
  }

  bool(): boolean {
    return this.int8() !== 0;
  }

  uuid(): Buffer {
    const at = this.need(16);
    return this.buf.subarray(at, at + 16);
  }

  uvarint(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.buf[this.need(1)]!;
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (value > 0xffff_ffff) break;
        return value;
      }
    }
    throw new MalformedFrameError(`unsigned varint too long at ${this.offset}`);
  }

  /** A length: int16 or int32 (flexible: uvarint - 1); -1 is null. */
  private length(compact: boolean, wide: boolean): number {
    const n = compact ? this.uvarint() - 1 : wide ? this.int32() : this.int16();
    if (n < -1) throw new MalformedFrameError(`negative length ${n} at ${this.offset}`);
    if (n > this.remaining) throw new MalformedFrameError(`length ${n} exceeds the ${this.remaining} bytes left`);
    return n;
  }

  nullableString(compact: boolean): string | null {
    const n = this.length(compact, false);
    if (n === -1) return null;
    const at = this.need(n);
    return this.buf.toString('utf8', at, at + n);
  }

  string(compact: boolean): string {
    const s = this.nullableString(compact);
    if (s === null) throw new MalformedFrameError('null where a string is required');
    return s;
  }

  /** Bytes as a view into the frame (no copy). */
  nullableBytes(compact: boolean): Buffer | null {
    const n = this.length(compact, true);
    if (n === -1) return null;
    const at = this.need(n);
    return this.buf.subarray(at, at + n);
  }

  bytes(compact: boolean): Buffer {
    const b = this.nullableBytes(compact);
    if (b === null) throw new MalformedFrameError('null where bytes are required');
    return b;
  }

  /** An array's element count (-1: null); each element takes at least one byte, so a count is bounded. */
  arrayLength(compact: boolean): number {
    const n = compact ? this.uvarint() - 1 : this.int32();
    if (n < -1) throw new MalformedFrameError(`negative array length ${n}`);
    if (n > this.remaining) throw new MalformedFrameError(`array of ${n} elements in ${this.remaining} bytes`);
    return n;
  }

  array<T>(compact: boolean, element: (r: Reader) => T): T[] {
    const n = this.arrayLength(compact);
    if (n === -1) throw new MalformedFrameError('null where an array is required');
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = element(this);
    return out;
  }

  nullableArray<T>(compact: boolean, element: (r: Reader) => T): T[] | null {
    const n = this.arrayLength(compact);
    if (n === -1) return null;
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = element(this);
    return out;
  }

  /**
   * The tagged-field section of a flexible structure: a count, then (tag, size, value) each. `field` reads a
   * known tag and returns true; unknown tags are skipped by their size, as the protocol requires.
   */
  taggedFields(field: (tag: number, r: Reader) => boolean): void {
    const count = this.uvarint();
    let previous = -1;
    for (let i = 0; i < count; i++) {
      const tag = this.uvarint();
      if (tag <= previous) throw new MalformedFrameError(`tagged fields out of order (${tag} after ${previous})`);
      previous = tag;
      const size = this.uvarint();
      const end = this.offset + size;
      if (end > this.buf.length) throw new MalformedFrameError(`tagged field ${tag} of ${size} bytes exceeds the frame`);
      const sub = new Reader(this.buf.subarray(0, end), this.offset);
      if (field(tag, sub) && sub.offset !== end) throw new MalformedFrameError(`tagged field ${tag} is ${size} bytes but its value took ${sub.offset - this.offset}`);
      this.offset = end;
    }
  }
}
