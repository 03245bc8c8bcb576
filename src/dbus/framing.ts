// Message framing ("Message Protocol" in the specification): the fixed header, the header fields
// and the placement of the body, on top of the body codec (encoder.ts, decoder.ts). Header fields
// are written in code order unless msg.fieldOrder says otherwise (decoded messages carry the order
// they arrived in, so they re-encode byte for byte).

import {
  CHECKED_BUS_NAME,
  CHECKED_INTERFACE,
  CHECKED_MEMBER,
  CHECKED_PATH,
  type Reader,
  readBody,
  readValue,
  releaseReader,
  takeReader,
} from './decoder.js';
import { dropWriter, isInteger, releaseWriter, takeWriter, type Writer, writeBody } from './encoder.js';
import { DBusInvalidArgsError, DBusProtocolError } from './errors.js';
import { type Message, MessageType } from './message.js';
import { isValidBusName, isValidErrorName, isValidInterfaceName, isValidMemberName, isValidObjectPath } from './names.js';
import { parseSignature, parseSingleType, type TypeNode } from './signature.js';
import { ENDIAN_B, ENDIAN_L, MAX_ARRAY_LENGTH, MAX_MESSAGE_LENGTH } from './wire.js';

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

// ---------------------------------------------------------------------------------------------
// Encoding

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
    dropWriter(w);
    throw err;
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
  const r = takeReader(buf, buf[0] === ENDIAN_L);
  try {
    return decodeMessageWith(r, buf, total, fds);
  } finally {
    releaseReader(r);
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
    msg.body = readBody(r, types);
  }
  msg.endianness = r.le ? 'l' : 'B';
  return msg;
}
