// A subscription to a well-known sender learns the owner with GetNameOwner. When the bus's reply
// and the owner's first signal arrive in one read, the signal is dispatched before the reply's
// promise settles: it used to be dropped (found as a typed-client test that, under load, never
// saw a DomainEvent). Here a server that acts as the bus sends exactly that: reply and signal in
// one write.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DBusConnection } from '../../src/dbus/connection.js';
import type { InterfaceDeclaration } from '../../src/dbus/interface.js';
import type { Message } from '../../src/dbus/message.js';
import { DBusServer } from '../../src/dbus/server.js';

const OWNER = ':1.42';
const BUS_DRIVER: InterfaceDeclaration = {
  name: 'org.freedesktop.DBus',
  methods: [{ name: 'GetNameOwner', in: [{ name: 'name', signature: 's' }], out: [{ name: 'owner', signature: 's' }] }],
  signals: [],
  properties: [],
};

/** A "bus" whose GetNameOwner answer is followed, in the same write, by signals from the owner. */
async function racingBus(dir: string, signals: string[]) {
  const server = new DBusServer(`unix:dir=${dir}`);
  server.on('connection', (conn: DBusConnection) => {
    // As a bus stamps senders: the driver's replies come from it, the signals from the owner.
    conn.addFilter((msg: Message, incoming: boolean) => {
      if (incoming) return msg;
      return { ...msg, sender: msg.replySerial !== undefined ? 'org.freedesktop.DBus' : OWNER };
    });
    conn.registerObject('/org/freedesktop/DBus', BUS_DRIVER, {
      methods: {
        GetNameOwner: ([name]) => {
          // Queued behind the reply in the same turn, so both leave in one batched write.
          if (name === 'org.example.Name')
            queueMicrotask(() => {
              for (const s of signals) conn.emitSignal(null, '/org/example/Obj', 'org.example.Iface', 'Changed', 's', [s]);
            });
          return [OWNER];
        },
      },
    });
  });
  await server.start();
  return server;
}

test('signals from a well-known name that come with its owner lookup are delivered, in order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'subscriptions-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const server = await racingBus(dir, ['first', 'second']);
  t.after(() => server.stop(true));
  const client = await DBusConnection.connect(server.clientAddress, { bus: true });
  t.after(() => client.close());

  const seen: string[] = [];
  const both = new Promise<void>((resolve) => {
    client.signalSubscribe({ sender: 'org.example.Name', interface: 'org.example.Iface', member: 'Changed' }, (m) => {
      seen.push(m.body[0] as string);
      if (seen.length === 2) resolve();
    });
  });
  // A reply that comes after both signals marks the point by which they must have been handled.
  await client.getNameOwner('org.example.Other');
  await Promise.race([both, new Promise((r) => setTimeout(r, 2000))]);
  assert.deepEqual(seen, ['first', 'second']);
});

test('signals from another sender than the owner are still not delivered', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'subscriptions-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const server = await racingBus(dir, ['from-owner']);
  t.after(() => server.stop(true));
  const client = await DBusConnection.connect(server.clientAddress, { bus: true });
  t.after(() => client.close());
  const seen: string[] = [];
  // Whoever owns the name, ':1.42' is not ':1.7': the held signal is dropped once the owner is known.
  client.signalSubscribe({ sender: ':1.7', interface: 'org.example.Iface', member: 'Changed' }, (m) => seen.push(m.body[0] as string));
  client.signalSubscribe({ sender: 'org.example.Name', member: 'Nothing' }, () => seen.push('wrong member'));
  await client.getNameOwner('org.example.Name');
  await client.getNameOwner('org.example.Other');
  assert.deepEqual(seen, []);
});
