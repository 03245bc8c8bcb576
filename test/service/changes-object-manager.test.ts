// What change notification needs from the D-Bus library's ObjectManager, on an exporter whose
// messages go through the real codec: GetManagedObjects reads every node's properties at once
// (not one after the other), leaves out a subtree root registered with rootIsManaged: false, and
// answers each value in its declared type even where GetAll wraps it twice for compatibility.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ObjectExporter, type ObjectImplementation, type SubtreeHandler } from '../../src/dbus/export.js';
import { decodeMessage, encodeMessage } from '../../src/dbus/framing.js';
import type { InterfaceDeclaration } from '../../src/dbus/interface.js';
import { type Message, MessageType } from '../../src/dbus/message.js';
import { Variant } from '../../src/dbus/variant.js';

const Node: InterfaceDeclaration = {
  name: 'org.example.Node',
  methods: [],
  signals: [],
  properties: [
    { name: 'Index', signature: 'u', access: 'read' },
    { name: 'Label', signature: 's', access: 'read' },
  ],
};

/** An exporter whose host keeps what it sends, decoded from the wire. */
function exporter(): { exp: ObjectExporter; call(path: string, iface: string, member: string): Promise<Message> } {
  const sent: Message[] = [];
  const exp = new ObjectExporter({ send: (m) => sent.push(decodeMessage(encodeMessage({ ...m, serial: 1000 + sent.length }))) });
  let serial = 0;
  return {
    exp,
    async call(path, iface, member) {
      const s = ++serial;
      const msg: Message = {
        type: MessageType.MethodCall,
        flags: 0,
        serial: s,
        path,
        interface: iface,
        member,
        signature: '',
        body: [],
        sender: ':1.9',
      };
      exp.handleMethodCall(decodeMessage(encodeMessage(msg)));
      const deadline = Date.now() + 10_000;
      for (;;) {
        const reply = sent.find((m) => m.replySerial === s);
        if (reply) return reply;
        if (Date.now() > deadline) throw new Error(`no reply to ${member} in time`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
  };
}

/**
 * A subtree of `count` nodes whose root also claims the interface (as org.libvirt's subtree roots
 * do); each node's GetAll answers only once every node's GetAll has started, so reading them one
 * after the other would never finish, and wraps its values twice.
 */
function subtree(count: number): SubtreeHandler {
  let started = 0;
  let release: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    release = resolve;
  });
  const impl = (child: string | null): ObjectImplementation => ({
    async getAllProperties() {
      if (++started === count) release();
      await all;
      const index = Number(child?.slice(1) ?? -1);
      return new Map<string, Variant>([
        ['Index', new Variant('v', new Variant('u', index))],
        ['Label', new Variant('v', new Variant('s', `node ${index}`))],
      ]);
    },
  });
  return {
    enumerate: () => Array.from({ length: count }, (_, i) => `n${i}`),
    introspect: () => [Node],
    dispatch: (child) => impl(child),
  };
}

test('GetManagedObjects: nodes read at once, an unmanaged subtree root left out, values of their declared types', async () => {
  const { exp, call } = exporter();
  exp.addObjectManager('/m');
  exp.registerSubtree('/m/nodes', subtree(4), { rootIsManaged: false });
  const reply = await call('/m', 'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects');
  assert.equal(reply.type, MessageType.MethodReturn, String(reply.body[0]));
  const objects = reply.body[0] as Map<string, Map<string, Map<string, Variant>>>;
  assert.deepEqual([...objects.keys()], ['/m/nodes/n0', '/m/nodes/n1', '/m/nodes/n2', '/m/nodes/n3']);
  assert.deepEqual(
    objects.get('/m/nodes/n2')?.get(Node.name),
    new Map<string, Variant>([
      ['Index', new Variant('u', 2)],
      ['Label', new Variant('s', 'node 2')],
    ]),
  );
});

test('GetManagedObjects lists a subtree root by default (rootIsManaged defaults to true)', async () => {
  const { exp, call } = exporter();
  exp.addObjectManager('/m');
  exp.registerSubtree('/m/nodes', subtree(2));
  const reply = await call('/m', 'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects');
  const objects = reply.body[0] as Map<string, unknown>;
  assert.deepEqual([...objects.keys()], ['/m/nodes', '/m/nodes/n0', '/m/nodes/n1']);
});
