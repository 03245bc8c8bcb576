// ObjectExporter with an in-memory host: every message goes through the real codec both ways,
// so what the exporter sends is also checked to be valid on the wire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DBusError, DBusInvalidArgsError, StandardErrors } from '../../src/dbus/errors.js';
import {
  buildSignal,
  type ExporterOptions,
  type ExportHost,
  type ObjectImplementation,
  ObjectExporter,
  ObjectPathInUseError,
  PropertyWriteOnlyError,
  type SubtreeHandler,
} from '../../src/dbus/export.js';
import type { InterfaceDeclaration } from '../../src/dbus/interface.js';
import { parseIntrospectionXml } from '../../src/dbus/introspection.js';
import { decodeMessage, encodeMessage } from '../../src/dbus/framing.js';
import { type Message, MessageFlags, MessageType } from '../../src/dbus/message.js';
import { Variant } from '../../src/dbus/variant.js';

const CALLER = ':1.42';

/** An in-memory connection: calls are encoded/decoded like real ones and replies collected. */
class MemoryPeer implements ExportHost {
  readonly sent: Message[] = [];
  /** send() encodes at once and throws for bad values: set to let the exporter rely on that. */
  checksValues = false;
  private serial = 0;
  private waiters: Array<() => void> = [];
  readonly exporter: ObjectExporter;

  constructor(options?: ExporterOptions) {
    this.exporter = new ObjectExporter(this, options);
  }

  send(msg: Omit<Message, 'serial'>): void {
    // Encoding proves the message is valid; decoding gives what a peer would see.
    const wire = encodeMessage({ ...msg, serial: 1000 + this.sent.length });
    this.sent.push(decodeMessage(wire));
    for (const w of this.waiters.splice(0)) w();
  }

  /** Sends a call; resolves with its reply (or undefined if none came within a few ticks when none is expected). */
  async call(path: string, iface: string | undefined, member: string, signature = '', body: unknown[] = [], flags = 0): Promise<Message> {
    const serial = ++this.serial;
    const call: Message = { type: MessageType.MethodCall, flags, serial, path, member, signature, body, sender: CALLER };
    if (iface !== undefined) call.interface = iface;
    this.exporter.handleMethodCall(decodeMessage(encodeMessage(call)));
    for (;;) {
      const reply = this.sent.find((m) => m.replySerial === serial);
      if (reply) return reply;
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
      });
    }
  }

  /** Calls and returns the body of a successful reply, or throws the error reply as DBusError. */
  async ok(path: string, iface: string | undefined, member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    const r = await this.call(path, iface, member, signature, body);
    if (r.type === MessageType.Error) throw new DBusError(r.errorName!, String(r.body[0]));
    return r.body;
  }

  async err(path: string, iface: string | undefined, member: string, signature = '', body: unknown[] = []): Promise<Message> {
    const r = await this.call(path, iface, member, signature, body);
    assert.equal(r.type, MessageType.Error, `expected an error, got ${JSON.stringify(r.body)}`);
    return r;
  }

  /** Resolves once `pred` holds (checked after every message sent). */
  async waitFor(pred: () => boolean): Promise<void> {
    while (!pred()) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
      });
    }
  }

  signals(): Message[] {
    return this.sent.filter((m) => m.type === MessageType.Signal);
  }
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

const Calc: InterfaceDeclaration = {
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
    { name: 'Slow', in: [{ name: 'x', signature: 's' }], out: [{ name: 'y', signature: 's' }] },
    { name: 'Fail', in: [{ name: 'how', signature: 's' }], out: [] },
    { name: 'Bad', in: [], out: [{ name: 'n', signature: 'u' }] },
    { name: 'Nothing', in: [], out: [{ name: 'n', signature: 'u' }] },
    { name: 'Void', in: [], out: [] },
    { name: 'Later', in: [], out: [{ name: 'n', signature: 'a{sv}' }] },
    { name: 'Unimplemented', in: [], out: [] },
  ],
  signals: [
    {
      name: 'Added',
      args: [
        { name: 'sum', signature: 'i' },
        { name: 'who', signature: 's' },
      ],
    },
  ],
  properties: [
    { name: 'Name', signature: 's', access: 'read' },
    { name: 'Level', signature: 'u', access: 'readwrite' },
    { name: 'Secret', signature: 's', access: 'write' },
    { name: 'Big', signature: 't', access: 'read' },
    { name: 'Any', signature: 'v', access: 'readwrite' },
  ],
};

function calcImpl(log: string[] = []): ObjectImplementation {
  let level = 3;
  let any: Variant = new Variant('s', 'hi');
  return {
    methods: {
      Add: ([a, b]) => [(a as number) + (b as number)],
      Slow: async ([x]) => {
        await tick();
        return [`${x as string}!`];
      },
      Fail: ([how]) => {
        if (how === 'custom') throw new DBusError('org.example.Error.Custom', 'custom failure');
        if (how === 'async') return Promise.reject(new DBusError('org.example.Error.Async', 'later failure'));
        throw new TypeError('plain failure');
      },
      Bad: () => ['not a number'],
      Nothing: () => undefined,
      Void: (_args, inv) => {
        log.push(`void from ${inv.sender} at ${inv.path} ${inv.interfaceName}.${inv.member}`);
      },
      Later: (_args, inv) => {
        inv.defer();
        setTimeout(() => inv.returnValue([new Map([['k', new Variant('u', 7)]])]), 5);
        return undefined;
      },
    },
    properties: {
      Name: { get: (ctx) => `calc at ${ctx.path}` },
    },
    getProperty(name) {
      if (name === 'Level') return level;
      if (name === 'Big') return 2n ** 60n;
      if (name === 'Any') return any;
      throw new Error(`unexpected get ${name}`);
    },
    setProperty(name, value) {
      log.push(`set ${name}=${String(value instanceof Variant ? value.value : value)}`);
      if (name === 'Level') level = value as number;
      if (name === 'Any') any = value as Variant;
    },
  };
}

function setup(options?: ExporterOptions) {
  const peer = new MemoryPeer(options);
  const log: string[] = [];
  const reg = peer.exporter.registerObject('/org/example/calc', Calc, calcImpl(log));
  return { peer, log, reg, exporter: peer.exporter };
}

test('a method call is answered with its out args, to the caller, with reply serial', async () => {
  const { peer } = setup();
  const r = await peer.call('/org/example/calc', 'org.example.Calc', 'Add', 'ii', [2, 40]);
  assert.equal(r.type, MessageType.MethodReturn);
  assert.equal(r.destination, CALLER);
  assert.equal(r.signature, 'i');
  assert.deepEqual(r.body, [42]);
});

test('async handlers are awaited', async () => {
  const { peer } = setup();
  assert.deepEqual(await peer.ok('/org/example/calc', 'org.example.Calc', 'Slow', 's', ['hey']), ['hey!']);
});

test('a DBusError thrown or rejected keeps its name and message; other errors become Failed', async () => {
  const { peer } = setup();
  let r = await peer.err('/org/example/calc', 'org.example.Calc', 'Fail', 's', ['custom']);
  assert.equal(r.errorName, 'org.example.Error.Custom');
  assert.deepEqual(r.body, ['custom failure']);
  assert.equal(r.signature, 's');
  r = await peer.err('/org/example/calc', 'org.example.Calc', 'Fail', 's', ['async']);
  assert.equal(r.errorName, 'org.example.Error.Async');
  r = await peer.err('/org/example/calc', 'org.example.Calc', 'Fail', 's', ['plain']);
  assert.equal(r.errorName, StandardErrors.Failed);
  assert.deepEqual(r.body, ['plain failure']);
});

test('a handler returning values of the wrong type answers Failed, not a malformed reply', async () => {
  const { peer } = setup();
  const r = await peer.err('/org/example/calc', 'org.example.Calc', 'Bad');
  assert.equal(r.errorName, StandardErrors.Failed);
  assert.match(String(r.body[0]), /Bad.*“\(u\)”/);
});

test('replies are checked once: by a separate check, or by a host that encodes at once; same answers', async () => {
  for (const checksValues of [false, true]) {
    const { peer, exporter } = setup();
    peer.checksValues = checksValues;
    const r = await peer.err('/org/example/calc', 'org.example.Calc', 'Bad');
    assert.equal(r.errorName, StandardErrors.Failed);
    assert.deepEqual(r.body, [
      'Handler of org.example.Calc.Bad returned values not of type “(u)”: ' +
        `argument 0: expected an integer in 0..2^32-1 for type 'u', got the string "not a number"`,
    ]);
    assert.deepEqual(await peer.ok('/org/example/calc', 'org.example.Calc', 'Add', 'ii', [1, 2]), [3]);
    // Answering through the invocation: the bad values throw, after Failed was sent.
    let thrown: unknown;
    exporter.registerObject('/direct', Calc, {
      methods: {
        Bad: (_args, inv) => {
          try {
            inv.returnValue([-1]);
          } catch (e) {
            thrown = e;
          }
        },
      },
    });
    assert.equal((await peer.err('/direct', 'org.example.Calc', 'Bad')).errorName, StandardErrors.Failed);
    assert.ok(thrown instanceof DBusInvalidArgsError, String(checksValues));
  }
});

test('a handler returning nothing: empty reply without out args, Failed with out args', async () => {
  const { peer, log } = setup();
  const r = await peer.call('/org/example/calc', 'org.example.Calc', 'Void');
  assert.equal(r.type, MessageType.MethodReturn);
  assert.equal(r.signature, '');
  assert.deepEqual(log, [`void from ${CALLER} at /org/example/calc org.example.Calc.Void`]);
  const e = await peer.err('/org/example/calc', 'org.example.Calc', 'Nothing');
  assert.equal(e.errorName, StandardErrors.Failed);
});

test('a handler may answer later through the invocation', async () => {
  const { peer } = setup();
  const [m] = await peer.ok('/org/example/calc', 'org.example.Calc', 'Later');
  assert.ok(m instanceof Map);
  assert.deepEqual((m as Map<string, Variant>).get('k'), new Variant('u', 7));
});

test('a declared method without handler answers NotSupported', async () => {
  const { peer } = setup();
  assert.equal((await peer.err('/org/example/calc', 'org.example.Calc', 'Unimplemented')).errorName, StandardErrors.NotSupported);
});

test('arguments of the wrong signature answer InvalidArgs with GDBus’s message, handler not called', async () => {
  const { peer } = setup();
  const r = await peer.err('/org/example/calc', 'org.example.Calc', 'Add', 's', ['x']);
  assert.equal(r.errorName, StandardErrors.InvalidArgs);
  assert.deepEqual(r.body, ['Type of message, “(s)”, does not match expected type “(ii)”']);
});

test('unknown object, interface and method: GDBus names and messages by default', async () => {
  const { peer } = setup();
  let r = await peer.err('/org/example/nothing', 'org.example.Calc', 'Add', 'ii', [1, 2]);
  assert.equal(r.errorName, StandardErrors.UnknownMethod);
  assert.deepEqual(r.body, ['Object does not exist at path “/org/example/nothing”']);
  r = await peer.err('/org/example/calc', 'org.example.Nope', 'Add', 'ii', [1, 2]);
  assert.equal(r.errorName, StandardErrors.UnknownMethod);
  assert.deepEqual(r.body, ['No such interface “org.example.Nope” on object at path /org/example/calc']);
  r = await peer.err('/org/example/calc', 'org.example.Calc', 'Nope');
  assert.equal(r.errorName, StandardErrors.UnknownMethod);
  assert.deepEqual(r.body, ['No such method “Nope”']);
  r = await peer.err('/org/example/calc', undefined, 'Nope');
  assert.deepEqual(r.body, ['No such method “Nope”']);
});

test("errorNames: 'specific' answers UnknownObject, UnknownInterface, UnknownProperty, PropertyReadOnly", async () => {
  const { peer } = setup({ errorNames: 'specific' });
  const P = 'org.freedesktop.DBus.Properties';
  assert.equal((await peer.err('/org/example/nothing', 'org.example.Calc', 'Add', 'ii', [1, 2])).errorName, StandardErrors.UnknownObject);
  assert.equal((await peer.err('/org/example/calc', 'org.example.Nope', 'Add')).errorName, StandardErrors.UnknownInterface);
  assert.equal(
    (await peer.err('/org/example/calc', P, 'Get', 'ss', ['org.example.Calc', 'Nope'])).errorName,
    StandardErrors.UnknownProperty,
  );
  assert.equal((await peer.err('/org/example/calc', P, 'GetAll', 's', ['org.example.Nope'])).errorName, StandardErrors.UnknownInterface);
  assert.equal(
    (await peer.err('/org/example/calc', P, 'Set', 'ssv', ['org.example.Calc', 'Name', new Variant('s', 'x')])).errorName,
    StandardErrors.PropertyReadOnly,
  );
  assert.equal((await peer.err('/org/example/calc', P, 'Get', 'ss', ['org.example.Calc', 'Secret'])).errorName, PropertyWriteOnlyError);
});

test('NO_REPLY_EXPECTED: the handler runs, no reply or error is sent', async () => {
  const { peer, log } = setup();
  const noReply = MessageFlags.NoReplyExpected;
  const before = peer.sent.length;
  const call = (iface: string, member: string, sig = '', body: unknown[] = []) =>
    peer.exporter.handleMethodCall(
      decodeMessage(
        encodeMessage({
          type: MessageType.MethodCall,
          flags: noReply,
          serial: 77,
          path: '/org/example/calc',
          interface: iface,
          member,
          signature: sig,
          body,
          sender: CALLER,
        }),
      ),
    );
  call('org.example.Calc', 'Void');
  call('org.example.Calc', 'Fail', 's', ['custom']);
  call('org.example.Calc', 'Slow', 's', ['x']);
  call('org.example.Nope', 'Nope');
  call('org.example.Calc', 'Add', 's', ['wrong']);
  // A normal call queued after them: once it is answered, the earlier async handler has finished too.
  assert.deepEqual(await peer.ok('/org/example/calc', 'org.example.Calc', 'Slow', 's', ['y']), ['y!']);
  assert.equal(log.length, 1, 'the handler ran');
  assert.equal(peer.sent.length, before + 1, 'only the normal call was answered');
});

test('registering the same path and interface twice throws ObjectPathInUse; unregister frees it', async () => {
  const { peer, reg, exporter } = setup();
  assert.throws(
    () => exporter.registerObject('/org/example/calc', Calc, {}),
    (e: unknown) => e instanceof ObjectPathInUseError && e.errorName === 'org.freedesktop.DBus.Error.ObjectPathInUse',
  );
  assert.equal(reg.unregister(), true);
  assert.equal(reg.unregister(), false);
  assert.equal((await peer.err('/org/example/calc', 'org.example.Calc', 'Add', 'ii', [1, 1])).errorName, StandardErrors.UnknownMethod);
  const again = exporter.registerObject('/org/example/calc', Calc, calcImpl());
  assert.deepEqual(await peer.ok('/org/example/calc', 'org.example.Calc', 'Add', 'ii', [1, 1]), [2]);
  assert.equal(again.unregister(), true);
});

test('bad registrations throw typed errors', () => {
  const exporter = new ObjectExporter({ send() {} });
  assert.throws(
    () => exporter.registerObject('not/a/path', Calc, {}),
    (e: unknown) => e instanceof DBusError && e.errorName === StandardErrors.InvalidArgs,
  );
  assert.throws(() => exporter.registerObject('/a', { ...Calc, name: 'org.freedesktop.DBus.Properties' }, {}), DBusError);
  assert.throws(() => exporter.registerObject('/a', { name: 'x', methods: [], signals: [], properties: [] }, {}), DBusError);
  const badSig: InterfaceDeclaration = {
    name: 'a.b',
    methods: [{ name: 'M', in: [{ signature: 'a' }], out: [] }],
    signals: [],
    properties: [],
  };
  assert.throws(() => exporter.registerObject('/a', badSig, {}), DBusError);
  assert.throws(
    () => exporter.registerSubtree('/a/', { enumerate: () => [], introspect: () => null, dispatch: () => undefined }),
    DBusError,
  );
});

test('a call without interface finds the method on any interface of the object', async () => {
  const { peer, exporter } = setup();
  const Other: InterfaceDeclaration = {
    name: 'org.example.Other',
    methods: [{ name: 'Hello', in: [], out: [{ signature: 's' }] }],
    signals: [],
    properties: [],
  };
  exporter.registerObject('/org/example/calc', Other, { methods: { Hello: (_a, inv) => [`hello from ${inv.interfaceName}`] } });
  assert.deepEqual(await peer.ok('/org/example/calc', undefined, 'Add', 'ii', [1, 2]), [3]);
  assert.deepEqual(await peer.ok('/org/example/calc', undefined, 'Hello'), ['hello from org.example.Other']);
  // Standard interfaces too.
  assert.deepEqual(await peer.ok('/org/example/calc', undefined, 'Get', 'ss', ['org.example.Calc', 'Level']), [new Variant('u', 3)]);
  assert.deepEqual(await peer.ok('/anywhere', undefined, 'Ping'), []);
});

// ----- Properties -----

const PROPS = 'org.freedesktop.DBus.Properties';

test('Properties.Get reads through per-property accessors and getProperty, typed as declared', async () => {
  const { peer } = setup();
  assert.deepEqual(await peer.ok('/org/example/calc', PROPS, 'Get', 'ss', ['org.example.Calc', 'Name']), [
    new Variant('s', 'calc at /org/example/calc'),
  ]);
  assert.deepEqual(await peer.ok('/org/example/calc', PROPS, 'Get', 'ss', ['org.example.Calc', 'Big']), [new Variant('t', 2n ** 60n)]);
  assert.deepEqual(await peer.ok('/org/example/calc', PROPS, 'Get', 'ss', ['org.example.Calc', 'Any']), [
    new Variant('v', new Variant('s', 'hi')),
  ]);
});

test('Properties.GetAll returns every readable property in declaration order', async () => {
  const { peer } = setup();
  const [all] = await peer.ok('/org/example/calc', PROPS, 'GetAll', 's', ['org.example.Calc']);
  assert.ok(all instanceof Map);
  assert.deepEqual([...(all as Map<string, Variant>).keys()], ['Name', 'Level', 'Big', 'Any']);
  assert.deepEqual((all as Map<string, Variant>).get('Level'), new Variant('u', 3));
});

test('Properties.Set checks access and the value type, then calls the setter', async () => {
  const { peer, log } = setup();
  assert.deepEqual(await peer.ok('/org/example/calc', PROPS, 'Set', 'ssv', ['org.example.Calc', 'Level', new Variant('u', 9)]), []);
  assert.deepEqual(await peer.ok('/org/example/calc', PROPS, 'Get', 'ss', ['org.example.Calc', 'Level']), [new Variant('u', 9)]);
  await peer.ok('/org/example/calc', PROPS, 'Set', 'ssv', ['org.example.Calc', 'Secret', new Variant('s', 'pw')]);
  await peer.ok('/org/example/calc', PROPS, 'Set', 'ssv', ['org.example.Calc', 'Any', new Variant('v', new Variant('i', -1))]);
  assert.deepEqual(await peer.ok('/org/example/calc', PROPS, 'Get', 'ss', ['org.example.Calc', 'Any']), [
    new Variant('v', new Variant('i', -1)),
  ]);
  assert.deepEqual(log, ['set Level=9', 'set Secret=pw', 'set Any=-1']);

  let r = await peer.err('/org/example/calc', PROPS, 'Set', 'ssv', ['org.example.Calc', 'Level', new Variant('s', 'nine')]);
  assert.equal(r.errorName, StandardErrors.InvalidArgs);
  assert.deepEqual(r.body, ['Error setting property “Level”: Expected type “u” but got “s”']);
  r = await peer.err('/org/example/calc', PROPS, 'Set', 'ssv', ['org.example.Calc', 'Name', new Variant('s', 'x')]);
  assert.equal(r.errorName, StandardErrors.InvalidArgs);
  assert.deepEqual(r.body, ['Property “Name” is not writable']);
  r = await peer.err('/org/example/calc', PROPS, 'Get', 'ss', ['org.example.Calc', 'Secret']);
  assert.deepEqual(r.body, ['Property “Secret” is not readable']);
  r = await peer.err('/org/example/calc', PROPS, 'Get', 'ss', ['org.example.Calc', 'Nope']);
  assert.equal(r.errorName, StandardErrors.InvalidArgs);
  assert.deepEqual(r.body, ['No such property “Nope”']);
  r = await peer.err('/org/example/calc', PROPS, 'Get', 'ss', ['org.example.Nope', 'Nope']);
  assert.deepEqual(r.body, ['No such interface “org.example.Nope”']);
  r = await peer.err('/org/example/nothing', PROPS, 'Get', 'ss', ['org.example.Calc', 'Name']);
  assert.equal(r.errorName, StandardErrors.UnknownMethod);
  assert.deepEqual(r.body, ['Object does not exist at path “/org/example/nothing”']);
  // GDBus does not take a Properties call with other arguments for one at all.
  r = await peer.err('/org/example/calc', PROPS, 'Get', 's', ['org.example.Calc']);
  assert.equal(r.errorName, StandardErrors.UnknownMethod);
  assert.deepEqual(r.body, ['No such interface “org.freedesktop.DBus.Properties” on object at path /org/example/calc']);
  assert.equal(log.length, 3, 'no setter ran for a refused Set');
});

test('getter errors and getters returning the wrong type', async () => {
  const peer = new MemoryPeer();
  const Props: InterfaceDeclaration = {
    name: 'org.example.Props',
    methods: [],
    signals: [],
    properties: [
      { name: 'Good', signature: 's', access: 'read' },
      { name: 'Wrong', signature: 'u', access: 'read' },
      { name: 'Throws', signature: 's', access: 'read' },
      { name: 'Async', signature: 'as', access: 'read' },
    ],
  };
  peer.exporter.registerObject('/p', Props, {
    properties: {
      Good: { get: () => 'good' },
      Wrong: { get: () => 'not a number' },
      Throws: {
        get: () => {
          throw new DBusError('org.example.Error.Getter', 'getter failed');
        },
      },
      Async: { get: async () => ['a', 'b'] },
    },
  });
  let r = await peer.err('/p', PROPS, 'Get', 'ss', ['org.example.Props', 'Wrong']);
  assert.equal(r.errorName, StandardErrors.Failed);
  r = await peer.err('/p', PROPS, 'Get', 'ss', ['org.example.Props', 'Throws']);
  assert.equal(r.errorName, 'org.example.Error.Getter');
  assert.deepEqual(await peer.ok('/p', PROPS, 'Get', 'ss', ['org.example.Props', 'Async']), [new Variant('as', ['a', 'b'])]);
  // Without getAllProperties, GetAll fails with the first failing property.
  r = await peer.err('/p', PROPS, 'GetAll', 's', ['org.example.Props']);
  assert.equal(r.errorName, StandardErrors.Failed);
});

test('getAllProperties answers GetAll in one go', async () => {
  const peer = new MemoryPeer();
  const I: InterfaceDeclaration = {
    name: 'org.example.Bulk',
    methods: [],
    signals: [],
    properties: [
      { name: 'A', signature: 'u', access: 'read' },
      { name: 'B', signature: 's', access: 'read' },
    ],
  };
  let calls = 0;
  peer.exporter.registerObject('/bulk', I, {
    getAllProperties: async () => {
      calls++;
      return { A: 1, B: 'two', Undeclared: 3 };
    },
  });
  const [all] = await peer.ok('/bulk', PROPS, 'GetAll', 's', ['org.example.Bulk']);
  assert.deepEqual(
    all,
    new Map<string, Variant>([
      ['A', new Variant('u', 1)],
      ['B', new Variant('s', 'two')],
    ]),
  );
  assert.equal(calls, 1);
  // A readable property it leaves out (say, its getter failed) is left out of the answer.
  peer.exporter.registerObject('/partial', I, { getAllProperties: () => new Map([['B', 'only']]) });
  const [partial] = await peer.ok('/partial', PROPS, 'GetAll', 's', ['org.example.Bulk']);
  assert.deepEqual(partial, new Map<string, Variant>([['B', new Variant('s', 'only')]]));
});

// ----- Peer and Introspectable -----

test('Peer.Ping and GetMachineId work on any path, even unknown', async () => {
  const { peer } = setup();
  assert.deepEqual(await peer.ok('/no/such/thing', 'org.freedesktop.DBus.Peer', 'Ping'), []);
  const id = readFileSync('/etc/machine-id', 'utf8').trim();
  assert.deepEqual(await peer.ok('/', 'org.freedesktop.DBus.Peer', 'GetMachineId'), [id]);
  const r = await peer.err('/', 'org.freedesktop.DBus.Peer', 'Ping', 's', ['x']);
  assert.equal(r.errorName, StandardErrors.InvalidArgs);
  assert.equal((await peer.err('/', 'org.freedesktop.DBus.Peer', 'Pong')).errorName, StandardErrors.UnknownMethod);
  const custom = new MemoryPeer({ machineId: '0123456789abcdef0123456789abcdef' });
  assert.deepEqual(await custom.ok('/x', 'org.freedesktop.DBus.Peer', 'GetMachineId'), ['0123456789abcdef0123456789abcdef']);
});

async function introspect(peer: MemoryPeer, path: string) {
  const [xml] = await peer.ok(path, 'org.freedesktop.DBus.Introspectable', 'Introspect');
  return { xml: xml as string, node: parseIntrospectionXml(xml as string) };
}

test('Introspect of an object lists the standard interfaces, its own (from the declaration) and children', async () => {
  const { peer, exporter } = setup();
  exporter.registerObject('/org/example/calc/sub/deep', Calc, {});
  exporter.registerObject('/org/example/calc/other', Calc, {});
  const { xml, node } = await introspect(peer, '/org/example/calc');
  assert.ok(xml.startsWith('<!DOCTYPE node PUBLIC'));
  assert.deepEqual(
    node.interfaces.map((i) => i.name),
    ['org.freedesktop.DBus.Properties', 'org.freedesktop.DBus.Introspectable', 'org.freedesktop.DBus.Peer', 'org.example.Calc'],
  );
  assert.deepEqual(JSON.parse(JSON.stringify(node.interfaces[3])), JSON.parse(JSON.stringify(Calc)));
  assert.deepEqual(
    node.nodes.map((n) => n.name),
    ['sub', 'other'],
  );
});

test('intermediate paths are introspectable and list their children; unknown paths give an empty node', async () => {
  const { peer } = setup();
  let { node } = await introspect(peer, '/');
  assert.deepEqual(node.interfaces, []);
  assert.deepEqual(
    node.nodes.map((n) => n.name),
    ['org'],
  );
  ({ node } = await introspect(peer, '/org/example'));
  assert.deepEqual(
    node.nodes.map((n) => n.name),
    ['calc'],
  );
  ({ node } = await introspect(peer, '/elsewhere'));
  assert.deepEqual(node, { interfaces: [], nodes: [] });
});

test('children vanish from Introspect when unregistered', async () => {
  const { peer, reg } = setup();
  reg.unregister();
  const { node } = await introspect(peer, '/');
  assert.deepEqual(node.nodes, []);
});

// ----- Subtrees -----

const Item: InterfaceDeclaration = {
  name: 'org.example.Item',
  methods: [{ name: 'Describe', in: [], out: [{ name: 'text', signature: 's' }] }],
  signals: [],
  properties: [{ name: 'Index', signature: 'u', access: 'read' }],
};

function itemSubtree(count: number, log: string[] = [], asynchronous = false): SubtreeHandler {
  const names = Array.from({ length: count }, (_, i) => `item${i}`);
  const impl: ObjectImplementation = {
    methods: { Describe: (_a, inv) => [`item at ${inv.path}`] },
    properties: { Index: { get: (ctx) => Number(ctx.path.slice(ctx.path.lastIndexOf('item') + 4)) } },
  };
  const maybe = <T>(v: T): T | Promise<T> => (asynchronous ? tick().then(() => v) : v);
  return {
    enumerate: () => {
      log.push('enumerate');
      return maybe(names);
    },
    introspect: (child) => {
      log.push(`introspect ${child}`);
      if (child === null) return maybe(null);
      return maybe(child.startsWith('item') || child === 'hidden' ? [Item] : null);
    },
    dispatch: (child, iface) => {
      log.push(`dispatch ${child} ${iface}`);
      return maybe(iface === Item.name ? impl : undefined);
    },
  };
}

for (const asynchronous of [false, true]) {
  test(`subtree (${asynchronous ? 'async' : 'sync'} callbacks): calls, properties and Introspect of nodes`, async () => {
    const peer = new MemoryPeer();
    const log: string[] = [];
    peer.exporter.registerSubtree('/org/example/items', itemSubtree(3, log, asynchronous));
    assert.deepEqual(await peer.ok('/org/example/items/item2', 'org.example.Item', 'Describe'), ['item at /org/example/items/item2']);
    assert.deepEqual(log, ['enumerate', 'introspect item2', 'dispatch item2 org.example.Item']);
    assert.deepEqual(await peer.ok('/org/example/items/item1', undefined, 'Describe'), ['item at /org/example/items/item1']);
    assert.deepEqual(await peer.ok('/org/example/items/item1', PROPS, 'Get', 'ss', ['org.example.Item', 'Index']), [new Variant('u', 1)]);
    assert.deepEqual(await peer.ok('/org/example/items/item0', PROPS, 'GetAll', 's', ['org.example.Item']), [
      new Map([['Index', new Variant('u', 0)]]),
    ]);
    const { node } = await introspect(peer, '/org/example/items/item0');
    assert.deepEqual(node.interfaces.map((i) => i.name).slice(3), ['org.example.Item']);
    const root = await introspect(peer, '/org/example/items');
    assert.deepEqual(root.node.interfaces, []);
    assert.deepEqual(
      root.node.nodes.map((n) => n.name),
      ['item0', 'item1', 'item2'],
    );
    // Not enumerated: does not exist (without the flag), even though introspect would answer.
    let r = await peer.err('/org/example/items/hidden', 'org.example.Item', 'Describe');
    assert.deepEqual(r.body, ['Object does not exist at path “/org/example/items/hidden”']);
    r = await peer.err('/org/example/items/item1', 'org.example.Other', 'Describe');
    // A subtree node lacking the interface: GDBus's subtree dispatch answers an unknown method.
    assert.deepEqual(r.body, ['Method “Describe” on interface “org.example.Other” with signature “” does not exist']);
    r = await peer.err('/org/example/items/item1/deeper', 'org.example.Item', 'Describe');
    assert.deepEqual(r.body, ['Object does not exist at path “/org/example/items/item1/deeper”']);
  });
}

test('dispatchToUnenumeratedNodes reaches nodes enumerate() does not list, without calling enumerate', async () => {
  const peer = new MemoryPeer();
  const log: string[] = [];
  peer.exporter.registerSubtree('/items', itemSubtree(2, log), { dispatchToUnenumeratedNodes: true });
  assert.deepEqual(await peer.ok('/items/hidden', 'org.example.Item', 'Describe'), ['item at /items/hidden']);
  assert.deepEqual(log, ['introspect hidden', 'dispatch hidden org.example.Item']);
  const r = await peer.err('/items/other', 'org.example.Item', 'Describe');
  assert.deepEqual(r.body, ['Object does not exist at path “/items/other”']);
});

test('regular objects inside a subtree take precedence, and are listed by Introspect', async () => {
  const peer = new MemoryPeer();
  const log: string[] = [];
  peer.exporter.registerSubtree('/items', itemSubtree(2, log));
  peer.exporter.registerObject('/items/item1', Item, { methods: { Describe: () => ['regular'] } });
  peer.exporter.registerObject('/items/extra', Item, { methods: { Describe: () => ['extra'] } });
  log.length = 0;
  assert.deepEqual(await peer.ok('/items/item1', 'org.example.Item', 'Describe'), ['regular']);
  assert.deepEqual(log, [], 'subtree not consulted');
  assert.deepEqual(await peer.ok('/items/item0', 'org.example.Item', 'Describe'), ['item at /items/item0']);
  const { node } = await introspect(peer, '/items');
  assert.deepEqual(node.nodes.map((n) => n.name).sort(), ['extra', 'item0', 'item1']);
});

test('a subtree of 10,000 nodes: Introspect lists them all, a call reaches any one', async () => {
  const peer = new MemoryPeer();
  peer.exporter.registerSubtree('/big', itemSubtree(10_000), { dispatchToUnenumeratedNodes: true });
  const { node } = await introspect(peer, '/big');
  assert.equal(node.nodes.length, 10_000);
  assert.equal(node.nodes[9999]!.name, 'item9999');
  assert.deepEqual(await peer.ok('/big/item9876', 'org.example.Item', 'Describe'), ['item at /big/item9876']);
});

test('subtree callbacks that throw or return nothing answer errors, never hang', async () => {
  const peer = new MemoryPeer();
  peer.exporter.registerSubtree('/broken', {
    enumerate: () => {
      throw new Error('enumerate broke');
    },
    introspect: () => null,
    dispatch: () => undefined,
  });
  peer.exporter.registerSubtree('/nodispatch', {
    enumerate: () => ['a'],
    introspect: async () => [Item],
    dispatch: async () => undefined,
  });
  let r = await peer.err('/broken/x', 'org.example.Item', 'Describe');
  assert.equal(r.errorName, StandardErrors.Failed);
  assert.deepEqual(r.body, ['enumerate broke']);
  r = await peer.err('/nodispatch/a', 'org.example.Item', 'Describe');
  assert.deepEqual(r.body, ['Method “Describe” on interface “org.example.Item” with signature “” does not exist']);
  r = await peer.err('/nodispatch/a', PROPS, 'Get', 'ss', ['org.example.Item', 'Index']);
  assert.deepEqual(r.body, ['No such interface “org.example.Item”']);
});

test('a second subtree on the same path throws ObjectPathInUse', () => {
  const exporter = new ObjectExporter({ send() {} });
  const reg = exporter.registerSubtree('/s', itemSubtree(1));
  assert.throws(() => exporter.registerSubtree('/s', itemSubtree(1)), ObjectPathInUseError);
  assert.equal(reg.unregister(), true);
  exporter.registerSubtree('/s', itemSubtree(1)).unregister();
});

// ----- ObjectManager -----

test('GetManagedObjects lists regular objects and subtree nodes below the manager, with properties', async () => {
  const peer = new MemoryPeer();
  peer.exporter.addObjectManager('/org/example');
  peer.exporter.registerObject('/org/example/calc', Calc, calcImpl());
  peer.exporter.registerSubtree('/org/example/items', itemSubtree(2));
  peer.exporter.registerObject('/elsewhere', Calc, calcImpl());
  const [objects] = await peer.ok('/org/example', 'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects');
  const m = objects as Map<string, Map<string, Map<string, Variant>>>;
  assert.deepEqual([...m.keys()].sort(), ['/org/example/calc', '/org/example/items/item0', '/org/example/items/item1']);
  assert.deepEqual(m.get('/org/example/items/item1')!.get('org.example.Item'), new Map([['Index', new Variant('u', 1)]]));
  assert.deepEqual(m.get('/org/example/calc')!.get('org.example.Calc')!.get('Level'), new Variant('u', 3));
  // The manager introspects with the ObjectManager interface; other paths do not answer it.
  const { node } = await introspect(peer, '/org/example');
  assert.ok(node.interfaces.some((i) => i.name === 'org.freedesktop.DBus.ObjectManager'));
  const r = await peer.err('/org/example/calc', 'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects');
  assert.equal(r.errorName, StandardErrors.UnknownMethod);
});

test('InterfacesAdded and InterfacesRemoved are emitted in order on register/unregister below a manager', async () => {
  const peer = new MemoryPeer();
  peer.exporter.addObjectManager('/om');
  const slow: ObjectImplementation = {
    properties: {
      Index: {
        get: async () => {
          await tick();
          return 5;
        },
      },
    },
  };
  const reg = peer.exporter.registerObject('/om/a', Item, slow);
  reg.unregister();
  peer.exporter.registerObject('/outside', Item, slow);
  await peer.waitFor(() => peer.signals().length >= 2);
  const signals = peer.signals();
  assert.deepEqual(
    signals.map((s) => `${s.path} ${s.interface}.${s.member} ${s.signature}`),
    ['/om org.freedesktop.DBus.ObjectManager.InterfacesAdded oa{sa{sv}}', '/om org.freedesktop.DBus.ObjectManager.InterfacesRemoved oas'],
  );
  assert.deepEqual(signals[0]!.body, ['/om/a', new Map([['org.example.Item', new Map([['Index', new Variant('u', 5)]])]])]);
  assert.deepEqual(signals[1]!.body, ['/om/a', ['org.example.Item']]);
  peer.exporter.notifyInterfacesRemoved('/om/subnode', ['org.example.Item']);
  await peer.waitFor(() => peer.signals().length >= 3);
  assert.deepEqual(peer.signals()[2]!.body, ['/om/subnode', ['org.example.Item']]);
  // Nothing was emitted for /outside, which no manager covers.
  assert.ok(peer.signals().every((s) => s.body[0] !== '/outside'));
});

// ----- Signals -----

test('emitPropertiesChanged sends the standard signal with values typed by the declaration', () => {
  const { peer, exporter } = setup();
  exporter.emitPropertiesChanged('/org/example/calc', 'org.example.Calc', { Level: 4, Big: 1 }, ['Name']);
  const [s] = peer.signals();
  assert.equal(s!.path, '/org/example/calc');
  assert.equal(s!.interface, 'org.freedesktop.DBus.Properties');
  assert.equal(s!.member, 'PropertiesChanged');
  assert.equal(s!.signature, 'sa{sv}as');
  assert.deepEqual(s!.body, [
    'org.example.Calc',
    new Map<string, Variant>([
      ['Level', new Variant('u', 4)],
      ['Big', new Variant('t', 1n)],
    ]),
    ['Name'],
  ]);
  assert.throws(() => exporter.emitPropertiesChanged('/org/example/calc', Calc, { Nope: 1 }), DBusError);
  assert.throws(() => exporter.emitPropertiesChanged('/org/example/calc', Calc, { Level: 'x' }), DBusError);
  assert.throws(() => exporter.emitPropertiesChanged('/org/example/other', 'org.example.Calc', {}), DBusError);
});

test('declared signals are checked against the declaration', () => {
  const { peer, exporter } = setup();
  exporter.emitDeclaredSignal('/org/example/calc', Calc, 'Added', [3, 'me']);
  const [s] = peer.signals();
  assert.equal(s!.signature, 'is');
  assert.deepEqual(s!.body, [3, 'me']);
  assert.throws(() => buildSignal('/x', Calc, 'Added', ['3', 'me']), DBusError);
  assert.throws(() => buildSignal('/x', Calc, 'Nope', []), DBusError);
  assert.equal(peer.signals().length, 1);
});

test('many calls in a row on a regular object are answered in order', async () => {
  const { peer } = setup();
  const replies = await Promise.all(
    Array.from({ length: 500 }, (_, i) => peer.ok('/org/example/calc', 'org.example.Calc', 'Add', 'ii', [i, 1])),
  );
  assert.deepEqual(
    replies.map((r) => r[0]),
    Array.from({ length: 500 }, (_, i) => i + 1),
  );
});

test('a connection that cannot send (closed) does not break the exporter or leave rejections', async () => {
  let refuse = false;
  const sent: Array<Omit<Message, 'serial'>> = [];
  const exporter = new ObjectExporter({
    send(m) {
      if (refuse) throw new Error('The connection is closed');
      sent.push(m);
    },
  });
  const rejections: unknown[] = [];
  const onRejection = (e: unknown) => rejections.push(e);
  process.on('unhandledRejection', onRejection);
  try {
    let resolveSlow!: () => void;
    const slowDone = new Promise<void>((resolve) => {
      resolveSlow = resolve;
    });
    exporter.registerObject('/c', Calc, {
      methods: {
        Slow: async ([x]) => {
          await tick();
          refuse = true;
          setImmediate(resolveSlow);
          return [x];
        },
      },
    });
    exporter.handleMethodCall({
      type: MessageType.MethodCall,
      flags: 0,
      serial: 1,
      path: '/c',
      interface: 'org.example.Calc',
      member: 'Slow',
      signature: 's',
      body: ['x'],
      sender: CALLER,
    });
    await slowDone;
    exporter.handleMethodCall({
      type: MessageType.MethodCall,
      flags: 0,
      serial: 2,
      path: '/nothing',
      interface: 'a.b',
      member: 'C',
      signature: '',
      body: [],
      sender: CALLER,
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(rejections, []);
    assert.equal(sent.length, 0);
  } finally {
    process.off('unhandledRejection', onRejection);
  }
});

test('a subtree declaring an invalid interface answers Failed (its bug), not InvalidArgs', async () => {
  const peer = new MemoryPeer();
  const bad: InterfaceDeclaration = {
    name: 'org.example.Bad',
    methods: [{ name: 'M', in: [{ signature: 'aa' }], out: [] }],
    signals: [],
    properties: [],
  };
  peer.exporter.registerSubtree('/bad', { enumerate: () => ['x'], introspect: () => [bad], dispatch: () => ({}) });
  const r = await peer.err('/bad/x', 'org.example.Bad', 'M');
  assert.equal(r.errorName, StandardErrors.Failed);
  assert.match(String(r.body[0]), /Invalid interface declaration/);
});
