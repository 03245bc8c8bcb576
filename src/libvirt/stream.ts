// Data streams (rpc.rst "Method call with upload stream"): after the reply to a call such as
// REMOTE_PROC_STORAGE_VOL_DOWNLOAD or REMOTE_PROC_DOMAIN_OPEN_CONSOLE, both sides exchange
// VIR_NET_STREAM packets with the call's procedure and serial. CONTINUE carries raw bytes,
// OK ends the stream (and confirms a finish), ERROR aborts it (with a remote_error from the
// daemon). VIR_NET_STREAM_HOLE carries a virNetStreamHole for sparse streams.
import { LibvirtConnectionClosedError, LibvirtError, LibvirtProtocolError } from './errors.js';
import { decodeError, type Packet, PacketStatus, PacketType } from './packet.js';
import { VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX } from './virnet-protocol.gen.js';

/** VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX: the chunk size libvirt uses for stream data. */
export const STREAM_CHUNK_MAX = VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX;

/** A hole in a sparse stream: `length` bytes that read as zeros. */
export class StreamHole {
  constructor(
    readonly length: bigint,
    readonly flags = 0,
  ) {}
}

/** What a stream needs from its connection. */
export interface StreamHost {
  /** Sends a STREAM / STREAM_HOLE packet; resolves once the socket accepted it (backpressure). */
  sendStreamPacket(stream: LibvirtStream, type: number, status: number, payload?: Buffer): Promise<void>;
  /** Forgets the stream (no more packets are routed to it). */
  releaseStream(stream: LibvirtStream): void;
}

type Item = Buffer | StreamHole;
type State = 'open' | 'eof' | 'finishing' | 'done' | 'failed';

/** One stream of a connection: read it with `for await`, write with write(), end with finish() or abort(). */
export class LibvirtStream implements AsyncIterable<Item> {
  private queue: Item[] = [];
  private waiters: { resolve: (v: Item | null) => void; reject: (e: Error) => void }[] = [];
  private state: State = 'open';
  private error: Error | undefined;
  private confirm: { resolve: () => void; reject: (e: Error) => void; aborting: boolean } | undefined;
  private queuedBytes = 0;

  constructor(
    private readonly host: StreamHost,
    readonly program: number,
    readonly version: number,
    readonly procedure: number,
    readonly serial: number,
  ) {}

  /** True once the daemon ended its side (read() returns null). */
  get eof(): boolean {
    return this.state !== 'open';
  }

  /** Bytes received but not yet read. */
  get bufferedBytes(): number {
    return this.queuedBytes;
  }

  /** Next data chunk or hole; null at the end of the stream; rejects with the daemon's error. */
  read(): Promise<Item | null> {
    const item = this.queue.shift();
    if (item) {
      if (Buffer.isBuffer(item)) this.queuedBytes -= item.length;
      return Promise.resolve(item);
    }
    if (this.error) return Promise.reject(this.error);
    if (this.state !== 'open') return Promise.resolve(null);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Reads everything up to the end (holes become zero bytes) and finishes the stream. */
  async readAll(): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const item of this) {
      parts.push(Buffer.isBuffer(item) ? item : Buffer.alloc(Number(item.length)));
    }
    return Buffer.concat(parts);
  }

  /** Iterates data and holes; at the end finishes the stream, and aborts it if the loop is left early. */
  async *[Symbol.asyncIterator](): AsyncIterator<Item> {
    let complete = false;
    try {
      for (;;) {
        const item = await this.read();
        if (item === null) {
          complete = true;
          break;
        }
        yield item;
      }
    } finally {
      if (complete) {
        if (this.state === 'eof') await this.finish();
      } else if (this.state === 'open' || this.state === 'eof') {
        await this.abort().catch(() => undefined);
      }
    }
  }

  /** Sends bytes to the daemon, in chunks of at most STREAM_CHUNK_MAX. */
  async write(data: Uint8Array): Promise<void> {
    this.checkWritable();
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    for (let off = 0; off < buf.length; off += STREAM_CHUNK_MAX) {
      this.checkWritable();
      await this.host.sendStreamPacket(
        this,
        PacketType.STREAM,
        PacketStatus.CONTINUE,
        buf.subarray(off, Math.min(buf.length, off + STREAM_CHUNK_MAX)),
      );
    }
  }

  /** Sends a hole (sparse streams, i.e. calls made with the VIR_STORAGE_VOL_*_SPARSE_STREAM flag). */
  async sendHole(length: bigint, flags = 0): Promise<void> {
    this.checkWritable();
    const payload = Buffer.alloc(12);
    payload.writeBigInt64BE(length, 0);
    payload.writeUInt32BE(flags, 8);
    await this.host.sendStreamPacket(this, PacketType.STREAM_HOLE, PacketStatus.CONTINUE, payload);
  }

  /** Ends the stream normally and waits for the daemon's confirmation (virStreamFinish). */
  finish(): Promise<void> {
    return this.end(false);
  }

  /** Aborts the stream and waits for the daemon's confirmation (virStreamAbort). */
  abort(): Promise<void> {
    return this.end(true);
  }

  private end(aborting: boolean): Promise<void> {
    if (this.state === 'done') return Promise.resolve();
    if (this.state === 'failed') return aborting ? Promise.resolve() : Promise.reject(this.error);
    if (this.confirm) return Promise.reject(new LibvirtProtocolError('stream is already finishing'));
    this.state = 'finishing';
    return new Promise<void>((resolve, reject) => {
      this.confirm = { resolve, reject, aborting };
      this.host
        .sendStreamPacket(this, PacketType.STREAM, aborting ? PacketStatus.ERROR : PacketStatus.OK)
        .catch((e: Error) => this.fail(e));
    });
  }

  private checkWritable(): void {
    if (this.error) throw this.error;
    if (this.state === 'finishing' || this.state === 'done') {
      throw new LibvirtProtocolError('stream is finished');
    }
  }

  /** Routes a STREAM / STREAM_HOLE / REPLY packet with this stream's serial (called by the connection). */
  handlePacket(p: Packet): void {
    if (p.type === PacketType.REPLY || p.type === PacketType.REPLY_WITH_FDS) {
      // Only errors of stream operations come as REPLY.
      if (p.status === PacketStatus.ERROR) this.fail(decodeError(p.payload));
      else if (this.confirm) this.complete();
      return;
    }
    if (p.type === PacketType.STREAM_HOLE) {
      if (p.payload.length < 12) throw new LibvirtProtocolError('truncated stream hole');
      this.push(new StreamHole(p.payload.readBigInt64BE(0), p.payload.readUInt32BE(8)));
      return;
    }
    if (p.status === PacketStatus.CONTINUE && p.payload.length > 0) {
      this.push(Buffer.from(p.payload));
    } else if (p.status === PacketStatus.CONTINUE || p.status === PacketStatus.OK) {
      // The daemon marks the end of data, and confirms a finish or abort, with an empty packet.
      if (this.confirm) this.complete();
      else this.setEof();
    } else {
      this.fail(p.payload.length ? decodeError(p.payload) : new LibvirtProtocolError('stream aborted by daemon'));
    }
  }

  /** Fails the stream because the connection closed. */
  connectionClosed(err: LibvirtConnectionClosedError): void {
    if (this.state === 'done' || this.state === 'failed') return;
    if (this.state === 'eof' && !this.confirm && this.queue.length === 0) {
      this.state = 'failed';
      this.error = err;
      return;
    }
    this.fail(err);
  }

  private push(item: Item): void {
    if (this.state !== 'open') return;
    const w = this.waiters.shift();
    if (w) w.resolve(item);
    else {
      this.queue.push(item);
      if (Buffer.isBuffer(item)) this.queuedBytes += item.length;
    }
  }

  private setEof(): void {
    if (this.state !== 'open') return;
    this.state = 'eof';
    for (const w of this.waiters.splice(0)) w.resolve(null);
  }

  private complete(): void {
    const c = this.confirm;
    this.confirm = undefined;
    this.state = 'done';
    for (const w of this.waiters.splice(0)) w.resolve(null);
    this.host.releaseStream(this);
    c?.resolve();
  }

  private fail(err: Error): void {
    if (this.state === 'done' || this.state === 'failed') return;
    const c = this.confirm;
    this.confirm = undefined;
    this.state = 'failed';
    this.error = err;
    for (const w of this.waiters.splice(0)) w.reject(err);
    this.host.releaseStream(this);
    if (c) {
      // An abort is complete even when the daemon reports an error about it.
      if (c.aborting && err instanceof LibvirtError && !(err instanceof LibvirtConnectionClosedError)) c.resolve();
      else c.reject(err);
    }
  }
}
