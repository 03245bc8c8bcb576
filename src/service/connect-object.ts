// One hypervisor connection behind a Connect object (/org/libvirt/QEMU …). Like the reference
// it opens the libvirt connection lazily, on the first call that needs it, and registers its
// event callbacks then. When the daemon goes away, calls in flight fail at once (the RPC client
// rejects them) and later calls try to open again right away — failing fast with libvirt's own
// message while the daemon is down. After an established connection is lost it also reopens in
// the background (with a growing delay), so signals resume without waiting for a call.

import { LibvirtConnection } from '../libvirt/index.js';
import type { CallerConnections } from './caller-identity.js';
import type { DefinedInterface } from './declare.js';
import type { ConnectHandle, ServiceObject } from './object-kinds.js';
import { connectPath } from './paths.js';

/** Where a Connect object sends its signals: path, interface, member, signature, body. */
export type SignalSink = (path: string, iface: string, member: string, signature: string, body: unknown[]) => void;

/** What an event handler may do. */
export interface EventContext {
  /** Path of the Connect object, e.g. /org/libvirt/QEMU. */
  readonly path: string;
  /** Emits a signal declared by `iface` on `path`. */
  emit(path: string, iface: DefinedInterface<never>, member: string, values: unknown[]): void;
}

/** One libvirt event the service listens to, registered on every (re)opened connection. */
export interface EventBinding {
  /** libvirt's name of the event, for reading (e.g. 'VIR_NETWORK_EVENT_ID_LIFECYCLE'). */
  readonly event: string;
  /** Registers the callback on a freshly opened connection; its listener turns events into signals. */
  register(conn: LibvirtConnection, ctx: EventContext): Promise<unknown>;
}

/**
 * Runs on every freshly opened connection after the event bindings (e.g. the domain module
 * registering its 25 domain event callbacks); `emit` sends a signal. A failure is ignored.
 */
export type OpenHook = (conn: LibvirtConnection, connectPath: string, emit: SignalSink) => Promise<unknown>;

/** Options of a ConnectObject. */
export interface ConnectObjectOptions {
  /** Name of the object: the last path element, e.g. 'QEMU'. */
  name: string;
  /** The libvirt URI it connects to. */
  uri: string;
  /** Events to listen to (each registered on every open). */
  events?: readonly EventBinding[];
  /** Further set-up on every open. */
  hooks?: readonly OpenHook[];
  /** Where signals go. */
  emit: SignalSink;
  /** Opens a libvirt connection (default: a LibvirtConnection to `uri`). */
  open?: (uri: string) => Promise<LibvirtConnection>;
  /** Background reconnect delays in ms after a loss (the last one repeats); [] disables. */
  reconnectDelays?: readonly number[];
  /** With --caller-identity: the connections that act as each caller. */
  callers?: CallerConnections;
}

const DEFAULT_RECONNECT_DELAYS = [250, 500, 1000, 2000, 5000];

/** One hypervisor connection exported as a Connect object. */
export class ConnectObject implements ConnectHandle, ServiceObject {
  readonly name: string;
  readonly uri: string;
  readonly path: string;
  private current: LibvirtConnection | undefined;
  private opening: Promise<LibvirtConnection> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempt = 0;
  private closed = false;
  private readonly ctx: EventContext;

  constructor(private readonly options: ConnectObjectOptions) {
    this.name = options.name;
    this.uri = options.uri;
    this.path = connectPath(options.name);
    this.ctx = {
      path: this.path,
      emit: (path, iface, member, values) => {
        const { signature, body } = iface.signal(member, values);
        options.emit(path, iface.name, member, signature, body);
      },
    };
  }

  /** As a ServiceObject (what Connect's handlers act on), its Connect object is itself. */
  get connect(): ConnectHandle {
    return this;
  }

  /** True while a libvirt connection is open. */
  get isOpen(): boolean {
    return this.current?.isOpen === true;
  }

  /**
   * The libvirt connection for the call being handled: with --caller-identity one acting as the
   * caller, else the service's own (opened, and its events registered, on first use).
   */
  connection(): Promise<LibvirtConnection> {
    const callers = this.options.callers;
    const caller = callers?.current();
    if (caller === undefined || callers === undefined) return this.ownConnection();
    if (this.closed) return Promise.reject(new Error(`${this.path} is shut down`));
    // Events keep arriving on the service's own connection, opened as without the option.
    if (!this.current?.isOpen) this.ownConnection().catch(() => {});
    return callers.connectionFor(this.uri, caller);
  }

  /** The service's own libvirt connection (the one its events arrive on). */
  ownConnection(): Promise<LibvirtConnection> {
    if (this.closed) return Promise.reject(new Error(`${this.path} is shut down`));
    if (this.current?.isOpen) return Promise.resolve(this.current);
    if (!this.opening) {
      const open = () => this.openNow();
      // Opened outside any caller's scope, so nothing it starts runs as that caller.
      this.opening = (this.options.callers ? this.options.callers.asService(open) : open()).finally(() => {
        this.opening = undefined;
      });
    }
    return this.opening;
  }

  private async openNow(): Promise<LibvirtConnection> {
    const conn = this.options.open ? await this.options.open(this.uri) : await new LibvirtConnection(this.uri).open();
    if (this.closed) {
      await conn.close().catch(() => {});
      throw new Error(`${this.path} is shut down`);
    }
    this.current = conn;
    this.reconnectAttempt = 0;
    this.clearReconnect();
    conn.on('closed', () => this.onLost(conn));
    await this.registerEvents(conn);
    return conn;
  }

  /**
   * Registers every binding, then runs the hooks. One the driver refuses is skipped, as the
   * reference ignores such failures (e.g. a driver without secrets has no secret events).
   */
  private async registerEvents(conn: LibvirtConnection): Promise<void> {
    await Promise.all([
      ...(this.options.events ?? []).map((binding) => binding.register(conn, this.ctx).catch(() => undefined)),
      ...(this.options.hooks ?? []).map((hook) => hook(conn, this.path, this.options.emit).catch(() => undefined)),
    ]);
  }

  private onLost(conn: LibvirtConnection): void {
    if (this.current !== conn) return;
    this.current = undefined;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const delays = this.options.reconnectDelays ?? DEFAULT_RECONNECT_DELAYS;
    if (this.closed || delays.length === 0 || this.reconnectTimer) return;
    const delay = delays[Math.min(this.reconnectAttempt, delays.length - 1)] as number;
    this.reconnectAttempt++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed || this.current?.isOpen) return;
      this.ownConnection().catch(() => this.scheduleReconnect());
    }, delay);
    this.reconnectTimer.unref();
  }

  private clearReconnect(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  /** Closes the libvirt connection and stops reconnecting. */
  async close(): Promise<void> {
    this.closed = true;
    this.clearReconnect();
    const conn = this.current;
    this.current = undefined;
    if (conn) await conn.close().catch(() => {});
  }
}
