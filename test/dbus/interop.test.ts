// Our connection on a real bus, with gdbus and busctl as the other peers.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { DBusConnection } from '../../src/dbus/connection.js';
import { RequestNameReply } from '../../src/dbus/connection-options.js';
import { DBusError } from '../../src/dbus/errors.js';
import type { InterfaceDeclaration } from '../../src/dbus/interface.js';
import type { Message } from '../../src/dbus/message.js';
import { unixFdSupported } from '../../src/dbus/transport.js';
import { Variant } from '../../src/dbus/variant.js';
import { type PrivateBus, startBus } from '../helpers/bus.js';
import { run } from '../helpers/run.js';

const NAME = 'org.example.Interop';
const IFACE: InterfaceDeclaration = {
  name: 'org.example.Interop',
  methods: [
    {
      name: 'Describe',
      in: [
        { name: 'n', signature: 'i' },
        { name: 's', signature: 's' },
        { name: 'd', signature: 'a{sv}' },
      ],
      out: [{ name: 'r', signature: 's' }],
    },
    { name: 'Pair', in: [{ name: 't', signature: 't' }], out: [{ name: 'p', signature: '(tas)' }] },
    { name: 'Boom', in: [], out: [] },
  ],
  signals: [{ name: 'Changed', args: [{ name: 'what', signature: 's' }] }],
  properties: [{ name: 'Version', signature: 'u', access: 'read' }],
};

async function until(cond: () => boolean, what: string, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('interoperability with gdbus and busctl on a private bus', () => {
  let bus: PrivateBus;
  let conn: DBusConnection;
  const children: ChildProcess[] = [];

  before(async () => {
    bus = await startBus();
    conn = await DBusConnection.connect(bus.address, { bus: true });
    conn.registerObject('/org/example/Interop', IFACE, {
      methods: {
        Describe: ([n, s, d]) => {
          const dict = d as Map<string, Variant>;
          const keys = [...dict.keys()].sort().map((k) => `${k}=${String(dict.get(k)?.value)}`);
          return [`${n}|${s}|${keys.join(',')}`];
        },
        Pair: ([t]) => [[(t as bigint) + 1n, ['a', 'b']]],
        Boom: () => {
          throw new DBusError('org.example.Error.Boom', 'it blew up');
        },
      },
      properties: { Version: { get: () => 7 } },
    });
    assert.equal(await conn.requestName(NAME, 4), RequestNameReply.PrimaryOwner);
  });
  after(async () => {
    for (const c of children) c.kill();
    conn?.close();
    await bus?.stop();
  });

  it('gdbus call reaches our object, with dict and variant arguments', async () => {
    const r = await run('gdbus', [
      'call',
      '--address',
      bus.address,
      '-d',
      NAME,
      '-o',
      '/org/example/Interop',
      '-m',
      'org.example.Interop.Describe',
      '5',
      'five',
      "{'x': <int32 1>, 'y': <'why'>}",
    ]);
    assert.equal(r.out, "('5|five|x=1,y=why',)", r.err);
  });

  it('gdbus sees our error names and properties', async () => {
    const boom = await run('gdbus', [
      'call',
      '--address',
      bus.address,
      '-d',
      NAME,
      '-o',
      '/org/example/Interop',
      '-m',
      'org.example.Interop.Boom',
    ]);
    assert.notEqual(boom.code, 0);
    assert.match(boom.err, /org\.example\.Error\.Boom/);
    const prop = await run('gdbus', [
      'call',
      '--address',
      bus.address,
      '-d',
      NAME,
      '-o',
      '/org/example/Interop',
      '-m',
      'org.freedesktop.DBus.Properties.Get',
      'org.example.Interop',
      'Version',
    ]);
    assert.equal(prop.out, '(<uint32 7>,)', prop.err);
  });

  it('busctl call reaches our object (sd-bus as client)', async () => {
    const r = await run('busctl', [
      `--address=${bus.address}`,
      'call',
      NAME,
      '/org/example/Interop',
      'org.example.Interop',
      'Pair',
      't',
      '41',
    ]);
    assert.equal(r.out, '(tas) 42 2 "a" "b"', r.err);
    const d = await run('busctl', [
      `--address=${bus.address}`,
      'call',
      NAME,
      '/org/example/Interop',
      'org.example.Interop',
      'Describe',
      'isa{sv}',
      '1',
      'one',
      '1',
      'k',
      'u',
      '9',
    ]);
    assert.equal(d.out, 's "1|one|k=9"', d.err);
  });

  it('gdbus introspect lists our interface', async () => {
    const r = await run('gdbus', ['introspect', '--address', bus.address, '-d', NAME, '-o', '/org/example/Interop']);
    assert.match(r.out, /interface org\.example\.Interop/);
    assert.match(r.out, /Describe\(in {2}i n,/);
  });

  it('receives a signal sent by gdbus emit', async () => {
    const got: Message[] = [];
    const id = conn.signalSubscribe({ interface: 'org.example.FromGdbus', member: 'Hi' }, (m) => got.push(m));
    await conn.call({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'GetId',
    });
    // `gdbus emit --address` skips Hello (the bus would not route it); --session says Hello.
    const r = await run('gdbus', ['emit', '--session', '-o', '/from/gdbus', '-s', 'org.example.FromGdbus.Hi', "'hello'", '42'], {
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: bus.address },
    });
    assert.equal(r.code, 0, r.err);
    await until(() => got.length === 1, 'gdbus signal');
    assert.equal(got[0]?.path, '/from/gdbus');
    assert.equal(got[0]?.signature, 'si');
    assert.deepEqual(got[0]?.body, ['hello', 42]);
    conn.signalUnsubscribe(id);
  });

  it('gdbus monitor receives our signal', async () => {
    const mon = spawn('gdbus', ['monitor', '--address', bus.address, '-d', NAME], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(mon);
    let out = '';
    mon.stdout.on('data', (b) => {
      out += b;
    });
    await until(() => out.includes('is owned by'), 'gdbus monitor start');
    // gdbus monitor matches signals by our name's owner, which it may still be looking up when it
    // says the name is owned (seen on a loaded machine): the signal is sent again until it shows.
    const end = Date.now() + 20_000;
    while (!out.includes('Changed')) {
      if (Date.now() > end) throw new Error(`timed out waiting for the signal in gdbus monitor: ${out}`);
      conn.emitSignal(null, '/org/example/Interop', 'org.example.Interop', 'Changed', 's', ['everything']);
      await until(() => out.includes('Changed'), 'signal in gdbus monitor', 1000).catch(() => {});
    }
    assert.match(out, /\/org\/example\/Interop: org\.example\.Interop\.Changed \('everything',\)/);
    mon.kill();
  });

  it('calls objects gdbus-side through the bus driver with variants both ways', async () => {
    const [v] = await conn.call({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus.Properties',
      member: 'Get',
      signature: 'ss',
      body: ['org.freedesktop.DBus', 'Features'],
    });
    assert.ok(v instanceof Variant);
    assert.equal(v.signature, 'as');
  });
});

describe('a dbus-daemon on an abstract socket', () => {
  let bus: PrivateBus;
  before(async () => {
    bus = await startBus({ listen: `unix:abstract=libvirt-dbus-test-bus-${process.pid}` });
  });
  after(async () => {
    await bus?.stop();
  });

  it('is reached by our client (the name is used with its exact length, as libdbus and GLib do)', async () => {
    assert.match(bus.address, /^unix:abstract=/);
    if (!unixFdSupported()) {
      // Without the native addon Node pads abstract names to the whole sun_path (documented limit).
      await assert.rejects(DBusConnection.connect(bus.address, { bus: true }));
      return;
    }
    const conn = await DBusConnection.connect(bus.address, { bus: true });
    try {
      const [id] = (await conn.call({
        destination: 'org.freedesktop.DBus',
        path: '/org/freedesktop/DBus',
        interface: 'org.freedesktop.DBus',
        member: 'GetId',
      })) as [string];
      assert.match(id, /^[0-9a-f]{32}$/);
    } finally {
      conn.close();
    }
  });
});
