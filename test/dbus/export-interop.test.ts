// Exported objects on a private dbus-daemon, called by real peers: gdbus, busctl and python3-dbus.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { DBusConnection } from '../../src/dbus/connection.js';
import { DBusError } from '../../src/dbus/errors.js';
import type { ObjectImplementation } from '../../src/dbus/export.js';
import type { InterfaceDeclaration } from '../../src/dbus/interface.js';
import { parseInterfaceXml, parseIntrospectionXml } from '../../src/dbus/introspection.js';
import { Variant } from '../../src/dbus/variant.js';
import { type PrivateBus, startBus } from '../helpers/bus.js';

const execFileAsync = promisify(execFile);
// The system interpreter has python3-dbus; a python3 earlier on PATH (pyenv) may not.
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const NAME = 'org.example.Export';
const BIG = 'org.example.Big';

const Calc: InterfaceDeclaration = {
  name: 'org.example.Calc',
  annotations: { 'org.example.Note': 'declared once' },
  methods: [
    {
      name: 'Add',
      in: [
        { name: 'a', signature: 'i' },
        { name: 'b', signature: 'i' },
      ],
      out: [{ name: 'sum', signature: 'i' }],
    },
    { name: 'Slow', in: [{ name: 'x', signature: 's' }], out: [{ name: 'y', signature: 's' }] },
    { name: 'Fail', in: [{ name: 'how', signature: 's' }], out: [] },
    {
      name: 'Describe',
      in: [],
      out: [
        { name: 'info', signature: 'a{sv}' },
        { name: 'tags', signature: 'as' },
      ],
    },
  ],
  signals: [{ name: 'Added', args: [{ name: 'sum', signature: 'i' }] }],
  properties: [
    { name: 'Name', signature: 's', access: 'read' },
    { name: 'Level', signature: 'u', access: 'readwrite' },
    { name: 'Secret', signature: 's', access: 'write' },
  ],
};

const Item: InterfaceDeclaration = {
  name: 'org.example.Item',
  methods: [{ name: 'Index', in: [], out: [{ name: 'index', signature: 'u' }] }],
  signals: [],
  properties: [{ name: 'Label', signature: 's', access: 'read' }],
};

function calcImpl(): ObjectImplementation {
  let level = 3;
  return {
    methods: {
      Add: ([a, b]) => [(a as number) + (b as number)],
      Slow: async ([x]) => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        return [`${x as string}!`];
      },
      Fail: ([how]) => {
        if (how === 'custom') throw new DBusError('org.example.Error.Custom', 'custom failure');
        throw new Error('plain failure');
      },
      Describe: () => [{ answer: new Variant('u', 42), who: new Variant('s', 'calc') }, ['a', 'b']],
    },
    properties: {
      Name: { get: () => 'calculator' },
      Level: {
        get: () => level,
        set: (v) => {
          level = v as number;
        },
      },
      Secret: { set: () => {} },
    },
  };
}

const itemImpl: ObjectImplementation = {
  methods: { Index: (_a, inv) => [Number(inv.path.slice(inv.path.lastIndexOf('item') + 4))] },
  properties: { Label: { get: (ctx) => `label of ${ctx.path.slice(ctx.path.lastIndexOf('/') + 1)}` } },
};

function itemSubtree(count: number) {
  const names = Array.from({ length: count }, (_, i) => `item${i}`);
  return {
    enumerate: () => names,
    introspect: (child: string | null) => (child === null ? null : [Item]),
    dispatch: (_child: string | null, iface: string) => (iface === Item.name ? itemImpl : undefined),
  };
}

let bus: PrivateBus;
let conn: DBusConnection;
let big: DBusConnection;
const DomainDecl = parseInterfaceXml(readFileSync('/usr/share/dbus-1/interfaces/org.libvirt.Domain.xml', 'utf8'));

before(async () => {
  bus = await startBus();
  conn = await DBusConnection.connect(bus.address, { bus: true });
  big = await DBusConnection.connect(bus.address, { bus: true });
  await conn.requestName(NAME);
  await big.requestName(BIG);
  conn.objects.addObjectManager('/org/example');
  conn.registerObject('/org/example/calc', Calc, calcImpl());
  conn.registerSubtree('/org/example/items', itemSubtree(3));
  conn.registerObject('/org/example/libvirt/domain', DomainDecl, {});
  big.registerSubtree('/big', itemSubtree(10_000), { dispatchToUnenumeratedNodes: true });
});

after(async () => {
  conn?.close();
  big?.close();
  await bus?.stop();
});

async function run(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await execFileAsync(cmd, args, { maxBuffer: 64 * 1024 * 1024, timeout: 30_000 });
    return { stdout: r.stdout, stderr: r.stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: number };
    return { stdout: err.stdout ?? '', stderr: err.stderr ?? '', code: typeof err.code === 'number' ? err.code : 1 };
  }
}

const gdbus = (sub: string, dest: string, ...args: string[]) => run('gdbus', [sub, '--address', bus.address, '--dest', dest, ...args]);
const busctl = (...args: string[]) => run('busctl', [`--address=${bus.address}`, ...args]);

// ----- gdbus -----

test('gdbus call: methods, async handlers, structured out args', async () => {
  let r = await gdbus('call', NAME, '--object-path', '/org/example/calc', '--method', 'org.example.Calc.Add', '2', '40');
  assert.equal(r.stdout.trim(), '(42,)');
  r = await gdbus('call', NAME, '--object-path', '/org/example/calc', '--method', 'org.example.Calc.Slow', 'hi');
  assert.equal(r.stdout.trim(), "('hi!',)");
  r = await gdbus('call', NAME, '--object-path', '/org/example/calc', '--method', 'org.example.Calc.Describe');
  assert.equal(r.stdout.trim(), "({'answer': <uint32 42>, 'who': <'calc'>}, ['a', 'b'])");
});

test('gdbus call: error replies carry the handler’s error name, or Failed', async () => {
  let r = await gdbus('call', NAME, '--object-path', '/org/example/calc', '--method', 'org.example.Calc.Fail', 'custom');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /GDBus\.Error:org\.example\.Error\.Custom: custom failure/);
  r = await gdbus('call', NAME, '--object-path', '/org/example/calc', '--method', 'org.example.Calc.Fail', 'plain');
  assert.match(r.stderr, /GDBus\.Error:org\.freedesktop\.DBus\.Error\.Failed: plain failure/);
  r = await gdbus('call', NAME, '--object-path', '/org/example/nowhere', '--method', 'org.example.Calc.Add', '1', '2');
  assert.match(r.stderr, /org\.freedesktop\.DBus\.Error\.UnknownMethod: Object does not exist at path “\/org\/example\/nowhere”/);
  r = await gdbus('call', NAME, '--object-path', '/org/example/calc', '--method', 'org.example.Nope.Add', '1', '2');
  assert.match(r.stderr, /UnknownMethod: No such interface “org\.example\.Nope” on object at path \/org\/example\/calc/);
});

test('gdbus call: Properties Get/Set/GetAll with access checks', async () => {
  const P = 'org.freedesktop.DBus.Properties';
  let r = await gdbus('call', NAME, '--object-path', '/org/example/calc', '--method', `${P}.Get`, 'org.example.Calc', 'Name');
  assert.equal(r.stdout.trim(), "(<'calculator'>,)");
  r = await gdbus('call', NAME, '--object-path', '/org/example/calc', '--method', `${P}.Set`, 'org.example.Calc', 'Level', '<uint32 8>');
  assert.equal(r.code, 0, r.stderr);
  r = await gdbus('call', NAME, '--object-path', '/org/example/calc', '--method', `${P}.GetAll`, 'org.example.Calc');
  assert.equal(r.stdout.trim(), "({'Name': <'calculator'>, 'Level': <uint32 8>},)");
  r = await gdbus('call', NAME, '--object-path', '/org/example/calc', '--method', `${P}.Set`, 'org.example.Calc', 'Name', '<"x">');
  assert.match(r.stderr, /org\.freedesktop\.DBus\.Error\.InvalidArgs: Property “Name” is not writable/);
  r = await gdbus('call', NAME, '--object-path', '/org/example/calc', '--method', `${P}.Set`, 'org.example.Calc', 'Level', '<"x">');
  assert.match(r.stderr, /InvalidArgs: Error setting property “Level”: Expected type “u” but got “s”/);
  r = await gdbus('call', NAME, '--object-path', '/org/example/calc', '--method', `${P}.Get`, 'org.example.Calc', 'Secret');
  assert.match(r.stderr, /InvalidArgs: Property “Secret” is not readable/);
  r = await gdbus('call', NAME, '--object-path', '/org/example/calc', '--method', `${P}.Get`, 'org.example.Calc', 'Nope');
  assert.match(r.stderr, /InvalidArgs: No such property “Nope”/);
});

test('gdbus introspect of a subtree of 10,000 nodes lists every node', async () => {
  const r = await gdbus('introspect', BIG, '--object-path', '/big');
  assert.equal(r.code, 0, r.stderr);
  const nodes = r.stdout.match(/^ {2}node item\d+ \{$/gm) ?? [];
  assert.equal(nodes.length, 10_000);
  assert.ok(r.stdout.includes('  node item9999 {'));
  const x = await gdbus('introspect', BIG, '--object-path', '/big', '--xml');
  assert.equal(parseIntrospectionXml(x.stdout).nodes.length, 10_000);
  const one = await gdbus('call', BIG, '--object-path', '/big/item4321', '--method', 'org.example.Item.Index');
  assert.equal(one.stdout.trim(), '(uint32 4321,)');
});

test('gdbus introspect of a subtree node shows its interfaces and property values', async () => {
  const r = await gdbus('introspect', NAME, '--object-path', '/org/example/items/item2');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /interface org\.example\.Item \{/);
  assert.match(r.stdout, /readonly s Label = 'label of item2';/);
});

test('introspection served to gdbus is generated from the declaration, annotations included', async () => {
  const r = await gdbus('introspect', NAME, '--object-path', '/org/example/libvirt/domain', '--xml');
  assert.equal(r.code, 0, r.stderr);
  const node = parseIntrospectionXml(r.stdout);
  const domain = node.interfaces.find((i) => i.name === 'org.libvirt.Domain');
  assert.deepEqual(JSON.parse(JSON.stringify(domain)), JSON.parse(JSON.stringify(DomainDecl)));
  const calc = parseIntrospectionXml((await gdbus('introspect', NAME, '--object-path', '/org/example/calc', '--xml')).stdout);
  assert.deepEqual(
    calc.interfaces.map((i) => i.name),
    ['org.freedesktop.DBus.Properties', 'org.freedesktop.DBus.Introspectable', 'org.freedesktop.DBus.Peer', 'org.example.Calc'],
  );
  assert.deepEqual(calc.interfaces[3]!.annotations, { 'org.example.Note': 'declared once' });
});

test('gdbus: GetManagedObjects of the object manager lists objects and subtree nodes with properties', async () => {
  const r = await gdbus('call', NAME, '--object-path', '/org/example', '--method', 'org.freedesktop.DBus.ObjectManager.GetManagedObjects');
  assert.equal(r.code, 0, r.stderr);
  for (const p of ['/org/example/calc', '/org/example/items/item0', '/org/example/items/item2', '/org/example/libvirt/domain']) {
    assert.ok(r.stdout.includes(`'${p}'`), `${p} listed`);
  }
  assert.ok(r.stdout.includes("'/org/example/items/item1': {'org.example.Item': {'Label': <'label of item1'>}}"));
  assert.ok(r.stdout.includes("'Name': <'calculator'>"));
});

test('gdbus monitor sees PropertiesChanged, declared signals and InterfacesAdded/Removed', async () => {
  const monitor = spawn('gdbus', ['monitor', '--address', bus.address, '--dest', NAME], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const seen = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`gdbus monitor did not show ${re}: ${out}`)), 20_000);
      const check = () => {
        if (re.test(out)) {
          clearTimeout(timer);
          monitor.stdout.off('data', onData);
          resolve();
        }
      };
      const onData = (b: Buffer) => {
        out += b.toString();
        check();
      };
      monitor.stdout.on('data', onData);
      check();
    });
  try {
    await seen(/is owned by/);
    // gdbus monitor learns the owner of the name asynchronously and drops signals that come
    // before; emit the batch again until it shows up.
    const emitBatch = () => {
      conn.objects.emitPropertiesChanged('/org/example/calc', 'org.example.Calc', { Level: 11 }, ['Name']);
      conn.objects.emitDeclaredSignal('/org/example/calc', Calc, 'Added', [99]);
      const reg = conn.registerObject('/org/example/extra', Item, itemImpl);
      reg.unregister();
    };
    emitBatch();
    const again = setInterval(emitBatch, 500);
    try {
      await seen(/^(?=[\s\S]*PropertiesChanged)(?=[\s\S]*Calc\.Added)(?=[\s\S]*InterfacesAdded)(?=[\s\S]*InterfacesRemoved)/);
    } finally {
      clearInterval(again);
    }
    assert.match(
      out,
      /\/org\/example\/calc: org\.freedesktop\.DBus\.Properties\.PropertiesChanged \('org\.example\.Calc', \{'Level': <uint32 11>\}, \['Name'\]\)/,
    );
    assert.match(out, /\/org\/example\/calc: org\.example\.Calc\.Added \(99,\)/);
    assert.match(
      out,
      /\/org\/example: org\.freedesktop\.DBus\.ObjectManager\.InterfacesAdded \(objectpath '\/org\/example\/extra', \{'org\.example\.Item': \{'Label': <'label of extra'>\}\}\)/,
    );
    assert.match(out, /InterfacesRemoved \(objectpath '\/org\/example\/extra', \['org\.example\.Item'\]\)/);
  } finally {
    await new Promise<void>((resolve) => {
      monitor.once('exit', () => resolve());
      monitor.kill('SIGTERM');
    });
  }
});

// ----- busctl -----

test('busctl call, get-property and set-property', async () => {
  let r = await busctl('call', NAME, '/org/example/calc', 'org.example.Calc', 'Add', 'ii', '20', '22');
  assert.equal(r.stdout.trim(), 'i 42');
  r = await busctl('get-property', NAME, '/org/example/calc', 'org.example.Calc', 'Name');
  assert.equal(r.stdout.trim(), 's "calculator"');
  r = await busctl('set-property', NAME, '/org/example/calc', 'org.example.Calc', 'Level', 'u', '5');
  assert.equal(r.code, 0, r.stderr);
  r = await busctl('get-property', NAME, '/org/example/calc', 'org.example.Calc', 'Level');
  assert.equal(r.stdout.trim(), 'u 5');
  r = await busctl('set-property', NAME, '/org/example/calc', 'org.example.Calc', 'Name', 's', 'x');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Property “Name” is not writable/);
});

test('busctl call with a wrong signature gets InvalidArgs from the exporter', async () => {
  const r = await busctl('call', NAME, '/org/example/calc', 'org.example.Calc', 'Add', 's', 'x');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Type of message, “\(s\)”, does not match expected type “\(ii\)”/);
});

test('busctl tree shows registered objects, intermediate nodes and subtree nodes', async () => {
  const r = await busctl('tree', NAME);
  assert.equal(r.code, 0, r.stderr);
  for (const p of [
    '/org',
    '/org/example',
    '/org/example/calc',
    '/org/example/items',
    '/org/example/items/item0',
    '/org/example/items/item2',
    '/org/example/libvirt/domain',
  ]) {
    assert.match(r.stdout, new RegExp(`─${p.replaceAll('/', '\\/')}$`, 'm'), `${p} in tree`);
  }
});

test('busctl introspect reads properties of a subtree node through GetAll', async () => {
  const r = await busctl('introspect', NAME, '/org/example/items/item1');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\.Label\s+property\s+s\s+"label of item1"/m);
});

test('Peer.Ping and GetMachineId answer on any path', async () => {
  let r = await busctl('call', NAME, '/not/exported', 'org.freedesktop.DBus.Peer', 'Ping');
  assert.equal(r.code, 0, r.stderr);
  r = await busctl('call', NAME, '/', 'org.freedesktop.DBus.Peer', 'GetMachineId');
  assert.equal(r.stdout.trim(), `s "${readFileSync('/etc/machine-id', 'utf8').trim()}"`);
});

// ----- python3-dbus -----

const PYTHON_CLIENT = `
import sys, json, dbus
bus = dbus.bus.BusConnection(sys.argv[1])
obj = bus.get_object('${NAME}', '/org/example/calc')
calc = dbus.Interface(obj, 'org.example.Calc')
props = dbus.Interface(obj, 'org.freedesktop.DBus.Properties')
out = {}
def err(f):
    try:
        f()
        return None
    except dbus.DBusException as e:
        return [e.get_dbus_name(), e.get_dbus_message()]
out['add'] = int(calc.Add(5, 6))
out['slow'] = str(calc.Slow('py'))
info, tags = calc.Describe()
out['describe'] = [{str(k): (int(v) if isinstance(v, dbus.UInt32) else str(v)) for k, v in info.items()}, [str(t) for t in tags]]
out['custom'] = err(lambda: calc.Fail('custom'))
out['plain'] = err(lambda: calc.Fail('plain'))
out['wrongsig'] = err(lambda: calc.Add('x', signature='s'))
out['unknown'] = err(lambda: calc.Nope())
props.Set('org.example.Calc', 'Level', dbus.UInt32(77))
out['level'] = int(props.Get('org.example.Calc', 'Level'))
out['all'] = sorted(str(k) for k in props.GetAll('org.example.Calc').keys())
out['readonly'] = err(lambda: props.Set('org.example.Calc', 'Name', 'x'))
item = bus.get_object('${NAME}', '/org/example/items/item1')
out['item'] = int(item.Index(dbus_interface='org.example.Item'))
out['label'] = str(item.Get('org.example.Item', 'Label', dbus_interface='org.freedesktop.DBus.Properties'))
out['introspect'] = str(obj.Introspect(dbus_interface='org.freedesktop.DBus.Introspectable'))
print(json.dumps(out))
`;

test('python3-dbus calls methods, properties, and sees error names', async () => {
  const r = await run(PYTHON, ['-c', PYTHON_CLIENT, bus.address]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(out['add'], 11);
  assert.equal(out['slow'], 'py!');
  assert.deepEqual(out['describe'], [{ answer: 42, who: 'calc' }, ['a', 'b']]);
  assert.deepEqual(out['custom'], ['org.example.Error.Custom', 'custom failure']);
  assert.deepEqual(out['plain'], ['org.freedesktop.DBus.Error.Failed', 'plain failure']);
  assert.deepEqual(out['wrongsig'], [
    'org.freedesktop.DBus.Error.InvalidArgs',
    'Type of message, “(s)”, does not match expected type “(ii)”',
  ]);
  assert.deepEqual(out['unknown'], ['org.freedesktop.DBus.Error.UnknownMethod', 'No such method “Nope”']);
  assert.equal(out['level'], 77);
  assert.deepEqual(out['all'], ['Level', 'Name']);
  assert.deepEqual(out['readonly'], ['org.freedesktop.DBus.Error.InvalidArgs', 'Property “Name” is not writable']);
  assert.equal(out['item'], 1);
  assert.equal(out['label'], 'label of item1');
  assert.ok(parseIntrospectionXml(out['introspect'] as string).interfaces.some((i) => i.name === 'org.example.Calc'));
});
