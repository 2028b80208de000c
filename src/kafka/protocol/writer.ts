/**
 * Writes Kafka's wire types into a chain of buffers that is handed to the socket as it is: scalars go into a
 * growing scratch buffer, and large byte fields (record batches read from disk) are linked in by reference,
 * never copied (`rawBuffer`). The types are those of reader.ts.
 */
const CHUNK = 16 * 1024;
/** Byte fields at least this large are linked, not copied. */
const LINK_AT = 1024;

export class Writer {
  private readonly chunks: Buffer[] = [];
  private current = Buffer.allocUnsafe(CHUNK);
  private at = 0;
  private done = 0;

  /** Bytes written so far. */
  get length(): number {
    return this.done + this.at;
  }

  private room(n: number): void {
    if (this.at + n <= this.current.length) return;
    this.seal();
    this.current = Buffer.allocUnsafe(Math.max(CHUNK, n));
  }

  private seal(): void {
    if (this.at > 0) this.chunks.push(this.current.subarray(0, this.at));
    this.done += this.at;
    this.current = this.current.subarray(this.at);
    this.at = 0;
  }

  int8(v: number): this {
    this.room(1);
    this.at = this.current.writeInt8(v, this.at);
    return this;
  }

  int16(v: number): this {
    this.room(2);
    this.at = this.current.writeInt16BE(v, this.at);
    return this;
  }

  uint16(v: number): this {
    this.room(2);
    this.at = this.current.writeUInt16BE(v, this.at);
    return this;
  }

  int32(v: number): this {
    this.room(4);
    this.at = this.current.writeInt32BE(v, this.at);
    return this;
  }

  int64(v: number): this {
    this.room(8);
    const high = Math.floor(v / 4_294_967_296);
    this.current.writeInt32BE(high, this.at);
    this.current.writeUInt32BE(v - high * 4_294_967_296, this.at + 4);
    this.at += 8;
    return this;
  }

  float64(v: number): this {
    this.room(8);
    this.at = this.current.writeDoubleBE(v, this.at);
    return this;
  }

  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }

  uuid(v: Buffer): this {
    return this.raw(v.length === 16 ? v : Buffer.alloc(16));
  }

  uvarint(v: number): this {
    this.room(5);
    while (v > 0x7f) {
      this.current[this.at++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.current[this.at++] = v;
    return this;
  }

  private lengthPrefix(n: number, compact: boolean, wide: boolean): this {
    if (compact) return this.uvarint(n + 1);
    return wide ? this.int32(n) : this.int16(n);
  }

  nullableString(v: string | null, compact: boolean): this {
    if (v === null) return this.lengthPrefix(-1, compact, false);
    const n = Buffer.byteLength(v);
    this.lengthPrefix(n, compact, false);
    this.room(n);
    this.at += this.current.write(v, this.at, 'utf8');
    return this;
  }

  string(v: string, compact: boolean): this {
    return this.nullableString(v, compact);
  }

  nullableBytes(v: Buffer | null, compact: boolean): this {
    if (v === null) return this.lengthPrefix(-1, compact, true);
    this.lengthPrefix(v.length, compact, true);
    return this.raw(v);
  }

  bytes(v: Buffer, compact: boolean): this {
    return this.nullableBytes(v, compact);
  }

  arrayLength(n: number | null, compact: boolean): this {
    return this.lengthPrefix(n ?? -1, compact, true);
  }

  /** Bytes as they are: large ones linked by reference (no copy). */
  raw(v: Buffer): this {
    if (v.length >= LINK_AT) {
      this.seal();
      this.chunks.push(v);
      this.done += v.length;
      return this;
    }
    this.room(v.length);
    this.at += v.copy(this.current, this.at);
    return this;
  }

  /**
   * A tagged-field section: the fields present (value not undefined), in tag order, each written into its own
   * writer first to learn its size.
   */
  taggedFields(fields: readonly { tag: number; write: ((w: Writer) => void) | null }[]): this {
    const present = fields.filter((f) => f.write !== null);
    this.uvarint(present.length);
    for (const f of present) {
      const sub = new Writer();
      f.write!(sub);
      this.uvarint(f.tag).uvarint(sub.length);
      for (const chunk of sub.finish()) this.raw(chunk);
    }
    return this;
  }

  /** The buffers written, in order (the writer must not be used after). */
  finish(): Buffer[] {
    this.seal();
    return this.chunks;
  }

  /** One buffer (tests, small messages). */
  toBuffer(): Buffer {
    return Buffer.concat(this.finish());
  }
}
