// A scripted stand-in for libvirtd on a temporary UNIX socket, for tests of how the client
// copes with a misbehaving peer. It answers the calls of the open sequence (AUTH_LIST,
// CONNECT_SUPPORTS_FEATURE, CONNECT_OPEN) like a daemon with no authentication, and hands
// every other packet to the test's handler.
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Packet, PacketDecoder, PacketStatus, PacketType, encodePacket } from '../../src/libvirt/packet.js';
import { UnixFdSocket } from '../../src/unix/index.js';

export const REMOTE_PROGRAM = 0x20008086;

export interface FakeDaemon {
  socketPath: string;
  uri: string;
  /** Sockets of the clients connected so far. */
  clients: FakePeer[];
  /** Every packet received, the open sequence included. */
  received: Packet[];
  /** Descriptors received (with `fds: true`), in order; the test closes them. */
  receivedFds: number[];
  close(): Promise<void>;
}

/** The daemon's side of one client connection. */
export interface FakePeer {
  write(data: Buffer, fds?: readonly number[]): unknown;
  end(data?: Buffer): unknown;
  destroy(): void;
}

export type Handler = (sock: FakePeer, p: Packet) => void;

/** A REPLY to `p` with status OK and the given payload. */
export function reply(p: Packet, payload?: Buffer, status: number = PacketStatus.OK): Buffer {
  return encodePacket({ ...p, type: PacketType.REPLY, status: status as PacketStatus }, payload);
}

/** An XDR string. */
export function xdrString(s: string): Buffer {
  const b = Buffer.from(s);
  const out = Buffer.alloc(4 + ((b.length + 3) & ~3));
  out.writeUInt32BE(b.length, 0);
  b.copy(out, 4);
  return out;
}

/** Options of a fake daemon. */
export interface FakeOptions {
  /** Whether it claims VIR_DRV_FEATURE_PROGRAM_KEEPALIVE. */
  keepalive?: boolean;
  /** The remote_auth_type list it offers (default: [REMOTE_AUTH_NONE]). */
  authTypes?: number[];
  /** Listen on 127.0.0.1 over TCP, or over TLS with these server options, instead of a UNIX socket. */
  tcp?: boolean;
  tls?: tls.TlsOptions;
  /** Read and write through src/unix's UnixFdSocket, so descriptors can travel both ways. */
  fds?: boolean;
  /** The byte a TLS server sends after the handshake: 1 accepts the client (default), 0 refuses it. */
  tlsVerdict?: number;
}

/** Starts a fake daemon on a temporary UNIX socket (or a TCP / TLS port on 127.0.0.1). */
export async function startFakeDaemon(handler: Handler, opts: FakeOptions = {}): Promise<FakeDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'fake-lvd-'));
  const socketPath = join(dir, 'sock');
  const clients: FakePeer[] = [];
  const received: Packet[] = [];
  const receivedFds: number[] = [];
  const onConnection = (raw: net.Socket) => {
    const fdSock = opts.fds ? UnixFdSocket.from(raw) : undefined;
    const sock: FakePeer = fdSock
      ? { write: (d, f) => fdSock.write(d, f ?? []), end: (d) => fdSock.end(d), destroy: () => fdSock.destroy() }
      : { write: (d) => raw.write(d), end: (d) => (d ? raw.end(d) : raw.end()), destroy: () => raw.destroy() };
    clients.push(sock);
    (fdSock ?? raw).on('error', () => undefined);
    const dec = new PacketDecoder();
    const onData = (chunk: Buffer, fds?: number[]) => {
      if (fds) receivedFds.push(...fds);
      let packets: Packet[];
      try {
        packets = dec.push(chunk);
      } catch {
        sock.destroy();
        return;
      }
      for (const p of packets) {
        received.push(p);
        if (p.program === REMOTE_PROGRAM && p.type === PacketType.CALL) {
          if (p.procedure === 66) {
            // remote_auth_list_ret
            const types = opts.authTypes ?? [0];
            const b = Buffer.alloc(4 + 4 * types.length);
            b.writeUInt32BE(types.length, 0);
            types.forEach((t, i) => {
              b.writeInt32BE(t, 4 + 4 * i);
            });
            sock.write(reply(p, b));
            continue;
          }
          if (p.procedure === 70) {
            // REMOTE_PROC_AUTH_POLKIT: complete = 1
            sock.write(reply(p, Buffer.from([0, 0, 0, 1])));
            continue;
          }
          if (p.procedure === 60) {
            sock.write(reply(p, Buffer.from([0, 0, 0, opts.keepalive ? 1 : 0])));
            continue;
          }
          if (p.procedure === 1 || p.procedure === 2) {
            sock.write(reply(p));
            continue;
          }
        }
        handler(sock, p);
      }
    };
    if (fdSock) fdSock.on('data', onData);
    else raw.on('data', (chunk: Buffer) => onData(chunk));
  };
  let server: net.Server;
  let uri: string;
  if (opts.tls || opts.tcp) {
    // Like libvirtd, a TLS server says with one byte (1) that it accepts the client's certificate.
    const tlsConnection = (sock: tls.TLSSocket) => {
      sock.write(Buffer.from([opts.tlsVerdict ?? 1]));
      if ((opts.tlsVerdict ?? 1) !== 1) {
        sock.end();
        return;
      }
      onConnection(sock);
    };
    server = opts.tls ? tls.createServer(opts.tls, tlsConnection) : net.createServer(onConnection);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    uri = opts.tls ? `test+tls://localhost:${port}/default` : `test+tcp://127.0.0.1:${port}/default`;
  } else {
    server = net.createServer({ pauseOnConnect: opts.fds === true }, onConnection);
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    uri = `test+unix:///default?socket=${socketPath}`;
  }
  return {
    socketPath,
    uri,
    clients,
    received,
    receivedFds,
    async close() {
      for (const c of clients) c.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
