import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CookieKeyring } from '../../src/dbus/auth.js';
import { DBusConnection } from '../../src/dbus/connection.js';
import { ReleaseNameReply, RequestNameFlags, RequestNameReply } from '../../src/dbus/connection-options.js';
import {
  DBusCancelledError,
  DBusClosedError,
  DBusError,
  DBusInvalidArgsError,
  DBusProtocolError,
  DBusTimeoutError,
} from '../../src/dbus/errors.js';
import { encodeMessage } from '../../src/dbus/framing.js';
import { formatMatchRule, matchesRule, parseMatchRule } from '../../src/dbus/match.js';
import { type Message, MessageType } from '../../src/dbus/message.js';
import { DBusServer } from '../../src/dbus/server.js';
import { Variant } from '../../src/dbus/variant.js';
import { type PrivateBus, startBus } from '../helpers/bus.js';

const PY = '/usr/bin/python3';
const BUS = { destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus' };

// A python3-dbus service: org.example.Py at /org/example/Obj.
const SERVICE = `
import sys, dbus, dbus.service, dbus.mainloop.glib, dbus.lowlevel
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(sys.argv[1])
name = dbus.service.BusName('org.example.Py', bus)
class Obj(dbus.service.Object):
    @dbus.service.method('org.example.Iface', in_signature='s', out_signature='s')
    def Echo(self, s): return s
    @dbus.service.method('org.example.Iface', in_signature='ii', out_signature='i')
    def Add(self, a, b): return a + b
    @dbus.service.method('org.example.Iface', in_signature='', out_signature='')
    def Fail(self): raise dbus.exceptions.DBusException('custom failure', name='org.example.Error.Custom')
    @dbus.service.method('org.example.Iface', in_signature='', out_signature='', async_callbacks=('ok', 'err'))
    def Never(self, ok, err): pass
    @dbus.service.method('org.example.Iface', in_signature='sssv', out_signature='')
    def EmitSignal(self, path, iface, member, arg0):
        msg = dbus.lowlevel.SignalMessage(path, iface, member)
        msg.append(dbus.String(arg0))
        bus.send_message(msg)
Obj(bus, '/org/example/Obj')
print('ready', flush=True)
GLib.MainLoop().run()
`;

// A python3-dbus receiver printing every org.example.Ours signal it gets.
const RECEIVER = `
import sys, dbus, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(sys.argv[1])
def got(*args, **kw):
    print('signal', kw['member'], kw['path'], kw['sender'], repr([str(a) if isinstance(a, dbus.String) else int(a) for a in args]), flush=True)
bus.add_signal_receiver(got, dbus_interface='org.example.Ours', member_keyword='member', path_keyword='path', sender_keyword='sender')
bus.call_blocking('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetId', '', [])
print('ready', flush=True)
GLib.MainLoop().run()
`;

/** Starts a python script and resolves once it printed 'ready'; `lines` collects later output. */
async function startPython(file: string, address: string): Promise<{ child: ChildProcess; lines: string[] }> {
  const child = spawn(PY, [file, address], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let err = '';
  child.stderr?.on('data', (b: Buffer) => {
    err += b.toString();
  });
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    child.stdout?.on('data', (b: Buffer) => {
      buf += b.toString();
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'ready') resolve();
        else lines.push(line);
        nl = buf.indexOf('\n');
      }
    });
    child.once('exit', (code) => reject(new Error(`python exited ${code}: ${err}`)));
  });
  return { child, lines };
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('DBusConnection on a private bus', () => {
  let bus: PrivateBus;
  let dir: string;
  let conn: DBusConnection;
  let py: { child: ChildProcess; lines: string[] };
  const cleanups: Array<() => unknown> = [];

  before(async () => {
    bus = await startBus();
    dir = mkdtempSync(join(tmpdir(), 'conn-'));
    writeFileSync(join(dir, 'service.py'), SERVICE);
    writeFileSync(join(dir, 'receiver.py'), RECEIVER);
    py = await startPython(join(dir, 'service.py'), bus.address);
    conn = await DBusConnection.connect(bus.address, { bus: true });
  });
  after(async () => {
    for (const c of cleanups) await c();
    conn?.close();
    py?.child.kill();
    await bus?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const py1 = { destination: 'org.example.Py', path: '/org/example/Obj', interface: 'org.example.Iface' };

  it('says Hello, gets a unique name and calls the bus driver', async () => {
    assert.match(conn.uniqueName ?? '', /^:1\.\d+$/);
    assert.equal(conn.isBus, true);
    const [names] = (await conn.call({ ...BUS, member: 'ListNames', replySignature: 'as' })) as [string[]];
    assert.ok(names.includes(conn.uniqueName as string));
    assert.ok(names.includes('org.example.Py'));
    const [id] = await conn.call({ ...BUS, member: 'GetId' });
    assert.match(id as string, /^[0-9a-f]{32}$/);
    assert.match(conn.guid, /^[0-9a-f]{32}$/);
  });

  it('calls a python3-dbus object', async () => {
    assert.deepEqual(await conn.call({ ...py1, member: 'Echo', signature: 's', body: ['héllo'] }), ['héllo']);
    assert.deepEqual(await conn.call({ ...py1, member: 'Add', signature: 'ii', body: [40, 2] }), [42]);
  });

  it('turns error replies into DBusError with the error name', async () => {
    await assert.rejects(conn.call({ ...py1, member: 'Fail' }), (e: unknown) => {
      assert.ok(e instanceof DBusError);
      assert.equal(e.errorName, 'org.example.Error.Custom');
      assert.equal(e.message, 'custom failure');
      return true;
    });
    await assert.rejects(
      conn.call({ destination: 'org.example.Nobody', path: '/', member: 'X' }),
      (e: unknown) => e instanceof DBusError && e.errorName === 'org.freedesktop.DBus.Error.ServiceUnknown',
    );
  });

  it('checks the reply signature and the argument values before sending', async () => {
    await assert.rejects(conn.call({ ...py1, member: 'Echo', signature: 's', body: ['x'], replySignature: 'i' }), DBusInvalidArgsError);
    await assert.rejects(conn.call({ ...py1, member: 'Add', signature: 'ii', body: ['x', 2] }), DBusInvalidArgsError);
    // The connection is fine afterwards.
    assert.deepEqual(await conn.call({ ...py1, member: 'Add', signature: 'ii', body: [1, 2] }), [3]);
  });

  it('times out, cancels, and keeps working', async () => {
    await assert.rejects(conn.call({ ...py1, member: 'Never', timeout: 100 }), DBusTimeoutError);
    const ac = new AbortController();
    const p = conn.call({ ...py1, member: 'Never', signal: ac.signal, timeout: Number.POSITIVE_INFINITY });
    setTimeout(() => ac.abort(), 30);
    await assert.rejects(p, DBusCancelledError);
    await assert.rejects(conn.call({ ...py1, member: 'Echo', signature: 's', body: ['x'], signal: ac.signal }), DBusCancelledError);
    assert.deepEqual(await conn.call({ ...py1, member: 'Echo', signature: 's', body: ['still'] }), ['still']);
  });

  it('fails pending calls with DBusClosedError on close() and emits closed once, peer not vanished', async () => {
    const c = await DBusConnection.connect(bus.address, { bus: true });
    const events: unknown[][] = [];
    c.on('closed', (...args) => events.push(args));
    const pending = c.call({ ...py1, member: 'Never', timeout: Number.POSITIVE_INFINITY });
    c.close();
    c.close();
    await assert.rejects(pending, DBusClosedError);
    await assert.rejects(c.call({ ...BUS, member: 'GetId' }), DBusClosedError);
    assert.throws(() => c.emitSignal(null, '/a', 'a.b', 'C'), DBusClosedError);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(events.length, 1);
    assert.equal(events[0]?.[0], false);
  });

  it('emits closed with remotePeerVanished when the bus goes away', async () => {
    const other = await startBus();
    const c = await DBusConnection.connect(other.address, { bus: true });
    const closed = new Promise<unknown[]>((r) => c.once('closed', (...a) => r(a)));
    await other.stop();
    const [vanished, error] = await closed;
    assert.equal(vanished, true);
    assert.ok(error instanceof Error);
    assert.equal(c.closed, true);
  });

  it('receives python signals by interface, member, path_namespace and arg0', async () => {
    const got: Message[] = [];
    const id = conn.signalSubscribe(
      { sender: 'org.example.Py', interface: 'org.example.Sig', member: 'Hello', pathNamespace: '/org/example/ns' },
      (m) => got.push(m),
    );
    const byArg0: string[] = [];
    const id2 = conn.signalSubscribe({ interface: 'org.example.Sig', arg0: 'pick-me' }, (m) => byArg0.push(m.path ?? ''));
    assert.ok(id > 0 && id2 > 0 && id !== id2);
    await conn.call({ ...BUS, member: 'GetId' }); // AddMatch is in place once this returns
    const emit = (path: string, member: string, arg0: string) =>
      conn.call({ ...py1, member: 'EmitSignal', signature: 'sssv', body: [path, 'org.example.Sig', member, new Variant('s', arg0)] });
    await emit('/org/example/ns', 'Hello', 'a');
    await emit('/org/example/ns/deep/er', 'Hello', 'pick-me');
    await emit('/org/example/nsx', 'Hello', 'c');
    await emit('/org/example/ns', 'Other', 'pick-me');
    await until(() => got.length >= 2 && byArg0.length >= 2, 'signals');
    await conn.call({ ...BUS, member: 'GetId' });
    assert.deepEqual(
      got.map((m) => [m.path, m.body[0]]),
      [
        ['/org/example/ns', 'a'],
        ['/org/example/ns/deep/er', 'pick-me'],
      ],
    );
    const owner = await conn.getNameOwner('org.example.Py');
    assert.equal(got[0]?.sender, owner);
    assert.deepEqual(byArg0, ['/org/example/ns/deep/er', '/org/example/ns']);
    conn.signalUnsubscribe(id);
    conn.signalUnsubscribe(id2);
  });

  it('matches arg0namespace and arg0path, and a well-known sender does not match other senders', async () => {
    const ns: string[] = [];
    const paths: string[] = [];
    const fromPy: string[] = [];
    const a = conn.signalSubscribe({ interface: 'org.example.N', arg0namespace: 'org.foo' }, (m) => ns.push(m.body[0] as string));
    const b = conn.signalSubscribe({ interface: 'org.example.P', arg0path: '/a/b/' }, (m) => paths.push(m.body[0] as string));
    const c = conn.signalSubscribe({ sender: 'org.example.Py', interface: 'org.example.N' }, (m) => fromPy.push(m.body[0] as string));
    const other = await DBusConnection.connect(bus.address, { bus: true });
    await conn.call({ ...BUS, member: 'GetId' });
    for (const v of ['org.foo', 'org.foo.Bar', 'org.foobar', 'org.fo']) other.emitSignal(null, '/x', 'org.example.N', 'S', 's', [v]);
    for (const v of ['/a/b/', '/a/b/c', '/a/', '/a/bc', '/x']) other.emitSignal(null, '/x', 'org.example.P', 'S', 's', [v]);
    await other.call({ ...BUS, member: 'GetId' });
    await until(() => ns.length >= 2 && paths.length >= 3, 'signals');
    await conn.call({ ...BUS, member: 'GetId' });
    assert.deepEqual(ns, ['org.foo', 'org.foo.Bar']);
    assert.deepEqual(paths, ['/a/b/', '/a/b/c', '/a/']);
    assert.deepEqual(fromPy, []);
    for (const id of [a, b, c]) conn.signalUnsubscribe(id);
    other.close();
  });

  it('removes the match rule on unsubscribe: the bus stops sending', async () => {
    let seen = 0;
    const filter = conn.addFilter((m, incoming) => {
      if (incoming && m.type === MessageType.Signal && m.interface === 'org.example.Gone') seen++;
      return m;
    });
    const other = await DBusConnection.connect(bus.address, { bus: true });
    let delivered = 0;
    const id = conn.signalSubscribe({ interface: 'org.example.Gone' }, () => delivered++);
    await conn.call({ ...BUS, member: 'GetId' });
    other.emitSignal(null, '/x', 'org.example.Gone', 'S');
    await other.call({ ...BUS, member: 'GetId' });
    await until(() => delivered === 1, 'first signal');
    conn.signalUnsubscribe(id);
    await conn.call({ ...BUS, member: 'GetId' });
    other.emitSignal(null, '/x', 'org.example.Gone', 'S');
    await other.call({ ...BUS, member: 'GetId' });
    await conn.call({ ...BUS, member: 'GetId' });
    assert.equal(delivered, 1);
    assert.equal(seen, 1);
    conn.removeFilter(filter);
    other.close();
  });

  it('emits signals a python3-dbus receiver gets', async () => {
    const rx = await startPython(join(dir, 'receiver.py'), bus.address);
    cleanups.push(() => rx.child.kill());
    conn.emitSignal(null, '/org/example/Here', 'org.example.Ours', 'Ping', 'su', ['text', 7]);
    await until(() => rx.lines.length > 0, 'python receiver');
    assert.equal(rx.lines[0], `signal Ping /org/example/Here ${conn.uniqueName} ['text', 7]`);
  });

  it('owns names: RequestName, ReleaseName, NameOwnerChanged and watchName', async () => {
    const other = await DBusConnection.connect(bus.address, { bus: true });
    const events: string[] = [];
    const watch = other.watchName(
      'org.example.Owned',
      (name, owner) => events.push(`appeared ${name} ${owner}`),
      (name) => events.push(`vanished ${name}`),
    );
    await until(() => events.length === 1, 'initial vanished');
    assert.deepEqual(events, ['vanished org.example.Owned']);
    assert.equal(await conn.requestName('org.example.Owned', RequestNameFlags.DoNotQueue), RequestNameReply.PrimaryOwner);
    assert.equal(await conn.requestName('org.example.Owned'), RequestNameReply.AlreadyOwner);
    assert.equal(await other.requestName('org.example.Owned', RequestNameFlags.DoNotQueue), RequestNameReply.Exists);
    assert.equal(await other.getNameOwner('org.example.Owned'), conn.uniqueName);
    await until(() => events.length === 2, 'appeared');
    assert.equal(events[1], `appeared org.example.Owned ${conn.uniqueName}`);
    assert.equal(await conn.releaseName('org.example.Owned'), ReleaseNameReply.Released);
    assert.equal(await conn.releaseName('org.example.Owned'), ReleaseNameReply.NonExistent);
    await until(() => events.length === 3, 'vanished');
    assert.equal(events[2], 'vanished org.example.Owned');
    other.unwatchName(watch);
    other.close();
  });

  it('runs filters on incoming and outgoing messages; they may rewrite and drop', async () => {
    const seen: string[] = [];
    const f1 = conn.addFilter((m, incoming) => {
      if (m.member === 'Echo' || m.replySerial !== undefined) seen.push(`${incoming ? 'in' : 'out'} ${m.type}`);
      if (!incoming && m.member === 'Echo') return { ...m, body: ['rewritten'] };
      return m;
    });
    assert.deepEqual(await conn.call({ ...py1, member: 'Echo', signature: 's', body: ['orig'] }), ['rewritten']);
    assert.deepEqual(seen, [`out ${MessageType.MethodCall}`, `in ${MessageType.MethodReturn}`]);
    conn.removeFilter(f1);
    const f2 = conn.addFilter((m, incoming) => (incoming && m.type === MessageType.MethodReturn ? null : m));
    await assert.rejects(conn.call({ ...py1, member: 'Echo', signature: 's', body: ['x'], timeout: 200 }), DBusTimeoutError);
    conn.removeFilter(f2);
    assert.deepEqual(await conn.call({ ...py1, member: 'Echo', signature: 's', body: ['ok'] }), ['ok']);
  });

  it('routes incoming method calls to exported objects (python calls us)', async () => {
    const reg = conn.registerObject(
      '/org/example/Ours',
      {
        name: 'org.example.Ours',
        methods: [{ name: 'Twice', in: [{ name: 'x', signature: 'i' }], out: [{ name: 'y', signature: 'i' }] }],
        signals: [],
        properties: [],
      },
      { methods: { Twice: ([x]) => [(x as number) * 2] } },
    );
    const script = join(dir, 'caller.py');
    writeFileSync(
      script,
      `import sys, dbus\nbus = dbus.bus.BusConnection(sys.argv[1])\nprint(int(bus.get_object(sys.argv[2], '/org/example/Ours').Twice(21, dbus_interface='org.example.Ours')))\n`,
    );
    const out = await new Promise<string>((resolve) => {
      const p = spawn(PY, [script, bus.address, conn.uniqueName as string]);
      let o = '';
      p.stdout.on('data', (b) => {
        o += b;
      });
      p.stderr.on('data', (b) => {
        o += b;
      });
      p.on('exit', () => resolve(o.trim()));
    });
    assert.equal(out, '42');
    reg.unregister();
  });
});

describe('DBusConnection robustness and flow control', () => {
  let dir: string;
  let server: DBusServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conn2-'));
    server = new DBusServer(`unix:dir=${dir}`);
    server.on('connection', (c: DBusConnection) => {
      c.registerObject(
        '/p',
        {
          name: 'org.example.P',
          methods: [{ name: 'Len', in: [{ name: 'b', signature: 'ay' }], out: [{ name: 'n', signature: 'u' }] }],
          signals: [],
          properties: [],
        },
        { methods: { Len: ([b]) => [(b as Uint8Array).length] } },
      );
    });
    await server.start();
  });
  after(() => {
    server.stop(true);
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Opens a raw socket to `srv` and authenticates it by hand (DBUS_COOKIE_SHA1 from our keyring);
   * resolves with the socket and the 'closed' arguments of the server's side of it.
   */
  async function rawAuthenticated(srv: DBusServer): Promise<{ raw: Socket; closed: Promise<unknown[]> }> {
    // Wrapped in an object: a promise resolved with a promise would wait for the inner one.
    const accepted = new Promise<{ closed: Promise<unknown[]> }>((resolve) =>
      srv.once('connection', (c: DBusConnection) => resolve({ closed: new Promise((r) => c.once('closed', (...a) => r(a))) })),
    );
    const path = srv.clientAddress.split(',')[0]?.slice('unix:path='.length) as string;
    const raw = netConnect(path);
    raw.on('error', () => {});
    const uidHex = Buffer.from(String(process.getuid?.() ?? 0)).toString('hex');
    raw.write(`\0AUTH DBUS_COOKIE_SHA1 ${uidHex}\r\n`);
    let text = '';
    await new Promise<void>((resolve) => {
      const onData = async (b: Buffer) => {
        text += b.toString('latin1');
        if (text.startsWith('DATA ') && text.endsWith('\r\n') && !text.includes('\r\nOK')) {
          const [ctx, id, challenge] = Buffer.from(text.slice(5).trim(), 'hex').toString().split(' ');
          const cookie = await new CookieKeyring().find(ctx as string, Number(id));
          const cc = 'abcdef';
          const digest = createHash('sha1').update(`${challenge}:${cc}:${cookie?.cookie}`).digest('hex');
          raw.write(`DATA ${Buffer.from(`${cc} ${digest}`).toString('hex')}\r\n`);
        } else if (text.includes('\r\nOK ') && text.endsWith('\r\n')) {
          raw.off('data', onData);
          raw.write('BEGIN\r\n');
          resolve();
        }
      };
      raw.on('data', onData);
    });
    return { raw, closed: (await accepted).closed };
  }

  it('a peer sending garbage gets its connection closed with DBusProtocolError; others live on', async () => {
    const goodServerSide = new Promise<DBusConnection>((r) => server.once('connection', r));
    const good = await DBusConnection.connect(server.clientAddress);
    await goodServerSide;
    const { raw, closed } = await rawAuthenticated(server);
    raw.write(Buffer.from('l\x01\x00\x01garbage-garbage-garbage-garbage', 'latin1'));
    const [vanished, error] = await closed;
    assert.equal(vanished, true);
    assert.ok(error instanceof DBusProtocolError);
    await new Promise<void>((r) => (raw.destroyed ? r() : raw.once('close', () => r())));
    assert.deepEqual(
      await good.call({ path: '/p', interface: 'org.example.P', member: 'Len', signature: 'ay', body: [Buffer.alloc(3)] }),
      [3],
    );
    good.close();
  });

  it('a peer that sends calls but never reads the replies is cut off at maxWriteQueue (LimitsExceeded)', async () => {
    const capped = new DBusServer(`unix:dir=${dir}`, { maxWriteQueue: 256 * 1024, writeBufferLimit: 64 * 1024 });
    capped.on('connection', (c: DBusConnection) => {
      c.registerObject(
        '/big',
        {
          name: 'org.example.Big',
          methods: [{ name: 'Get', in: [], out: [{ name: 'b', signature: 'ay' }] }],
          signals: [],
          properties: [],
        },
        { methods: { Get: () => [Buffer.alloc(100 * 1024)] } },
      );
    });
    await capped.start();
    try {
      const { raw, closed } = await rawAuthenticated(capped);
      raw.pause(); // never read
      for (let serial = 1; serial <= 200; serial++) {
        raw.write(
          encodeMessage({
            type: MessageType.MethodCall,
            flags: 0,
            serial,
            path: '/big',
            interface: 'org.example.Big',
            member: 'Get',
            signature: '',
            body: [],
          }),
        );
      }
      const [vanished, error] = await closed;
      assert.equal(vanished, false);
      assert.ok(error instanceof DBusError);
      assert.equal(error.errorName, 'org.freedesktop.DBus.Error.LimitsExceeded');
      raw.destroy();
    } finally {
      capped.stop(true);
    }
  });

  it('call() waits for the socket to drain instead of queueing without bound', async () => {
    const limit = 64 * 1024;
    const c = await DBusConnection.connect(server.clientAddress, { writeBufferLimit: limit });
    const big = Buffer.alloc(256 * 1024, 7);
    let maxQueued = 0;
    const calls: Array<Promise<unknown[]>> = [];
    for (let i = 0; i < 40; i++) {
      calls.push(c.call({ path: '/p', interface: 'org.example.P', member: 'Len', signature: 'ay', body: [big] }));
      maxQueued = Math.max(maxQueued, c.writeQueueLength);
    }
    // Issued in one turn: only the first went out; 39 × 256 KiB wait in their promises, not in a buffer.
    assert.ok(maxQueued <= limit + big.length + 1024, `queued ${maxQueued}`);
    const results = await Promise.all(calls);
    assert.deepEqual(
      results,
      Array.from({ length: 40 }, () => [big.length]),
    );
    c.close();
  });

  it('a bound far below the socket buffers still makes progress both ways (no deadlock)', async () => {
    const tiny = new DBusServer(`unix:dir=${dir}`, { writeBufferLimit: 1024 });
    tiny.on('connection', (c: DBusConnection) => {
      c.registerObject(
        '/echo',
        {
          name: 'org.example.E',
          methods: [{ name: 'Echo', in: [{ name: 'b', signature: 'ay' }], out: [{ name: 'b', signature: 'ay' }] }],
          signals: [],
          properties: [],
        },
        { methods: { Echo: ([b]) => [b] } },
      );
    });
    await tiny.start();
    try {
      const c = await DBusConnection.connect(tiny.clientAddress, { writeBufferLimit: 1024 });
      const blob = Buffer.alloc(100 * 1024, 3);
      const replies = await Promise.all(
        Array.from({ length: 20 }, () =>
          c.call({ path: '/echo', interface: 'org.example.E', member: 'Echo', signature: 'ay', body: [blob] }),
        ),
      );
      for (const [b] of replies) assert.deepEqual(b, blob);
      c.close();
    } finally {
      tiny.stop(true);
    }
  });

  it('peer to peer over a stream we connected ourselves (fromStream)', async () => {
    const path = server.clientAddress.split(',')[0]?.slice('unix:path='.length) as string;
    const socket = netConnect(path);
    await new Promise((r) => socket.once('connect', r));
    const c = await DBusConnection.fromStream(socket, { mechanisms: ['DBUS_COOKIE_SHA1'] });
    assert.equal(c.uniqueName, undefined);
    assert.equal(c.guid, server.guid);
    assert.deepEqual(
      await c.call({ path: '/p', interface: 'org.example.P', member: 'Len', signature: 'ay', body: [Buffer.alloc(9)] }),
      [9],
    );
    await c.flush();
    c.close();
  });
});

describe('DBusConnection.fromStream as the server side', () => {
  it('authenticates a client on a socket accepted by a plain net server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conn3-'));
    const path = join(dir, 'sock');
    let accepted: (c: Promise<DBusConnection>) => void = () => {};
    const serverSide = new Promise<Promise<DBusConnection>>((r) => {
      accepted = r;
    });
    const srv = createServer((socket) => {
      srv.close();
      accepted(DBusConnection.fromStream(socket, { unix: true, server: { guid: 'a'.repeat(32) } }));
    });
    await new Promise<void>((r) => srv.listen(path, r));
    try {
      const client = await DBusConnection.connect(`unix:path=${path}`);
      const sconn = await await serverSide;
      assert.equal(client.guid, 'a'.repeat(32));
      assert.equal(sconn.peerUid, process.getuid?.());
      const got = new Promise<Message>((r) => client.signalSubscribe({ member: 'Hi' }, r));
      sconn.emitSignal(null, '/s', 'org.example.S', 'Hi', 'u', [5]);
      assert.deepEqual((await got).body, [5]);
      client.close();
      sconn.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a server that breaks the protocol', () => {
  /** A fake server: answers SASL with OK, then sends `garbage` once the client's first message arrives. */
  async function fakeServer(dir: string, garbage: Buffer): Promise<{ path: string; close(): void }> {
    const path = join(dir, `fake-${garbage.length}`);
    const srv = createServer((socket) => {
      let text = '';
      let begun = false;
      socket.on('data', (b: Buffer) => {
        if (begun) {
          socket.write(garbage);
          return;
        }
        text += b.toString('latin1');
        if (text.includes('AUTH ') && !text.includes('OK-SENT')) {
          text += 'OK-SENT';
          socket.write(`OK ${'b'.repeat(32)}\r\n`);
        }
        if (text.includes('NEGOTIATE_UNIX_FD') && !text.includes('AGREED')) {
          text += 'AGREED';
          socket.write('ERROR\r\n');
        }
        const at = b.indexOf('BEGIN\r\n');
        if (at >= 0) {
          begun = true;
          if (b.length > at + 7) socket.write(garbage);
        }
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => srv.listen(path, r));
    return { path, close: () => srv.close() };
  }

  for (const [label, garbage] of [
    ['a bad byte-order mark', Buffer.from('X\x01\x00\x01' + '\x00'.repeat(12), 'latin1')],
    ['a length over 128 MiB', Buffer.from('l\x02\x00\x01\xff\xff\xff\x7f\x01\x00\x00\x00\x00\x00\x00\x00', 'latin1')],
  ] as const) {
    it(`closes our connection with DBusProtocolError on ${label}; pending calls fail with DBusClosedError`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'conn4-'));
      const fake = await fakeServer(dir, garbage);
      try {
        const c = await DBusConnection.connect(`unix:path=${fake.path}`);
        assert.equal(c.unixFd, false);
        const closed = new Promise<unknown[]>((r) => c.once('closed', (...a) => r(a)));
        await assert.rejects(c.call({ path: '/x', member: 'Y' }), DBusClosedError);
        const [vanished, error] = await closed;
        assert.equal(vanished, true);
        assert.ok(error instanceof DBusProtocolError, String(error));
      } finally {
        fake.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('match rules', () => {
  const signal = (over: Partial<Message>): Message => ({
    type: MessageType.Signal,
    flags: 0,
    serial: 1,
    path: '/a/b',
    interface: 'org.x.I',
    member: 'M',
    sender: ':1.5',
    signature: 'so',
    body: ['org.foo.Bar', '/p/q'],
    ...over,
  });

  it('formats rules with quoting of apostrophes, and parses them back', () => {
    const rule = {
      type: 'signal' as const,
      sender: 'org.x',
      interface: 'org.x.I',
      member: 'M',
      pathNamespace: '/a',
      args: new Map([[0, "it's"]]),
      argPaths: new Map([[1, '/p/']]),
    };
    const text = formatMatchRule(rule);
    assert.equal(text, "type='signal',sender='org.x',interface='org.x.I',member='M',path_namespace='/a',arg0='it'\\''s',arg1path='/p/'");
    assert.deepEqual(parseMatchRule(text), rule);
    assert.deepEqual(parseMatchRule("arg0namespace='org.foo',eavesdrop='true'"), { arg0namespace: 'org.foo', eavesdrop: true });
  });

  it('rejects bad rules', () => {
    for (const bad of ["type='nope'", "foo='x'", "path='/a',path_namespace='/a'", "arg64='x'", "member='M", 'member']) {
      assert.throws(() => parseMatchRule(bad), DBusInvalidArgsError, bad);
    }
  });

  it('matches messages the way dbus-daemon does', () => {
    const m = signal({});
    assert.ok(matchesRule({ type: 'signal', interface: 'org.x.I' }, m));
    assert.ok(!matchesRule({ type: 'method_call' }, m));
    assert.ok(matchesRule({ pathNamespace: '/a' }, m));
    assert.ok(matchesRule({ pathNamespace: '/' }, m));
    assert.ok(!matchesRule({ pathNamespace: '/a/b/c' }, m));
    assert.ok(!matchesRule({ pathNamespace: '/a/bb' }, m));
    assert.ok(matchesRule({ args: new Map([[0, 'org.foo.Bar']]) }, m));
    assert.ok(!matchesRule({ args: new Map([[1, '/p/q']]) }, m), 'argN matches strings only, not object paths');
    assert.ok(matchesRule({ argPaths: new Map([[1, '/p/']]) }, m));
    assert.ok(matchesRule({ arg0namespace: 'org.foo' }, m));
    assert.ok(!matchesRule({ arg0namespace: 'org.fo' }, m));
    assert.ok(matchesRule({ sender: ':1.5' }, m));
    assert.ok(!matchesRule({ sender: ':1.6' }, m));
    assert.ok(matchesRule({ sender: 'org.owner' }, m, (rule, sender) => rule === 'org.owner' && sender === ':1.5'));
    assert.ok(!matchesRule({ args: new Map([[0, 'x']]) }, signal({ signature: 'a(ss)s', body: [[], 'x'] })));
    assert.ok(matchesRule({ args: new Map([[1, 'x']]) }, signal({ signature: 'a(ss)s', body: [[], 'x'] })));
  });
});
