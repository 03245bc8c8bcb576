// The D-Bus wire format ("Marshaling (Wire Format)" and "Message Protocol" in the specification):
// bodies and whole messages, both byte orders, alignment from the absolute offset in the message.
// The encoder and decoder walk cached TypeNode trees; values are checked against the signature on
// the way out and the way in, and every limit of the specification is enforced with a typed error.
//
// JavaScript mapping: y n q i u d → number; h → number, the fd itself (the wire carries its index
// in Message.fds); x t → bigint (a safe-integer number is accepted on the way out); b → boolean;
// s o g → string; ay → Buffer (any Uint8Array or byte array on the way out); other arrays → arrays;
// structs → arrays (tuples); a{..} → Map (a Map or a plain object on the way out, keys converted
// to the key type); v → Variant. Header fields are written in code order unless msg.fieldOrder says
// otherwise (decoded messages carry the order they arrived in, so they re-encode byte for byte).

import { isUtf8 } from 'node:buffer';
import { DBusInvalidArgsError, DBusProtocolError } from './errors.js';
import { type Message, MessageType } from './message.js';
import {
  isValidBusName,
  isValidErrorName,
  isValidInterfaceName,
  isValidMemberName,
  isValidObjectPath,
} from './names.js';
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

/** Maximum length of a whole message (header, padding and body). */
export const MAX_MESSAGE_LENGTH = 134217728;
/** Maximum length of the data of one array. */
export const MAX_ARRAY_LENGTH = 67108864;

/** Byte order of a message: 'l' little-endian, 'B' big-endian. */
export type Endianness = 'l' | 'B';

/** Where a body sits in its message, and the file descriptors it refers to. */
export interface BodyOptions {
  /** Absolute offset of the body in its message (alignment is computed from it); default 0. */
  offset?: number;
  /** Encode: collects the fds of `h` values (each value becomes its index here). Decode: the fds the indices refer to. */
  fds?: number[];
}

/** Header field codes of the specification. */
export const HeaderField = {
  Path: 1,
  Interface: 2,
  Member: 3,
  ErrorName: 4,
  ReplySerial: 5,
  Destination: 6,
  Sender: 7,
  Signature: 8,
  UnixFds: 9,
} as const;

// Node's Buffer has these fast paths without argument juggling; they are public-but-undocumented.
interface FastBuffer extends Buffer {
  utf8Write(s: string, offset: number): number;
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

const ENDIAN_L = 0x6c;
const ENDIAN_B = 0x42;

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

function mismatch(t: TypeNode, v: unknown, expected: string): never {
  throw new DBusInvalidArgsError(`Expected ${expected} for type '${t.signature}', got ${describe(v)}`);
}

// ---------------------------------------------------------------------------------------------
// Encoding

class Writer {
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

function takeWriter(le: boolean, shift: number, fds: number[] | undefined): Writer {
  // A re-entrant call (from a getter inside a value being encoded) gets its own writer.
  const w = shared.busy ? new Writer(256) : shared;
  w.busy = true;
  w.pos = 0;
  w.shift = shift;
  w.le = le;
  w.fds = fds;
  return w;
}

function releaseWriter(w: Writer): Buffer {
  const out = Buffer.allocUnsafe(w.pos);
  w.buf.copy(out, 0, 0, w.pos);
  w.busy = false;
  w.fds = undefined;
  // Do not keep a huge scratch buffer alive after one big message.
  if (w === shared && w.buf.length > 1048576) w.buf = Buffer.allocUnsafe(4096) as FastBuffer;
  return out;
}

function isInteger(v: unknown, min: number, max: number): v is number {
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
      w.string(t, v);
      return;
    case Kind.Signature:
      if (typeof v !== 'string') mismatch(t, v, 'a signature string');
      parseSignature(v);
      w.signature(v);
      return;
    case Kind.Variant: {
      if (!(v instanceof Variant)) mismatch(t, v, 'a Variant');
      if (++depth > MAX_TOTAL_DEPTH) throw new DBusInvalidArgsError('Value nested deeper than 64 containers');
      const sig = v.signature;
      // Most variants hold a basic type: skip the signature cache for those.
      const inner =
        typeof sig === 'string' && sig.length === 1
          ? (SINGLE_TYPES[sig.charCodeAt(0)] ?? parseSingleType(sig))
          : parseSingleType(sig);
      w.signature(sig);
      writeValue(w, inner, v.value, depth);
      return;
    }
    case Kind.Array:
      writeArray(w, t, v, depth + 1);
      return;
    case Kind.Struct: {
      if (!Array.isArray(v)) mismatch(t, v, 'an array (struct fields)');
      const fields = t.children;
      if (v.length !== fields.length) mismatch(t, v, `an array of ${fields.length} struct fields, not ${v.length}`);
      if (++depth > MAX_TOTAL_DEPTH) throw new DBusInvalidArgsError('Value nested deeper than 64 containers');
      w.align(8, 0);
      for (let i = 0; i < fields.length; i++) writeValue(w, fields[i]!, v[i], depth);
      return;
    }
    default:
      throw new DBusInvalidArgsError(`Cannot encode a bare dict entry '${t.signature}'`);
  }
}

function writeArray(w: Writer, t: TypeNode, v: unknown, depth: number): void {
  if (depth > MAX_TOTAL_DEPTH) throw new DBusInvalidArgsError('Value nested deeper than 64 containers');
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
    const key = elem.children[0]!;
    const value = elem.children[1]!;
    if (v instanceof Map) {
      // forEach, unlike for-of, allocates no [key, value] pair per entry.
      v.forEach((x: unknown, k: unknown) => {
        w.align(8, 0);
        writeValue(w, key, k, depth);
        writeValue(w, value, x, depth);
      });
    } else if (typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)) {
      const obj = v as Record<string, unknown>;
      for (const k in obj) {
        if (!Object.hasOwn(obj, k)) continue;
        w.align(8, 0);
        writeValue(w, key, convertKey(key, k), depth);
        writeValue(w, value, obj[k], depth);
      }
    } else {
      mismatch(t, v, 'a Map or a plain object');
    }
  } else {
    if (!Array.isArray(v)) mismatch(t, v, t.isByteArray ? 'a Uint8Array or an array of bytes' : 'an array');
    for (let i = 0; i < v.length; i++) writeValue(w, elem, v[i], depth);
  }
  const len = w.pos - start;
  if (len > MAX_ARRAY_LENGTH) throw new DBusInvalidArgsError(`Array '${t.signature}' longer than 64 MiB`);
  w.u32At(lengthAt, len);
}

function writeBody(w: Writer, types: readonly TypeNode[], values: readonly unknown[], signature: string): void {
  if (!Array.isArray(values)) throw new DBusInvalidArgsError('Body values must be an array');
  if (values.length !== types.length) {
    throw new DBusInvalidArgsError(
      `Signature '${signature}' has ${types.length} complete types but ${values.length} values were given`,
    );
  }
  for (let i = 0; i < types.length; i++) writeValue(w, types[i]!, values[i], 0);
}

/** Re-runs a failed encoding through checkValues for an error that says where the bad value is. */
function explain(err: unknown, signature: string, values: readonly unknown[]): never {
  if (err instanceof DBusInvalidArgsError && Array.isArray(values)) {
    try {
      checkValues(signature, values);
    } catch (detailed) {
      if (detailed instanceof DBusInvalidArgsError) throw detailed;
    }
  }
  throw err;
}

/** Marshals body values for `signature`; alignment as if the body started at `options.offset` of a message. */
export function encodeBody(
  signature: string,
  values: readonly unknown[],
  endianness: Endianness = 'l',
  options: BodyOptions = {},
): Buffer {
  const types = parseSignature(signature);
  const w = takeWriter(endianness !== 'B', options.offset ?? 0, options.fds);
  try {
    writeBody(w, types, values, signature);
  } catch (err) {
    w.busy = false;
    explain(err, signature, values);
  }
  return releaseWriter(w);
}

function requireField(msg: Message, name: keyof Message, what: string): void {
  if (msg[name] === undefined) throw new DBusInvalidArgsError(`${what} message without ${name}`);
}

/** Checks a message's header against the specification before it is sent. */
function checkHeader(msg: Message): void {
  const { type } = msg;
  if (!isInteger(type, 1, 4)) throw new DBusInvalidArgsError(`Invalid message type ${String(type)}`);
  if (!isInteger(msg.serial, 1, 4294967295)) throw new DBusInvalidArgsError(`Invalid serial ${String(msg.serial)}`);
  if (!isInteger(msg.flags ?? 0, 0, 255)) throw new DBusInvalidArgsError(`Invalid flags ${String(msg.flags)}`);
  if (msg.path !== undefined && !isValidObjectPath(msg.path)) {
    throw new DBusInvalidArgsError(`Invalid object path ${JSON.stringify(msg.path)}`);
  }
  if (msg.interface !== undefined && !isValidInterfaceName(msg.interface)) {
    throw new DBusInvalidArgsError(`Invalid interface name ${JSON.stringify(msg.interface)}`);
  }
  if (msg.member !== undefined && !isValidMemberName(msg.member)) {
    throw new DBusInvalidArgsError(`Invalid member name ${JSON.stringify(msg.member)}`);
  }
  if (msg.errorName !== undefined && !isValidErrorName(msg.errorName)) {
    throw new DBusInvalidArgsError(`Invalid error name ${JSON.stringify(msg.errorName)}`);
  }
  if (msg.replySerial !== undefined && !isInteger(msg.replySerial, 1, 4294967295)) {
    throw new DBusInvalidArgsError(`Invalid reply serial ${String(msg.replySerial)}`);
  }
  if (msg.destination !== undefined && !isValidBusName(msg.destination)) {
    throw new DBusInvalidArgsError(`Invalid destination ${JSON.stringify(msg.destination)}`);
  }
  if (msg.sender !== undefined && !isValidBusName(msg.sender)) {
    throw new DBusInvalidArgsError(`Invalid sender ${JSON.stringify(msg.sender)}`);
  }
  // Reserved by the specification for messages an implementation makes up locally; never sent.
  if (msg.path === '/org/freedesktop/DBus/Local' || msg.interface === 'org.freedesktop.DBus.Local') {
    throw new DBusInvalidArgsError('The path and interface org.freedesktop.DBus.Local are reserved');
  }
  switch (type) {
    case MessageType.MethodCall:
      requireField(msg, 'path', 'METHOD_CALL');
      requireField(msg, 'member', 'METHOD_CALL');
      break;
    case MessageType.MethodReturn:
      requireField(msg, 'replySerial', 'METHOD_RETURN');
      break;
    case MessageType.Error:
      requireField(msg, 'errorName', 'ERROR');
      requireField(msg, 'replySerial', 'ERROR');
      break;
    case MessageType.Signal:
      requireField(msg, 'path', 'SIGNAL');
      requireField(msg, 'interface', 'SIGNAL');
      requireField(msg, 'member', 'SIGNAL');
      break;
  }
}

function fieldHead(w: Writer, code: number, sigChar: number): void {
  w.align(8, 4);
  const buf = w.buf;
  buf[w.pos] = code;
  buf[w.pos + 1] = 1;
  buf[w.pos + 2] = sigChar;
  buf[w.pos + 3] = 0;
  w.pos += 4;
}

const STRING_NODE = parseSingleType('s');
const CHAR_S = 0x73;
const CHAR_O = 0x6f;
const CHAR_U = 0x75;
const CHAR_G = 0x67;

function stringField(w: Writer, code: number, sigChar: number, s: string | undefined): void {
  if (s === undefined) return;
  fieldHead(w, code, sigChar);
  w.string(STRING_NODE, s);
}

function uintField(w: Writer, code: number, v: number | undefined): void {
  if (v === undefined) return;
  fieldHead(w, code, CHAR_U);
  w.u32(v);
}

/** Writes header field `code` of `msg` if the message has it. */
function writeField(w: Writer, msg: Message, code: number, fdCount: number): void {
  switch (code) {
    case HeaderField.Path:
      stringField(w, code, CHAR_O, msg.path);
      return;
    case HeaderField.Interface:
      stringField(w, code, CHAR_S, msg.interface);
      return;
    case HeaderField.Member:
      stringField(w, code, CHAR_S, msg.member);
      return;
    case HeaderField.ErrorName:
      stringField(w, code, CHAR_S, msg.errorName);
      return;
    case HeaderField.ReplySerial:
      uintField(w, code, msg.replySerial);
      return;
    case HeaderField.Destination:
      stringField(w, code, CHAR_S, msg.destination);
      return;
    case HeaderField.Sender:
      stringField(w, code, CHAR_S, msg.sender);
      return;
    case HeaderField.Signature:
      if (msg.signature) {
        fieldHead(w, code, CHAR_G);
        w.signature(msg.signature);
      }
      return;
    case HeaderField.UnixFds:
      if (fdCount > 0) uintField(w, code, fdCount);
      return;
  }
}

/** One encoding pass; `fds` may grow while the body is written. */
function encodeOnce(msg: Message, types: readonly TypeNode[], fds: number[]): Buffer {
  const w = takeWriter(msg.endianness !== 'B', 0, fds);
  const body = msg.body ?? [];
  const signature = msg.signature ?? '';
  try {
    w.align(8, 16);
    const buf = w.buf;
    buf[0] = w.le ? ENDIAN_L : ENDIAN_B;
    buf[1] = msg.type;
    buf[2] = msg.flags ?? 0;
    buf[3] = 1;
    w.pos = 8;
    w.u32(msg.serial);
    w.pos = 16;
    const fdCount = fds.length;
    const order = msg.fieldOrder;
    if (order === undefined) {
      for (let code = 1; code <= 9; code++) writeField(w, msg, code, fdCount);
    } else {
      // Keep the layout of a received message (byte-exact re-encoding); fields it lacked go last.
      let written = 0;
      for (const code of order) {
        if (code < 1 || code > 9 || written & (1 << code)) continue;
        written |= 1 << code;
        writeField(w, msg, code, fdCount);
      }
      for (let code = 1; code <= 9; code++) if (!(written & (1 << code))) writeField(w, msg, code, fdCount);
    }
    w.u32At(12, w.pos - 16);
    w.align(8, 0);
    const bodyStart = w.pos;
    writeBody(w, types, body, signature);
    w.u32At(4, w.pos - bodyStart);
    if (w.pos > MAX_MESSAGE_LENGTH) throw new DBusInvalidArgsError('Message longer than 128 MiB');
  } catch (err) {
    w.busy = false;
    explain(err, signature, body);
  }
  return releaseWriter(w);
}

/** Marshals a whole message; the fds of `h` values are msg.fds plus any new ones, returned in order. */
export function encodeMessageWithFds(msg: Message): { buffer: Buffer; fds: number[] } {
  checkHeader(msg);
  const types = parseSignature(msg.signature ?? '');
  const fds = msg.fds ? msg.fds.slice() : [];
  const before = fds.length;
  let buffer = encodeOnce(msg, types, fds);
  // UNIX_FDS precedes the body, so fds first met in the body need a second pass with the full list.
  if (fds.length !== before) buffer = encodeOnce(msg, types, fds);
  return { buffer, fds };
}

/** Marshals a whole message in msg.endianness (default 'l'). Use encodeMessageWithFds when the body has `h` values. */
export function encodeMessage(msg: Message): Buffer {
  return encodeMessageWithFds(msg).buffer;
}

// ---------------------------------------------------------------------------------------------
// Decoding

const MAX_INTERNED = 64;
const INTERN_SIZE = 1024;
const internStrings: (string | undefined)[] = new Array(INTERN_SIZE).fill(undefined);
const internHashes = new Int32Array(INTERN_SIZE);
/** Which name checks (CHECKED_* bits) the interned string has passed. */
const internChecked = new Uint8Array(INTERN_SIZE);
const CHECKED_PATH = 1;
const CHECKED_INTERFACE = 2;
const CHECKED_MEMBER = 4;
const CHECKED_BUS_NAME = 8;

class Reader {
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

function readValue(r: Reader, t: TypeNode, depth: number): unknown {
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

/** Unmarshals a body of `signature` from all of `buf`; alignment as if it started at `options.offset`. */
export function decodeBody(
  signature: string,
  buf: Buffer,
  endianness: Endianness = 'l',
  options: BodyOptions = {},
): unknown[] {
  const r = reader;
  const types = r.types(signature);
  r.buf = buf as FastBuffer;
  r.pos = 0;
  r.end = buf.length;
  r.shift = options.offset ?? 0;
  r.le = endianness !== 'B';
  r.fds = options.fds;
  r.fdCount = options.fds?.length ?? 0;
  try {
    const out = new Array(types.length);
    for (let i = 0; i < types.length; i++) out[i] = readValue(r, types[i]!, 0);
    if (r.pos !== r.end) r.fail(`${r.end - r.pos} bytes left after the body`);
    return out;
  } finally {
    r.buf = EMPTY;
    r.fds = undefined;
  }
}

const EMPTY = Buffer.alloc(0) as FastBuffer;

/**
 * Total length of the message starting at buf[0] once its 16-byte fixed header is there;
 * undefined if fewer bytes are there. Throws DBusProtocolError if invalid or over 128 MiB.
 */
export function messageLength(buf: Buffer): number | undefined {
  if (buf.length < 16) return undefined;
  const e = buf[0];
  if (e !== ENDIAN_L && e !== ENDIAN_B) throw new DBusProtocolError(`Invalid message: endianness byte ${e}`);
  if (buf[3] !== 1) throw new DBusProtocolError(`Invalid message: protocol version ${buf[3]}`);
  const le = e === ENDIAN_L;
  const bodyLen = le ? buf.readUInt32LE(4) : buf.readUInt32BE(4);
  const fieldsLen = le ? buf.readUInt32LE(12) : buf.readUInt32BE(12);
  if (fieldsLen > MAX_ARRAY_LENGTH) throw new DBusProtocolError('Invalid message: header fields over 64 MiB');
  const total = 16 + ((fieldsLen + 7) & ~7) + bodyLen;
  if (total > MAX_MESSAGE_LENGTH) throw new DBusProtocolError(`Invalid message: length ${total} over 128 MiB`);
  return total;
}

function unpackOrder(packed: number): number[] {
  const order: number[] = [];
  while (packed > 0) {
    order.unshift(packed % 16);
    packed = Math.floor(packed / 16);
  }
  return order;
}

const FIELD_SIGNATURES = ['', 'o', 's', 's', 's', 'u', 's', 's', 'g', 'u'];
const FIELD_CHARS = FIELD_SIGNATURES.map((c) => c.charCodeAt(0) | 0);

/** Unmarshals one whole message occupying all of `buf`; `fds` are the descriptors received with it. */
export function decodeMessage(buf: Buffer, fds?: number[]): Message {
  const total = messageLength(buf);
  if (total === undefined) throw new DBusProtocolError('Invalid message: shorter than its 16-byte header');
  if (buf.length !== total) {
    throw new DBusProtocolError(`Invalid message: ${buf.length} bytes given, header says ${total}`);
  }
  const r = reader;
  r.buf = buf as FastBuffer;
  r.le = buf[0] === ENDIAN_L;
  r.shift = 0;
  r.fds = undefined;
  r.fdCount = 0;
  try {
    return decodeMessageWith(r, buf, total, fds);
  } finally {
    r.buf = EMPTY;
    r.fds = undefined;
  }
}

function decodeMessageWith(r: Reader, buf: Buffer, total: number, fds: number[] | undefined): Message {
  const type = buf[1]!;
  if (type === 0) r.fail('message type 0');
  const flags = buf[2]!;
  r.pos = 8;
  r.end = 16;
  const serial = r.u32();
  if (serial === 0) r.fail('serial 0');
  const fieldsLen = r.u32();
  const fieldsEnd = 16 + fieldsLen;
  const bodyStart = (fieldsEnd + 7) & ~7;
  r.end = fieldsEnd;

  const msg: Message = { type, flags, serial, signature: '', body: [] };
  let seen = 0;
  let unixFds = 0;
  // Field codes in arrival order, four bits each (at most 9 known fields: fits a double exactly).
  let packed = 0;
  let ascending = true;
  let last = 0;
  while (r.pos < fieldsEnd) {
    r.align(8, 1);
    const at = r.pos;
    const code = buf[at]!;
    if (code === 0) r.fail('header field code 0');
    const known = code < FIELD_SIGNATURES.length;
    // Fast path: a known field with its one-character signature, as every peer sends it.
    if (known && at + 4 <= fieldsEnd && buf[at + 1] === 1 && buf[at + 2] === FIELD_CHARS[code] && buf[at + 3] === 0) {
      r.pos = at + 4;
    } else {
      r.pos = at + 1;
      const sig = r.signature();
      if (known) r.fail(`header field ${code} has signature ${JSON.stringify(sig)}`);
      // Unknown fields are ignored, but must still be well-formed.
      const types = r.types(sig);
      if (types.length !== 1) r.fail(`header field ${code} signature ${JSON.stringify(sig)} is not a single type`);
      readValue(r, types[0]!, 2);
      continue;
    }
    if (seen & (1 << code)) r.fail(`header field ${code} appears twice`);
    seen |= 1 << code;
    packed = packed * 16 + code;
    if (code < last) ascending = false;
    last = code;
    switch (code) {
      case HeaderField.Path: {
        msg.path = r.name(isValidObjectPath, CHECKED_PATH, 'PATH');
        break;
      }
      case HeaderField.Interface: {
        msg.interface = r.name(isValidInterfaceName, CHECKED_INTERFACE, 'INTERFACE');
        break;
      }
      case HeaderField.Member: {
        msg.member = r.name(isValidMemberName, CHECKED_MEMBER, 'MEMBER');
        break;
      }
      case HeaderField.ErrorName: {
        msg.errorName = r.name(isValidErrorName, CHECKED_INTERFACE, 'ERROR_NAME');
        break;
      }
      case HeaderField.ReplySerial: {
        r.align(4, 4);
        const v = r.u32();
        if (v === 0) r.fail('REPLY_SERIAL 0');
        msg.replySerial = v;
        break;
      }
      case HeaderField.Destination: {
        msg.destination = r.name(isValidBusName, CHECKED_BUS_NAME, 'DESTINATION');
        break;
      }
      case HeaderField.Sender: {
        msg.sender = r.name(isValidBusName, CHECKED_BUS_NAME, 'SENDER');
        break;
      }
      case HeaderField.Signature: {
        const s = r.signature();
        r.types(s);
        msg.signature = s;
        break;
      }
      default: {
        r.align(4, 4);
        unixFds = r.u32();
        break;
      }
    }
  }
  if (r.pos !== fieldsEnd) r.fail('header fields overrun their length');
  if (!ascending) msg.fieldOrder = unpackOrder(packed);
  for (let i = fieldsEnd; i < bodyStart; i++) if (buf[i] !== 0) r.fail('non-zero header padding');

  switch (type) {
    case MessageType.MethodCall:
      if (msg.path === undefined || msg.member === undefined) r.fail('METHOD_CALL without PATH or MEMBER');
      break;
    case MessageType.MethodReturn:
      if (msg.replySerial === undefined) r.fail('METHOD_RETURN without REPLY_SERIAL');
      break;
    case MessageType.Error:
      if (msg.errorName === undefined || msg.replySerial === undefined) {
        r.fail('ERROR without ERROR_NAME or REPLY_SERIAL');
      }
      break;
    case MessageType.Signal:
      if (msg.path === undefined || msg.interface === undefined || msg.member === undefined) {
        r.fail('SIGNAL without PATH, INTERFACE or MEMBER');
      }
      break;
  }

  if (unixFds > 0) {
    const got = fds?.length ?? 0;
    if (got < unixFds) r.fail(`UNIX_FDS is ${unixFds} but ${got} file descriptors arrived`);
    msg.fds = fds!.length === unixFds ? fds : fds!.slice(0, unixFds);
    r.fds = msg.fds;
    r.fdCount = unixFds;
  }

  r.pos = bodyStart;
  r.end = total;
  const types = r.types(msg.signature);
  if (types.length === 0) {
    if (total !== bodyStart) r.fail('body present but no SIGNATURE');
  } else {
    const body = new Array(types.length);
    for (let i = 0; i < types.length; i++) body[i] = readValue(r, types[i]!, 0);
    if (r.pos !== total) r.fail(`${total - r.pos} bytes left after the body`);
    msg.body = body;
  }
  msg.endianness = r.le ? 'l' : 'B';
  return msg;
}

// ---------------------------------------------------------------------------------------------
// Checking values without encoding them

function checkFail(t: TypeNode, v: unknown, where: string, expected: string): never {
  throw new DBusInvalidArgsError(`${where}: expected ${expected} for type '${t.signature}', got ${describe(v)}`);
}

function checkValue(t: TypeNode, v: unknown, where: string, depth: number): void {
  switch (t.kind) {
    case Kind.Byte:
      if (!isInteger(v, 0, 255)) checkFail(t, v, where, 'an integer in 0..255');
      return;
    case Kind.Boolean:
      if (typeof v !== 'boolean') checkFail(t, v, where, 'a boolean');
      return;
    case Kind.Int16:
      if (!isInteger(v, -32768, 32767)) checkFail(t, v, where, 'an integer in -32768..32767');
      return;
    case Kind.Uint16:
      if (!isInteger(v, 0, 65535)) checkFail(t, v, where, 'an integer in 0..65535');
      return;
    case Kind.Int32:
      if (!isInteger(v, -2147483648, 2147483647)) checkFail(t, v, where, 'an integer in -2^31..2^31-1');
      return;
    case Kind.Uint32:
      if (!isInteger(v, 0, 4294967295)) checkFail(t, v, where, 'an integer in 0..2^32-1');
      return;
    case Kind.Int64:
    case Kind.Uint64:
      try {
        toInt64(t, v, t.kind === Kind.Uint64);
      } catch {
        checkFail(t, v, where, t.kind === Kind.Uint64 ? 'a bigint (or safe integer) in 0..2^64-1' : 'a bigint (or safe integer) in -2^63..2^63-1');
      }
      return;
    case Kind.Double:
      if (typeof v !== 'number') checkFail(t, v, where, 'a number');
      return;
    case Kind.UnixFd:
      if (!isInteger(v, 0, 2147483647)) checkFail(t, v, where, 'a file descriptor (a non-negative integer)');
      return;
    case Kind.String:
      if (typeof v !== 'string') checkFail(t, v, where, 'a string');
      else if (v.indexOf('\0') !== -1) checkFail(t, v, where, 'a string without NUL characters');
      else if (!(v as unknown as { isWellFormed(): boolean }).isWellFormed()) checkFail(t, v, where, 'a string without lone surrogates');
      return;
    case Kind.ObjectPath:
      if (!isValidObjectPath(v)) checkFail(t, v, where, 'an object path');
      return;
    case Kind.Signature:
      if (!isValidSignature(v)) checkFail(t, v, where, 'a valid signature');
      return;
    case Kind.Variant: {
      if (!(v instanceof Variant)) checkFail(t, v, where, 'a Variant');
      if (!isSingleCompleteType(v.signature)) checkFail(t, v.signature, where, 'a Variant whose signature is one complete type');
      if (++depth > MAX_TOTAL_DEPTH) checkFail(t, v, where, 'at most 64 nested containers');
      checkValue(parseSingleType(v.signature), v.value, `${where}<${v.signature}>`, depth);
      return;
    }
    case Kind.Array: {
      if (++depth > MAX_TOTAL_DEPTH) checkFail(t, v, where, 'at most 64 nested containers');
      const elem = t.children[0]!;
      if (t.isByteArray && v instanceof Uint8Array) return;
      if (t.isDict) {
        const [key, value] = elem.children as [TypeNode, TypeNode];
        if (v instanceof Map) {
          for (const [k, x] of v) {
            checkValue(key, k, `${where} key`, depth);
            checkValue(value, x, `${where}[${describeKey(k)}]`, depth);
          }
        } else if (typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)) {
          const obj = v as Record<string, unknown>;
          for (const k in obj) {
            if (!Object.hasOwn(obj, k)) continue;
            try {
              convertKey(key, k);
            } catch {
              throw new DBusInvalidArgsError(`${where}: key ${JSON.stringify(k)} does not fit type '${key.signature}'`);
            }
            checkValue(value, obj[k], `${where}[${JSON.stringify(k)}]`, depth);
          }
        } else {
          checkFail(t, v, where, 'a Map or a plain object');
        }
        return;
      }
      if (!Array.isArray(v)) checkFail(t, v, where, t.isByteArray ? 'a Uint8Array or an array of bytes' : 'an array');
      for (let i = 0; i < v.length; i++) checkValue(elem, v[i], `${where}[${i}]`, depth);
      return;
    }
    case Kind.Struct: {
      if (!Array.isArray(v)) checkFail(t, v, where, 'an array (struct fields)');
      if (v.length !== t.children.length) checkFail(t, v, where, `${t.children.length} struct fields`);
      if (++depth > MAX_TOTAL_DEPTH) checkFail(t, v, where, 'at most 64 nested containers');
      for (let i = 0; i < v.length; i++) checkValue(t.children[i]!, v[i], `${where}.${i}`, depth);
      return;
    }
    default:
      checkFail(t, v, where, 'no bare dict entry');
  }
}

function describeKey(k: unknown): string {
  return typeof k === 'string' ? JSON.stringify(k) : String(k);
}

/** Checks that `values` fit `signature` (one value per complete type); throws DBusInvalidArgsError saying where not. */
export function checkValues(signature: string, values: readonly unknown[]): void {
  const types = parseSignature(signature);
  if (!Array.isArray(values)) throw new DBusInvalidArgsError('Values must be an array');
  if (values.length !== types.length) {
    throw new DBusInvalidArgsError(
      `Signature '${signature}' has ${types.length} complete types but ${values.length} values were given`,
    );
  }
  for (let i = 0; i < types.length; i++) checkValue(types[i]!, values[i], `argument ${i}`, 0);
}
