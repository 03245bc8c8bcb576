// The body encoder: JavaScript values → D-Bus wire format ("Marshaling (Wire Format)" in the
// specification), either byte order, alignment from the absolute offset in the message. It walks
// cached TypeNode trees and is the one place where a value is checked against its type: each rule
// (ranges, strings, object paths, signatures, nesting, limits) is applied as the value is written,
// and checkValues runs the same writer into a scratch buffer that is thrown away.
//
// JavaScript mapping on the way out: y n q i u d → number; h → number, the fd itself (the wire
// carries its index in the message's fd list); x t → bigint or a safe-integer number; b → boolean;
// s o g → string; ay → any Uint8Array or byte array; other arrays → arrays; structs → arrays
// (tuples); a{..} → a Map or a plain object (keys converted to the key type); v → Variant.

import { DBusInvalidArgsError } from './errors.js';
import { isValidObjectPath } from './names.js';
import {
  isSingleCompleteType,
  isValidSignature,
  Kind,
  MAX_TOTAL_DEPTH,
  parseSignature,
  parseSingleType,
  SINGLE_TYPES,
  type TypeNode,
} from './signature.js';
import { Variant } from './variant.js';
import { type BodyOptions, type Endianness, type FastBuffer, MAX_ARRAY_LENGTH, MAX_MESSAGE_LENGTH } from './wire.js';

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Map) return 'a Map';
  if (v instanceof Uint8Array) return 'a Uint8Array';
  if (typeof v === 'string') return v.length > 40 ? 'a string' : `the string ${JSON.stringify(v)}`;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  if (typeof v === 'object') return `an object (${(v as object).constructor?.name ?? 'no prototype'})`;
  return typeof v;
}

/**
 * A value that does not fit its type. The path to it ('[2]', '.0', '<u>', ' key') is prepended by
 * each container as the error passes up, and writeBody finally names the argument, so the message
 * says where the bad value is without a second walk over the values.
 */
class ValueMismatch extends DBusInvalidArgsError {
  where = '';
  readonly detail: string;

  constructor(t: TypeNode, v: unknown, expected: string) {
    const detail = `expected ${expected} for type '${t.signature}', got ${describe(v)}`;
    super(detail);
    this.detail = detail;
  }
}

function mismatch(t: TypeNode, v: unknown, expected: string): never {
  throw new ValueMismatch(t, v, expected);
}

/** Adds one step of the path to a mismatch passing through a container; other errors pass unchanged. */
function within(err: unknown, step: string): unknown {
  if (err instanceof ValueMismatch) err.where = step + err.where;
  return err;
}

/** A growable output buffer with the position, byte order and fd list of one encoding. */
export class Writer {
  buf: FastBuffer;
  pos = 0;
  /** Absolute offset of buf[0] in the message, for alignment. */
  shift = 0;
  le = true;
  fds: number[] | undefined = undefined;
  busy = false;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size) as FastBuffer;
  }

  grow(need: number): void {
    // Fail before allocating for something that could never be sent.
    if (this.pos + need > MAX_MESSAGE_LENGTH + 8) throw new DBusInvalidArgsError('Message longer than 128 MiB');
    let size = this.buf.length * 2;
    while (size < this.pos + need) size *= 2;
    size = Math.min(size, MAX_MESSAGE_LENGTH + 8);
    const next = Buffer.allocUnsafe(size) as FastBuffer;
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Pads with NUL bytes to `a` (power of two) from the absolute offset, and reserves `need` more bytes. */
  align(a: number, need: number): void {
    const pad = -(this.pos + this.shift) & (a - 1);
    if (this.pos + pad + need > this.buf.length) this.grow(pad + need);
    const buf = this.buf;
    for (let i = 0; i < pad; i++) buf[this.pos++] = 0;
  }

  u32(v: number): void {
    this.u32At(this.pos, v);
    this.pos += 4;
  }

  u32At(p: number, v: number): void {
    const buf = this.buf;
    if (this.le) {
      buf[p] = v;
      buf[p + 1] = v >>> 8;
      buf[p + 2] = v >>> 16;
      buf[p + 3] = v >>> 24;
    } else {
      buf[p] = v >>> 24;
      buf[p + 1] = v >>> 16;
      buf[p + 2] = v >>> 8;
      buf[p + 3] = v;
    }
  }

  /** Writes the bytes of a string (length prefix excluded) followed by NUL; returns the byte length. */
  stringBytes(t: TypeNode, s: string, at: number): number {
    const n = s.length;
    const buf = this.buf;
    // Short ASCII strings (most names and keys) are copied by hand: cheaper than a call into C++.
    if (n < 64) {
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80 || c === 0) break;
        buf[at + i] = c;
      }
      if (i === n) {
        buf[at + n] = 0;
        return n;
      }
    }
    if (s.indexOf('\0') !== -1) mismatch(t, s, 'a string without NUL characters');
    if (!(s as unknown as { isWellFormed(): boolean }).isWellFormed()) {
      mismatch(t, s, 'a string without lone surrogates (valid UTF-8)');
    }
    const len = this.buf.utf8Write(s, at);
    buf[at + len] = 0;
    return len;
  }

  string(t: TypeNode, s: string): void {
    // Reserve the worst case, 3 bytes per UTF-16 unit, or for long strings the exact length.
    this.align(4, 5 + (s.length > 65536 ? Buffer.byteLength(s) : s.length * 3));
    const len = this.stringBytes(t, s, this.pos + 4);
    this.u32(len);
    this.pos += len + 1;
  }

  /** Writes an OBJECT_PATH (already validated: ASCII without NUL, so one byte per character). */
  objectPath(s: string): void {
    const n = s.length;
    this.align(4, 5 + n);
    const at = this.pos + 4;
    // One native copy beats a loop of byte stores for paths (tens of characters each).
    if (n > 16) this.buf.latin1Write(s, at);
    else for (let i = 0; i < n; i++) this.buf[at + i] = s.charCodeAt(i);
    this.buf[at + n] = 0;
    this.u32(n);
    this.pos += n + 1;
  }

  /** Writes a SIGNATURE (already validated: ASCII, at most 255 bytes). */
  signature(s: string): void {
    if (this.pos + 2 + s.length > this.buf.length) this.grow(2 + s.length);
    const buf = this.buf;
    const n = s.length;
    buf[this.pos++] = n;
    for (let i = 0; i < n; i++) buf[this.pos++] = s.charCodeAt(i);
    buf[this.pos++] = 0;
  }
}

const shared = new Writer(4096);

/** Takes the shared writer (or, re-entrantly, a fresh one) for one encoding. */
export function takeWriter(le: boolean, shift: number, fds: number[] | undefined): Writer {
  // A re-entrant call (from a getter inside a value being encoded) gets its own writer.
  const w = shared.busy ? new Writer(256) : shared;
  w.busy = true;
  w.pos = 0;
  w.shift = shift;
  w.le = le;
  w.fds = fds;
  return w;
}

/** Gives the writer back without its output (after an error, or after a check). */
export function dropWriter(w: Writer): void {
  w.busy = false;
  w.fds = undefined;
  // Do not keep a huge scratch buffer alive after one big message.
  if (w === shared && w.buf.length > 1048576) w.buf = Buffer.allocUnsafe(4096) as FastBuffer;
}

/** Gives the writer back and returns a copy of what it wrote. */
export function releaseWriter(w: Writer): Buffer {
  const out = Buffer.allocUnsafe(w.pos);
  w.buf.copy(out, 0, 0, w.pos);
  dropWriter(w);
  return out;
}

/** True if `v` is an integer number in min..max. */
export function isInteger(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

function toInt64(t: TypeNode, v: unknown, unsigned: boolean): bigint {
  if (typeof v === 'bigint') {
    if (unsigned ? v >= 0n && v <= UINT64_MAX : v >= INT64_MIN && v <= INT64_MAX) return v;
  } else if (typeof v === 'number' && Number.isSafeInteger(v) && (!unsigned || v >= 0)) {
    return BigInt(v);
  }
  return mismatch(t, v, unsigned ? 'a bigint (or safe integer) in 0..2^64-1' : 'a bigint (or safe integer) in -2^63..2^63-1');
}

/** Converts a plain-object key (always a string) to the dict's key type. */
function convertKey(t: TypeNode, k: string): unknown {
  switch (t.kind) {
    case Kind.String:
    case Kind.ObjectPath:
    case Kind.Signature:
      return k;
    case Kind.Boolean:
      if (k === 'true') return true;
      if (k === 'false') return false;
      return mismatch(t, k, "a key 'true' or 'false'");
    case Kind.Int64:
    case Kind.Uint64:
      if (/^-?\d+$/.test(k)) return BigInt(k);
      return mismatch(t, k, 'an integer key');
    default: {
      const n = k.trim() === '' ? Number.NaN : Number(k);
      if (Number.isNaN(n)) return mismatch(t, k, 'a numeric key');
      return n;
    }
  }
}

function describeKey(k: unknown): string {
  return typeof k === 'string' ? JSON.stringify(k) : String(k);
}

function writeValue(w: Writer, t: TypeNode, v: unknown, depth: number): void {
  switch (t.kind) {
    case Kind.Byte:
      if (!isInteger(v, 0, 255)) mismatch(t, v, 'an integer in 0..255');
      w.align(1, 1);
      w.buf[w.pos++] = v;
      return;
    case Kind.Boolean:
      if (typeof v !== 'boolean') mismatch(t, v, 'a boolean');
      w.align(4, 4);
      w.u32(v ? 1 : 0);
      return;
    case Kind.Int16:
    case Kind.Uint16: {
      if (t.kind === Kind.Int16 ? !isInteger(v, -32768, 32767) : !isInteger(v, 0, 65535)) {
        mismatch(t, v, t.kind === Kind.Int16 ? 'an integer in -32768..32767' : 'an integer in 0..65535');
      }
      w.align(2, 2);
      const buf = w.buf;
      if (w.le) {
        buf[w.pos] = v as number;
        buf[w.pos + 1] = (v as number) >>> 8;
      } else {
        buf[w.pos] = (v as number) >>> 8;
        buf[w.pos + 1] = v as number;
      }
      w.pos += 2;
      return;
    }
    case Kind.Int32:
      if (!isInteger(v, -2147483648, 2147483647)) mismatch(t, v, 'an integer in -2^31..2^31-1');
      w.align(4, 4);
      w.u32(v);
      return;
    case Kind.Uint32:
      if (!isInteger(v, 0, 4294967295)) mismatch(t, v, 'an integer in 0..2^32-1');
      w.align(4, 4);
      w.u32(v);
      return;
    case Kind.Int64:
    case Kind.Uint64: {
      const unsigned = t.kind === Kind.Uint64;
      const b = toInt64(t, v, unsigned);
      w.align(8, 8);
      if (unsigned) {
        if (w.le) w.buf.writeBigUInt64LE(b, w.pos);
        else w.buf.writeBigUInt64BE(b, w.pos);
      } else if (w.le) w.buf.writeBigInt64LE(b, w.pos);
      else w.buf.writeBigInt64BE(b, w.pos);
      w.pos += 8;
      return;
    }
    case Kind.Double:
      if (typeof v !== 'number') mismatch(t, v, 'a number');
      w.align(8, 8);
      if (w.le) w.buf.writeDoubleLE(v, w.pos);
      else w.buf.writeDoubleBE(v, w.pos);
      w.pos += 8;
      return;
    case Kind.UnixFd: {
      if (!isInteger(v, 0, 2147483647)) mismatch(t, v, 'a file descriptor (a non-negative integer)');
      const fds = w.fds;
      if (fds === undefined) throw new DBusInvalidArgsError("A value of type 'h' needs a list of file descriptors");
      let index = fds.indexOf(v);
      if (index === -1) index = fds.push(v) - 1;
      w.align(4, 4);
      w.u32(index);
      return;
    }
    case Kind.String:
      if (typeof v !== 'string') mismatch(t, v, 'a string');
      w.string(t, v);
      return;
    case Kind.ObjectPath:
      if (!isValidObjectPath(v)) mismatch(t, v, 'an object path');
      w.objectPath(v);
      return;
    case Kind.Signature:
      if (!isValidSignature(v)) mismatch(t, v, 'a valid signature');
      w.signature(v);
      return;
    case Kind.Variant: {
      if (!(v instanceof Variant)) mismatch(t, v, 'a Variant');
      if (++depth > MAX_TOTAL_DEPTH) mismatch(t, v, 'at most 64 nested containers');
      const sig = v.signature;
      // Most variants hold a basic type: skip the signature cache for those.
      let inner = typeof sig === 'string' && sig.length === 1 ? SINGLE_TYPES[sig.charCodeAt(0)] : undefined;
      if (inner === undefined) {
        if (!isSingleCompleteType(sig)) mismatch(t, sig, 'a Variant whose signature is one complete type');
        inner = parseSingleType(sig);
      }
      w.signature(sig);
      try {
        writeValue(w, inner, v.value, depth);
      } catch (err) {
        throw within(err, `<${sig}>`);
      }
      return;
    }
    case Kind.Array:
      writeArray(w, t, v, depth + 1);
      return;
    case Kind.Struct: {
      if (!Array.isArray(v)) mismatch(t, v, 'an array (struct fields)');
      const fields = t.children;
      if (v.length !== fields.length) mismatch(t, v, `an array of ${fields.length} struct fields, not ${v.length}`);
      if (++depth > MAX_TOTAL_DEPTH) mismatch(t, v, 'at most 64 nested containers');
      w.align(8, 0);
      let i = 0;
      try {
        for (; i < fields.length; i++) writeValue(w, fields[i]!, v[i], depth);
      } catch (err) {
        throw within(err, `.${i}`);
      }
      return;
    }
    default:
      mismatch(t, v, 'no bare dict entry');
  }
}

function writeArray(w: Writer, t: TypeNode, v: unknown, depth: number): void {
  if (depth > MAX_TOTAL_DEPTH) mismatch(t, v, 'at most 64 nested containers');
  const elem = t.children[0]!;
  w.align(4, 4);
  const lengthAt = w.pos;
  w.pos += 4;
  w.align(elem.alignment, 0);
  const start = w.pos;
  if (t.isByteArray && v instanceof Uint8Array) {
    if (w.pos + v.length > w.buf.length) w.grow(v.length);
    w.buf.set(v, w.pos);
    w.pos += v.length;
  } else if (t.isDict) {
    writeDict(w, t, v, depth);
  } else {
    if (!Array.isArray(v)) mismatch(t, v, t.isByteArray ? 'a Uint8Array or an array of bytes' : 'an array');
    let i = 0;
    try {
      for (; i < v.length; i++) writeValue(w, elem, v[i], depth);
    } catch (err) {
      throw within(err, `[${i}]`);
    }
  }
  const len = w.pos - start;
  if (len > MAX_ARRAY_LENGTH) throw new DBusInvalidArgsError(`Array '${t.signature}' longer than 64 MiB`);
  w.u32At(lengthAt, len);
}

function writeDict(w: Writer, t: TypeNode, v: unknown, depth: number): void {
  const [key, value] = t.children[0]!.children as [TypeNode, TypeNode];
  // Where a failure happened, for the error's path: at a key, or at the value of `current`.
  let current: unknown;
  let atKey = false;
  try {
    if (v instanceof Map) {
      // forEach, unlike for-of, allocates no [key, value] pair per entry.
      v.forEach((x: unknown, k: unknown) => {
        current = k;
        atKey = true;
        w.align(8, 0);
        writeValue(w, key, k, depth);
        atKey = false;
        writeValue(w, value, x, depth);
      });
    } else if (typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)) {
      const obj = v as Record<string, unknown>;
      for (const k in obj) {
        if (!Object.hasOwn(obj, k)) continue;
        current = k;
        atKey = true;
        w.align(8, 0);
        writeValue(w, key, convertKey(key, k), depth);
        atKey = false;
        writeValue(w, value, obj[k], depth);
      }
    } else {
      mismatch(t, v, 'a Map or a plain object');
    }
  } catch (err) {
    if (current === undefined && !atKey) throw err;
    throw within(err, atKey ? ' key' : `[${describeKey(current)}]`);
  }
}

/** Writes one value per complete type of `types`; a value that does not fit is named by its argument index. */
export function writeBody(w: Writer, types: readonly TypeNode[], values: readonly unknown[], signature: string): void {
  if (!Array.isArray(values)) throw new DBusInvalidArgsError('Body values must be an array');
  if (values.length !== types.length) {
    throw new DBusInvalidArgsError(`Signature '${signature}' has ${types.length} complete types but ${values.length} values were given`);
  }
  let i = 0;
  try {
    for (; i < types.length; i++) writeValue(w, types[i]!, values[i], 0);
  } catch (err) {
    if (err instanceof ValueMismatch) err.message = `argument ${i}${err.where}: ${err.detail}`;
    throw err;
  }
}

/** Marshals body values for `signature`; alignment as if the body started at `options.offset` of a message. */
export function encodeBody(signature: string, values: readonly unknown[], endianness: Endianness = 'l', options: BodyOptions = {}): Buffer {
  const types = parseSignature(signature);
  const w = takeWriter(endianness !== 'B', options.offset ?? 0, options.fds);
  try {
    writeBody(w, types, values, signature);
  } catch (err) {
    dropWriter(w);
    throw err;
  }
  return releaseWriter(w);
}

/**
 * Checks that `values` fit `signature` (one value per complete type) by encoding them into a
 * scratch buffer that is then thrown away: the encoder's own rules, so a value passes here exactly
 * when it can be sent. Throws DBusInvalidArgsError saying which value does not fit and why.
 */
export function checkValues(signature: string, values: readonly unknown[]): void {
  const types = parseSignature(signature);
  const w = takeWriter(true, 0, []);
  try {
    writeBody(w, types, values, signature);
  } finally {
    dropWriter(w);
  }
}
