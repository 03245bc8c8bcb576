// A connection to a libvirt daemon over its RPC protocol (the job of libvirt's virNetClient and
// remote driver): many calls in flight on one socket matched by serial, events, streams,
// keepalive, and a `closed` event that fires exactly once while every pending call is rejected.
// Dialing is in dial.ts, authentication in auth.ts; which procedures register events is the
// generated event table.

import { EventEmitter } from 'node:events';
import { authenticate } from './auth.js';
import type { ClosedEvent, ConnectionEvent, OpenOptions } from './connection-types.js';
import { asProtocolError, dial, fdPassingError } from './dial.js';
import { type CloseReason, LibvirtConnectError, LibvirtConnectionClosedError, LibvirtError, LibvirtProtocolError } from './errors.js';
import { EventRegistrations } from './event-registrations.js';
import { EventRouter, tableEventCalls } from './events.js';
import {
  DEFAULT_KEEPALIVE_COUNT,
  DEFAULT_KEEPALIVE_INTERVAL_MS,
  KEEPALIVE_PROC_PING,
  KEEPALIVE_PROC_PONG,
  KEEPALIVE_PROGRAM,
  KEEPALIVE_PROTOCOL_VERSION,
  Keepalive,
} from './keepalive.js';
import { VirConnectFlags } from './libvirt-enums.gen.js';
import { LXC_PROGRAM, LxcProcedures } from './lxc-protocol.gen.js';
import {
  checkLength,
  decodeError,
  encodePacket,
  PAYLOAD_OFFSET,
  type Packet,
  PacketDecoder,
  PacketStatus,
  PacketType,
  writeHeader,
} from './packet.js';
import { bindProgram, type CallInfo, callWithInfo, type ProcedureInfo } from './procedure-info.js';
import { QEMU_PROGRAM, QemuProcedures, qemuEventDecoders } from './qemu-protocol.gen.js';
import { REMOTE_PROC_CONNECT_CLOSE, REMOTE_PROGRAM, remoteEventDecoders, remoteProcedureInfo } from './remote-protocol.gen.js';
import { LibvirtStream, type StreamHost } from './stream.js';
import { type ConnectPlan, resolveUri } from './uri.js';
import { closeFds, type Wire } from './wire.js';
import { XdrReader, XdrWriter } from './xdr.js';

export type { ClosedEvent, ConnectionEvent, OpenOptions, RemoteCallbackEvent } from './connection-types.js';
export type { CallInfo } from './procedure-info.js';
export { LXC_PROGRAM, QEMU_PROGRAM, REMOTE_PROGRAM };

/** VIR_DRV_FEATURE_PROGRAM_KEEPALIVE (libvirt_internal.h) */
const VIR_DRV_FEATURE_PROGRAM_KEEPALIVE = 10;
/** How long authentication and CONNECT_OPEN may take after connecting (OpenOptions.openTimeout). */
const DEFAULT_OPEN_TIMEOUT_MS = 120_000;
// How long close() lets calls in flight finish first. libvirtd 9.0 can crash (SIGSEGV in
// remoteClientFreePrivateCallbacks) when a client goes while an event registration of its is
// still being checked by polkit; found when a service stopped right after starting.
const CLOSE_DRAIN_MS = 2000;

interface PendingCall {
  program: number;
  procedure: number;
  decode: ((r: XdrReader) => unknown) | null;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  stream?: LibvirtStream;
  fdSink?: FdCapture;
}

interface FdCapture {
  in: readonly number[];
  out: number[] | undefined;
}

type State = 'new' | 'connecting' | 'open' | 'closing' | 'closed';

/**
 * A connection to libvirtd: the typed procedures of REMOTE_PROGRAM (generated, in
 * RemoteProcedures), `qemu` and `lxc` for the other programs, events, streams and keepalive.
 */
export class LibvirtConnection extends EventRegistrations implements StreamHost {
  private wire: Wire | undefined;
  private state: State = 'new';
  private serial = 0;
  private readonly pending = new Map<number, PendingCall>();
  private readonly streams = new Map<number, LibvirtStream>();
  private readonly decoder = new PacketDecoder();
  private readonly writer = new XdrWriter(4096);
  private readonly emitter = new EventEmitter();
  private keepalive: Keepalive | undefined;
  private fdCapture: FdCapture | undefined;
  private readonly receivedFds: number[] = [];
  private closeInfo: ClosedEvent | undefined;
  /** Called when the last call in flight settles (see close()). */
  private onIdle: (() => void) | undefined;
  private streamCapture: LibvirtStream[] | undefined;
  protected readonly router: EventRouter;
  readonly plan: ConnectPlan;
  readonly options: OpenOptions;
  /** The procedures of QEMU_PROGRAM (qemu_protocol.x) on this connection. */
  readonly qemu: QemuProcedures;
  /** The procedures of LXC_PROGRAM (lxc_protocol.x) on this connection. */
  readonly lxc: LxcProcedures;

  /** Opens a connection to the daemon serving `uri` (see open()). */
  static open(uri: string, options: OpenOptions = {}): Promise<LibvirtConnection> {
    return new LibvirtConnection(uri, options).open();
  }

  /** Parses `uri` (throws LibvirtUriError / LibvirtUnsupportedError); open() connects. */
  constructor(uri: string, options: OpenOptions = {}) {
    super();
    this.options = options;
    this.qemu = bindProgram(this.call.bind(this), QemuProcedures);
    this.lxc = bindProgram(this.call.bind(this), LxcProcedures);
    this.router = new EventRouter(
      tableEventCalls(
        (info, args) => this.callProcedure(info, args),
        () => this.state === 'open',
      ),
    );
    this.plan = resolveUri(uri, { ...options.resolve, readonly: options.readonly ?? options.resolve?.readonly });
    this.emitter.setMaxListeners(0);
  }

  /** The URI given to the constructor's parse, as sent to the daemon in CONNECT_OPEN. */
  get daemonUri(): string {
    return this.plan.name;
  }

  /** True between a successful open() and the connection's end. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Why the connection closed, once it has. */
  get closedReason(): CloseReason | undefined {
    return this.closeInfo?.reason;
  }

  /** Number of calls waiting for a reply. */
  get pendingCalls(): number {
    return this.pending.size;
  }

  /** Number of streams not yet finished (a console, a download…). */
  get openStreams(): number {
    return this.streams.size;
  }

  /** Listens for 'closed' (ClosedEvent, once per connection) or 'event' (every ConnectionEvent). */
  on(event: 'closed', listener: (ev: ClosedEvent) => void): this;
  on(event: 'event', listener: (ev: ConnectionEvent) => void): this;
  on(event: string, listener: (...args: never[]) => void): this {
    this.emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Like on(), for one occurrence. */
  once(event: 'closed', listener: (ev: ClosedEvent) => void): this;
  once(event: 'event', listener: (ev: ConnectionEvent) => void): this;
  once(event: string, listener: (...args: never[]) => void): this {
    this.emitter.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Removes a listener added with on() or once(). */
  off(event: 'closed' | 'event', listener: (...args: never[]) => void): this {
    this.emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Connects, authenticates, enables keepalive and opens the hypervisor connection (REMOTE_PROC_CONNECT_OPEN). */
  async open(): Promise<this> {
    if (this.state !== 'new') throw new LibvirtProtocolError(`open() called on a connection that is ${this.state}`);
    this.state = 'connecting';
    try {
      this.wire = await dial(this.plan, this.options);
    } catch (e) {
      this.state = 'closed';
      this.closeInfo = { reason: 'error', error: e as Error };
      throw e;
    }
    this.attach(this.wire);
    // A peer that accepts but never answers (a stopped daemon, something that is not libvirt) must
    // not hold open() forever: the handshake has its own deadline.
    const openTimeout = this.options.openTimeout ?? DEFAULT_OPEN_TIMEOUT_MS;
    const deadline = setTimeout(() => {
      this.shutdown('error', new LibvirtConnectError(`no answer to the handshake within ${openTimeout / 1000} s`, 'ETIMEDOUT'));
    }, openTimeout);
    try {
      await authenticate(this, this.plan, this.options.credentials);
      const interval = this.options.keepaliveInterval ?? DEFAULT_KEEPALIVE_INTERVAL_MS;
      if (interval > 0) {
        const { supported } = await this.connectSupportsFeature({ feature: VIR_DRV_FEATURE_PROGRAM_KEEPALIVE });
        if (supported) {
          this.keepalive = new Keepalive(
            { sendKeepalive: (p) => this.sendKeepalive(p), keepaliveDead: () => this.keepaliveDead() },
            interval,
            this.options.keepaliveCount ?? DEFAULT_KEEPALIVE_COUNT,
          );
        }
      }
      // An empty name asks the daemon to pick its default URI (remote:///).
      const name = this.plan.name;
      await this.connectOpen({ name: name === '' ? null : name, flags: this.options.readonly ? VirConnectFlags.VIR_CONNECT_RO : 0 });
    } catch (e) {
      this.shutdown('error', e as Error);
      throw e;
    } finally {
      clearTimeout(deadline);
    }
    if (this.state !== 'connecting') throw new LibvirtConnectionClosedError(this.closeInfo?.reason ?? 'eof');
    this.state = 'open';
    this.keepalive?.start();
    return this;
  }

  /** Closes the hypervisor connection (REMOTE_PROC_CONNECT_CLOSE) and then the socket. Never rejects. */
  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') {
      if (this.state === 'closing') await new Promise<void>((r) => this.emitter.once('closed', () => r()));
      return;
    }
    if (this.state === 'open') {
      this.state = 'closing';
      await this.drain();
      try {
        // Past call()'s state check: the connection is closing.
        const info = remoteProcedureInfo[REMOTE_PROC_CONNECT_CLOSE]!;
        await this.sendCall(info.program, info.version, info.procedure, undefined, null, null, info);
      } catch {
        // The daemon may already be gone; closing is still complete.
      }
    }
    this.wire?.end();
    this.shutdown('closed');
  }

  /** Waits until no call is in flight (no new call starts while closing), for CLOSE_DRAIN_MS at most. */
  private drain(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.onIdle = undefined;
        resolve();
      };
      const timer = setTimeout(done, CLOSE_DRAIN_MS);
      this.onIdle = done;
    });
  }

  /** Makes a call of one procedure of the generated tables and decodes its reply (the generated methods go through here). */
  protected callProcedure<A, R>(info: ProcedureInfo, args: A): Promise<R> {
    return callWithInfo(this.call.bind(this), info, args);
  }

  /** Calls any procedure of any program; rejects at once unless the connection is open (or opening). */
  call<A, R>(
    program: number,
    version: number,
    procedure: number,
    args: A,
    encode: ((w: XdrWriter, v: A) => void) | null,
    decode: ((r: XdrReader) => R) | null,
    info: CallInfo,
  ): Promise<R> {
    if (this.state !== 'open' && this.state !== 'connecting') return Promise.reject(this.closedError());
    return this.sendCall(program, version, procedure, args, encode, decode, info);
  }

  private closedError(): LibvirtConnectionClosedError {
    if (this.state === 'new' || this.state === 'connecting') {
      return new LibvirtConnectionClosedError('closed', 'connection is not open yet');
    }
    return new LibvirtConnectionClosedError(this.closeInfo?.reason ?? 'closed');
  }

  private sendCall<A, R>(
    program: number,
    version: number,
    procedure: number,
    args: A,
    encode: ((w: XdrWriter, v: A) => void) | null,
    decode: ((r: XdrReader) => R) | null,
    info: CallInfo,
  ): Promise<R> {
    const wire = this.wire;
    if (this.state === 'closed' || !wire) return Promise.reject(this.closedError());
    const capture = info?.fdsIn || info?.fdsOut ? this.fdCapture : undefined;
    if (capture) this.fdCapture = undefined;
    const fdsIn = info?.fdsIn ? (capture?.in ?? []) : [];
    if ((fdsIn.length > 0 || info?.fdsOut) && !wire.canPassFds) {
      return Promise.reject(fdPassingError(this.plan.target.transport));
    }
    this.serial = this.serial >= 0xffffffff ? 1 : this.serial + 1;
    const serial = this.serial;
    const w = this.writer;
    let packet: Buffer;
    try {
      w.reset();
      // Room for the length and header (writeHeader fills it in below), then for CALL_WITH_FDS the descriptor count.
      for (let i = 0; i < PAYLOAD_OFFSET; i += 4) w.writeUint(0);
      if (info?.fdsIn) w.writeUint(fdsIn.length);
      if (encode) encode(w, args);
      const total = w.length;
      checkLength(total);
      packet = Buffer.allocUnsafe(total);
      w.view().copy(packet);
    } catch (e) {
      return Promise.reject(e);
    } finally {
      if (this.writer.length > 1 << 20) this.writer.reset();
    }
    const type = info?.fdsIn ? PacketType.CALL_WITH_FDS : PacketType.CALL;
    writeHeader(packet, { program, version, procedure, type, serial, status: PacketStatus.OK });
    return new Promise<R>((resolve, reject) => {
      const call: PendingCall = {
        program,
        procedure,
        decode,
        resolve: resolve as (v: unknown) => void,
        reject,
      };
      if (info?.stream) {
        const stream = new LibvirtStream(this, program, version, procedure, serial);
        call.stream = stream;
        this.streams.set(serial, stream);
        this.streamCapture?.push(stream);
      }
      if (capture) call.fdSink = capture;
      this.pending.set(serial, call);
      wire.send(packet);
      // Each descriptor follows the packet on a one-byte carrier message (rpc.rst).
      for (const fd of fdsIn) wire.send(FD_CARRIER, [fd]);
    });
  }

  /**
   * Runs `start` (one call of a procedure that opens a stream, e.g. storageVolDownload) and
   * returns its result together with the stream, ready before any stream data arrives.
   */
  async withStream<R>(start: () => Promise<R>): Promise<{ result: R; stream: LibvirtStream }> {
    const captured: LibvirtStream[] = [];
    this.streamCapture = captured;
    let p: Promise<R>;
    try {
      p = start();
    } finally {
      this.streamCapture = undefined;
    }
    const result = await p;
    const stream = captured[0];
    if (!stream) throw new LibvirtProtocolError('the call did not open a stream');
    return { result, stream };
  }

  /**
   * Runs `start` (one call of a procedure that passes descriptors, e.g. domainCreateWithFiles or
   * domainOpenGraphicsFd), sending `fds` with it; returns its result and the descriptors the
   * daemon sent back (the caller owns them: close them with src/unix closeFd).
   */
  async withFds<R>(fds: readonly number[], start: () => Promise<R>): Promise<{ result: R; fds: number[] }> {
    const capture: FdCapture = { in: fds, out: undefined };
    this.fdCapture = capture;
    let p: Promise<R>;
    try {
      p = start();
    } finally {
      this.fdCapture = undefined;
    }
    const result = await p;
    return { result, fds: capture.out ?? [] };
  }

  /** Whether this connection carries descriptors (unix transport with src/unix's addon). */
  get canPassFds(): boolean {
    return this.wire?.canPassFds ?? false;
  }

  /** StreamHost: sends a stream packet with the stream's procedure and serial. */
  sendStreamPacket(stream: LibvirtStream, type: number, status: number, payload?: Buffer): Promise<void> {
    const wire = this.wire;
    if (this.state === 'closed' || !wire) return Promise.reject(this.closedError());
    const buf = encodePacket(
      {
        program: stream.program,
        version: stream.version,
        procedure: stream.procedure,
        type: type as PacketType,
        serial: stream.serial,
        status: status as PacketStatus,
      },
      payload,
    );
    // Resolve once the wire is below its high-water mark: flow control for large uploads.
    return wire.send(buf) ? Promise.resolve() : wire.drained();
  }

  /** StreamHost: forgets a finished stream. */
  releaseStream(stream: LibvirtStream): void {
    if (this.streams.get(stream.serial) === stream) this.streams.delete(stream.serial);
  }

  private sendKeepalive(procedure: number): void {
    this.wire?.send(
      encodePacket({
        program: KEEPALIVE_PROGRAM,
        version: KEEPALIVE_PROTOCOL_VERSION,
        procedure,
        type: PacketType.MESSAGE,
        serial: 0,
        status: PacketStatus.OK,
      }),
    );
  }

  private keepaliveDead(): void {
    this.shutdown('keepalive', new LibvirtConnectionClosedError('keepalive', 'the daemon stopped answering keepalive pings'));
  }

  private attach(w: Wire): void {
    w.onData((chunk, fds) => this.onData(chunk, fds));
    w.onClose((err) => this.shutdown(this.state === 'closing' ? 'closed' : 'eof', err));
  }

  private onData(chunk: Buffer, fds: number[] | undefined): void {
    if (this.state === 'closed') {
      if (fds) closeFds(fds);
      return;
    }
    if (fds?.length) this.receivedFds.push(...fds);
    let packets: Packet[];
    try {
      packets = this.decoder.push(chunk);
    } catch (e) {
      this.shutdown('protocol', e as Error);
      return;
    }
    for (const p of packets) {
      if ((this.state as State) === 'closed') return; // a listener may have closed us
      if (p.fdCount > 0) {
        // The descriptors rode on the dummy bytes the decoder just consumed with the packet.
        p.fds = this.receivedFds.splice(0, p.fdCount);
      }
      try {
        this.dispatch(p);
      } catch (e) {
        this.shutdown('protocol', e instanceof LibvirtError ? e : new LibvirtProtocolError(String(e)));
        return;
      }
    }
  }

  private dispatch(p: Packet): void {
    this.keepalive?.received();
    if (p.program === KEEPALIVE_PROGRAM) {
      if (p.type !== PacketType.MESSAGE) throw new LibvirtProtocolError(`keepalive packet of type ${p.type}`);
      if (p.procedure === KEEPALIVE_PROC_PING) this.sendKeepalive(KEEPALIVE_PROC_PONG);
      return;
    }
    switch (p.type) {
      case PacketType.REPLY:
      case PacketType.REPLY_WITH_FDS:
        this.dispatchReply(p);
        return;
      case PacketType.MESSAGE:
        this.dispatchEvent(p);
        return;
      case PacketType.STREAM:
      case PacketType.STREAM_HOLE: {
        // The stream exists from the moment its call is sent: the daemon's event loop may send the
        // first data before its worker sends the call's reply, and libvirt's client queues it too.
        // Packets for streams we no longer know (e.g. after an abort) are ignored, as libvirt does.
        this.streams.get(p.serial)?.handlePacket(p);
        return;
      }
      default:
        throw new LibvirtProtocolError(`unexpected packet type ${p.type} from the daemon`);
    }
  }

  private dispatchReply(p: Packet): void {
    const call = this.pending.get(p.serial);
    if (!call) {
      const stream = this.streams.get(p.serial);
      if (stream) {
        stream.handlePacket(p);
        return;
      }
      throw new LibvirtProtocolError(`no call expecting a reply with serial ${p.serial}`);
    }
    if (call.program !== p.program || call.procedure !== p.procedure) {
      throw new LibvirtProtocolError(
        `reply with serial ${p.serial} is for procedure ${p.program}:${p.procedure}, not ${call.program}:${call.procedure}`,
      );
    }
    this.pending.delete(p.serial);
    if (this.pending.size === 0) this.onIdle?.();
    if (p.fdCount > 0) {
      const fds = p.fds ?? [];
      if (fds.length !== p.fdCount) {
        closeFds(fds);
        call.reject(fdPassingError(this.plan.target.transport));
        return;
      }
      if (call.fdSink) call.fdSink.out = fds;
      else closeFds(fds); // nobody asked for them (the caller did not use withFds)
    }
    if (p.status === PacketStatus.OK) {
      let value: unknown;
      try {
        value = call.decode ? call.decode(new XdrReader(p.payload)) : undefined;
      } catch (e) {
        // A reply that does not decode means the daemon is broken or hostile and nothing after it
        // can be trusted: this call gets the typed error, the connection (and every other call) ends.
        if (call.stream) this.releaseStream(call.stream);
        const err = asProtocolError(e);
        call.reject(err);
        throw err;
      }
      call.resolve(value);
    } else if (p.status === PacketStatus.ERROR) {
      if (call.stream) this.releaseStream(call.stream);
      let err: LibvirtError;
      try {
        err = decodeError(p.payload);
      } catch (e) {
        err = asProtocolError(e);
        call.reject(err);
        throw err;
      }
      call.reject(err);
    } else {
      throw new LibvirtProtocolError(`reply with status ${p.status}`);
    }
  }

  private dispatchEvent(p: Packet): void {
    const table = p.program === REMOTE_PROGRAM ? remoteEventDecoders : p.program === QEMU_PROGRAM ? qemuEventDecoders : undefined;
    const entry = table?.get(p.procedure);
    // libvirt ignores events of programs and procedures it does not know.
    if (!entry) return;
    let msg: unknown;
    try {
      msg = entry.decode(new XdrReader(p.payload));
    } catch (e) {
      throw asProtocolError(e);
    }
    const ev = { program: p.program, name: entry.name, procedure: p.procedure, msg } as ConnectionEvent;
    // A throwing listener is the listener's bug, not a protocol error of the daemon.
    try {
      if (ev.program === REMOTE_PROGRAM) this.router.dispatch({ name: ev.name, procedure: ev.procedure, body: ev.msg });
      this.emitter.emit('event', ev);
    } catch (e) {
      queueMicrotask(() => {
        throw e;
      });
    }
  }

  /** Ends the connection once: rejects every pending call, fails streams, emits `closed`. */
  protected shutdown(reason: CloseReason, error?: Error): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.keepalive?.stop();
    this.closeInfo = error ? { reason, error } : { reason };
    this.wire?.destroy();
    closeFds(this.receivedFds.splice(0));
    const detail = error?.message;
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const c of calls) c.reject(new LibvirtConnectionClosedError(reason, detail));
    this.onIdle?.();
    const streams = [...this.streams.values()];
    this.streams.clear();
    for (const st of streams) st.connectionClosed(new LibvirtConnectionClosedError(reason, detail));
    this.router.clear();
    this.emitter.emit('closed', this.closeInfo);
  }
}

/** One dummy byte that carries a descriptor (SCM_RIGHTS) after a CALL_WITH_FDS packet. */
const FD_CARRIER = Buffer.from([0]);
