import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  DBusAddressError,
  escapeAddressValue,
  formatAddressEntry,
  parseAddress,
  sessionBusAddress,
  systemBusAddress,
  unescapeAddressValue,
} from '../../src/dbus/address.js';
import { DBusError } from '../../src/dbus/errors.js';
import { connectAddress, listenEntry } from '../../src/dbus/transport.js';

describe('address parsing', () => {
  it('parses a list of entries with escaped values, in order', () => {
    const entries = parseAddress('unix:path=/tmp/a%20b,guid=0123;tcp:host=localhost,port=1234,family=ipv4;');
    assert.equal(entries.length, 2);
    assert.equal(entries[0]?.transport, 'unix');
    assert.equal(entries[0]?.params.get('path'), '/tmp/a b');
    assert.equal(entries[0]?.params.get('guid'), '0123');
    assert.equal(entries[1]?.transport, 'tcp');
    assert.deepEqual(
      [...(entries[1]?.params ?? [])],
      [
        ['host', 'localhost'],
        ['port', '1234'],
        ['family', 'ipv4'],
      ],
    );
  });

  it('accepts an entry without parameters', () => {
    const [e] = parseAddress('autolaunch:');
    assert.equal(e?.transport, 'autolaunch');
    assert.equal(e?.params.size, 0);
  });

  it('rejects malformed addresses with DBusAddressError (BadAddress)', () => {
    for (const bad of ['', ';', 'nocolon', ':path=/x', 'unix:path', 'unix:path=/a,path=/b', 'unix:path=%zz', 'unix:path=%4']) {
      assert.throws(
        () => parseAddress(bad),
        (e: unknown) => e instanceof DBusAddressError && e.errorName === 'org.freedesktop.DBus.Error.BadAddress',
        bad,
      );
    }
  });

  it('escapes every byte outside the optionally-escaped set, and unescapes back (UTF-8 too)', () => {
    assert.equal(escapeAddressValue('/tmp/dbus-AZaz09_-.\\*'), '/tmp/dbus-AZaz09_-.\\*');
    assert.equal(escapeAddressValue('a b,c;d=e%'), 'a%20b%2cc%3bd%3de%25');
    assert.equal(escapeAddressValue('é'), '%c3%a9');
    for (const s of ['plain', 'a b,c;d=e%', 'é ü /x', '\u0000abstract']) {
      assert.equal(unescapeAddressValue(escapeAddressValue(s)), s);
    }
    assert.equal(unescapeAddressValue('%2F%2f'), '//');
  });

  it('formats an entry so that parsing it gives the same entry back', () => {
    const entry = { transport: 'unix', params: new Map([['path', '/tmp/x y,z']]) };
    const text = formatAddressEntry(entry);
    assert.equal(text, 'unix:path=/tmp/x%20y%2cz');
    assert.deepEqual(parseAddress(text)[0], entry);
  });

  it('takes the bus addresses from the environment, with the default system socket', () => {
    assert.equal(sessionBusAddress({ DBUS_SESSION_BUS_ADDRESS: 'unix:path=/s' }), 'unix:path=/s');
    assert.equal(sessionBusAddress({ XDG_RUNTIME_DIR: '/run/user/7' }), 'unix:path=/run/user/7/bus');
    assert.throws(() => sessionBusAddress({}), DBusError);
    assert.equal(systemBusAddress({ DBUS_SYSTEM_BUS_ADDRESS: 'tcp:host=h,port=1' }), 'tcp:host=h,port=1');
    assert.equal(systemBusAddress({}), 'unix:path=/var/run/dbus/system_bus_socket');
  });
});

/** Resolves when the server accepted one connection (which it closes at once). */
function acceptAndClose(server: Server): Promise<void> {
  return new Promise((resolve) =>
    server.once('connection', (s) => {
      s.destroy();
      resolve();
    }),
  );
}

describe('address transports', () => {
  function acceptOnce(server: Server): Promise<Buffer> {
    return new Promise((resolve) => {
      server.once('connection', (s) => {
        s.resume();
        let got = Buffer.alloc(0);
        s.on('data', (b: Buffer) => {
          got = Buffer.concat([got, b]);
          if (got.length >= 16) {
            s.destroy();
            resolve(got);
          }
        });
      });
    });
  }

  it('tries the entries of a list in order and connects to the first that works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'addr-'));
    const listener = await listenEntry({ transport: 'unix', params: new Map([['dir', dir]]) });
    try {
      const path = listener.clientEntry.params.get('path') as string;
      const accepted = acceptAndClose(listener.server);
      const { transport, entry } = await connectAddress(
        `unix:path=${dir}/missing;tcp:host=127.0.0.1,port=1;unix:path=${escapeAddressValue(path)}`,
      );
      assert.equal(entry.params.get('path'), path);
      await accepted;
      transport.destroy();
    } finally {
      listener.server.close();
      listener.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails with NoServer naming every entry when none works', async () => {
    await assert.rejects(connectAddress('unix:path=/nonexistent/x;unix:abstract=no-such-socket-here'), (e: unknown) => {
      assert.ok(e instanceof DBusError);
      assert.equal(e.errorName, 'org.freedesktop.DBus.Error.NoServer');
      assert.match(e.message, /nonexistent/);
      assert.match(e.message, /no-such-socket-here/);
      return true;
    });
  });

  it('connects to abstract unix sockets', async () => {
    const name = `dbus-test-${process.pid}-${Date.now()}`;
    const listener = await listenEntry({ transport: 'unix', params: new Map([['abstract', name]]) });
    try {
      const accepted = acceptAndClose(listener.server);
      const { transport } = await connectAddress(`unix:abstract=${name}`);
      await accepted;
      transport.destroy();
    } finally {
      listener.server.close();
    }
  });

  it('nonce-tcp: the client sends the 16 bytes of the nonce file first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nonce-'));
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const nonce = Buffer.from('0123456789abcdef');
      writeFileSync(join(dir, 'nonce'), nonce);
      const got = acceptOnce(server);
      const { transport } = await connectAddress(`nonce-tcp:host=127.0.0.1,port=${port},noncefile=${dir}/nonce`);
      assert.deepEqual((await got).subarray(0, 16), nonce);
      transport.destroy();
      writeFileSync(join(dir, 'short'), 'abc');
      await assert.rejects(connectAddress(`nonce-tcp:host=127.0.0.1,port=${port},noncefile=${dir}/short`), DBusError);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('listens on tcp port 0 and reports the bound port in the client address', async () => {
    const listener = await listenEntry(parseAddress('tcp:host=127.0.0.1,port=0')[0] as never);
    try {
      const port = Number(listener.clientEntry.params.get('port'));
      assert.ok(port > 0);
      const accepted = acceptAndClose(listener.server);
      const { transport } = await connectAddress(formatAddressEntry(listener.clientEntry));
      await accepted;
      transport.destroy();
    } finally {
      listener.server.close();
    }
  });

  it('refuses unknown transports and incomplete unix addresses', async () => {
    await assert.rejects(connectAddress('launchd:env=X'), DBusError);
    await assert.rejects(connectAddress('unix:runtime=yes'), DBusError);
    await assert.rejects(listenEntry({ transport: 'bogus', params: new Map() }), DBusAddressError);
  });
});
