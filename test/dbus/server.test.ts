import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAddress } from '../../src/dbus/address.js';
import { DBusConnection } from '../../src/dbus/connection.js';
import { DBusAuthError } from '../../src/dbus/errors.js';
import type { InterfaceDeclaration } from '../../src/dbus/interface.js';
import { DBusServer } from '../../src/dbus/server.js';
import { unixFdSupported } from '../../src/dbus/transport.js';
import { run } from '../helpers/run.js';

const CALC: InterfaceDeclaration = {
  name: 'org.example.Calc',
  methods: [
    {
      name: 'Add',
      in: [
        { name: 'a', signature: 'i' },
        { name: 'b', signature: 'i' },
      ],
      out: [{ name: 'sum', signature: 'i' }],
    },
    { name: 'WhoAmI', in: [], out: [{ name: 'uid', signature: 'u' }] },
  ],
  signals: [],
  properties: [],
};

/** A server whose every connection exports CALC at /calc, recording peers. */
async function calcServer(address: string, options: ConstructorParameters<typeof DBusServer>[1] = {}) {
  const server = new DBusServer(address, options);
  const peers: DBusConnection[] = [];
  const failures: unknown[] = [];
  server.on('authFailed', (e) => failures.push(e));
  server.on('connection', (conn: DBusConnection) => {
    peers.push(conn);
    conn.registerObject('/calc', CALC, {
      methods: {
        Add: ([a, b]) => [(a as number) + (b as number)],
        WhoAmI: () => [conn.peerCredentials?.uid ?? conn.peerUid ?? 0xffffffff],
      },
    });
  });
  await server.start();
  return { server, peers, failures };
}

describe('DBusServer', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'server-'));
    chmodSync(dir, 0o755);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('listens on the first address that works and gives a client address with its guid', async () => {
    const { server } = await calcServer(`unix:path=/nonexistent/dir/sock;unix:dir=${dir}`, {
      guid: '0123456789abcdef0123456789abcdef',
    });
    try {
      assert.equal(server.guid, '0123456789abcdef0123456789abcdef');
      const [entry] = parseAddress(server.clientAddress);
      assert.equal(entry?.transport, 'unix');
      assert.ok(entry?.params.get('path')?.startsWith(`${dir}/`));
      assert.equal(entry?.params.get('guid'), server.guid);
      const c = await DBusConnection.connect(server.clientAddress);
      assert.equal(c.guid, server.guid);
      c.close();
      // A client insisting on another guid refuses the server.
      const wrong = server.clientAddress.replace(/guid=[0-9a-f]+/, `guid=${'f'.repeat(32)}`);
      await assert.rejects(DBusConnection.connect(wrong), DBusAuthError);
    } finally {
      server.stop(true);
    }
  });

  it("emits 'connection' before the peer's first message is read (calls sent right after BEGIN are served)", async () => {
    const { server } = await calcServer(`unix:dir=${dir}`);
    try {
      const c = await DBusConnection.connect(server.clientAddress);
      // No waiting: the call leaves together with BEGIN's aftermath; the object is registered in 'connection'.
      assert.deepEqual(await c.call({ path: '/calc', interface: 'org.example.Calc', member: 'Add', signature: 'ii', body: [2, 3] }), [5]);
      c.close();
    } finally {
      server.stop(true);
    }
  });

  it('serves gdbus call --address', async () => {
    const { server, peers } = await calcServer(`unix:dir=${dir}`);
    try {
      const r = await run('gdbus', [
        'call',
        '--address',
        server.clientAddress,
        '-d',
        'org.example.Peer',
        '-o',
        '/calc',
        '-m',
        'org.example.Calc.Add',
        '40',
        '2',
      ]);
      assert.equal(r.out, '(42,)', r.err);
      assert.equal(peers.length, 1);
      assert.equal(peers[0]?.peerUid, process.getuid?.());
    } finally {
      server.stop(true);
    }
  });

  it('serves a python3-dbus peer-to-peer connection', async () => {
    const { server } = await calcServer(`unix:dir=${dir}`);
    const script = join(dir, 'p2p.py');
    writeFileSync(
      script,
      `import sys, dbus\nc = dbus.connection.Connection(sys.argv[1])\nprint(int(c.call_blocking(None, '/calc', 'org.example.Calc', 'Add', 'ii', (20, 22))))\n`,
    );
    try {
      const r = await run('/usr/bin/python3', [script, server.clientAddress]);
      assert.equal(r.out, '42', r.err);
    } finally {
      server.stop(true);
    }
  });

  it('refuses a peer running as another uid by default, accepts it with requireSameUser: false', async () => {
    const strict = await calcServer(`unix:dir=${dir}`);
    const lax = await calcServer(`unix:dir=${dir}`, { requireSameUser: false });
    try {
      for (const s of [strict.server, lax.server]) chmodSync(parseAddress(s.clientAddress)[0]?.params.get('path') as string, 0o777);
      const nobody = (address: string) =>
        run('setpriv', [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          'gdbus',
          'call',
          '--address',
          address,
          '-d',
          'org.example.Peer',
          '-o',
          '/calc',
          '-m',
          'org.example.Calc.WhoAmI',
        ]);
      const refused = await nobody(strict.server.clientAddress);
      assert.notEqual(refused.code, 0);
      assert.equal(refused.out, '');
      assert.equal(strict.peers.length, 0);
      await until(() => strict.failures.length > 0);
      assert.ok(strict.failures[0] instanceof DBusAuthError);
      if (unixFdSupported()) {
        // EXTERNAL is proven by SO_PEERCRED, so a lax server lets uid 65534 in and sees who it is.
        const accepted = await nobody(lax.server.clientAddress);
        assert.equal(accepted.out, '(uint32 65534,)', accepted.err);
      }
    } finally {
      strict.server.stop(true);
      lax.server.stop(true);
    }
  });

  it('nonce-tcp: our client and gdbus authenticate with DBUS_COOKIE_SHA1 after the nonce', async () => {
    const { server, peers } = await calcServer('nonce-tcp:host=127.0.0.1,port=0');
    try {
      const [entry] = parseAddress(server.clientAddress);
      assert.equal(entry?.transport, 'nonce-tcp');
      const c = await DBusConnection.connect(server.clientAddress);
      assert.equal(c.authMechanism, 'DBUS_COOKIE_SHA1');
      assert.deepEqual(await c.call({ path: '/calc', interface: 'org.example.Calc', member: 'Add', signature: 'ii', body: [1, 1] }), [2]);
      c.close();
      const r = await run('gdbus', [
        'call',
        '--address',
        server.clientAddress,
        '-d',
        'org.example.Peer',
        '-o',
        '/calc',
        '-m',
        'org.example.Calc.Add',
        '1',
        '2',
      ]);
      assert.equal(r.out, '(3,)', r.err);
      assert.equal(peers.length, 2);
    } finally {
      server.stop(true);
    }
  });

  it('a tcp client with a wrong nonce is dropped', async () => {
    const { server, peers, failures } = await calcServer('nonce-tcp:host=127.0.0.1,port=0');
    try {
      const [entry] = parseAddress(server.clientAddress);
      const fake = join(dir, 'fake-nonce');
      writeFileSync(fake, Buffer.alloc(16, 1));
      const address = `nonce-tcp:host=127.0.0.1,port=${entry?.params.get('port')},noncefile=${fake}`;
      await assert.rejects(DBusConnection.connect(address), DBusAuthError);
      await until(() => failures.length > 0);
      assert.equal(peers.length, 0);
    } finally {
      server.stop(true);
    }
  });

  it('stop() closes the listening socket; established connections stay unless asked', async () => {
    const { server } = await calcServer(`unix:dir=${dir}`);
    const address = server.clientAddress;
    const c = await DBusConnection.connect(address);
    server.stop();
    assert.equal(server.isActive, false);
    await assert.rejects(DBusConnection.connect(address));
    assert.deepEqual(await c.call({ path: '/calc', interface: 'org.example.Calc', member: 'Add', signature: 'ii', body: [1, 2] }), [3]);
    c.close();
  });
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
