// The declaration table: one spec gives the InterfaceDeclaration, argument conversion (empty
// string → NULL where declared), error mapping (libvirt failures → org.libvirt.Error with
// libvirt's message) and signal bodies.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DBusError, type Message, MessageType, Variant } from '../../src/dbus/index.js';
import { LibvirtError } from '../../src/libvirt/index.js';
import { defineInterface, interfacesOn, libvirtDocLink, parseArgSpec } from '../../src/service/declare.js';

const message: Message = { type: MessageType.MethodCall, flags: 0, serial: 1, signature: '', body: [], path: '/x', fds: [5] };
const invocation = { message, sender: ':1.1', path: '/x' };

const Demo = interfacesOn<{ name: string }>()('org.example.Demo', {
  emitsChanged: 'false',
  properties: {
    Name: { type: 's', access: 'read', libvirt: 'virNetworkGetName', emitsChanged: 'const', get: async (o) => o.name },
    Flag: {
      type: 'b',
      access: 'readwrite',
      libvirt: 'virNetworkGetAutostart,virNetworkSetAutostart',
      get: async () => true,
      set: async () => {},
    },
  },
  methods: {
    Echo: {
      in: 'mac:s flags:u',
      out: 'mac:s isNull:b flags:u',
      libvirt: 'virNetworkGetDHCPLeases',
      emptyIsNull: ['mac'],
      call: async (_o, a, inv) => [a.mac ?? '', a.mac === null, a.flags + inv.fds.length],
    },
    Fail: {
      libvirt: 'virNetworkCreate',
      call: async () => {
        throw new LibvirtError({ code: 43, domain: 19, message: "Network not found: no network with matching name 'x'" });
      },
    },
    Deny: {
      libvirt: 'virNetworkDestroy',
      call: async () => {
        throw new DBusError('org.freedesktop.DBus.Error.AccessDenied', 'no');
      },
    },
  },
  signals: { Changed: { args: 'path:o event:i', libvirt: 'virConnectNetworkEventLifecycleCallback' } },
});

test('the declaration carries names, arguments, access and annotations', () => {
  const d = Demo.declaration;
  assert.equal(d.name, 'org.example.Demo');
  assert.deepEqual(d.annotations, { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'false' });
  const echo = d.methods.find((m) => m.name === 'Echo');
  assert.deepEqual(
    echo?.in.map((a) => `${a.name}:${a.signature}`),
    ['mac:s', 'flags:u'],
  );
  assert.deepEqual(
    echo?.out.map((a) => `${a.name}:${a.signature}`),
    ['mac:s', 'isNull:b', 'flags:u'],
  );
  assert.match(echo?.annotations?.['org.gtk.GDBus.DocString'] ?? '', /Empty string can be used to pass a NULL as @mac argument/);
  assert.deepEqual(
    d.properties.map((p) => [p.name, p.signature, p.access]),
    [
      ['Name', 's', 'read'],
      ['Flag', 'b', 'readwrite'],
    ],
  );
  assert.equal(d.properties[0]?.annotations?.['org.freedesktop.DBus.Property.EmitsChangedSignal'], 'const');
  assert.equal(d.signals[0]?.args.length, 2);
  assert.equal(libvirtDocLink('virStorageVolResize'), 'https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolResize');
  assert.equal(libvirtDocLink('virConnectGetHostname'), 'https://libvirt.org/html/libvirt-libvirt-host.html#virConnectGetHostname');
});

test('empty strings become NULL only where declared; fds reach the handler', async () => {
  const impl = Demo.implementationFor({ name: 'n' });
  assert.deepEqual(await impl.methods.Echo?.(['', 7], invocation), ['', true, 8]);
  assert.deepEqual(await impl.methods.Echo?.(['aa', 7], invocation), ['aa', false, 8]);
});

test('libvirt errors become org.libvirt.Error with libvirt message; D-Bus errors pass through', async () => {
  const impl = Demo.implementationFor({ name: 'n' });
  await assert.rejects(impl.methods.Fail?.([], invocation) as Promise<unknown>, (e: DBusError) => {
    assert.equal(e.errorName, 'org.libvirt.Error');
    assert.equal(e.message, "Network not found: no network with matching name 'x'");
    return true;
  });
  await assert.rejects(
    impl.methods.Deny?.([], invocation) as Promise<unknown>,
    (e: DBusError) => e.errorName === 'org.freedesktop.DBus.Error.AccessDenied',
  );
});

test('properties: get, set, and GetAll in declaration order', async () => {
  const impl = Demo.implementationFor({ name: 'the-name' });
  assert.equal(await impl.properties.Name?.get?.(), 'the-name');
  assert.equal(impl.properties.Name?.set, undefined);
  await impl.properties.Flag?.set?.(false);
  // As the reference: each value wrapped in a second variant (test/service/domain-diff, GetAll).
  assert.deepEqual(
    [...(await impl.getAllProperties()).entries()],
    [
      ['Name', new Variant('v', new Variant('s', 'the-name'))],
      ['Flag', new Variant('v', new Variant('b', true))],
    ],
  );
});

test('signals get their signature from the declaration', () => {
  assert.deepEqual(Demo.signal('Changed', ['/p', 1]), { signature: 'oi', body: ['/p', 1] });
  assert.throws(() => Demo.signal('Changed', ['/p']));
  assert.throws(() => Demo.signal('Nope', []));
});

test('inconsistent specs are refused when declared', () => {
  assert.throws(() => parseArgSpec('flags'));
  assert.throws(() => parseArgSpec('flags:'));
  assert.throws(() => defineInterface('org.example.Bad', { properties: { P: { type: 's', access: 'read', libvirt: 'x' } } }));
  assert.throws(() =>
    defineInterface('org.example.Bad', {
      methods: { M: { in: 'flags:u', libvirt: 'x', emptyIsNull: ['flags'], call: async () => [] } },
    }),
  );
});

test('GetAll leaves out the properties whose getter fails, as the reference', async () => {
  const Two = interfacesOn<null>()('org.example.Two', {
    properties: {
      A: {
        type: 's',
        access: 'read',
        libvirt: 'virNetworkGetName',
        get: () =>
          new Promise<string>((_, reject) => setTimeout(() => reject(new LibvirtError({ code: 1, domain: 0, message: 'first' })), 30)),
      },
      B: { type: 's', access: 'read', libvirt: 'virNetworkGetName', get: async () => 'kept' },
      C: {
        type: 's',
        access: 'read',
        libvirt: 'virNetworkGetName',
        get: async () => {
          throw new LibvirtError({ code: 1, domain: 0, message: 'second' });
        },
      },
    },
  });
  assert.deepEqual(
    [...(await Two.implementationFor(null).getAllProperties()).entries()],
    [['B', new Variant('v', new Variant('s', 'kept'))]],
  );
});
