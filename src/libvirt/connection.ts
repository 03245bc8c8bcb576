// A connection to a libvirt daemon over its RPC protocol (the job of libvirt's virNetClient and
// remote driver): many calls in flight on one socket matched by serial, events, streams,
// keepalive, and a `closed` event that fires exactly once while every pending call is rejected.
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import {
  type CloseReason,
  LibvirtAuthError,
  LibvirtConnectError,
  LibvirtConnectionClosedError,
  LibvirtError,
  LibvirtProtocolError,
  LibvirtUnsupportedError,
  VIR_ERR_AUTH_UNAVAILABLE,
  VIR_ERR_NO_SUPPORT,
} from './errors.js';
import {
  DEFAULT_KEEPALIVE_COUNT,
  DEFAULT_KEEPALIVE_INTERVAL_MS,
  KEEPALIVE_PROC_PING,
  KEEPALIVE_PROC_PONG,
  KEEPALIVE_PROGRAM,
  KEEPALIVE_PROTOCOL_VERSION,
  Keepalive,
} from './keepalive.js';
import {
  type Packet,
  PacketDecoder,
  PacketStatus,
  PacketType,
  checkLength,
  decodeError,
  encodePacket,
} from './packet.js';
import { type CallbackEvent, callbackEventID, type EventFamily, type EventRegistration, EventRouter } from './events.js';
import { LXC_PROGRAM, LxcProcedures } from './lxc-protocol.gen.js';
import type { ProcedureInfo } from './procedure-info.js';
import { QEMU_PROGRAM, type QemuEvent, QemuProcedures, qemuEventDecoders } from './qemu-protocol.gen.js';
import { VirConnectFlags } from './libvirt-enums.gen.js';
import {
  REMOTE_AUTH_NONE,
  REMOTE_AUTH_POLKIT,
  REMOTE_AUTH_SASL,
  REMOTE_PROC_CONNECT_CLOSE,
  REMOTE_PROGRAM,
  type RemoteEvent,
  type RemoteEventMessages,
  type RemoteNonnullDomain,
  type RemoteNonnullNetwork,
  type RemoteNonnullNodeDevice,
  type RemoteNonnullSecret,
  type RemoteNonnullStoragePool,
  RemoteAuthType,
  RemoteProcedures,
  remoteEventDecoders,
  remoteEventFamilies,
  remoteProcedureInfo,
} from './remote-protocol.gen.js';
import { credentialsFor } from './auth-config.js';
import { chooseMechanism, createMechanism, SASL_MECHANISMS, type SaslCredentials } from './sasl.js';
import { LibvirtStream, type StreamHost } from './stream.js';
import { type Wire, closeFds, commandWire, fdWire, isFdPassingAvailable, netWire, unixSupportMessage } from './wire.js';
import { type ConnectPlan, type ConnectTarget, type ResolveContext, resolveUri } from './uri.js';
import { XdrReader, XdrWriter } from './xdr.js';

export { LXC_PROGRAM, QEMU_PROGRAM, REMOTE_PROGRAM };

/** VIR_DRV_FEATURE_PROGRAM_KEEPALIVE (libvirt_internal.h) */
const VIR_DRV_FEATURE_PROGRAM_KEEPALIVE = 10;
/** remote_auth_type values by the name a URI's `auth=` gives them: REMOTE_AUTH_SASL → 'sasl'. */
const AUTH_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(RemoteAuthType).map(([name, v]) => [v, name.slice('REMOTE_AUTH_'.length).toLowerCase()]),
);
/** How long authentication and CONNECT_OPEN may take after connecting (OpenOptions.openTimeout). */
const DEFAULT_OPEN_TIMEOUT_MS = 120_000;

/** Options of LibvirtConnection.open(). */
export interface OpenOptions {
  /** Open read-only (VIR_CONNECT_RO, and the -sock-ro socket of a local daemon). */
  readonly?: boolean;
  /** Milliseconds of silence before we ping; 0 disables our pings (we still answer the daemon's). Default 5000. */
  keepaliveInterval?: number;
  /** Unanswered pings before the connection is declared dead. Default 5. */
  keepaliveCount?: number;
  /** Give up connecting after this many milliseconds. Default 30000. */
  connectTimeout?: number;
  /**
   * Give up when authentication and REMOTE_PROC_CONNECT_OPEN have not finished this many
   * milliseconds after connecting. Default 120000 (a daemon probing its hypervisor can be slow).
   */
  openTimeout?: number;
  /**
   * Pass file descriptors (CALL_WITH_FDS / REPLY_WITH_FDS) over a UNIX socket, through src/unix's
   * native addon. 'auto' (default): when the addon is available and the transport is unix.
   */
  fdPassing?: boolean | 'auto';
  /** How local sockets are found (environment, euid); the process's own by default. */
  resolve?: ResolveContext;
  /** Name and password for SASL; by default they come from libvirt's auth.conf. */
  credentials?: Partial<SaslCredentials>;
}

/** Payload of the `closed` event. */
export interface ClosedEvent {
  reason: CloseReason;
  error?: Error;
}

/** An event sent by the daemon (a VIR_NET_MESSAGE of REMOTE_PROGRAM or QEMU_PROGRAM), decoded. */
export type ConnectionEvent =
  | (RemoteEvent & { program: typeof REMOTE_PROGRAM })
  | (QemuEvent & { program: typeof QEMU_PROGRAM });

/** An event delivered to a callback registered with register*Event: a RemoteEvent with its callbackID. */
export type RemoteCallbackEvent = RemoteEvent & { family: EventFamily; callbackID: number };

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

/** What a call needs to know about its procedure (from the generated tables). */
export type CallInfo = Pick<ProcedureInfo, 'stream' | 'fdsIn' | 'fdsOut'> | null;

/**
 * A connection to libvirtd: the typed procedures of REMOTE_PROGRAM (generated, in
 * RemoteProcedures), `qemu` and `lxc` for the other programs, events, streams and keepalive.
 */
export class LibvirtConnection extends RemoteProcedures implements StreamHost {
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
  private streamCapture: LibvirtStream[] | undefined;
  private readonly router: EventRouter;
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
    this.qemu = bindProgram(this, QemuProcedures);
    this.lxc = bindProgram(this, LxcProcedures);
    this.router = new EventRouter({
      register: (family, eventID, object) => this.registerCall(family, eventID, object),
      deregister: (family, callbackID) => this.deregisterCall(family, callbackID),
    });
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
      const target = this.plan.target;
      if ('argv' in target) this.wire = await spawnWire(target.argv);
      else {
        const withFds = this.wantFds();
        const timeout = this.options.connectTimeout ?? 30_000;
        const socket =
          target.transport === 'unix' && target.autostart
            ? await connectAutostarting(target.path, target.autostart, timeout)
            : await connectSocket(target, timeout);
        try {
          this.wire = withFds ? await fdWire(socket) : netWire(socket);
        } catch (e) {
          socket.destroy();
          throw asProtocolError(e);
        }
      }
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
      await this.authenticate();
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

  /** REMOTE_PROC_AUTH_LIST, then the chosen method (none or polkit), as remoteAuthenticate does. */
  private async authenticate(): Promise<void> {
    let types: number[];
    try {
      types = (await this.authList()).types;
    } catch (e) {
      // Very old daemons lack AUTH_LIST: they need no authentication.
      if (e instanceof LibvirtError && e.code === VIR_ERR_NO_SUPPORT) return;
      throw e;
    }
    if (types.length === 0) return;
    let chosen = types[0];
    const wanted = this.plan.auth;
    if (wanted !== undefined) {
      const want = Object.entries(AUTH_NAMES).find(([, n]) => n === wanted.toLowerCase() || wanted.toLowerCase().startsWith(`${n}.`));
      const code = want ? Number(want[0]) : -1;
      if (!types.includes(code)) {
        throw new LibvirtAuthError(
          `requested authentication type '${wanted}' is not offered by the server (offered: ${types.map((t) => AUTH_NAMES[t] ?? t).join(', ')})`,
          VIR_ERR_AUTH_UNAVAILABLE,
        );
      }
      chosen = code;
    }
    switch (chosen) {
      case REMOTE_AUTH_NONE:
        return;
      case REMOTE_AUTH_POLKIT: {
        const { complete } = await this.authPolkit();
        if (!complete) throw new LibvirtAuthError('polkit authentication did not complete');
        return;
      }
      case REMOTE_AUTH_SASL:
        return this.authenticateSasl(wanted?.toLowerCase().startsWith('sasl.') ? wanted.slice(5) : undefined);
      default:
        throw new LibvirtAuthError(`unknown authentication type ${chosen} offered by the server`, VIR_ERR_AUTH_UNAVAILABLE);
    }
  }

  /**
   * REMOTE_AUTH_SASL as remoteAuthSASL does: AUTH_SASL_INIT for the server's mechanisms, START with
   * our initial response, STEP until both sides are complete (the client always takes the last step,
   * so that the server proves itself too).
   */
  private async authenticateSasl(wantedMechanism: string | undefined): Promise<void> {
    // Our mechanisms have no security layer: libvirt accepts them only where the transport protects
    // the connection, and so do we.
    if (this.plan.target.transport === 'tcp') {
      throw new LibvirtUnsupportedError(
        'sasl',
        'SASL over plain TCP needs a security layer (GSSAPI, DIGEST-MD5), which this client does not have: use tls or ssh',
        VIR_ERR_AUTH_UNAVAILABLE,
      );
    }
    const { mechlist } = await this.authSaslInit();
    const mechanism = chooseMechanism(mechlist, wantedMechanism);
    if (!mechanism) {
      throw new LibvirtAuthError(
        `no SASL mechanism in common with the server (it offers ${mechlist || 'none'}, this client has ${SASL_MECHANISMS.join(', ')})`,
        VIR_ERR_AUTH_UNAVAILABLE,
      );
    }
    const host = this.plan.uri.host ?? 'localhost';
    const fromFile = this.options.credentials ? undefined : credentialsFor(this.plan.uri, 'libvirt', host);
    const authname = this.options.credentials?.authname ?? fromFile?.get('authname') ?? fromFile?.get('username');
    const password = this.options.credentials?.password ?? fromFile?.get('password');
    if (authname === undefined || password === undefined) {
      throw new LibvirtAuthError(
        `SASL ${mechanism} needs a name and a password for libvirt on ${host}: none in the open options or an auth.conf ($LIBVIRT_AUTH_FILE, authfile=, ~/.config/libvirt/auth.conf, /etc/libvirt/auth.conf)`,
      );
    }
    const client = createMechanism(mechanism, { authname, password });
    const toWire = (b: Buffer) => [...b];
    let reply = await this.authSaslStart({ mech: mechanism, nil: 0, data: toWire(client.start()) });
    for (let round = 0; !(reply.complete && client.complete); round++) {
      if (round > 16) throw new LibvirtAuthError('SASL negotiation did not finish');
      let answer: Buffer;
      try {
        answer = client.step(Buffer.from(reply.data));
      } catch (e) {
        throw new LibvirtAuthError(`SASL ${mechanism}: ${(e as Error).message}`);
      }
      if (reply.complete) {
        if (client.complete) return;
        throw new LibvirtAuthError(`SASL ${mechanism}: the server finished before we did`);
      }
      reply = await this.authSaslStep({ nil: 0, data: toWire(answer) });
    }
  }

  /** Closes the hypervisor connection (REMOTE_PROC_CONNECT_CLOSE) and then the socket. Never rejects. */
  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') {
      if (this.state === 'closing') await new Promise<void>((r) => this.emitter.once('closed', () => r()));
      return;
    }
    if (this.state === 'open') {
      this.state = 'closing';
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

  /** Makes a call of one procedure of the generated tables and decodes its reply (the generated methods go through here). */
  protected callProcedure<A, R>(info: ProcedureInfo, args: A): Promise<R> {
    return callInfo(this, info, args);
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
      // Length and header (patched below), then for CALL_WITH_FDS the descriptor count.
      for (let i = 0; i < 7; i++) w.writeUint(0);
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
    packet.writeUInt32BE(packet.length, 0);
    packet.writeUInt32BE(program >>> 0, 4);
    packet.writeUInt32BE(version >>> 0, 8);
    packet.writeInt32BE(procedure, 12);
    packet.writeInt32BE(info?.fdsIn ? PacketType.CALL_WITH_FDS : PacketType.CALL, 16);
    packet.writeUInt32BE(serial, 20);
    packet.writeInt32BE(PacketStatus.OK, 24);
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

  private wantFds(): boolean {
    const want = this.options.fdPassing ?? 'auto';
    if (this.plan.target.transport !== 'unix') {
      if (want === true) throw fdPassingError(this.plan.target.transport);
      return false;
    }
    if (want === 'auto') return isFdPassingAvailable();
    if (want === true && !isFdPassingAvailable()) throw fdPassingError('unix');
    return want;
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
        if (call.stream) this.releaseStream(call.stream);
        call.reject(asProtocolError(e));
        return;
      }
      call.resolve(value);
    } else if (p.status === PacketStatus.ERROR) {
      if (call.stream) this.releaseStream(call.stream);
      let err: LibvirtError;
      try {
        err = decodeError(p.payload);
      } catch (e) {
        err = asProtocolError(e);
      }
      call.reject(err);
    } else {
      throw new LibvirtProtocolError(`reply with status ${p.status}`);
    }
  }

  private dispatchEvent(p: Packet): void {
    const table =
      p.program === REMOTE_PROGRAM ? remoteEventDecoders : p.program === QEMU_PROGRAM ? qemuEventDecoders : undefined;
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

  /**
   * Registers a callback for one event id by its libvirt name (e.g. 'VIR_NETWORK_EVENT_ID_LIFECYCLE')
   * on one object or all (null); the family, number and message type come from the generated tables.
   */
  registerEvent<K extends keyof RemoteEventMessages>(
    event: K,
    object: unknown,
    listener: (ev: CallbackEvent<RemoteEventMessages[K]>) => void,
  ): Promise<EventRegistration> {
    const id = callbackEventID(event);
    if (id === undefined) return Promise.reject(new LibvirtProtocolError(`${event} is not an event id callbacks are registered for`));
    return this.router.register(id.family, id.eventID, object, listener as (ev: unknown) => void);
  }

  /** Registers a domain event callback (REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY) for one domain or all (null). */
  registerDomainEvent(
    eventID: number,
    dom: RemoteNonnullDomain | null,
    listener: (ev: RemoteCallbackEvent) => void,
  ): Promise<EventRegistration> {
    return this.router.register('domain', eventID, dom, listener as (ev: unknown) => void);
  }

  /** Registers a network event callback (REMOTE_PROC_CONNECT_NETWORK_EVENT_REGISTER_ANY). */
  registerNetworkEvent(
    eventID: number,
    net: RemoteNonnullNetwork | null,
    listener: (ev: RemoteCallbackEvent) => void,
  ): Promise<EventRegistration> {
    return this.router.register('network', eventID, net, listener as (ev: unknown) => void);
  }

  /** Registers a storage pool event callback (REMOTE_PROC_CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY). */
  registerStoragePoolEvent(
    eventID: number,
    pool: RemoteNonnullStoragePool | null,
    listener: (ev: RemoteCallbackEvent) => void,
  ): Promise<EventRegistration> {
    return this.router.register('storagePool', eventID, pool, listener as (ev: unknown) => void);
  }

  /** Registers a node device event callback (REMOTE_PROC_CONNECT_NODE_DEVICE_EVENT_REGISTER_ANY). */
  registerNodeDeviceEvent(
    eventID: number,
    dev: RemoteNonnullNodeDevice | null,
    listener: (ev: RemoteCallbackEvent) => void,
  ): Promise<EventRegistration> {
    return this.router.register('nodeDevice', eventID, dev, listener as (ev: unknown) => void);
  }

  /** Registers a secret event callback (REMOTE_PROC_CONNECT_SECRET_EVENT_REGISTER_ANY). */
  registerSecretEvent(
    eventID: number,
    secret: RemoteNonnullSecret | null,
    listener: (ev: RemoteCallbackEvent) => void,
  ): Promise<EventRegistration> {
    return this.router.register('secret', eventID, secret, listener as (ev: unknown) => void);
  }

  private async registerCall(family: EventFamily, eventID: number, object: unknown): Promise<number> {
    const f = remoteEventFamilies[family];
    const ret = await this.callProcedure<object, { callbackID: number }>(remoteProcedureInfo[f.register]!, { eventID, [f.object]: object });
    return ret.callbackID;
  }

  private async deregisterCall(family: EventFamily, callbackID: number): Promise<void> {
    if (this.state !== 'open') return; // the daemon dropped every callback with the connection
    await this.callProcedure(remoteProcedureInfo[remoteEventFamilies[family].deregister]!, { callbackID });
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
    const streams = [...this.streams.values()];
    this.streams.clear();
    for (const st of streams) st.connectionClosed(new LibvirtConnectionClosedError(reason, detail));
    this.router.clear();
    this.emitter.emit('closed', this.closeInfo);
  }
}

/** One dummy byte that carries a descriptor (SCM_RIGHTS) after a CALL_WITH_FDS packet. */
const FD_CARRIER = Buffer.from([0]);

function fdPassingError(transport: string): LibvirtUnsupportedError {
  const why =
    transport !== 'unix'
      ? `file descriptors cannot be passed over the ${transport} transport`
      : `file descriptor passing needs src/unix's native addon: ${unixSupportMessage()}`;
  return new LibvirtUnsupportedError('fd-passing', why);
}

/** Calls the procedure `info` on `conn` with the codecs of its table entry. */
function callInfo<A, R>(conn: LibvirtConnection, info: ProcedureInfo, args: A): Promise<R> {
  const encode = info.encodeArgs as ((w: XdrWriter, v: A) => void) | null;
  return conn.call(info.program, info.version, info.procedure, args, encode, info.decodeRet as ((r: XdrReader) => R) | null, info);
}

/** Binds a generated procedures class of another program (QEMU, LXC) to a connection. */
function bindProgram<T extends object>(conn: LibvirtConnection, base: abstract new () => T): T {
  const Base = base as unknown as abstract new () => object;
  class Bound extends Base {
    protected callProcedure<A, R>(info: ProcedureInfo, args: A): Promise<R> {
      return callInfo(conn, info, args);
    }
  }
  return new Bound() as T;
}

function asProtocolError(e: unknown): LibvirtError {
  if (e instanceof LibvirtError) return e;
  const err = new LibvirtProtocolError(e instanceof Error ? e.message : String(e));
  if (e instanceof Error) err.cause = e;
  return err;
}

/**
 * Connects to a user's daemon socket, starting the daemon when nothing listens there yet, as
 * libvirt's client does: `daemon --timeout=120`, detached (it outlives us and exits by itself when
 * idle), then connecting again until it is up. A second daemon started by a racing client finds the
 * first one's pid file locked and exits.
 */
async function connectAutostarting(path: string, daemon: string, timeoutMs: number): Promise<net.Socket> {
  const deadline = Date.now() + timeoutMs;
  let child: ChildProcess | undefined;
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    try {
      return await connectSocket({ transport: 'unix', path }, Math.max(1, deadline - Date.now()));
    } catch (e) {
      const errno = e instanceof LibvirtConnectError ? e.errno : undefined;
      if (errno !== 'ENOENT' && errno !== 'ECONNREFUSED') throw e;
      if (child && child.exitCode !== null) {
        throw new LibvirtConnectError(`${daemon} exited (${child.exitCode}) without listening at ${path}`, errno);
      }
      if (Date.now() >= deadline) {
        throw new LibvirtConnectError(`${daemon} did not come up at ${path} within ${timeoutMs / 1000} s`, errno);
      }
    }
    child ??= await startDaemon(daemon);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Spawns a command and resolves once it runs; a command that cannot start is a LibvirtConnectError. */
function spawnStarted<P extends ChildProcess>(start: () => P, command: string): Promise<P> {
  return new Promise((resolve, reject) => {
    const child = start();
    const onError = (err: NodeJS.ErrnoException) => {
      reject(new LibvirtConnectError(`cannot run ${command}: ${err.message}`, err.code));
    };
    child.once('error', onError);
    child.once('spawn', () => {
      child.off('error', onError);
      resolve(child);
    });
  });
}

/** Starts `daemon --timeout=120` in its own session, not tied to us. */
async function startDaemon(daemon: string): Promise<ChildProcess> {
  const child = await spawnStarted(() => spawn(daemon, ['--timeout=120'], { detached: true, stdio: 'ignore' }), daemon);
  child.unref();
  return child;
}

/** Starts the command of an ssh or ext target; its standard input and output are the wire. */
async function spawnWire(argv: string[]): Promise<Wire> {
  const [command, ...args] = argv as [string, ...string[]];
  const child = await spawnStarted(() => spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] }), command);
  return commandWire(child, command);
}

/** Opens the socket of a connect target (unix, tcp or tls). */
function connectSocket(target: Exclude<ConnectTarget, { argv: string[] }>, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    let s: net.Socket;
    let readyEvent = 'connect';
    const where = target.transport === 'unix' ? target.path : `${target.host}:${target.port}`;
    try {
      if (target.transport === 'unix') s = net.connect(target.path);
      else if (target.transport === 'tcp') s = net.connect(target.port, target.host);
      else {
        let ca: Buffer;
        let cert: Buffer;
        let key: Buffer;
        try {
          ca = readFileSync(target.caFile);
          cert = readFileSync(target.certFile);
          key = readFileSync(target.keyFile);
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          reject(new LibvirtConnectError(`cannot read TLS certificates: ${err.message}`, err.code));
          return;
        }
        readyEvent = 'secureConnect';
        s = tls.connect({
          host: target.host,
          port: target.port,
          ca,
          cert,
          key,
          rejectUnauthorized: target.verify,
          servername: net.isIP(target.host) ? undefined : target.host,
        });
      }
    } catch (e) {
      reject(new LibvirtConnectError(`cannot connect to ${where}: ${(e as Error).message}`));
      return;
    }
    const timer = setTimeout(() => {
      s.destroy();
      reject(new LibvirtConnectError(`timed out connecting to ${where}`, 'ETIMEDOUT'));
    }, timeoutMs);
    const onError = (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new LibvirtConnectError(`cannot connect to ${where}: ${err.message}`, err.code));
    };
    s.once('error', onError);
    const settle = (refusal?: string) => {
      clearTimeout(timer);
      s.off('error', onError);
      if (refusal === undefined) return resolve(s);
      s.destroy();
      reject(new LibvirtConnectError(`server verification (of our certificate or IP address) failed at ${where}: ${refusal}`, 'EACCES'));
    };
    s.once(readyEvent, () => {
      if (target.transport !== 'tls') return settle();
      // After the handshake libvirtd checks our certificate (and address, and its allowed DN list)
      // and says so with one byte: 1 when we pass. Anything else, or the socket closing, is a refusal.
      const onEnd = () => settle('the server closed the connection');
      s.once('end', onEnd);
      s.once('data', (chunk: Buffer) => {
        s.off('end', onEnd);
        s.pause();
        if (chunk[0] !== 1) return settle(`it answered ${chunk[0]}`);
        if (chunk.length > 1) s.unshift(chunk.subarray(1));
        settle();
      });
    });
  });
}

