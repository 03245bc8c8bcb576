// Byte transports under a D-Bus connection: UNIX sockets (path or abstract) and TCP (plain or
// nonce-tcp), for connecting and for listening. A Transport hands received bytes (and file
// descriptors, where the native module passes them) to whoever reads it: first the SASL exchange,
// then the connection.

import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { abstractSocket, getPeerCredentials, isUnixFdSupported, type PeerCredentials, UnixFdSocket } from '../unix/index.js';
import { type AddressEntry, DBusAddressError, expandHome, formatAddressEntry, parseAddress } from './address.js';
import { DBusError, StandardErrors } from './errors.js';

export type { PeerCredentials } from '../unix/index.js';

/** Receivers of what a transport reads; replaced when the connection takes over from authentication. */
export interface TransportHandlers {
  data(chunk: Buffer, fds: number[] | undefined): void;
  drain(): void;
  /** The transport is gone; `error` when it broke rather than ended. */
  close(error?: Error): void;
}

/** True when this process can pass file descriptors and read peer credentials (src/unix addon present). */
export function unixFdSupported(): boolean {
  return isUnixFdSupported();
}

/** The byte streams a Transport can run on. */
export type TransportStream = Socket | UnixFdSocket | Duplex;

/**
 * A stream carrying D-Bus, with file-descriptor passing when it is a UnixFdSocket. Writes made in
 * one turn of the event loop leave in one system call.
 */
export class Transport {
  private handlers: TransportHandlers | null = null;
  private queued: Array<[Buffer, number[] | undefined]> = [];
  private closeError: Error | undefined;
  private ended = false;
  private readonly fdSocket: UnixFdSocket | null;
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private flushScheduled = false;
  /** True once the transport has closed. */
  closed = false;

  constructor(
    readonly stream: TransportStream,
    /** True for AF_UNIX sockets (credentials are readable, fds passable with the addon). */
    readonly unix: boolean,
  ) {
    this.fdSocket = stream instanceof UnixFdSocket ? stream : null;
    if (stream instanceof Socket) stream.setNoDelay?.(true);
    const s = stream as EventEmitter;
    s.on('data', (chunk: Buffer, fds?: number[]) => this.deliver(chunk, fds && fds.length > 0 ? fds : undefined));
    s.on('drain', () => this.handlers?.drain());
    s.on('error', (err: Error) => {
      this.closeError ??= err;
    });
    s.on('close', () => {
      this.closed = true;
      this.ended = true;
      this.handlers?.close(this.closeError);
    });
  }

  /** Takes over a connected unix net.Socket with fd passing when the addon is there. */
  static forUnixSocket(socket: Socket, wantFds = true): Transport {
    if (wantFds && isUnixFdSupported()) return new Transport(UnixFdSocket.from(socket), true);
    return new Transport(socket, true);
  }

  /** True when SCM_RIGHTS passing works on this transport. */
  get canPassFds(): boolean {
    return this.fdSocket !== null;
  }

  /** Bytes accepted by write() but not yet handed to the kernel. */
  get writableLength(): number {
    return this.batchBytes + (this.stream as { writableLength: number }).writableLength;
  }

  /** Installs the reader; data that arrived while nobody read is handed over first. */
  setHandlers(handlers: TransportHandlers | null): void {
    this.handlers = handlers;
    if (!handlers) return;
    while (this.queued.length > 0 && this.handlers === handlers) {
      const [chunk, fds] = this.queued.shift() as [Buffer, number[] | undefined];
      handlers.data(chunk, fds);
    }
    if (this.closed && this.handlers === handlers) handlers.close(this.closeError);
  }

  /** Gives bytes back to be read again by the next reader (what authentication read past its end). */
  unshift(chunk: Buffer, fds?: number[]): void {
    if (chunk.length > 0 || fds?.length) this.queued.unshift([chunk, fds]);
  }

  private deliver(chunk: Buffer, fds: number[] | undefined): void {
    if (this.handlers && this.queued.length === 0) this.handlers.data(chunk, fds);
    else this.queued.push([chunk, fds]);
  }

  /** Queues bytes (with descriptors, which travel with their first byte); false when over the stream's mark. */
  write(data: Buffer, fds?: readonly number[]): boolean {
    if (this.ended) return false;
    if (fds && fds.length > 0) {
      if (!this.fdSocket) {
        throw new DBusError(StandardErrors.NotSupported, 'this transport cannot pass file descriptors');
      }
      this.flushBatch();
      return this.fdSocket.write(data, fds);
    }
    this.batch.push(data);
    this.batchBytes += data.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // After the I/O callbacks of this turn of the event loop: the replies that libvirt's answers
      // completed in one turn leave in one write (one system call and one wake-up of the peer).
      setImmediate(() => this.flushBatch());
    }
    return true;
  }

  /** Hands the batched writes to the stream now. */
  flushBatch(): void {
    this.flushScheduled = false;
    const n = this.batch.length;
    if (n === 0 || this.ended) return;
    const data = n === 1 ? (this.batch[0] as Buffer) : Buffer.concat(this.batch, this.batchBytes);
    this.batch = [];
    this.batchBytes = 0;
    // Tell the reader there is room again (the stream emits 'drain' only after a refused write).
    // The stream may have ended since the bytes were queued (the peer hung up): they are moot then.
    let room: boolean;
    try {
      room = (this.stream as { write(b: Buffer): boolean }).write(data);
    } catch (err) {
      this.closeError ??= err as Error;
      return;
    }
    if (room) this.handlers?.drain();
  }

  pause(): void {
    (this.stream as { pause(): unknown }).pause();
  }

  resume(): void {
    (this.stream as { resume(): unknown }).resume();
  }

  /** Credentials of the process at the other end (SO_PEERCRED), when the native module is there. */
  peerCredentials(): PeerCredentials | undefined {
    if (!this.unix || !isUnixFdSupported()) return undefined;
    try {
      return this.fdSocket ? this.fdSocket.getPeerCredentials() : getPeerCredentials(this.stream as Socket);
    } catch {
      return undefined;
    }
  }

  /** Ends after the queued bytes were written. */
  end(): void {
    if (this.ended) return;
    this.flushBatch();
    this.ended = true;
    (this.stream as { end(): unknown }).end();
  }

  /** Closes at once. */
  destroy(error?: Error): void {
    this.ended = true;
    this.batch = [];
    this.batchBytes = 0;
    if (error) this.closeError ??= error;
    (this.stream as { destroy(): unknown }).destroy();
  }
}

function connectSocket(options: net.NetConnectOpts): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(options);
    const onError = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

function tcpOptions(entry: AddressEntry): net.TcpNetConnectOpts {
  const port = Number(entry.params.get('port') ?? '');
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new DBusAddressError(`${entry.transport} address needs a port`);
  }
  const family = entry.params.get('family');
  return {
    host: entry.params.get('host') ?? 'localhost',
    port,
    family: family === 'ipv6' ? 6 : family === 'ipv4' ? 4 : 0,
  };
}

/** Opens one address entry (client side). */
async function connectEntry(entry: AddressEntry, wantFds = true): Promise<Transport> {
  const p = entry.params;
  switch (entry.transport) {
    case 'unix': {
      const path = p.get('path');
      const abstract = p.get('abstract');
      if ((path === undefined) === (abstract === undefined)) {
        throw new DBusAddressError('a unix address to connect to needs exactly one of path= or abstract=');
      }
      const socket =
        path !== undefined
          ? await connectSocket({ path })
          : isUnixFdSupported()
            ? new net.Socket({ fd: abstractSocket(abstract as string, 'connect'), readable: true, writable: true })
            : // Without the addon Node pads the name: only peers that do the same are reached.
              await connectSocket({ path: `\0${abstract}` });
      return Transport.forUnixSocket(socket, wantFds);
    }
    case 'tcp':
      return new Transport(await connectSocket(tcpOptions(entry)), false);
    case 'nonce-tcp': {
      const file = p.get('noncefile');
      if (!file) throw new DBusAddressError('nonce-tcp address needs noncefile=');
      const nonce = readFileSync(expandHome(file));
      if (nonce.length !== 16) throw new DBusAddressError(`nonce file ${file} does not hold 16 bytes`);
      const socket = await connectSocket(tcpOptions(entry));
      socket.write(nonce);
      return new Transport(socket, false);
    }
    default:
      throw new DBusAddressError(`unsupported transport "${entry.transport}"`);
  }
}

/** Opens the first entry of an address list that can be connected; the entry comes back for its guid. */
export async function connectAddress(address: string, wantFds = true): Promise<{ transport: Transport; entry: AddressEntry }> {
  const failures: string[] = [];
  for (const entry of parseAddress(address)) {
    try {
      return { transport: await connectEntry(entry, wantFds), entry };
    } catch (err) {
      failures.push(`${formatAddressEntry(entry)}: ${(err as Error).message}`);
    }
  }
  throw new DBusError('org.freedesktop.DBus.Error.NoServer', `could not connect to ${address} (${failures.join('; ')})`);
}

/** A listening socket with the address clients use to reach it. */
export interface Listener {
  server: net.Server;
  /** The address clients connect to (without guid). */
  clientEntry: AddressEntry;
  unix: boolean;
  /** 16 bytes a nonce-tcp client must send first. */
  nonce?: Buffer;
  /** Removes what listening created (socket file, nonce file). */
  cleanup(): void;
}

function listen(server: net.Server, options: net.ListenOptions | { fd: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    // Node documents listen({ fd }) for a listening socket it did not open, but its types omit it.
    server.listen(options as net.ListenOptions, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Starts listening on one address entry (server side). */
export async function listenEntry(entry: AddressEntry): Promise<Listener> {
  const p = entry.params;
  const server = net.createServer({ pauseOnConnect: true });
  switch (entry.transport) {
    case 'unix': {
      let path = p.get('path');
      const abstract = p.get('abstract');
      const dir = p.get('dir') ?? p.get('tmpdir');
      if (p.get('runtime') === 'yes') {
        const runtime = process.env.XDG_RUNTIME_DIR;
        if (!runtime) throw new DBusAddressError('unix:runtime=yes needs XDG_RUNTIME_DIR');
        path = join(runtime, 'bus');
      } else if (dir !== undefined) {
        path = join(dir, `dbus-${randomBytes(8).toString('hex')}`);
      }
      if (abstract !== undefined) {
        // With the addon, named with the exact length so other programs can connect (see abstractSocket).
        await listen(server, isUnixFdSupported() ? { fd: abstractSocket(abstract, 'listen') } : { path: `\0${abstract}` });
        return {
          server,
          unix: true,
          clientEntry: { transport: 'unix', params: new Map([['abstract', abstract]]) },
          cleanup() {},
        };
      }
      if (path === undefined) throw new DBusAddressError('unix address needs path=, abstract=, dir=, tmpdir= or runtime=yes');
      await listen(server, { path });
      const socketPath = path;
      return {
        server,
        unix: true,
        clientEntry: { transport: 'unix', params: new Map([['path', socketPath]]) },
        cleanup() {
          rmSync(socketPath, { force: true });
        },
      };
    }
    case 'tcp':
    case 'nonce-tcp': {
      const host = p.get('host') ?? 'localhost';
      const family = p.get('family');
      const port = Number(p.get('port') ?? '0');
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new DBusAddressError('bad tcp port');
      await listen(server, { host: p.get('bind') ?? host, port, ipv6Only: family === 'ipv6' });
      const bound = server.address() as net.AddressInfo;
      const params = new Map([
        ['host', host],
        ['port', String(bound.port)],
      ]);
      if (family) params.set('family', family);
      if (entry.transport === 'tcp') {
        return { server, unix: false, clientEntry: { transport: 'tcp', params }, cleanup() {} };
      }
      const nonce = randomBytes(16);
      const nonceDir = mkdtempSync(join(tmpdir(), 'dbus-nonce-'));
      const nonceFile = join(nonceDir, 'nonce');
      writeFileSync(nonceFile, nonce, { mode: 0o600 });
      chmodSync(nonceDir, 0o700);
      params.set('noncefile', nonceFile);
      return {
        server,
        unix: false,
        nonce,
        clientEntry: { transport: 'nonce-tcp', params },
        cleanup() {
          rmSync(nonceDir, { recursive: true, force: true });
        },
      };
    }
    default:
      throw new DBusAddressError(`unsupported transport "${entry.transport}" for listening`);
  }
}
