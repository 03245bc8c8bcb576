// File descriptors ('h') across connections: SCM_RIGHTS through src/unix, NEGOTIATE_UNIX_FD in SASL.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DBusConnection } from '../../src/dbus/connection.js';
import { DBusError } from '../../src/dbus/errors.js';
import type { InterfaceDeclaration } from '../../src/dbus/interface.js';
import { DBusServer } from '../../src/dbus/server.js';
import { unixFdSupported } from '../../src/dbus/transport.js';
import { closeFd } from '../../src/unix/index.js';
import { type PrivateBus, startBus } from '../helpers/bus.js';

const PY_SERVICE = `
import os, sys, dbus, dbus.service, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(sys.argv[1])
name = dbus.service.BusName('org.example.Fds', bus)
class Obj(dbus.service.Object):
    @dbus.service.method('org.example.Fds', in_signature='h', out_signature='s')
    def ReadFd(self, fd):
        f = os.fdopen(fd.take(), 'r')
        data = f.read()
        f.close()
        return data
    @dbus.service.method('org.example.Fds', in_signature='s', out_signature='h')
    def OpenFd(self, text):
        r, w = os.pipe()
        os.write(w, text.encode())
        os.close(w)
        return dbus.types.UnixFd(r)
    @dbus.service.method('org.example.Fds', in_signature='ss', out_signature='s')
    def CallBack(self, dest, text):
        r, w = os.pipe()
        os.write(w, text.encode())
        os.close(w)
        proxy = bus.get_object(dest, '/fd')
        return proxy.Slurp(dbus.types.UnixFd(r), dbus_interface='org.example.Ours')
Obj(bus, '/fds')
print('ready', flush=True)
GLib.MainLoop().run()
`;

const OURS: InterfaceDeclaration = {
  name: 'org.example.Ours',
  methods: [{ name: 'Slurp', in: [{ name: 'fd', signature: 'h' }], out: [{ name: 'text', signature: 's' }] }],
  signals: [],
  properties: [],
};

/** Reads everything from a descriptor we own, then closes it. */
function slurp(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n <= 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  closeFd(fd);
  return Buffer.concat(chunks).toString();
}

const ourMethods = { methods: { Slurp: ([fd]: unknown[]) => [slurp(fd as number)] } };

describe('fd passing', () => {
  let bus: PrivateBus;
  let dir: string;
  let py: ChildProcess;
  let conn: DBusConnection;

  before(async () => {
    bus = await startBus();
    dir = mkdtempSync(join(tmpdir(), 'fd-'));
    writeFileSync(join(dir, 'svc.py'), PY_SERVICE);
    writeFileSync(join(dir, 'data.txt'), 'file contents');
    py = spawn('/usr/bin/python3', [join(dir, 'svc.py'), bus.address], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      py.stdout?.on('data', (b: Buffer) => {
        if (b.toString().includes('ready')) resolve();
      });
      py.once('exit', (code) => reject(new Error(`python exited ${code}`)));
    });
    conn = await DBusConnection.connect(bus.address, { bus: true });
    conn.registerObject('/fd', OURS, ourMethods);
  });
  after(async () => {
    conn?.close();
    py?.kill();
    await bus?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const fds = { destination: 'org.example.Fds', path: '/fds', interface: 'org.example.Fds' };

  it('negotiates NEGOTIATE_UNIX_FD with dbus-daemon exactly when the native module is there', () => {
    assert.equal(conn.unixFd, unixFdSupported());
  });

  it('sends an fd to python3-dbus, which reads the file through it', async () => {
    if (!unixFdSupported()) {
      await assert.rejects(
        conn.call({ ...fds, member: 'ReadFd', signature: 'h', body: [0] }),
        (e: unknown) => e instanceof DBusError && e.errorName === 'org.freedesktop.DBus.Error.NotSupported',
      );
      return;
    }
    const fd = openSync(join(dir, 'data.txt'), 'r');
    try {
      assert.deepEqual(await conn.call({ ...fds, member: 'ReadFd', signature: 'h', body: [fd] }), ['file contents']);
    } finally {
      closeSync(fd);
    }
  });

  it('receives an fd from python3-dbus (dbus.types.UnixFd) and reads through it', async (t) => {
    if (!unixFdSupported()) return t.diagnostic('native module missing: receiving is covered by the NotSupported test');
    const [fd] = await conn.call({ ...fds, member: 'OpenFd', signature: 's', body: ['through a pipe'] });
    assert.equal(typeof fd, 'number');
    assert.equal(slurp(fd as number), 'through a pipe');
  });

  it('python3-dbus passes an fd to a method we export', async (t) => {
    if (!unixFdSupported()) return t.diagnostic('native module missing');
    const [text] = await conn.call({ ...fds, member: 'CallBack', signature: 'ss', body: [conn.uniqueName, 'to our handler'] });
    assert.equal(text, 'to our handler');
  });

  it('refuses to send fds where fd passing was not negotiated, with NotSupported', async () => {
    const plain = await DBusConnection.connect(bus.address, { bus: true, negotiateUnixFd: false });
    try {
      assert.equal(plain.unixFd, false);
      const fd = openSync(join(dir, 'data.txt'), 'r');
      try {
        await assert.rejects(
          plain.call({ ...fds, member: 'ReadFd', signature: 'h', body: [fd] }),
          (e: unknown) => e instanceof DBusError && e.errorName === 'org.freedesktop.DBus.Error.NotSupported',
        );
      } finally {
        closeSync(fd);
      }
      // The connection is still usable.
      assert.equal((await plain.call({ ...fds, member: 'OpenFd', signature: 's', body: ['x'], noReplyExpected: true })).length, 0);
    } finally {
      plain.close();
    }
  });

  it('without the native module (LIBVIRT_DBUS_NO_NATIVE=1) fd passing is refused with NotSupported', async () => {
    const index = fileURLToPath(new URL('../../src/dbus/index.js', import.meta.url));
    const script = `
      const { DBusConnection } = await import(${JSON.stringify(index)});
      const c = await DBusConnection.connect(process.argv[1], { bus: true });
      let name = 'none';
      try { await c.call({ destination: 'org.example.Fds', path: '/fds', interface: 'org.example.Fds', member: 'ReadFd', signature: 'h', body: [0] }); }
      catch (e) { name = e.errorName; }
      console.log(c.unixFd, name);
      c.close();`;
    const out = await new Promise<string>((resolve) => {
      const p = spawn(process.execPath, ['--input-type=module', '-e', script, bus.address], {
        env: { ...process.env, LIBVIRT_DBUS_NO_NATIVE: '1' },
      });
      let o = '';
      p.stdout.on('data', (b) => {
        o += b;
      });
      p.stderr.on('data', (b) => {
        o += b;
      });
      p.on('exit', () => resolve(o.trim()));
    });
    assert.equal(out, 'false org.freedesktop.DBus.Error.NotSupported');
  });

  it('peer to peer through DBusServer', async (t) => {
    if (!unixFdSupported()) return t.diagnostic('native module missing');
    const server = new DBusServer(`unix:dir=${dir}`);
    server.on('connection', (c: DBusConnection) => c.registerObject('/fd', OURS, ourMethods));
    await server.start();
    try {
      const c = await DBusConnection.connect(server.clientAddress);
      assert.equal(c.unixFd, true);
      const fd = openSync(join(dir, 'data.txt'), 'r');
      try {
        assert.deepEqual(await c.call({ path: '/fd', interface: 'org.example.Ours', member: 'Slurp', signature: 'h', body: [fd] }), [
          'file contents',
        ]);
      } finally {
        closeSync(fd);
      }
      c.close();
    } finally {
      server.stop(true);
    }
  });
});
