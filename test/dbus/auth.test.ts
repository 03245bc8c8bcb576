import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CookieKeyring } from '../../src/dbus/auth.js';
import { DBusConnection } from '../../src/dbus/connection.js';
import { DBusAuthError } from '../../src/dbus/errors.js';
import { DBusServer } from '../../src/dbus/server.js';
import { unixFdSupported } from '../../src/dbus/transport.js';
import { type PrivateBus, startBus } from '../helpers/bus.js';

const uid = process.getuid?.() ?? 0;

/** Sends raw bytes to a unix socket; collects what comes back until a whole line came, the server closed, or 3 s passed. */
function rawExchange(path: string, data: Buffer): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = netConnect(path);
    let reply = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ reply, closed: false });
    }, 3000);
    s.on('data', (b) => {
      reply += b.toString('latin1');
      if (reply.endsWith('\r\n')) s.destroy();
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ reply, closed: !reply.endsWith('\r\n') });
    });
    s.write(data);
  });
}

describe('SASL between our client and our server', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'auth-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function withServer(
    options: ConstructorParameters<typeof DBusServer>[1],
    fn: (server: DBusServer) => Promise<void>,
  ): Promise<void> {
    const server = new DBusServer(`unix:dir=${dir}`, options);
    await server.start();
    try {
      await fn(server);
    } finally {
      server.stop(true);
    }
  }

  it('EXTERNAL is checked against SO_PEERCRED when the addon is there, else refused', async () => {
    await withServer({}, async (server) => {
      const accepted = new Promise<DBusConnection>((r) => server.once('connection', r));
      if (unixFdSupported()) {
        const client = await DBusConnection.connect(server.clientAddress, { mechanisms: ['EXTERNAL'] });
        const conn = await accepted;
        assert.equal(client.authMechanism, 'EXTERNAL');
        assert.equal(conn.authMechanism, 'EXTERNAL');
        assert.equal(conn.peerUid, uid);
        assert.equal(conn.peerCredentials?.pid, process.pid);
        assert.equal(conn.peerCredentials?.uid, uid);
        assert.equal(client.guid, server.guid);
        client.close();
      } else {
        await assert.rejects(DBusConnection.connect(server.clientAddress, { mechanisms: ['EXTERNAL'] }), DBusAuthError);
      }
    });
  });

  it('EXTERNAL claiming another uid than the socket shows is rejected', async () => {
    await withServer({}, async (server) => {
      const path = server.clientAddress.split(',')[0]?.slice('unix:path='.length) as string;
      const other = Buffer.from(String(uid + 4242)).toString('hex');
      const { reply } = await rawExchange(path, Buffer.from(`\0AUTH EXTERNAL ${other}\r\n`));
      assert.match(reply, /^REJECTED /);
      assert.doesNotMatch(reply, /^OK/m);
    });
  });

  it('DBUS_COOKIE_SHA1 with a keyring of our own: cookies created 0600 in a 0700 directory', async () => {
    const keyring = new CookieKeyring(join(dir, 'keyrings'));
    await withServer({ mechanisms: ['DBUS_COOKIE_SHA1'], keyring, cookieContext: 'test_ctx' }, async (server) => {
      const accepted = new Promise<DBusConnection>((r) => server.once('connection', r));
      const client = await DBusConnection.connect(server.clientAddress, { keyring });
      assert.equal(client.authMechanism, 'DBUS_COOKIE_SHA1');
      const conn = await accepted;
      assert.equal(conn.authMechanism, 'DBUS_COOKIE_SHA1');
      assert.equal(conn.peerUid, uid);
      client.close();
      assert.equal(statSync(join(dir, 'keyrings')).mode & 0o777, 0o700);
      const file = join(dir, 'keyrings', 'test_ctx');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const lines = readFileSync(file, 'latin1').trim().split('\n');
      assert.equal(lines.length, 1);
      assert.match(lines[0] as string, /^\d+ \d+ [0-9a-f]+$/);
      // A second exchange within five minutes reuses the same cookie.
      const again = await DBusConnection.connect(server.clientAddress, { keyring });
      again.close();
      assert.equal(readFileSync(file, 'latin1').trim().split('\n').length, 1);
    });
  });

  it('DBUS_COOKIE_SHA1 fails when the client cannot read the right cookie', async () => {
    const keyring = new CookieKeyring(join(dir, 'server-keyring'));
    const wrong = new CookieKeyring(join(dir, 'empty-keyring'));
    await withServer({ mechanisms: ['DBUS_COOKIE_SHA1'], keyring }, async (server) => {
      await assert.rejects(DBusConnection.connect(server.clientAddress, { keyring: wrong }), DBusAuthError);
    });
  });

  it('ANONYMOUS only when the server allows it', async () => {
    await withServer({ allowAnonymous: true, requireSameUser: false }, async (server) => {
      const accepted = new Promise<DBusConnection>((r) => server.once('connection', r));
      const client = await DBusConnection.connect(server.clientAddress, { mechanisms: ['ANONYMOUS'] });
      const conn = await accepted;
      assert.equal(conn.authMechanism, 'ANONYMOUS');
      assert.equal(conn.peerUid, undefined);
      client.close();
    });
    await withServer({}, async (server) => {
      await assert.rejects(DBusConnection.connect(server.clientAddress, { mechanisms: ['ANONYMOUS'] }), DBusAuthError);
    });
  });

  it('drops a client that does not finish authenticating in time', async () => {
    await withServer({ authTimeout: 100 }, async (server) => {
      const failed = new Promise<unknown>((r) => server.once('authFailed', r));
      const path = server.clientAddress.split(',')[0]?.slice('unix:path='.length) as string;
      const r = await rawExchange(path, Buffer.from('\0'));
      assert.equal(r.closed, true);
      assert.ok((await failed) instanceof DBusAuthError);
    });
  });

  it('answers an unknown mechanism with REJECTED and the list, and drops a client not starting with NUL', async () => {
    await withServer({}, async (server) => {
      const path = server.clientAddress.split(',')[0]?.slice('unix:path='.length) as string;
      const r1 = await rawExchange(path, Buffer.from('\0AUTH BOGUS\r\n'));
      assert.match(r1.reply, /^REJECTED .*DBUS_COOKIE_SHA1/);
      assert.doesNotMatch(r1.reply, /ANONYMOUS/);
      const r2 = await rawExchange(path, Buffer.from('AUTH EXTERNAL 30\r\n'));
      assert.equal(r2.closed, true);
      assert.equal(r2.reply, '');
      const r3 = await rawExchange(path, Buffer.from(`\0BEGIN\r\n`));
      assert.equal(r3.closed, true);
      // The server still serves well-behaved clients.
      const keyringClient = await DBusConnection.connect(server.clientAddress);
      keyringClient.close();
    });
  });
});

describe('SASL against dbus-daemon', () => {
  const buses: PrivateBus[] = [];
  after(async () => {
    for (const b of buses) await b.stop();
  });

  it('EXTERNAL', async () => {
    const bus = await startBus({ auth: ['EXTERNAL'] });
    buses.push(bus);
    const c = await DBusConnection.connect(bus.address, { bus: true });
    assert.equal(c.authMechanism, 'EXTERNAL');
    assert.match(c.uniqueName ?? '', /^:\d+\.\d+$/);
    c.close();
  });

  it('DBUS_COOKIE_SHA1 (the daemon keeps the keyring in our home; EXTERNAL is refused first)', async () => {
    const bus = await startBus({ auth: ['DBUS_COOKIE_SHA1'] });
    buses.push(bus);
    const c = await DBusConnection.connect(bus.address, { bus: true });
    assert.equal(c.authMechanism, 'DBUS_COOKIE_SHA1');
    const [id] = await c.call({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'GetId',
    });
    assert.match(id as string, /^[0-9a-f]{32}$/);
    c.close();
  });

  it('ANONYMOUS with allow_anonymous', async () => {
    const bus = await startBus({ auth: ['ANONYMOUS'], allowAnonymous: true });
    buses.push(bus);
    const c = await DBusConnection.connect(bus.address, { bus: true, mechanisms: ['ANONYMOUS'] });
    assert.equal(c.authMechanism, 'ANONYMOUS');
    assert.ok(c.uniqueName);
    c.close();
  });

  it('fails with DBusAuthError when the daemon accepts none of ours', async () => {
    const bus = await startBus({ auth: ['EXTERNAL'] });
    buses.push(bus);
    await assert.rejects(DBusConnection.connect(bus.address, { bus: true, mechanisms: ['ANONYMOUS'] }), DBusAuthError);
  });
});
