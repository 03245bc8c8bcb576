// Transports (unix, tcp, tls with libvirt's certificate layout) and authentication (none,
// polkit; SASL where it would need a security layer), against a scripted daemon.
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LibvirtConnection } from '../../src/libvirt/connection.js';
import { LibvirtAuthError, LibvirtConnectError, LibvirtError, LibvirtUnsupportedError } from '../../src/libvirt/errors.js';
import { type Packet, PacketStatus, PacketType, encodePacket } from '../../src/libvirt/packet.js';
import { XdrReader } from '../../src/libvirt/xdr.js';
import { makePki } from '../helpers/pki.js';
import { type FakeDaemon, type FakeOptions, type FakePeer, reply, startFakeDaemon, xdrString } from './fake-daemon.js';

let dir: string;
let pki: string;
let otherPki: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rt-pki-'));
  pki = join(dir, 'pki');
  otherPki = join(dir, 'other');
  makePki(pki, 'rt-ca');
  makePki(otherPki, 'other-ca');
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The TLS server side of a PKI folder: its server key and certificate. */
function serverTls(folder: string): { key: Buffer; cert: Buffer } {
  return { key: readFileSync(join(folder, 'server.key')), cert: readFileSync(join(folder, 'server.pem')) };
}

const hostname = (s: FakePeer, p: Packet) => s.write(reply(p, xdrString('over-the-wire')));

async function withFake(opts: FakeOptions, body: (f: FakeDaemon) => Promise<void>): Promise<void> {
  const f = await startFakeDaemon(hostname, opts);
  try {
    await body(f);
  } finally {
    await f.close();
  }
}

/** The name the client sent in REMOTE_PROC_CONNECT_OPEN. */
function openedName(f: FakeDaemon): string | null {
  const p = f.received.find((x) => x.procedure === 1);
  assert.ok(p, 'no CONNECT_OPEN');
  const r = new XdrReader(p.payload);
  return r.readBool() ? r.readString(1 << 22) : null;
}

describe('transports', () => {
  it('tcp: connects to host:port and opens test:///default', async () => {
    await withFake({ tcp: true }, async (f) => {
      const c = await LibvirtConnection.open(f.uri, { keepaliveInterval: 0 });
      assert.equal(c.plan.target.transport, 'tcp');
      assert.deepEqual(await c.connectGetHostname(), { hostname: 'over-the-wire' });
      assert.equal(openedName(f), 'test:///default');
      await c.close();
    });
  });

  it('tls: verifies the server with cacert.pem and presents clientcert.pem (pkipath=)', async () => {
    await withFake(
      { tls: { ...serverTls(pki), ca: readFileSync(join(pki, 'cacert.pem')), requestCert: true, rejectUnauthorized: true } },
      async (f) => {
        const c = await LibvirtConnection.open(`${f.uri}?pkipath=${pki}`, { keepaliveInterval: 0 });
        assert.deepEqual(await c.connectGetHostname(), { hostname: 'over-the-wire' });
        assert.equal(openedName(f), 'test:///default');
        await c.close();
      },
    );
  });

  it('tls: a server certificate from another CA is refused, unless no_verify=1', async () => {
    await withFake({ tls: serverTls(otherPki) }, async (f) => {
      await assert.rejects(LibvirtConnection.open(`${f.uri}?pkipath=${pki}`, { keepaliveInterval: 0 }), LibvirtConnectError);
      const c = await LibvirtConnection.open(`${f.uri}?pkipath=${pki}&no_verify=1`, { keepaliveInterval: 0 });
      assert.deepEqual(await c.connectGetHostname(), { hostname: 'over-the-wire' });
      await c.close();
    });
  });

  it("tls: a server that refuses our certificate after the handshake (libvirt's verification byte 0)", async () => {
    await withFake(
      { tls: { ...serverTls(pki), ca: readFileSync(join(pki, 'cacert.pem')), requestCert: true }, tlsVerdict: 0 },
      async (f) => {
        await assert.rejects(LibvirtConnection.open(`${f.uri}?pkipath=${pki}`, { keepaliveInterval: 0 }), (e: unknown) => {
          assert.ok(e instanceof LibvirtConnectError);
          assert.match(e.message, /server verification/);
          return true;
        });
      },
    );
  });

  it('tls: missing certificate files give LibvirtConnectError naming ENOENT', async () => {
    await assert.rejects(
      LibvirtConnection.open(`test+tls://localhost:1/default?pkipath=${join(dir, 'nowhere')}`),
      (e: unknown) => e instanceof LibvirtConnectError && e.errno === 'ENOENT',
    );
  });

  it('a peer that accepts and never answers: open() gives up after openTimeout', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const c = new LibvirtConnection(`test+tcp://127.0.0.1:${port}/default`, { openTimeout: 300 });
      const started = Date.now();
      await assert.rejects(c.open(), (e: unknown) => {
        assert.ok(e instanceof LibvirtError, String(e));
        assert.match(e.message, /handshake within 0.3 s/);
        return true;
      });
      assert.ok(Date.now() - started < 5000);
      assert.equal(c.isOpen, false);
    } finally {
      silent.close();
    }
  });

  it("ssh to a host that cannot be resolved: open fails with ssh's own words", async () => {
    await assert.rejects(LibvirtConnection.open('qemu+ssh://root@no-such-host.invalid/system?no_tty=1'), (e: unknown) => {
      assert.ok(e instanceof LibvirtError, String(e));
      assert.match(e.message, /no-such-host\.invalid/);
      return true;
    });
  });
});

describe('authentication', () => {
  it('polkit: calls REMOTE_PROC_AUTH_POLKIT and opens', async () => {
    await withFake({ authTypes: [2] }, async (f) => {
      const c = await LibvirtConnection.open(f.uri, { keepaliveInterval: 0 });
      assert.ok(f.received.some((p) => p.procedure === 70));
      assert.deepEqual(await c.connectGetHostname(), { hostname: 'over-the-wire' });
      await c.close();
    });
  });

  it('SASL over plain TCP (no security layer here): LibvirtUnsupportedError naming sasl, before any SASL call', async () => {
    await withFake({ authTypes: [1], tcp: true }, async (f) => {
      const c = new LibvirtConnection(f.uri, { keepaliveInterval: 0 });
      await assert.rejects(c.open(), (e: unknown) => e instanceof LibvirtUnsupportedError && e.feature === 'sasl');
      assert.equal(c.isOpen, false);
      assert.ok(!f.received.some((p) => p.procedure === 67), 'AUTH_SASL_INIT must not be sent');
      assert.ok(!f.received.some((p) => p.procedure === 1), 'CONNECT_OPEN must not be sent');
    });
  });

  it('auth= asks for a type the daemon does not offer: LibvirtAuthError VIR_ERR_AUTH_UNAVAILABLE', async () => {
    await withFake({ authTypes: [0] }, async (f) => {
      await assert.rejects(LibvirtConnection.open(`${f.uri}&auth=polkit`, { keepaliveInterval: 0 }), (e: unknown) => {
        assert.ok(e instanceof LibvirtAuthError);
        assert.equal(e.codeName, 'VIR_ERR_AUTH_UNAVAILABLE');
        return true;
      });
    });
  });

  it('auth=sasl picks SASL even when none is offered first (refused here: plain TCP)', async () => {
    await withFake({ authTypes: [0, 1], tcp: true }, async (f) => {
      await assert.rejects(
        LibvirtConnection.open(`${f.uri}?auth=sasl`, { keepaliveInterval: 0 }),
        (e: unknown) => e instanceof LibvirtUnsupportedError && e.feature === 'sasl',
      );
    });
  });
});

describe('streams', () => {
  it('stream data that overtakes the reply of the call that opened the stream is kept', async () => {
    // libvirtd's event loop may send a download's first data before its worker sends the reply.
    const f = await startFakeDaemon((s, p) => {
      if (p.procedure !== 209) return; // REMOTE_PROC_STORAGE_VOL_DOWNLOAD
      const data = (status: PacketStatus, payload?: Buffer) => encodePacket({ ...p, type: PacketType.STREAM, status }, payload);
      s.write(
        Buffer.concat([
          data(PacketStatus.CONTINUE, Buffer.from('early ')),
          reply(p),
          data(PacketStatus.CONTINUE, Buffer.from('late')),
          data(PacketStatus.OK),
        ]),
      );
    });
    try {
      const c = await LibvirtConnection.open(f.uri, { keepaliveInterval: 0 });
      const vol = { pool: 'p', name: 'v', key: 'k' };
      const { stream } = await c.withStream(() => c.storageVolDownload({ vol, offset: 0n, length: 0n, flags: 0 }));
      assert.equal((await stream.readAll()).toString(), 'early late');
      assert.ok(c.isOpen);
      await c.close();
    } finally {
      await f.close();
    }
  });
});

describe('file descriptor passing', () => {
  const dom = { name: 'vm', uuid: Buffer.alloc(16, 1), id: 1 };

  /** A daemon whose DOMAIN_OPEN_GRAPHICS_FD (343) replies with an fd of a file holding `text`. */
  async function graphicsFdDaemon(text: string): Promise<FakeDaemon> {
    const file = join(dir, `fd-${text}`);
    writeFileSync(file, text);
    return startFakeDaemon(
      (s, p) => {
        if (p.procedure === 343) {
          const fd = openSync(file, 'r');
          s.write(encodePacket({ ...p, type: PacketType.REPLY_WITH_FDS, status: 0 }, undefined, 1));
          s.write(Buffer.from([0]), [fd]);
          closeSync(fd);
        } else {
          s.write(reply(p, xdrString('after-fds')));
        }
      },
      { fds: true },
    );
  }

  it('REPLY_WITH_FDS: withFds returns the descriptor the daemon sent', async () => {
    const f = await graphicsFdDaemon('graphics!');
    try {
      const c = await LibvirtConnection.open(f.uri, { keepaliveInterval: 0, fdPassing: true });
      assert.equal(c.canPassFds, true);
      const { fds } = await c.withFds([], () => c.domainOpenGraphicsFd({ dom, idx: 0, flags: 0 }));
      assert.equal(fds.length, 1);
      const buf = Buffer.alloc(9);
      readSync(fds[0], buf, 0, 9, 0);
      closeSync(fds[0]);
      assert.equal(buf.toString(), 'graphics!');
      assert.deepEqual(await c.connectGetHostname(), { hostname: 'after-fds' });
      await c.close();
    } finally {
      await f.close();
    }
  });

  it('CALL_WITH_FDS: the descriptors reach the daemon after the packet', async () => {
    const f = await startFakeDaemon((s, p) => s.write(reply(p, Buffer.from([0, 0, 0, 0]))), { fds: true });
    const file = join(dir, 'sent');
    writeFileSync(file, 'sent-by-client');
    const fd = openSync(file, 'r');
    try {
      const c = await LibvirtConnection.open(f.uri, { keepaliveInterval: 0, fdPassing: true });
      // REMOTE_PROC_DOMAIN_CREATE_WITH_FILES: the fake answers a 4-byte ret, enough for a decode to fail or pass.
      await c.withFds([fd], () => c.domainCreateWithFiles({ dom, flags: 0 })).catch(() => undefined);
      const call = f.received.find((p) => p.procedure === 310);
      assert.ok(call);
      assert.equal(call.type, PacketType.CALL_WITH_FDS);
      assert.equal(call.fdCount, 1);
      assert.equal(f.receivedFds.length, 1);
      const buf = Buffer.alloc(14);
      readSync(f.receivedFds[0], buf, 0, 14, 0);
      assert.equal(buf.toString(), 'sent-by-client');
      for (const x of f.receivedFds) closeSync(x);
      await c.close();
    } finally {
      closeSync(fd);
      await f.close();
    }
  });

  it('without fd passing, such calls fail with a typed error and the connection stays usable', async () => {
    const f = await graphicsFdDaemon('lost');
    try {
      const c = await LibvirtConnection.open(f.uri, { keepaliveInterval: 0, fdPassing: false });
      assert.equal(c.canPassFds, false);
      await assert.rejects(
        c.withFds([0], () => c.domainCreateWithFiles({ dom, flags: 0 })),
        (e: unknown) => e instanceof LibvirtUnsupportedError && e.feature === 'fd-passing',
      );
      await assert.rejects(
        c.domainOpenGraphicsFd({ dom, idx: 0, flags: 0 }),
        (e: unknown) => e instanceof LibvirtUnsupportedError && e.feature === 'fd-passing',
      );
      assert.deepEqual(await c.connectGetHostname(), { hostname: 'after-fds' });
      await c.close();
    } finally {
      await f.close();
    }
  });

  it('fdPassing: true over tcp is refused with a typed error', async () => {
    await withFake({ tcp: true }, async (f) => {
      await assert.rejects(
        LibvirtConnection.open(f.uri, { fdPassing: true }),
        (e: unknown) => e instanceof LibvirtUnsupportedError && e.feature === 'fd-passing',
      );
    });
  });
});
