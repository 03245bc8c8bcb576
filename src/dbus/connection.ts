// A D-Bus connection in the shape of GLib's GDBusConnection: to a bus (Hello, unique name, match
// rules, name ownership) or peer to peer; method calls with timeout and cancellation, signal
// subscriptions, filters, object export, and a `closed` event emitted exactly once. Incoming bytes
// become messages in incoming.ts; subscriptions and name owners are kept in subscriptions.ts;
// options, limits and the bus driver's names are in connection-options.ts.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { UnixFdSocket } from '../unix/index.js';
import { parseAddress, sessionBusAddress, systemBusAddress } from './address.js';
import { type AuthMechanism, type AuthResult, authenticateClient, authenticateServer, type ServerAuthOptions } from './auth.js';
import {
  BUS_NAME,
  BUS_PATH,
  busDriverAnswer,
  type CallOptions,
  type ConnectOptions,
  DEFAULT_CALL_TIMEOUT_MS,
  DEFAULT_MAX_WRITE_QUEUE,
  DEFAULT_WRITE_BUFFER_LIMIT,
  type MessageFilter,
  methodCall,
} from './connection-options.js';
import {
  DBusCancelledError,
  DBusClosedError,
  DBusError,
  DBusInvalidArgsError,
  DBusProtocolError,
  DBusTimeoutError,
  StandardErrors,
} from './errors.js';
import { type ExporterOptions, ObjectExporter } from './export.js';
import { FdReplies } from './fd-replies.js';
import { encodeMessageWithFds } from './framing.js';
import { MessageAssembler } from './incoming.js';
import { sendErrorReply } from './invocation.js';
import { type Message, MessageFlags, MessageType } from './message.js';
import { type SignalCallback, type SignalSubscription, SignalSubscriptions } from './subscriptions.js';
import { connectAddress, type PeerCredentials, Transport } from './transport.js';

interface PendingCall {
  resolve: (body: unknown[]) => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
  signal?: AbortSignal;
  onAbort?: () => void;
  replySignature?: string;
  fds: boolean;
}

type ExporterMethods = Pick<ObjectExporter, 'registerObject' | 'registerSubtree'>;

/** A connection to a message bus or to a peer. Events: 'closed' (remotePeerVanished: boolean, error?: Error). */
export class DBusConnection extends EventEmitter {
  /** The unique name the bus gave us (undefined on a peer-to-peer connection). */
  uniqueName: string | undefined;
  /** True once closed. */
  closed = false;
  /** Can `h` values (file descriptors) travel on this connection. */
  readonly unixFd: boolean;
  /** The server's GUID (ours when we are the server side). */
  readonly guid: string;
  /** Which SASL mechanism authenticated the connection. */
  readonly authMechanism: AuthMechanism;
  /** Server side: the uid the peer proved (undefined for ANONYMOUS). */
  readonly peerUid: number | undefined;
  /** Whether this connection talks to a message bus. */
  isBus = false;

  private readonly transport: Transport;
  private readonly exporter: ObjectExporter;
  private serial = 0;
  private readonly pending = new Map<number, PendingCall>();
  private readonly subscriptions: SignalSubscriptions;
  private readonly filters = new Map<number, MessageFilter>();
  private lastFilterId = 0;
  private readonly writeLimit: number;
  private readonly writeQueueCap: number;
  private recheckTimer: NodeJS.Timeout | undefined;
  private drainWaiters: Array<() => void> = [];
  private started = false;
  private readonly incoming: MessageAssembler;
  private credentials: PeerCredentials | undefined;
  // Server side: the unique name handed to a peer that says Hello (see DBusServerOptions.emulateBusDriver).
  private readonly busDriverName: string | undefined;
  /** Where our replies with descriptors went, to tell the caller when the bus refuses them. */
  private readonly fdReplies = new FdReplies();
  // Serials of the peer's calls our handlers have not answered yet (bounded by maxPendingCalls).
  private readonly answering = new Set<number>();
  private readonly maxPendingCalls: number;

  /** Wraps an authenticated transport; use connect(), fromStream() or DBusServer instead. */
  constructor(
    transport: Transport,
    auth: AuthResult,
    options: {
      writeBufferLimit?: number;
      maxWriteQueue?: number;
      /** Incoming calls awaiting our reply before further ones get LimitsExceeded (default: no bound). */
      maxPendingCalls?: number;
      exporter?: ExporterOptions;
      busDriverName?: string;
    } = {},
  ) {
    super();
    this.transport = transport;
    this.guid = auth.guid;
    this.unixFd = auth.unixFd;
    this.authMechanism = auth.mechanism;
    this.peerUid = auth.uid;
    this.credentials = auth.credentials;
    this.writeLimit = options.writeBufferLimit ?? DEFAULT_WRITE_BUFFER_LIMIT;
    this.writeQueueCap = Math.max(options.maxWriteQueue ?? DEFAULT_MAX_WRITE_QUEUE, this.writeLimit);
    this.busDriverName = options.busDriverName;
    this.maxPendingCalls = options.maxPendingCalls ?? Infinity;
    this.incoming = new MessageAssembler(this.unixFd, {
      message: (msg) => this.dispatch(msg),
      error: (reason) => this.protocolError(reason),
      stopped: () => this.closed,
    });
    this.subscriptions = new SignalSubscriptions({
      isBus: () => this.isBus,
      closed: () => this.closed,
      busCall: (member, signature, body) => this.busCall(member, signature, body),
      getNameOwner: (name) => this.getNameOwner(name),
    });
    this.exporter = new ObjectExporter(
      {
        // A reply finished after the connection closed has nowhere to go.
        send: (m: Omit<Message, 'serial'>) => {
          if (m.replySerial !== undefined) this.answering.delete(m.replySerial);
          if (!this.closed) this.sendMessage({ ...m, serial: 0 } as Message);
        },
        // sendMessage encodes before writing anything and throws the encoder's errors.
        checksValues: true,
      },
      options.exporter,
    );
  }

  /** Connects to 'session', 'system' or an address, authenticates, and (on a bus) says Hello. */
  static async connect(target: 'session' | 'system' | string = 'session', options: ConnectOptions = {}): Promise<DBusConnection> {
    const named = target === 'session' || target === 'system';
    const address = target === 'session' ? sessionBusAddress() : target === 'system' ? systemBusAddress() : target;
    parseAddress(address); // reject a malformed address before any socket is opened
    const { transport, entry } = await connectAddress(address, options.negotiateUnixFd !== false);
    return DBusConnection.open(transport, { ...options, bus: options.bus ?? named }, entry.params.get('guid'));
  }

  /**
   * Authenticates over an already connected stream: as the client (peer to peer unless `bus`),
   * or as the server when `server` is given (a random GUID unless it names one). `unix` says the
   * stream is an AF_UNIX socket (for EXTERNAL and credentials); a UnixFdSocket also passes fds.
   */
  static async fromStream(
    stream: Duplex | UnixFdSocket,
    options: ConnectOptions & { unix?: boolean; server?: Omit<ServerAuthOptions, 'guid'> & { guid?: string } } = {},
  ): Promise<DBusConnection> {
    const transport = new Transport(stream, options.unix ?? stream instanceof UnixFdSocket);
    if (!options.server) return DBusConnection.open(transport, options);
    let auth: AuthResult;
    try {
      auth = await authenticateServer(transport, {
        ...options.server,
        guid: options.server.guid ?? randomBytes(16).toString('hex'),
      });
    } catch (err) {
      transport.destroy();
      throw err;
    }
    const conn = new DBusConnection(transport, auth, options);
    conn.start();
    return conn;
  }

  private static async open(transport: Transport, options: ConnectOptions, expectedGuid?: string): Promise<DBusConnection> {
    let auth: AuthResult;
    try {
      auth = await authenticateClient(transport, {
        mechanisms: options.mechanisms,
        keyring: options.keyring,
        negotiateUnixFd: options.negotiateUnixFd,
        expectedGuid,
        timeout: options.timeout,
      });
    } catch (err) {
      transport.destroy();
      throw err;
    }
    const conn = new DBusConnection(transport, auth, options);
    conn.start();
    if (options.bus) {
      conn.isBus = true;
      try {
        const [name] = await conn.call({
          destination: BUS_NAME,
          path: BUS_PATH,
          interface: BUS_NAME,
          member: 'Hello',
          replySignature: 's',
          timeout: options.timeout,
        });
        conn.uniqueName = name as string;
      } catch (err) {
        conn.close();
        throw err;
      }
    }
    return conn;
  }

  /** Starts reading messages; the server calls it after its 'connection' listeners ran. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.transport.setHandlers({
      data: (chunk, fds) => {
        if (!this.closed) this.incoming.push(chunk, fds);
      },
      drain: () => this.onDrain(),
      close: (err) => this.onTransportClosed(err),
    });
  }

  /** Credentials (pid, uid, gid) of the peer process, where the transport and native support give them. */
  get peerCredentials(): PeerCredentials | undefined {
    this.credentials ??= this.transport.peerCredentials();
    return this.credentials;
  }

  /** Bytes written but not yet handed to the kernel (bounded by writeBufferLimit for call()). */
  get writeQueueLength(): number {
    return this.transport.writableLength;
  }

  // --- Reading ----------------------------------------------------------------------------------

  private protocolError(reason: string): void {
    this.closeWith(true, new DBusProtocolError(`protocol violation by peer, connection closed: ${reason}`));
  }

  private dispatch(incoming: Message): void {
    let msg: Message | null = incoming;
    if (this.filters.size > 0) {
      for (const filter of [...this.filters.values()]) {
        msg = this.runFilter(filter, msg, true);
        if (!msg) return;
      }
    }
    switch (msg.type) {
      case MessageType.MethodReturn:
      case MessageType.Error: {
        const forCaller = this.isBus ? this.fdReplies.errorForCaller(msg, BUS_NAME) : undefined;
        if (forCaller) this.sendMessage({ ...forCaller, serial: 0 } as Message);
        else this.onReply(msg);
        break;
      }
      case MessageType.Signal:
        this.subscriptions.deliver(msg);
        break;
      case MessageType.MethodCall:
        if (this.busDriverName !== undefined && msg.destination === BUS_NAME) {
          const answer = busDriverAnswer(msg, this.busDriverName);
          if (answer !== undefined) {
            if (answer) this.sendMessage(answer);
            break;
          }
        }
        if (!(msg.flags & MessageFlags.NoReplyExpected)) {
          // As dbus-daemon's max_replies_per_connection: the call is refused, the peer stays.
          if (this.answering.size >= this.maxPendingCalls) {
            this.replyError(
              msg,
              new DBusError(
                StandardErrors.LimitsExceeded,
                `the maximum number of pending calls (${this.maxPendingCalls}) has been reached`,
              ),
            );
            break;
          }
          if (this.maxPendingCalls !== Infinity) this.answering.add(msg.serial);
        }
        try {
          this.exporter.handleMethodCall(msg);
        } catch (err) {
          this.replyError(msg, err);
        }
        break;
      default:
        break; // unknown types are ignored, as the specification asks
    }
  }

  // The few bus driver calls a bus client makes unasked; everything else goes to the exporter.
  private runFilter(filter: MessageFilter, msg: Message, incoming: boolean): Message | null {
    try {
      return filter(msg, incoming);
    } catch (err) {
      process.emitWarning(`D-Bus message filter threw: ${(err as Error).message}`);
      return msg;
    }
  }

  private replyError(call: Message, err: unknown): void {
    this.answering.delete(call.serial);
    if (this.closed) return;
    const e = err instanceof DBusError ? err : new DBusError(StandardErrors.Failed, String((err as Error)?.message ?? err));
    sendErrorReply(this, call, e.errorName, e.message);
  }

  private onReply(msg: Message): void {
    const serial = msg.replySerial;
    if (serial === undefined) return;
    const call = this.pending.get(serial);
    if (!call) return; // late reply of a call that timed out or was cancelled
    this.finishCall(serial, call);
    if (msg.type === MessageType.Error) {
      const text = typeof msg.body[0] === 'string' ? (msg.body[0] as string) : (msg.errorName ?? '');
      call.reject(new DBusError(msg.errorName ?? StandardErrors.Failed, text, msg.body));
    } else if (call.replySignature !== undefined && call.replySignature !== msg.signature) {
      call.reject(new DBusInvalidArgsError(`reply has signature "${msg.signature}", expected "${call.replySignature}"`));
    } else call.resolve(msg.body);
  }

  private finishCall(serial: number, call: PendingCall): void {
    this.pending.delete(serial);
    if (call.timer) clearTimeout(call.timer);
    if (call.onAbort) call.signal?.removeEventListener('abort', call.onAbort);
  }

  // --- Writing ----------------------------------------------------------------------------------

  private nextSerial(): number {
    this.serial = this.serial >= 0xffffffff ? 1 : this.serial + 1;
    return this.serial;
  }

  /** Filters, assigns a serial, encodes and writes; returns false past the write bound. */
  private sendMessage(message: Message): boolean {
    if (this.closed) throw new DBusClosedError();
    let msg: Message | null = message;
    if (!msg.serial) msg.serial = this.nextSerial();
    if (this.filters.size > 0) {
      for (const filter of [...this.filters.values()]) {
        msg = this.runFilter(filter, msg, false);
        if (!msg) return true;
      }
    }
    const { buffer: bytes, fds } = encodeMessageWithFds(msg);
    if (fds.length > 0 && !this.unixFd) {
      throw new DBusError(StandardErrors.NotSupported, 'file descriptors cannot be sent: fd passing was not negotiated on this connection');
    }
    // Checked before writing, so one large message always gets through.
    if (this.transport.writableLength > this.writeQueueCap) {
      // The peer stopped reading while replies and signals kept coming: give up on it rather than
      // grow without end (dbus-daemon's max_outgoing_bytes plays the same part). Dropped, not
      // ended: ending would keep the unread bytes (and the socket) until the peer reads them.
      this.transport.destroy();
      this.closeWith(false, new DBusError(StandardErrors.LimitsExceeded, `peer does not read: over ${this.writeQueueCap} bytes queued`));
      return false;
    }
    this.transport.write(bytes, fds.length > 0 ? fds : undefined);
    if (this.isBus) this.fdReplies.note(msg, fds.length);
    const queued = this.transport.writableLength;
    if (queued > this.writeLimit) this.scheduleWritableCheck();
    return queued <= this.writeLimit;
  }

  // Not every stream emits 'drain' when it falls below our bound (only after a refused write),
  // so while over the bound the level is looked at again every few milliseconds.
  private scheduleWritableCheck(): void {
    if (this.recheckTimer || this.closed) return;
    this.recheckTimer = setTimeout(() => {
      this.recheckTimer = undefined;
      this.onDrain();
    }, 5);
  }

  private onDrain(): void {
    if (this.closed) return;
    if (this.transport.writableLength > this.writeLimit) {
      this.scheduleWritableCheck();
      return;
    }
    if (this.drainWaiters.length > 0) for (const w of this.drainWaiters.splice(0)) w();
  }

  // Resolves on the stream's 'drain', or after a few milliseconds: a stream whose own mark is
  // above our bound never refuses a write, so it never emits 'drain'. Callers look again.
  private waitForDrain(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 5);
      this.drainWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Sends a message for which no reply is awaited; returns false when over the write bound. */
  send(message: Omit<Message, 'serial'> & { serial?: number }): boolean {
    return this.sendMessage({ ...message, serial: message.serial ?? 0 } as Message);
  }

  /** Calls a method and resolves with the reply's body; rejects with DBusError (the error's name) and its subclasses. */
  call(options: CallOptions): Promise<unknown[]> {
    if (this.closed) return Promise.reject(new DBusClosedError());
    if (options.signal?.aborted) return Promise.reject(new DBusCancelledError());
    // Not async on purpose: the usual path writes at once and costs no extra promise turns.
    if (this.transport.writableLength > this.writeLimit) return this.callWhenWritable(options);
    return this.callNow(options);
  }

  private async callWhenWritable(options: CallOptions): Promise<unknown[]> {
    while (this.transport.writableLength > this.writeLimit && !this.closed) {
      await this.waitForDrain();
      if (options.signal?.aborted) throw new DBusCancelledError();
    }
    if (this.closed) throw new DBusClosedError();
    return this.callNow(options);
  }

  private callNow(options: CallOptions): Promise<unknown[]> {
    const signal = options.signal;
    const serial = this.nextSerial();
    const msg = methodCall(options, serial);
    if (options.noReplyExpected) {
      try {
        this.sendMessage(msg);
      } catch (err) {
        return Promise.reject(err);
      }
      return Promise.resolve([]);
    }
    return new Promise<unknown[]>((resolve, reject) => {
      const call: PendingCall = { resolve, reject, replySignature: options.replySignature, fds: !!options.fds };
      const timeout = options.timeout ?? DEFAULT_CALL_TIMEOUT_MS;
      // Beyond setTimeout's range (about 24.8 days) a call waits forever, like Infinity.
      if (timeout <= 0x7fffffff) {
        call.timer = setTimeout(
          () => {
            this.finishCall(serial, call);
            reject(new DBusTimeoutError(`no reply to ${options.interface ?? ''}.${options.member} within ${timeout} ms`));
          },
          Math.max(0, timeout),
        );
      }
      if (signal) {
        call.signal = signal;
        call.onAbort = () => {
          this.finishCall(serial, call);
          reject(new DBusCancelledError());
        };
        signal.addEventListener('abort', call.onAbort, { once: true });
      }
      this.pending.set(serial, call);
      try {
        this.sendMessage(msg);
      } catch (err) {
        this.finishCall(serial, call);
        reject(err);
      }
    });
  }

  /** Emits a signal; destination null broadcasts. Returns false when over the write bound. */
  emitSignal(destination: string | null, path: string, iface: string, member: string, signature = '', body: unknown[] = []): boolean {
    return this.sendMessage({
      type: MessageType.Signal,
      flags: MessageFlags.NoReplyExpected,
      serial: 0,
      destination: destination ?? undefined,
      path,
      interface: iface,
      member,
      signature,
      body,
    });
  }

  /** Resolves once everything written so far has been handed to the kernel. */
  async flush(): Promise<void> {
    this.transport.flushBatch();
    while (!this.closed && this.transport.writableLength > 0) await this.waitForDrain();
  }

  // --- Filters and signal subscriptions --------------------------------------------------------

  /** Adds a filter run on every incoming and outgoing message; returns its id. */
  addFilter(filter: MessageFilter): number {
    const id = ++this.lastFilterId;
    this.filters.set(id, filter);
    return id;
  }

  removeFilter(id: number): void {
    this.filters.delete(id);
  }

  /**
   * Subscribes to signals; on a bus this adds the match rule (AddMatch, in order with later
   * messages, so a call made afterwards returns only once the rule is in place). Returns an id, never 0.
   */
  signalSubscribe(match: SignalSubscription, callback: SignalCallback): number {
    return this.subscriptions.subscribe(match, callback);
  }

  /** Removes a subscription (and its match rule once no other subscription uses it). */
  signalUnsubscribe(id: number): void {
    this.subscriptions.unsubscribe(id);
  }

  // --- Bus names ----------------------------------------------------------------------------------

  private busCall(member: string, signature: string, body: unknown[], replySignature?: string): Promise<unknown[]> {
    return this.call({ destination: BUS_NAME, path: BUS_PATH, interface: BUS_NAME, member, signature, body, replySignature });
  }

  /** Asks the bus for a well-known name; resolves with a RequestNameReply code. */
  async requestName(name: string, flags = 0): Promise<number> {
    const [code] = await this.busCall('RequestName', 'su', [name, flags], 'u');
    return code as number;
  }

  /** Gives a well-known name back; resolves with a ReleaseNameReply code. */
  async releaseName(name: string): Promise<number> {
    const [code] = await this.busCall('ReleaseName', 's', [name], 'u');
    return code as number;
  }

  /** The unique name owning `name`, or undefined when nobody does. */
  async getNameOwner(name: string): Promise<string | undefined> {
    try {
      const [owner] = await this.busCall('GetNameOwner', 's', [name], 's');
      return owner as string;
    } catch (err) {
      if (err instanceof DBusError && err.errorName === 'org.freedesktop.DBus.Error.NameHasNoOwner') return undefined;
      throw err;
    }
  }

  /**
   * Watches a name: `onAppeared(name, owner)` when it gets an owner (and at once if it has one),
   * `onVanished(name)` when it loses it (and at once if it has none). Returns an id for unwatchName.
   */
  watchName(name: string, onAppeared?: (name: string, owner: string) => void, onVanished?: (name: string) => void): number {
    return this.subscriptions.watchName(name, onAppeared, onVanished);
  }

  /** Stops watching a name. */
  unwatchName(id: number): void {
    this.signalUnsubscribe(id);
  }

  // --- Object export ------------------------------------------------------------------------------

  /** Exports an object implementing an interface at a path (see ObjectExporter.registerObject). */
  registerObject(...args: Parameters<ExporterMethods['registerObject']>): ReturnType<ExporterMethods['registerObject']> {
    return this.exporter.registerObject(...args);
  }

  /** Exports a dynamic subtree below a path (see ObjectExporter.registerSubtree). */
  registerSubtree(...args: Parameters<ExporterMethods['registerSubtree']>): ReturnType<ExporterMethods['registerSubtree']> {
    return this.exporter.registerSubtree(...args);
  }

  /** The exporter behind registerObject/registerSubtree, for its other operations. */
  get objects(): ObjectExporter {
    return this.exporter;
  }

  // --- Closing ------------------------------------------------------------------------------------

  /** Closes the connection after writing what is queued; pending calls fail with DBusClosedError. */
  close(): void {
    this.closeWith(false, undefined);
  }

  private onTransportClosed(error?: Error): void {
    this.closeWith(true, error ?? new DBusClosedError('the peer closed the connection'));
  }

  private closeWith(remotePeerVanished: boolean, error: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    if (remotePeerVanished) this.transport.destroy();
    else this.transport.end();
    const closedError = new DBusClosedError(error ? `connection closed: ${error.message}` : undefined);
    for (const [serial, call] of [...this.pending]) {
      this.finishCall(serial, call);
      call.reject(closedError);
    }
    if (this.recheckTimer) clearTimeout(this.recheckTimer);
    for (const w of this.drainWaiters.splice(0)) w();
    this.incoming.closeUnclaimedFds();
    this.emit('closed', remotePeerVanished, error);
  }
}
