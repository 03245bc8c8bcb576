// A listening D-Bus server in the shape of GLib's GDBusServer: peer-to-peer connections on the
// first address that works, each authenticated before it is handed out.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { escapeAddressValue, formatAddressEntry, parseAddress } from './address.js';
import { type AuthMechanism, authenticateServer, type CookieKeyring } from './auth.js';
import { DBusConnection } from './connection.js';
import { DBusError } from './errors.js';
import type { ExporterOptions } from './export.js';
import { type Listener, listenEntry, Transport } from './transport.js';

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
  /** Time a client has to authenticate. */
  authTimeout?: number;
  writeBufferLimit?: number;
  /** See DEFAULT_MAX_WRITE_QUEUE in connection.ts. */
  maxWriteQueue?: number;
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
 * before any message of that connection is read; 'authFailed' (error) for a client turned away.
 */
export class DBusServer extends EventEmitter {
  readonly guid: string;
  private listener: Listener | undefined;
  private readonly entries;
  private readonly connections = new Set<DBusConnection>();
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
    let transport: Transport;
    try {
      transport = listener.unix ? Transport.forUnixSocket(socket) : new Transport(socket, false);
    } catch (err) {
      socket.destroy();
      if (this.listenerCount('authFailed') > 0) this.emit('authFailed', err);
      return;
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
        writeBufferLimit: this.options.writeBufferLimit,
        maxWriteQueue: this.options.maxWriteQueue,
        exporter: this.options.exporter,
        busDriverName: this.options.emulateBusDriver === false ? undefined : `:1.${++this.peerCount}`,
      });
      this.authenticating.delete(transport);
      this.connections.add(conn);
      conn.once('closed', () => this.connections.delete(conn));
      this.emit('connection', conn);
      // Messages are read only now, so handlers registered by the listeners see the first call.
      conn.start();
    } catch (err) {
      this.authenticating.delete(transport);
      transport.destroy();
      if (this.listenerCount('authFailed') > 0) this.emit('authFailed', err);
    }
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
