// A fake daemon sends garbage, truncated and oversize packets, unexpected replies and silence:
// the client answers with typed errors and a `closed` event, never a crash or a hang.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import fc from 'fast-check';
import { LibvirtConnection } from '../../src/libvirt/connection.js';
import {
  LibvirtConnectError,
  LibvirtConnectionClosedError,
  LibvirtError,
  LibvirtMessageSizeError,
  LibvirtProtocolError,
} from '../../src/libvirt/errors.js';
import { KEEPALIVE_PROGRAM } from '../../src/libvirt/keepalive.js';
import { type Packet, PacketStatus, PacketType, encodePacket } from '../../src/libvirt/packet.js';
import { type FakeDaemon, type FakePeer, type Handler, reply, startFakeDaemon, xdrString } from './fake-daemon.js';

let daemon: FakeDaemon | undefined;
let conn: LibvirtConnection | undefined;
afterEach(async () => {
  await conn?.close();
  conn = undefined;
  await daemon?.close();
  daemon = undefined;
});

async function setup(handler: Handler, opts: { keepalive?: boolean; keepaliveInterval?: number } = {}) {
  daemon = await startFakeDaemon(handler, opts);
  conn = await LibvirtConnection.open(daemon.uri, {
    keepaliveInterval: opts.keepaliveInterval ?? 0,
    keepaliveCount: 2,
  });
  const closed = new Promise<{ reason: string; error?: Error }>((resolve) => conn!.once('closed', resolve));
  return { conn, closed };
}

/** Fails instead of hanging when a promise does not settle in time. */
function settles<T>(p: Promise<T>, ms = 5000): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms).unref()),
  ]);
}

function hostnameReply(p: Packet, name: string) {
  return reply(p, xdrString(name));
}

describe('misbehaving daemon', () => {
  it('a well-behaved fake answers (sanity check of the harness)', async () => {
    const { conn } = await setup((s, p) => s.write(hostnameReply(p, 'fake-host')));
    assert.deepEqual(await conn.connectGetHostname(), { hostname: 'fake-host' });
  });

  it('garbage closes the connection with reason protocol and rejects the pending call', async () => {
    const { conn, closed } = await setup((s) => s.write(Buffer.from('this is not libvirt RPC, not at all!!')));
    await assert.rejects(settles(conn.connectGetHostname()), (e: unknown) => {
      assert.ok(e instanceof LibvirtConnectionClosedError);
      assert.equal(e.reason, 'protocol');
      return true;
    });
    const ev = await settles(closed);
    assert.equal(ev.reason, 'protocol');
    assert.ok(ev.error instanceof LibvirtError);
  });

  it('an oversize length word gives LibvirtMessageSizeError as the close error', async () => {
    const { conn, closed } = await setup((s) => {
      const b = Buffer.alloc(8);
      b.writeUInt32BE(0x7fffffff, 0);
      s.write(b);
    });
    await assert.rejects(settles(conn.connectGetHostname()), LibvirtConnectionClosedError);
    const ev = await settles(closed);
    assert.equal(ev.reason, 'protocol');
    assert.ok(ev.error instanceof LibvirtMessageSizeError);
  });

  it('a truncated packet followed by EOF rejects with reason eof', async () => {
    const { conn, closed } = await setup((s, p) => {
      const full = hostnameReply(p, 'truncated-host');
      s.end(full.subarray(0, full.length - 5));
    });
    await assert.rejects(
      settles(conn.connectGetHostname()),
      (e: unknown) => e instanceof LibvirtConnectionClosedError && e.reason === 'eof',
    );
    assert.equal((await settles(closed)).reason, 'eof');
  });

  it('a reply for a serial nobody waits for is a protocol error', async () => {
    const { conn, closed } = await setup((s, p) => s.write(hostnameReply({ ...p, serial: p.serial + 1000 }, 'x')));
    await assert.rejects(settles(conn.connectGetHostname()), LibvirtConnectionClosedError);
    assert.equal((await settles(closed)).reason, 'protocol');
  });

  it('a reply for another procedure is a protocol error', async () => {
    const { conn, closed } = await setup((s, p) => s.write(hostnameReply({ ...p, procedure: 3 }, 'x')));
    await assert.rejects(settles(conn.connectGetHostname()), LibvirtConnectionClosedError);
    assert.equal((await settles(closed)).reason, 'protocol');
  });

  it('a reply payload that does not decode: that call gets LibvirtProtocolError, the others are rejected, the connection fails', async () => {
    const held: Packet[] = [];
    const { conn, closed } = await setup((s, p) => {
      held.push(p);
      // Two calls in flight; the first gets a string said to be 4 GiB long.
      if (held.length === 2) s.write(reply(held[0]!, Buffer.from([0xff, 0xff, 0xff, 0xff])));
    });
    const first = settles(conn.connectGetHostname());
    const second = settles(conn.connectGetHostname());
    await assert.rejects(first, (e: unknown) => e instanceof LibvirtProtocolError && !(e instanceof LibvirtConnectionClosedError));
    await assert.rejects(second, (e: unknown) => e instanceof LibvirtConnectionClosedError && e.reason === 'protocol');
    const ev = await settles(closed);
    assert.equal(ev.reason, 'protocol');
    assert.ok(ev.error instanceof LibvirtProtocolError);
    assert.equal(conn.isOpen, false);
    await assert.rejects(settles(conn.connectGetHostname(), 100), LibvirtConnectionClosedError);
  });

  it('a reply payload cut short fails the connection with LibvirtProtocolError', async () => {
    const { conn, closed } = await setup((s, p) => s.write(reply(p, xdrString('complete-name').subarray(0, 6))));
    await assert.rejects(settles(conn.connectGetHostname()), LibvirtProtocolError);
    assert.ok((await settles(closed)).error instanceof LibvirtProtocolError);
  });

  it('an error reply with a broken remote_error rejects with a protocol error and fails the connection', async () => {
    const { conn, closed } = await setup((s, p) => s.write(reply(p, Buffer.from([0, 0, 0, 42]), PacketStatus.ERROR)));
    await assert.rejects(settles(conn.connectGetHostname()), LibvirtProtocolError);
    assert.equal((await settles(closed)).reason, 'protocol');
  });

  it('a hostile daemon costs one connection: a fresh one to a sane daemon works in the same process', async () => {
    const { conn, closed } = await setup((s) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(0xffffffff, 0); // a 4 GiB packet, far over VIR_NET_MESSAGE_MAX
      s.write(b);
    });
    await assert.rejects(settles(conn.connectGetHostname()), LibvirtConnectionClosedError);
    assert.ok((await settles(closed)).error instanceof LibvirtMessageSizeError);
    await conn.close();
    await daemon?.close();
    const sane = await setup((s, p) => s.write(hostnameReply(p, 'sane')));
    assert.deepEqual(await settles(sane.conn.connectGetHostname()), { hostname: 'sane' });
  });

  it('a CALL from the daemon is a protocol error', async () => {
    const { conn, closed } = await setup((s, p) => s.write(encodePacket({ ...p, type: PacketType.CALL })));
    await assert.rejects(settles(conn.connectGetHostname()), LibvirtConnectionClosedError);
    assert.equal((await settles(closed)).reason, 'protocol');
  });

  it('events of unknown programs and procedures are ignored', async () => {
    const { conn } = await setup((s, p) => {
      s.write(encodePacket({ program: 0x1234, version: 1, procedure: 1, type: PacketType.MESSAGE, serial: 0, status: 0 }));
      s.write(encodePacket({ ...p, procedure: 99999, type: PacketType.MESSAGE, serial: 0, status: 0 }, Buffer.from([1, 2, 3, 4])));
      s.write(hostnameReply(p, 'still-here'));
    });
    assert.deepEqual(await settles(conn.connectGetHostname()), { hostname: 'still-here' });
  });

  it('random bytes then EOF always settle the pending call with a typed error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), async (bytes) => {
        const { conn, closed } = await setup((s) => s.end(Buffer.from(bytes)));
        await assert.rejects(settles(conn.connectGetHostname()), LibvirtError);
        const ev = await settles(closed);
        assert.ok(ev.reason === 'protocol' || ev.reason === 'eof');
        await conn.close();
        await daemon?.close();
        daemon = undefined;
      }),
      { numRuns: 25 },
    );
  });

  it('calls after the daemon vanished are rejected at once', async () => {
    const { conn, closed } = await setup((s) => s.destroy());
    await assert.rejects(settles(conn.connectGetHostname()), LibvirtConnectionClosedError);
    await settles(closed);
    await assert.rejects(settles(conn.connectGetHostname(), 100), LibvirtConnectionClosedError);
  });
});

describe('keepalive', () => {
  it('answers the daemon’s PING with PONG', async () => {
    let sock: FakePeer | undefined;
    const { conn } = await setup((s, p) => {
      sock = s;
      s.write(encodePacket({ program: KEEPALIVE_PROGRAM, version: 1, procedure: 1, type: PacketType.MESSAGE, serial: 0, status: 0 }));
      s.write(hostnameReply(p, 'h'));
    });
    await conn.connectGetHostname();
    for (let i = 0; i < 100 && !daemon!.received.some((p) => p.program === KEEPALIVE_PROGRAM); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const pong = daemon!.received.find((p) => p.program === KEEPALIVE_PROGRAM);
    assert.ok(sock && pong, 'no PONG received');
    assert.equal(pong.procedure, 2);
    assert.equal(pong.type, PacketType.MESSAGE);
  });

  it('declares a silent daemon dead and rejects pending calls (reason keepalive)', async () => {
    const { conn, closed } = await setup(() => undefined, { keepalive: true, keepaliveInterval: 50 });
    const call = conn.connectGetHostname();
    await assert.rejects(settles(call), (e: unknown) => e instanceof LibvirtConnectionClosedError && e.reason === 'keepalive');
    assert.equal((await settles(closed)).reason, 'keepalive');
    assert.ok(daemon!.received.filter((p) => p.program === KEEPALIVE_PROGRAM && p.procedure === 1).length >= 2);
  });

  it('does not ping a daemon that lacks the keepalive feature', async () => {
    await setup((s, p) => s.write(hostnameReply(p, 'h')), { keepalive: false, keepaliveInterval: 20 });
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(daemon!.received.filter((p) => p.program === KEEPALIVE_PROGRAM).length, 0);
    assert.ok(conn!.isOpen);
  });
});

describe('opening', () => {
  it('a missing socket gives LibvirtConnectError with ENOENT', async () => {
    await assert.rejects(
      LibvirtConnection.open('test+unix:///default?socket=/nonexistent/libvirt-sock'),
      (e: unknown) => e instanceof LibvirtConnectError && e.errno === 'ENOENT',
    );
  });

  it('a daemon that hangs up during open rejects open() with a typed error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hangup-'));
    const path = join(dir, 'sock');
    const srv = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => srv.listen(path, r));
    try {
      await assert.rejects(settles(LibvirtConnection.open(`test+unix:///default?socket=${path}`)), LibvirtConnectionClosedError);
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
