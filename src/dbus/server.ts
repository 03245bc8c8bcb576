// A listening D-Bus server in the shape of GLib's GDBusServer: peer-to-peer connections on the
// first address that works, each authenticated before it is handed out.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { escapeAddressValue, formatAddressEntry, parseAddress } from './address.js';
import { type AuthMechanism, authenticateServer, type CookieKeyring } from './auth.js';
import { DBusConnection } from './connection.js';
import { DEFAULT_WRITE_BUFFER_LIMIT } from './connection-options.js';
import { DBusError, StandardErrors } from './errors.js';
import type { ExporterOptions } from './export.js';
import { type Listener, listenEntry, Transport } from './transport.js';

/** Default of DBusServerOptions.maxConnections (dbus-daemon's max_completed_connections on the system bus). */
export const DEFAULT_MAX_CONNECTIONS = 2048;
/** Default of DBusServerOptions.maxPendingCalls (dbus-daemon's max_replies_per_connection on the system bus). */
export const DEFAULT_MAX_PENDING_CALLS = 128;
/** Default of DBusServerOptions.maxIncompleteConnections (dbus-daemon's max_incomplete_connections). */
export const DEFAULT_MAX_INCOMPLETE_CONNECTIONS = 64;

/** Options of a DBusServer. */
export interface DBusServerOptions {
  /** 32 hex digits; a random one by default. */
  guid?: string;
  /** Accept ANONYMOUS clients (default false). */
  allowAnonymous?: boolean;
  /** Accept only peers proven to be the user running the server (default true). */
  requireSameUser?: boolean;
  /** Mechanisms to offer (default EXTERNAL where credentials are readable, DBUS_COOKIE_SHA1, ANONYMOUS if allowed). */
  mechanisms?: AuthMechanism[];
  keyring?: CookieKeyring;
  cookieContext?: string;
  /** Milliseconds a client has to authenticate (default 30 s; dbus-daemon's auth_timeout). */
  authTimeout?: number;
  writeBufferLimit?: number;
  /** Bytes queued for one peer before it is dropped as not reading (see DEFAULT_MAX_WRITE_QUEUE; dbus-daemon's max_outgoing_bytes). */
  maxWriteQueue?: number;
  /** Authenticated connections served at once; more are refused (default 2048, dbus-daemon's max_completed_connections). */
  maxConnections?: number;
  /** Connections still authenticating; a new one beyond this drops the oldest (default 64, dbus-daemon's max_incomplete_connections). */
  maxIncompleteConnections?: number;
  /** Calls of one peer waiting for their reply; more get LimitsExceeded (default 128, dbus-daemon's max_replies_per_connection). */
  maxPendingCalls?: number;
  /** Options of each connection's object exporter. */
  exporter?: ExporterOptions;
  /**
   * Answer Hello, AddMatch and RemoveMatch of org.freedesktop.DBus on each connection (default
   * true), so clients that always act as bus clients (`gdbus call --address`, sd-bus) work peer to peer.
   */
  emulateBusDriver?: boolean;
}

/**
 * Listens for peer-to-peer connections. Events: 'connection' (conn: DBusConnection), emitted
 * before any message of that connection is read; 'authFailed' (error) for a client turned away
 * (failed or timed-out authentication, or a limit reached).
 */
export class DBusServer extends EventEmitter {
  readonly guid: string;
  private listener: Listener | undefined;
  private readonly entries;
  private readonly connections = new Set<DBusConnection>();
  // In order of arrival, so the oldest is the first one dropped when too many are authenticating.
  private readonly authenticating = new Set<Transport>();
  private active = false;
  private peerCount = 0;

  constructor(
    address: string,
    private readonly options: DBusServerOptions = {},
  ) {
    super();
    this.entries = parseAddress(address);
    const guid = options.guid ?? randomBytes(16).toString('hex');
    if (!/^[0-9a-fA-F]{32}$/.test(guid)) throw new DBusError('org.freedesktop.DBus.Error.InvalidArgs', `bad GUID "${guid}"`);
    this.guid = guid.toLowerCase();
  }

  /** The address a client passes to connect, with our guid (valid once started). */
  get clientAddress(): string {
    if (!this.listener) throw new DBusError('org.freedesktop.DBus.Error.Failed', 'the server is not started');
    return `${formatAddressEntry(this.listener.clientEntry)},guid=${escapeAddressValue(this.guid)}`;
  }

  /** Whether the server is listening. */
  get isActive(): boolean {
    return this.active;
  }

  /** Listens on the first address entry that works. */
  async start(): Promise<void> {
    if (this.active) return;
    const failures: string[] = [];
    for (const entry of this.entries) {
      try {
        this.listener = await listenEntry(entry);
        break;
      } catch (err) {
        failures.push(`${formatAddressEntry(entry)}: ${(err as Error).message}`);
      }
    }
    if (!this.listener) {
      throw new DBusError('org.freedesktop.DBus.Error.Failed', `could not listen on any address (${failures.join('; ')})`);
    }
    this.active = true;
    this.listener.server.on('connection', (socket: Socket) => this.accept(socket));
  }

  private async accept(socket: Socket): Promise<void> {
    const listener = this.listener;
    if (!listener || !this.active) {
      socket.destroy();
      return;
    }
    // A full server turns new peers away at once rather than make everyone wait.
    if (this.connections.size >= (this.options.maxConnections ?? DEFAULT_MAX_CONNECTIONS)) {
      socket.destroy();
      this.refused(new DBusError(StandardErrors.LimitsExceeded, 'the maximum number of connections has been reached'));
      return;
    }
    let transport: Transport;
    try {
      transport = listener.unix ? Transport.forUnixSocket(socket) : new Transport(socket, false);
    } catch (err) {
      socket.destroy();
      this.refused(err);
      return;
    }
    // As dbus-daemon: idle unauthenticated sockets cannot lock newcomers out, the oldest one goes.
    const maxIncomplete = Math.max(1, this.options.maxIncompleteConnections ?? DEFAULT_MAX_INCOMPLETE_CONNECTIONS);
    if (this.authenticating.size >= maxIncomplete) {
      const oldest = this.authenticating.values().next().value as Transport;
      this.authenticating.delete(oldest);
      oldest.destroy(new DBusError(StandardErrors.LimitsExceeded, 'too many connections authenticating'));
    }
    this.authenticating.add(transport);
    transport.resume();
    try {
      const auth = await authenticateServer(transport, {
        guid: this.guid,
        allowAnonymous: this.options.allowAnonymous,
        requireSameUser: this.options.requireSameUser,
        mechanisms: this.options.mechanisms,
        keyring: this.options.keyring,
        cookieContext: this.options.cookieContext,
        nonce: listener.nonce,
        timeout: this.options.authTimeout,
      });
      const conn = new DBusConnection(transport, auth, {
        // A cap below the default soft bound lowers that bound too, or the cap would be raised to it.
        writeBufferLimit: this.options.writeBufferLimit ?? Math.min(DEFAULT_WRITE_BUFFER_LIMIT, this.options.maxWriteQueue ?? Infinity),
        maxWriteQueue: this.options.maxWriteQueue,
        maxPendingCalls: this.options.maxPendingCalls ?? DEFAULT_MAX_PENDING_CALLS,
        exporter: this.options.exporter,
        busDriverName: this.options.emulateBusDriver === false ? undefined : `:1.${++this.peerCount}`,
      });
      this.authenticating.delete(transport);
      // Others may have completed while this one authenticated.
      if (this.connections.size >= (this.options.maxConnections ?? DEFAULT_MAX_CONNECTIONS)) {
        conn.close();
        this.refused(new DBusError(StandardErrors.LimitsExceeded, 'the maximum number of connections has been reached'));
        return;
      }
      this.connections.add(conn);
      conn.once('closed', () => this.connections.delete(conn));
      this.emit('connection', conn);
      // Messages are read only now, so handlers registered by the listeners see the first call.
      conn.start();
    } catch (err) {
      this.authenticating.delete(transport);
      transport.destroy();
      this.refused(err);
    }
  }

  /** Number of authenticated connections open now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  private refused(err: unknown): void {
    if (this.listenerCount('authFailed') > 0) this.emit('authFailed', err);
  }

  /** Stops listening; connections already made stay open unless `closeConnections`. */
  stop(closeConnections = false): void {
    if (!this.listener) return;
    const listener = this.listener;
    this.active = false;
    this.listener = undefined;
    // Clients already accepted finish authenticating and live on, unless asked to close.
    if (closeConnections) {
      for (const transport of this.authenticating) transport.destroy();
      this.authenticating.clear();
      for (const c of this.connections) c.close();
    }
    listener.server.close();
    listener.cleanup();
  }
}
