// The body decoder: D-Bus wire format → JavaScript values, either byte order, alignment from the
// absolute offset in the message. Everything read from a peer is checked (padding, lengths, UTF-8,
// names, signatures, nesting, fd indices) and a violation is a DBusProtocolError, never a crash.
//
// JavaScript mapping on the way in: y n q i u d → number; h → number, the fd the index refers to;
// x t → bigint; b → boolean; s o g → string; ay → Buffer; other arrays → arrays; structs → arrays;
// a{..} → Map; v → Variant.

import { isUtf8 } from 'node:buffer';
import { DBusProtocolError } from './errors.js';
import { isValidObjectPath } from './names.js';
import { Kind, MAX_TOTAL_DEPTH, parseSignature, SINGLE_TYPES, type TypeNode } from './signature.js';
import { Variant } from './variant.js';
import { type BodyOptions, type Endianness, type FastBuffer, MAX_ARRAY_LENGTH } from './wire.js';

const MAX_INTERNED = 64;
const INTERN_SIZE = 1024;
const internStrings: (string | undefined)[] = new Array(INTERN_SIZE).fill(undefined);
const internHashes = new Int32Array(INTERN_SIZE);
/** Which name checks (CHECKED_* bits) the interned string has passed. */
const internChecked = new Uint8Array(INTERN_SIZE);
/** Name checks remembered per interned string; the framing checks header fields with them. */
export const CHECKED_PATH = 1;
export const CHECKED_INTERFACE = 2;
export const CHECKED_MEMBER = 4;
export const CHECKED_BUS_NAME = 8;

/** The input buffer, position, byte order and fds of one decoding. */
export class Reader {
  buf: FastBuffer = Buffer.alloc(0) as FastBuffer;
  pos = 0;
  end = 0;
  shift = 0;
  le = true;
  fds: number[] | undefined = undefined;
  fdCount = 0;

  fail(why: string): never {
    throw new DBusProtocolError(`Invalid message: ${why}`);
  }

  /** Skips NUL padding to `a` from the absolute offset and checks `need` bytes are there. */
  align(a: number, need: number): void {
    let p = this.pos;
    const pad = -(p + this.shift) & (a - 1);
    if (p + pad + need > this.end) this.fail('truncated');
    const buf = this.buf;
    for (let i = 0; i < pad; i++) if (buf[p++] !== 0) this.fail('non-zero alignment padding');
    this.pos = p;
  }

  u32(): number {
    const buf = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return this.le
      ? (buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24)) >>> 0
      : ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0;
  }

  /** Slot in the intern table of the last string read, or -1 (lets callers cache name checks). */
  slot = -1;

  string(): string {
    this.align(4, 4);
    const len = this.u32();
    const start = this.pos;
    const end = start + len;
    if (end + 1 > this.end) this.fail('string runs past the end');
    const buf = this.buf;
    if (buf[end] !== 0) this.fail('string not NUL-terminated');
    this.pos = end + 1;
    this.slot = -1;
    if (len <= MAX_INTERNED) {
      // Short ASCII strings (names, paths, dict keys) repeat from message to message: hash them
      // while checking for NUL and non-ASCII, and reuse the string from last time if it matches.
      let hash = len;
      let i = start;
      for (; i < end; i++) {
        const c = buf[i]!;
        if (c >= 0x80 || c === 0) break;
        hash = (Math.imul(hash, 31) + c) | 0;
      }
      if (i === end) {
        const slot = (hash ^ (hash >>> 11)) & (INTERN_SIZE - 1);
        const known = internStrings[slot];
        if (known !== undefined && internHashes[slot] === hash && known.length === len) {
          let j = 0;
          while (j < len && known.charCodeAt(j) === buf[start + j]) j++;
          if (j === len) {
            this.slot = slot;
            return known;
          }
        }
        const s = buf.latin1Slice(start, end);
        internStrings[slot] = s;
        internHashes[slot] = hash;
        internChecked[slot] = 0;
        this.slot = slot;
        return s;
      }
    }
    const s = buf.utf8Slice(start, end);
    if (s.indexOf('\0') !== -1) this.fail('NUL inside a string');
    if (s.indexOf('\uFFFD') !== -1 && !isUtf8(buf.subarray(start, end))) this.fail('string is not valid UTF-8');
    return s;
  }

  /** Reads a string and checks it with `valid`, remembering success in the intern table under `flag`. */
  name(valid: (s: string) => boolean, flag: number, what: string): string {
    const s = this.string();
    const slot = this.slot;
    if (slot >= 0 && internChecked[slot]! & flag) return s;
    if (!valid(s)) this.fail(`invalid ${what} ${JSON.stringify(s)}`);
    if (slot >= 0) internChecked[slot]! |= flag;
    return s;
  }

  signature(): string {
    this.align(1, 1);
    const buf = this.buf;
    const len = buf[this.pos]!;
    const start = this.pos + 1;
    const end = start + len;
    if (end + 1 > this.end) this.fail('signature runs past the end');
    if (buf[end] !== 0) this.fail('signature not NUL-terminated');
    for (let i = start; i < end; i++) if (buf[i]! >= 0x80 || buf[i] === 0) this.fail('invalid signature byte');
    this.pos = end + 1;
    return buf.latin1Slice(start, end);
  }

  /** Parses a signature from the wire, turning a bad one into a protocol error. */
  types(sig: string): readonly TypeNode[] {
    try {
      return parseSignature(sig);
    } catch (err) {
      return this.fail((err as Error).message);
    }
  }
}

/** Reads one value of type `t` at the reader's position. */
export function readValue(r: Reader, t: TypeNode, depth: number): unknown {
  const buf = r.buf;
  switch (t.kind) {
    case Kind.Byte:
      r.align(1, 1);
      return buf[r.pos++];
    case Kind.Boolean: {
      r.align(4, 4);
      const b = r.u32();
      if (b > 1) r.fail(`boolean value ${b}`);
      return b === 1;
    }
    case Kind.Int16: {
      r.align(2, 2);
      const p = r.pos;
      r.pos = p + 2;
      const v = r.le ? buf[p]! | (buf[p + 1]! << 8) : (buf[p]! << 8) | buf[p + 1]!;
      return (v << 16) >> 16;
    }
    case Kind.Uint16: {
      r.align(2, 2);
      const p = r.pos;
      r.pos = p + 2;
      return r.le ? buf[p]! | (buf[p + 1]! << 8) : (buf[p]! << 8) | buf[p + 1]!;
    }
    case Kind.Int32:
      r.align(4, 4);
      return r.u32() | 0;
    case Kind.Uint32:
      r.align(4, 4);
      return r.u32();
    case Kind.Int64: {
      r.align(8, 8);
      const v = r.le ? buf.readBigInt64LE(r.pos) : buf.readBigInt64BE(r.pos);
      r.pos += 8;
      return v;
    }
    case Kind.Uint64: {
      r.align(8, 8);
      const v = r.le ? buf.readBigUInt64LE(r.pos) : buf.readBigUInt64BE(r.pos);
      r.pos += 8;
      return v;
    }
    case Kind.Double: {
      r.align(8, 8);
      const v = r.le ? buf.readDoubleLE(r.pos) : buf.readDoubleBE(r.pos);
      r.pos += 8;
      return v;
    }
    case Kind.UnixFd: {
      r.align(4, 4);
      const index = r.u32();
      if (r.fds === undefined || index >= r.fdCount) r.fail(`file descriptor index ${index} out of range`);
      return r.fds[index];
    }
    case Kind.String:
      return r.string();
    case Kind.ObjectPath:
      return r.name(isValidObjectPath, CHECKED_PATH, 'object path');
    case Kind.Signature: {
      const s = r.signature();
      r.types(s);
      return s;
    }
    case Kind.Variant: {
      if (++depth > MAX_TOTAL_DEPTH) r.fail('nested deeper than 64 containers');
      const p = r.pos;
      if (p + 3 <= r.end && buf[p] === 1 && buf[p + 2] === 0) {
        const leaf = SINGLE_TYPES[buf[p + 1]!];
        if (leaf !== undefined) {
          r.pos = p + 3;
          return new Variant(leaf.signature, readValue(r, leaf, depth));
        }
      }
      const s = r.signature();
      const types = r.types(s);
      if (types.length !== 1) r.fail(`variant signature ${JSON.stringify(s)} is not a single complete type`);
      return new Variant(s, readValue(r, types[0]!, depth));
    }
    case Kind.Array:
      return readArray(r, t, depth + 1);
    case Kind.Struct: {
      if (++depth > MAX_TOTAL_DEPTH) r.fail('nested deeper than 64 containers');
      r.align(8, 0);
      const fields = t.children;
      const n = fields.length;
      const out = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readValue(r, fields[i]!, depth);
      return out;
    }
    default:
      return r.fail(`bare dict entry '${t.signature}'`);
  }
}

function readArray(r: Reader, t: TypeNode, depth: number): unknown {
  if (depth > MAX_TOTAL_DEPTH) r.fail('nested deeper than 64 containers');
  r.align(4, 4);
  const len = r.u32();
  if (len > MAX_ARRAY_LENGTH) r.fail(`array length ${len} over 64 MiB`);
  const elem = t.children[0]!;
  r.align(elem.alignment, 0);
  const end = r.pos + len;
  if (end > r.end) r.fail('array runs past the end');
  if (t.isByteArray) {
    const out = Buffer.allocUnsafe(len);
    r.buf.copy(out, 0, r.pos, end);
    r.pos = end;
    return out;
  }
  if (t.isDict) {
    const key = elem.children[0]!;
    const value = elem.children[1]!;
    const m = new Map<unknown, unknown>();
    while (r.pos < end) {
      r.align(8, 0);
      const k = readValue(r, key, depth);
      m.set(k, readValue(r, value, depth));
    }
    if (r.pos !== end) r.fail('array elements overrun the array length');
    return m;
  }
  const out: unknown[] = [];
  while (r.pos < end) out.push(readValue(r, elem, depth));
  if (r.pos !== end) r.fail('array elements overrun the array length');
  return out;
}

const reader = new Reader();
const EMPTY = Buffer.alloc(0) as FastBuffer;

/** Reads one value per complete type of `types` from the reader's position up to exactly its end. */
export function readBody(r: Reader, types: readonly TypeNode[]): unknown[] {
  const out = new Array(types.length);
  for (let i = 0; i < types.length; i++) out[i] = readValue(r, types[i]!, 0);
  if (r.pos !== r.end) r.fail(`${r.end - r.pos} bytes left after the body`);
  return out;
}

/** Unmarshals a body of `signature` from all of `buf`; alignment as if it started at `options.offset`. */
export function decodeBody(signature: string, buf: Buffer, endianness: Endianness = 'l', options: BodyOptions = {}): unknown[] {
  const types = reader.types(signature);
  const r = takeReader(buf, endianness !== 'B');
  r.pos = 0;
  r.end = buf.length;
  r.shift = options.offset ?? 0;
  r.fds = options.fds;
  r.fdCount = options.fds?.length ?? 0;
  try {
    return readBody(r, types);
  } finally {
    releaseReader(r);
  }
}

/** Points the shared reader at `buf` (a whole message, read from offset 0 in its byte order). */
export function takeReader(buf: Buffer, le: boolean): Reader {
  const r = reader;
  r.buf = buf as FastBuffer;
  r.le = le;
  r.shift = 0;
  r.fds = undefined;
  r.fdCount = 0;
  return r;
}

/** Lets go of the buffer and fds the shared reader was given. */
export function releaseReader(r: Reader): void {
  r.buf = EMPTY;
  r.fds = undefined;
}
