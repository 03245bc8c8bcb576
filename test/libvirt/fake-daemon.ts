// A scripted stand-in for libvirtd on a temporary UNIX socket, for tests of how the client
// copes with a misbehaving peer. It answers the calls of the open sequence (AUTH_LIST,
// CONNECT_SUPPORTS_FEATURE, CONNECT_OPEN) like a daemon with no authentication, and hands
// every other packet to the test's handler.
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Packet, PacketDecoder, PacketStatus, PacketType, encodePacket } from '../../src/libvirt/packet.js';

export const REMOTE_PROGRAM = 0x20008086;
export const PROC_CONNECT_GET_HOSTNAME = 59;

export interface FakeDaemon {
  socketPath: string;
  uri: string;
  /** Sockets of the clients connected so far. */
  clients: net.Socket[];
  /** Every packet received after the open sequence. */
  received: Packet[];
  close(): Promise<void>;
}

export type Handler = (sock: net.Socket, p: Packet) => void;

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

/** Starts a fake daemon; `keepalive` says whether it claims VIR_DRV_FEATURE_PROGRAM_KEEPALIVE. */
export async function startFakeDaemon(handler: Handler, opts: { keepalive?: boolean } = {}): Promise<FakeDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'fake-lvd-'));
  const socketPath = join(dir, 'sock');
  const clients: net.Socket[] = [];
  const received: Packet[] = [];
  const server = net.createServer((sock) => {
    clients.push(sock);
    sock.on('error', () => undefined);
    const dec = new PacketDecoder();
    sock.on('data', (chunk) => {
      let packets: Packet[];
      try {
        packets = dec.push(chunk);
      } catch {
        sock.destroy();
        return;
      }
      for (const p of packets) {
        if (p.program === REMOTE_PROGRAM && p.type === PacketType.CALL) {
          if (p.procedure === 66) {
            // remote_auth_list_ret: one type, REMOTE_AUTH_NONE
            sock.write(reply(p, Buffer.from([0, 0, 0, 1, 0, 0, 0, 0])));
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
        received.push(p);
        handler(sock, p);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    socketPath,
    uri: `test+unix:///default?socket=${socketPath}`,
    clients,
    received,
    async close() {
      for (const c of clients) c.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
