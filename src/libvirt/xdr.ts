// XDR (RFC 4506) reader and writer used by the generated libvirt protocol codecs.
// Everything is big-endian and padded to 4 bytes; every limit declared in the .x files is
// enforced here, on the way out and on the way in, with a typed error.
import { LibvirtProtocolError } from './errors.js';

/** Why an XDR value could not be encoded or decoded. */
export type XdrErrorReason =
  | 'SHORT_INPUT' // fewer bytes than the value needs
  | 'BAD_PADDING' // padding bytes that are not zero
  | 'LIMIT' // a length above the declared maximum (string<max>, opaque<max>, T<max>)
  | 'FIXED_LENGTH' // a fixed-length array or opaque[n] of the wrong length
  | 'RANGE' // an integer outside the range of its XDR type
  | 'TYPE' // a JavaScript value of the wrong type
  | 'UNION_ARM' // a union discriminant with no arm and no default
  | 'TRAILING'; // bytes left after a complete value

/**
 * A value that does not fit its XDR type, or input that is not valid XDR for it. A
 * LibvirtProtocolError (so a LibvirtError with code VIR_ERR_RPC, domain VIR_FROM_RPC).
 */
export class XdrError extends LibvirtProtocolError {
  /** What was wrong (the libvirt `code` inherited from LibvirtError is VIR_ERR_RPC). */
  readonly reason: XdrErrorReason;
  constructor(reason: XdrErrorReason, message: string) {
    super(message);
    this.name = 'XdrError';
    this.reason = reason;
  }
}

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const UINT32_MAX = 0xffffffff;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;

function pad(n: number): number {
  return (4 - (n & 3)) & 3;
}

/** Appends XDR items to a growable buffer. */
export class XdrWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initialSize));
  }

  /** Number of bytes written so far. */
  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** The bytes written so far (a view, valid until the next write). */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** A copy of the bytes written so far. */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  /** Forgets everything written, keeping the allocated buffer. */
  reset(): void {
    this.pos = 0;
  }

  /** Overwrites an unsigned 32-bit word already written at `offset` (e.g. a length prefix). */
  patchUint(offset: number, value: number): void {
    if (offset < 0 || offset + 4 > this.pos) throw new XdrError('RANGE', `patch offset ${offset} outside written data`);
    checkUint(value);
    this.buf.writeUInt32BE(value, offset);
  }

  /** XDR `int` (also `char`, `short`, enums). */
  writeInt(v: number): void {
    if (!Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) throw new XdrError('RANGE', `not an XDR int: ${String(v)}`);
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }

  /** XDR `unsigned int`. */
  writeUint(v: number): void {
    checkUint(v);
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  /** XDR `hyper`. */
  writeHyper(v: bigint): void {
    if (typeof v !== 'bigint' || v < INT64_MIN || v > INT64_MAX) throw new XdrError('RANGE', `not an XDR hyper: ${String(v)}`);
    this.ensure(8);
    this.buf.writeBigInt64BE(v, this.pos);
    this.pos += 8;
  }

  /** XDR `unsigned hyper`. */
  writeUhyper(v: bigint): void {
    if (typeof v !== 'bigint' || v < 0n || v > UINT64_MAX) throw new XdrError('RANGE', `not an XDR unsigned hyper: ${String(v)}`);
    this.ensure(8);
    this.buf.writeBigUInt64BE(v, this.pos);
    this.pos += 8;
  }

  /** XDR `bool`. */
  writeBool(v: boolean): void {
    if (typeof v !== 'boolean') throw new XdrError('TYPE', `not a boolean: ${String(v)}`);
    this.writeUint(v ? 1 : 0);
  }

  /** XDR `float` (IEEE single precision). */
  writeFloat(v: number): void {
    if (typeof v !== 'number') throw new XdrError('TYPE', `not a number: ${String(v)}`);
    this.ensure(4);
    this.buf.writeFloatBE(v, this.pos);
    this.pos += 4;
  }

  /** XDR `double`. */
  writeDouble(v: number): void {
    if (typeof v !== 'number') throw new XdrError('TYPE', `not a number: ${String(v)}`);
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  /** XDR `string<max>`: UTF-8 bytes, at most `max` of them. */
  writeString(v: string, max: number): void {
    if (typeof v !== 'string') throw new XdrError('TYPE', `not a string: ${String(v)}`);
    // A string's UTF-8 form is at most 3 bytes per UTF-16 unit: reserve that, then write in place.
    this.ensure(4 + v.length * 3 + 3);
    const start = this.pos + 4;
    const n = this.buf.write(v, start, 'utf8');
    if (n > max) throw new XdrError('LIMIT', `string of ${n} bytes exceeds its maximum of ${max}`);
    this.buf.writeUInt32BE(n, this.pos);
    this.pos = start + n;
    this.zeroPad(n);
  }

  /** XDR `opaque[size]`: exactly `size` bytes. */
  writeFixedOpaque(v: Uint8Array, size: number): void {
    if (!(v instanceof Uint8Array)) throw new XdrError('TYPE', 'opaque data must be a Uint8Array');
    if (v.length !== size) throw new XdrError('FIXED_LENGTH', `opaque[${size}] given ${v.length} bytes`);
    this.writeBytes(v);
  }

  /** XDR `opaque<max>`: a length and at most `max` bytes. */
  writeVarOpaque(v: Uint8Array, max: number): void {
    if (!(v instanceof Uint8Array)) throw new XdrError('TYPE', 'opaque data must be a Uint8Array');
    if (v.length > max) throw new XdrError('LIMIT', `opaque of ${v.length} bytes exceeds its maximum of ${max}`);
    this.writeUint(v.length);
    this.writeBytes(v);
  }

  /** The length word of a variable-length array `T<max>`. */
  writeArrayLength(v: readonly unknown[], max: number): void {
    if (!Array.isArray(v)) throw new XdrError('TYPE', 'not an array');
    if (v.length > max) throw new XdrError('LIMIT', `array of ${v.length} elements exceeds its maximum of ${max}`);
    this.writeUint(v.length);
  }

  /** Checks the length of a fixed-length array `T[size]` (nothing is written). */
  checkFixedArray(v: readonly unknown[], size: number): void {
    if (!Array.isArray(v)) throw new XdrError('TYPE', 'not an array');
    if (v.length !== size) throw new XdrError('FIXED_LENGTH', `array[${size}] given ${v.length} elements`);
  }

  /** Raw bytes followed by zero padding to a multiple of 4 (no length word). */
  writeBytes(v: Uint8Array): void {
    this.ensure(v.length + 3);
    this.buf.set(v, this.pos);
    this.pos += v.length;
    this.zeroPad(v.length);
  }

  private zeroPad(n: number): void {
    const p = pad(n);
    for (let i = 0; i < p; i++) this.buf[this.pos++] = 0;
  }
}

function checkUint(v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > UINT32_MAX) throw new XdrError('RANGE', `not an XDR unsigned int: ${String(v)}`);
}

/** Reads XDR items from a buffer, between `offset` and `end`. */
export class XdrReader {
  private readonly buf: Buffer;
  /** Position of the next unread byte. */
  offset: number;
  /** Position just past the last readable byte. */
  readonly end: number;

  constructor(buf: Uint8Array, offset = 0, end = buf.length) {
    this.buf = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    if (offset < 0 || end > buf.length || offset > end) throw new XdrError('RANGE', 'reader bounds outside the buffer');
    this.offset = offset;
    this.end = end;
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number): void {
    if (this.end - this.offset < n) {
      throw new XdrError('SHORT_INPUT', `needed ${n} bytes at offset ${this.offset}, only ${this.end - this.offset} left`);
    }
  }

  /** Fails unless every byte has been read. */
  assertEnd(): void {
    if (this.offset !== this.end) throw new XdrError('TRAILING', `${this.end - this.offset} unexpected bytes after the value`);
  }

  /** XDR `int`. */
  readInt(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  /** XDR `unsigned int`. */
  readUint(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  /** XDR `hyper`. */
  readHyper(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.offset);
    this.offset += 8;
    return v;
  }

  /** XDR `unsigned hyper`. */
  readUhyper(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.offset);
    this.offset += 8;
    return v;
  }

  /** XDR `bool`: only 0 and 1 are valid. */
  readBool(): boolean {
    const v = this.readUint();
    if (v > 1) throw new XdrError('RANGE', `not an XDR bool: ${v}`);
    return v === 1;
  }

  /** XDR `float`. */
  readFloat(): number {
    this.need(4);
    const v = this.buf.readFloatBE(this.offset);
    this.offset += 4;
    return v;
  }

  /** XDR `double`. */
  readDouble(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.offset);
    this.offset += 8;
    return v;
  }

  /** XDR `string<max>`, decoded as UTF-8. */
  readString(max: number): string {
    const n = this.readUint();
    if (n > max) throw new XdrError('LIMIT', `string of ${n} bytes exceeds its maximum of ${max}`);
    this.need(n);
    const s = this.buf.toString('utf8', this.offset, this.offset + n);
    this.offset += n;
    this.skipPad(n);
    return s;
  }

  /** Skips an XDR `string<max>`, checked as readString checks it (for decoders that need only some fields). */
  skipString(max: number): void {
    const n = this.readUint();
    if (n > max) throw new XdrError('LIMIT', `string of ${n} bytes exceeds its maximum of ${max}`);
    this.need(n);
    this.offset += n;
    this.skipPad(n);
  }

  /** XDR `opaque[size]` copied into `target` at `at` (no allocation). */
  readFixedOpaqueInto(size: number, target: Uint8Array, at: number): void {
    this.need(size);
    const buf = this.buf;
    const from = this.offset;
    for (let i = 0; i < size; i++) target[at + i] = buf[from + i] as number;
    this.offset += size;
    this.skipPad(size);
  }

  /** XDR `opaque[size]` (a copy, independent of the input buffer). */
  readFixedOpaque(size: number): Buffer {
    return this.readBytes(size);
  }

  /** XDR `opaque<max>` (a copy, independent of the input buffer). */
  readVarOpaque(max: number): Buffer {
    const n = this.readUint();
    if (n > max) throw new XdrError('LIMIT', `opaque of ${n} bytes exceeds its maximum of ${max}`);
    return this.readBytes(n);
  }

  /**
   * The length word of a variable-length array `T<max>`. Every XDR item takes at least 4 bytes,
   * so a length the remaining input cannot hold is rejected before anything is allocated.
   */
  readArrayLength(max: number): number {
    const n = this.readUint();
    if (n > max) throw new XdrError('LIMIT', `array of ${n} elements exceeds its maximum of ${max}`);
    if (n * 4 > this.end - this.offset)
      throw new XdrError('SHORT_INPUT', `array of ${n} elements cannot fit in ${this.end - this.offset} bytes`);
    return n;
  }

  /** `n` raw bytes followed by zero padding (no length word), copied. */
  readBytes(n: number): Buffer {
    this.need(n);
    // One allocation (a slice of Node's pool for small sizes); a byte loop beats the native copy
    // for the short values most replies carry (UUIDs).
    const out = Buffer.allocUnsafe(n);
    const at = this.offset;
    if (n <= 64) for (let i = 0; i < n; i++) out[i] = this.buf[at + i] as number;
    else this.buf.copy(out, 0, at, at + n);
    this.offset += n;
    this.skipPad(n);
    return out;
  }

  private skipPad(n: number): void {
    const p = pad(n);
    if (p === 0) return;
    this.need(p);
    for (let i = 0; i < p; i++) {
      if (this.buf[this.offset + i] !== 0) throw new XdrError('BAD_PADDING', `non-zero padding at offset ${this.offset + i}`);
    }
    this.offset += p;
  }
}

// Element codecs and combinators that generated code passes around (one function per XDR type).

/** Encodes an XDR `int`. */
export function encodeXdrInt(w: XdrWriter, v: number): void {
  w.writeInt(v);
}
/** Encodes an XDR `unsigned int`. */
export function encodeXdrUint(w: XdrWriter, v: number): void {
  w.writeUint(v);
}
/** Encodes an XDR `hyper`. */
export function encodeXdrHyper(w: XdrWriter, v: bigint): void {
  w.writeHyper(v);
}
/** Encodes an XDR `unsigned hyper`. */
export function encodeXdrUhyper(w: XdrWriter, v: bigint): void {
  w.writeUhyper(v);
}
/** Encodes an XDR `bool`. */
export function encodeXdrBool(w: XdrWriter, v: boolean): void {
  w.writeBool(v);
}
/** Encodes an XDR `float`. */
export function encodeXdrFloat(w: XdrWriter, v: number): void {
  w.writeFloat(v);
}
/** Encodes an XDR `double`. */
export function encodeXdrDouble(w: XdrWriter, v: number): void {
  w.writeDouble(v);
}
/** Decodes an XDR `int`. */
export function decodeXdrInt(r: XdrReader): number {
  return r.readInt();
}
/** Decodes an XDR `unsigned int`. */
export function decodeXdrUint(r: XdrReader): number {
  return r.readUint();
}
/** Decodes an XDR `hyper`. */
export function decodeXdrHyper(r: XdrReader): bigint {
  return r.readHyper();
}
/** Decodes an XDR `unsigned hyper`. */
export function decodeXdrUhyper(r: XdrReader): bigint {
  return r.readUhyper();
}
/** Decodes an XDR `bool`. */
export function decodeXdrBool(r: XdrReader): boolean {
  return r.readBool();
}
/** Decodes an XDR `float`. */
export function decodeXdrFloat(r: XdrReader): number {
  return r.readFloat();
}
/** Decodes an XDR `double`. */
export function decodeXdrDouble(r: XdrReader): number {
  return r.readDouble();
}

/** Encodes optional data `T *x`: a bool, then the value when it is not null. */
export function writeXdrOptional<T>(w: XdrWriter, v: T | null, elem: (w: XdrWriter, v: T) => void): void {
  if (v === null) {
    w.writeUint(0);
  } else if (v === undefined) {
    throw new XdrError('TYPE', 'optional data must be a value or null, not undefined');
  } else {
    w.writeUint(1);
    elem(w, v);
  }
}

/** Decodes optional data `T *x`. */
export function readXdrOptional<T>(r: XdrReader, elem: (r: XdrReader) => T): T | null {
  return r.readBool() ? elem(r) : null;
}

/** Encodes a fixed-length array `T x[size]`. */
export function writeXdrFixedArray<T>(w: XdrWriter, v: readonly T[], size: number, elem: (w: XdrWriter, v: T) => void): void {
  w.checkFixedArray(v, size);
  for (let i = 0; i < v.length; i++) elem(w, v[i]!);
}

/** Encodes a variable-length array `T x<max>`. */
export function writeXdrVarArray<T>(w: XdrWriter, v: readonly T[], max: number, elem: (w: XdrWriter, v: T) => void): void {
  w.writeArrayLength(v, max);
  for (let i = 0; i < v.length; i++) elem(w, v[i]!);
}

/** Decodes a fixed-length array `T x[size]`. */
export function readXdrFixedArray<T>(r: XdrReader, size: number, elem: (r: XdrReader) => T): T[] {
  if (size * 4 > r.remaining) throw new XdrError('SHORT_INPUT', `array of ${size} elements cannot fit in ${r.remaining} bytes`);
  const out: T[] = new Array(size);
  for (let i = 0; i < size; i++) out[i] = elem(r);
  return out;
}

/** Decodes a variable-length array `T x<max>`. */
export function readXdrVarArray<T>(r: XdrReader, max: number, elem: (r: XdrReader) => T): T[] {
  const n = r.readArrayLength(max);
  const out: T[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = elem(r);
  return out;
}
