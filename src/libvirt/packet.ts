// libvirt RPC packet framing (docs: rpc.rst "Packet framing"; virnetprotocol.x).
// A packet is a 4-byte big-endian length that counts itself, a 24-byte header
// (program, version, procedure, type, serial, status) and a payload. Packets of type
// CALL_WITH_FDS / REPLY_WITH_FDS carry a 4-byte descriptor count between header and payload.
import { LibvirtError, LibvirtMessageSizeError, LibvirtProtocolError } from './errors.js';
import {
  decodeVirNetMessageError,
  VIR_NET_CALL,
  VIR_NET_CALL_WITH_FDS,
  VIR_NET_CONTINUE,
  VIR_NET_ERROR,
  VIR_NET_MESSAGE,
  VIR_NET_MESSAGE_HEADER_MAX,
  VIR_NET_MESSAGE_LEN_MAX,
  VIR_NET_MESSAGE_MAX,
  VIR_NET_MESSAGE_NUM_FDS_MAX,
  VIR_NET_MESSAGE_STRING_MAX,
  VIR_NET_OK,
  VIR_NET_REPLY,
  VIR_NET_REPLY_WITH_FDS,
  VIR_NET_STREAM,
  VIR_NET_STREAM_HOLE,
} from './virnet-protocol.gen.js';
import { XdrReader } from './xdr.js';

export {
  VIR_NET_MESSAGE_HEADER_MAX,
  VIR_NET_MESSAGE_LEN_MAX,
  VIR_NET_MESSAGE_MAX,
  VIR_NET_MESSAGE_NUM_FDS_MAX,
  VIR_NET_MESSAGE_STRING_MAX,
};
/** Offset of the payload in a packet without descriptors. */
export const PAYLOAD_OFFSET = VIR_NET_MESSAGE_LEN_MAX + VIR_NET_MESSAGE_HEADER_MAX;

/** virNetMessageType */
export const PacketType = {
  CALL: VIR_NET_CALL,
  REPLY: VIR_NET_REPLY,
  MESSAGE: VIR_NET_MESSAGE,
  STREAM: VIR_NET_STREAM,
  CALL_WITH_FDS: VIR_NET_CALL_WITH_FDS,
  REPLY_WITH_FDS: VIR_NET_REPLY_WITH_FDS,
  STREAM_HOLE: VIR_NET_STREAM_HOLE,
} as const;
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

/** virNetMessageStatus */
export const PacketStatus = { OK: VIR_NET_OK, ERROR: VIR_NET_ERROR, CONTINUE: VIR_NET_CONTINUE } as const;
export type PacketStatus = (typeof PacketStatus)[keyof typeof PacketStatus];

/** virNetMessageHeader */
export interface PacketHeader {
  program: number;
  version: number;
  procedure: number;
  type: PacketType;
  serial: number;
  status: PacketStatus;
}

/** A decoded packet: its header, and its payload (after the descriptor count, if any). */
export interface Packet extends PacketHeader {
  payload: Buffer;
  /** Number of descriptors announced by a *_WITH_FDS packet (they travel out of band). */
  fdCount: number;
  /** The received descriptors, when the connection can receive them (set by the connection). */
  fds?: number[];
}

/** Writes the length word and header at the start of `buf` (which is the whole packet). */
export function writeHeader(buf: Buffer, h: PacketHeader): void {
  buf.writeUInt32BE(buf.length, 0);
  buf.writeUInt32BE(h.program >>> 0, 4);
  buf.writeUInt32BE(h.version >>> 0, 8);
  buf.writeInt32BE(h.procedure | 0, 12);
  buf.writeInt32BE(h.type, 16);
  buf.writeUInt32BE(h.serial >>> 0, 20);
  buf.writeInt32BE(h.status, 24);
}

/** Encodes a whole packet from a header and an already XDR-encoded payload. */
export function encodePacket(h: PacketHeader, payload?: Uint8Array, fdCount?: number): Buffer {
  const withFds = h.type === PacketType.CALL_WITH_FDS || h.type === PacketType.REPLY_WITH_FDS;
  const extra = withFds ? 4 : 0;
  const plen = payload ? payload.length : 0;
  const total = PAYLOAD_OFFSET + extra + plen;
  checkLength(total);
  const buf = Buffer.allocUnsafe(total);
  writeHeader(buf, h);
  if (withFds) buf.writeUInt32BE(fdCount ?? 0, PAYLOAD_OFFSET);
  if (payload) buf.set(payload, PAYLOAD_OFFSET + extra);
  return buf;
}

/** Throws LibvirtMessageSizeError unless `total` (length word included) is a valid packet length. */
export function checkLength(total: number): void {
  if (total > VIR_NET_MESSAGE_MAX + VIR_NET_MESSAGE_LEN_MAX) {
    throw new LibvirtMessageSizeError(`packet of ${total} bytes exceeds VIR_NET_MESSAGE_MAX (${VIR_NET_MESSAGE_MAX})`, total);
  }
  if (total < PAYLOAD_OFFSET) {
    throw new LibvirtMessageSizeError(`packet length ${total} is shorter than a header`, total);
  }
}

/** Parses one complete packet (length word included); validates the header. */
export function decodePacket(buf: Buffer): Packet {
  const total = buf.readUInt32BE(0);
  if (total !== buf.length) throw new LibvirtProtocolError(`packet length ${total} != ${buf.length} bytes received`);
  checkLength(total);
  const type = buf.readInt32BE(16);
  const status = buf.readInt32BE(24);
  if (type < PacketType.CALL || type > PacketType.STREAM_HOLE) {
    throw new LibvirtProtocolError(`unknown packet type ${type}`);
  }
  if (status < PacketStatus.OK || status > PacketStatus.CONTINUE) {
    throw new LibvirtProtocolError(`unknown packet status ${status}`);
  }
  let offset = PAYLOAD_OFFSET;
  let fdCount = 0;
  if (type === PacketType.CALL_WITH_FDS || type === PacketType.REPLY_WITH_FDS) {
    if (buf.length < offset + 4) throw new LibvirtProtocolError('packet with descriptors lacks the descriptor count');
    fdCount = buf.readUInt32BE(offset);
    if (fdCount > VIR_NET_MESSAGE_NUM_FDS_MAX) {
      throw new LibvirtProtocolError(`${fdCount} descriptors exceed VIR_NET_MESSAGE_NUM_FDS_MAX`);
    }
    offset += 4;
  }
  return {
    program: buf.readUInt32BE(4),
    version: buf.readUInt32BE(8),
    procedure: buf.readInt32BE(12),
    type: type as PacketType,
    serial: buf.readUInt32BE(20),
    status: status as PacketStatus,
    payload: buf.subarray(offset),
    fdCount,
  };
}

/**
 * Splits a byte stream into packets. Checks each length word against VIR_NET_MESSAGE_MAX
 * before buffering the body, so a hostile peer cannot make us allocate more than that.
 * A *_WITH_FDS packet is followed, outside its length, by one dummy byte per descriptor (the
 * carrier of each SCM_RIGHTS message); the packet is returned once those bytes are in, and they
 * are consumed with it.
 */
export class PacketDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = 0; // length of the packet being assembled, 0 while unknown

  /** Bytes received but not yet part of a returned packet. */
  get pending(): number {
    return this.buffered;
  }

  /** Adds bytes; returns every packet now complete. Throws a LibvirtProtocolError on a bad packet. */
  push(chunk: Buffer): Packet[] {
    if (chunk.length === 0) return [];
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Packet[] = [];
    for (;;) {
      if (this.need === 0) {
        if (this.buffered < 4) break;
        const head = this.chunks[0].length >= 4 ? this.chunks[0] : this.flatten();
        const len = head.readUInt32BE(0);
        checkLength(len);
        this.need = len;
      }
      if (this.buffered < this.need) break;
      const whole = this.flatten();
      const packet = decodePacket(whole.subarray(0, this.need));
      const consumed = this.need + packet.fdCount;
      if (this.buffered < consumed) break; // wait for the descriptors' dummy bytes
      const rest = whole.subarray(consumed);
      this.chunks = rest.length ? [rest] : [];
      this.buffered = rest.length;
      this.need = 0;
      out.push(packet);
    }
    return out;
  }

  private flatten(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0];
  }
}

/** Decodes a virNetMessageError (remote_error) payload into a LibvirtError. */
export function decodeError(payload: Buffer): LibvirtError {
  let e: ReturnType<typeof decodeVirNetMessageError>;
  try {
    e = decodeVirNetMessageError(new XdrReader(payload));
  } catch (err) {
    if (err instanceof LibvirtError) throw err;
    throw new LibvirtProtocolError(`invalid error payload: ${(err as Error).message}`);
  }
  return new LibvirtError({
    code: e.code,
    domain: e.domain,
    message: e.message ?? 'unknown error',
    level: e.level,
    str1: e.str1,
    str2: e.str2,
    str3: e.str3,
    int1: e.int1,
    int2: e.int2,
  });
}
