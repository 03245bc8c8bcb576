// Change notification (issue 13 item 9): a client keeps a view of a host from one
// GetManagedObjects plus PropertiesChanged, InterfacesAdded and InterfacesRemoved — no polling of
// the service — while virsh changes the private libvirtd behind the service's back; after the
// signals of each step (waited for with deadlines) the view equals a fresh GetManagedObjects.
// Domains, networks, storage pools (with their volumes) and node devices (a vHBA) on the test
// driver, whose events work through the daemon; secrets on qemu:///system of the same daemon (the
// test driver has none). Nothing here needs QEMU.
// Also: PropertiesChanged carries what Get answers, the ObjectManager is in the introspection of
// the Connect objects, the annotations, and gdbus as a real peer seeing the signals.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type ConnectProxy, DomainProxy, NetworkProxy, NodeDeviceProxy, OrgLibvirt, StoragePoolProxy } from '../../src/client/index.js';
import { parseIntrospectionXml, Variant } from '../../src/dbus/index.js';
import { NOTIFIED_PROPERTIES } from '../../src/service/emits-changed.js';
import type { PrivateLibvirtd } from '../helpers/libvirtd.js';
import { runOk } from '../helpers/run.js';
import { DEADLINE, managedObjects, plain, View } from './changes-view.js';
import { DEST, type Fixture, IFACE, startFixture, waitFor } from './fixture.js';

const T = '/org/libvirt/Test';
const Q = '/org/libvirt/QEMU';
const OM = 'org.freedesktop.DBus.ObjectManager';
const EMITS = 'org.freedesktop.DBus.Property.EmitsChangedSignal';

let fx: Fixture;
/** The typed client's Connect object of the test driver. */
let testDriver: ConnectProxy;
let lv: PrivateLibvirtd;
let dir: string;

before(async () => {
  fx = await startFixture({
    args: (lv) => ['--session', '--no-default-connects', '--connect', `Test=${lv.testUri}`, '--connect', `QEMU=${lv.qemuUri}`],
  });
  lv = fx.libvirtd;
  testDriver = OrgLibvirt.on(fx.client.conn, 'Test');
  dir = mkdtempSync(join(tmpdir(), 'changes-'));
});

after(async () => {
  await fx?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const pathOf = (kind: string, uuid: string) => `${T}/${kind}/_${uuid.replaceAll('-', '_')}`;

/** Writes an XML file for virsh. */
async function xmlFile(name: string, xml: string): Promise<string> {
  const file = join(dir, name);
  await import('node:fs/promises').then((fs) => fs.writeFile(file, xml));
  return file;
}

/** The typed client's getters (Properties.Get) of the notified properties of `iface` at `path`, by property name. */
function notifiedGetters(path: string, iface: string): Record<string, () => Promise<unknown>> {
  const conn = fx.client.conn;
  if (iface === IFACE.Domain) {
    const d = new DomainProxy(conn, path);
    return { Active: () => d.active, Id: () => d.id, Name: () => d.name, Persistent: () => d.persistent };
  }
  const cls = iface === IFACE.Network ? NetworkProxy : iface === IFACE.StoragePool ? StoragePoolProxy : NodeDeviceProxy;
  const p = new cls(conn, path);
  assert.equal(p.interfaceName, iface, `${iface} has notified properties`);
  return { Active: () => p.active, Persistent: () => p.persistent };
}

/** Asserts each notified property in `changed` is what Get answers now, and that all of them came. */
async function assertLikeGet(path: string, iface: string, changed: Map<string, Variant>): Promise<void> {
  assert.deepEqual([...changed.keys()].sort(), [...(NOTIFIED_PROPERTIES[iface] ?? [])].sort(), `${path}: every notified property`);
  const getters = notifiedGetters(path, iface);
  for (const [name, v] of changed) {
    const get = getters[name];
    assert.ok(get, `${path}: a getter of ${name}`);
    assert.deepEqual(plain(v.value), plain(await get()), `${path} ${name}`);
  }
}

test('the ObjectManager is on each Connect object, and GetManagedObjects lists the objects below it only', async () => {
  for (const manager of [T, Q]) {
    // Raw: the introspection XML itself is checked.
    const [xml] = (await fx.client.call(manager, 'org.freedesktop.DBus.Introspectable', 'Introspect')) as [string];
    const node = parseIntrospectionXml(xml);
    assert.ok(
      node.interfaces.some((i) => i.name === OM),
      `${manager} introspects ${OM}`,
    );
  }
  const objects = await managedObjects(fx.client, T);
  const domains = await testDriver.listDomains(0);
  const networks = await testDriver.listNetworks(0);
  const pools = await testDriver.listStoragePools(0);
  for (const p of [...domains, ...networks, ...pools]) assert.ok(objects.has(p.objectPath), `${p.objectPath} is managed`);
  // The subtree roots answer like objects for the reference's sake, but are none.
  for (const p of objects.keys()) assert.match(p, /^\/org\/libvirt\/Test\/[a-z]+\/[^/]+$/);
  // Properties of their declared types (not wrapped twice as the reference's GetAll).
  const first = domains[0];
  assert.ok(first);
  const name = objects.get(first.objectPath)?.get(IFACE.Domain)?.get('Name');
  assert.ok(name instanceof Variant);
  assert.equal(name.signature, 's');
  assert.equal(name.value, await first.name);
});

test('the EmitsChangedSignal annotations introspected: true for the notified properties, false or const for the rest', async () => {
  const [first] = await testDriver.listDomains(0);
  assert.ok(first);
  // Raw: the introspection XML itself is checked.
  const [xml] = (await fx.client.call(first.objectPath, 'org.freedesktop.DBus.Introspectable', 'Introspect')) as [string];
  const iface = parseIntrospectionXml(xml).interfaces.find((i) => i.name === IFACE.Domain);
  assert.ok(iface);
  assert.equal(iface.annotations?.[EMITS], 'false');
  for (const p of iface.properties) {
    const value = p.annotations?.[EMITS] ?? 'false';
    const expected = NOTIFIED_PROPERTIES[IFACE.Domain]?.includes(p.name) ? 'true' : p.name === 'UUID' ? 'const' : 'false';
    assert.equal(value, expected, `Domain.${p.name}`);
  }
});

test('domains: define, start, destroy, rename, undefine, create (transient), destroy — the view follows, PropertiesChanged is what Get says', async () => {
  const view = new View(fx.client, T);
  await view.start();
  try {
    const uuid = 'b7ce6f3c-4b43-4c5d-9a1e-2f9d4b8c0a01';
    const path = pathOf('domain', uuid);
    const xml = await xmlFile(
      'dom.xml',
      `<domain type='test'><name>changes-dom</name><uuid>${uuid}</uuid><memory>65536</memory><os><type>hvm</type></os></domain>`,
    );
    let from = view.log.length;
    await lv.virsh(lv.testUri, 'define', xml);
    await view.waitSignal('InterfacesAdded', path, from);
    assert.equal(view.value(path, IFACE.Domain, 'Name'), 'changes-dom');
    await view.assertCurrent('define');

    let at = view.changes.length;
    await lv.virsh(lv.testUri, 'start', 'changes-dom');
    let changed = await view.waitChange(path, at, (c) => c.get('Active')?.value === true);
    await assertLikeGet(path, IFACE.Domain, changed);
    assert.notEqual(changed.get('Id')?.value, 0xffffffff, 'a running domain has an id');
    await view.assertCurrent('start');

    at = view.changes.length;
    await lv.virsh(lv.testUri, 'destroy', 'changes-dom');
    changed = await view.waitChange(path, at, (c) => c.get('Active')?.value === false);
    await assertLikeGet(path, IFACE.Domain, changed);
    await view.assertCurrent('destroy');

    // A rename keeps the UUID, so the path: the new name comes as PropertiesChanged.
    at = view.changes.length;
    await lv.virsh(lv.testUri, 'domrename', 'changes-dom', 'changes-renamed');
    changed = await view.waitChange(path, at, (c) => c.get('Name')?.value === 'changes-renamed');
    await assertLikeGet(path, IFACE.Domain, changed);
    await view.assertCurrent('domrename');
    at = view.changes.length;
    await lv.virsh(lv.testUri, 'domrename', 'changes-renamed', 'changes-dom');
    await view.waitChange(path, at, (c) => c.get('Name')?.value === 'changes-dom');

    from = view.log.length;
    await lv.virsh(lv.testUri, 'undefine', 'changes-dom');
    await view.waitSignal('InterfacesRemoved', path, from);
    assert.equal(view.objects.has(path), false);
    await view.assertCurrent('undefine');

    // A transient domain comes with its start and goes with its stop.
    from = view.log.length;
    await lv.virsh(lv.testUri, 'create', xml);
    await view.waitSignal('InterfacesAdded', path, from);
    assert.equal(view.value(path, IFACE.Domain, 'Persistent'), false);
    await view.assertCurrent('create');
    from = view.log.length;
    await lv.virsh(lv.testUri, 'destroy', 'changes-dom');
    await view.waitSignal('InterfacesRemoved', path, from);
    await view.assertCurrent('destroy of the transient domain');
  } finally {
    view.stop();
  }
});

test('PropertiesChanged comes after the lifecycle signal of its event, before the next one', async () => {
  const events: string[] = [];
  // Raw: the order of two interfaces' signals on the wire is checked, and the typed client has no PropertiesChanged.
  const id = fx.client.conn.signalSubscribe({ sender: DEST }, (m) => {
    if (m.member === 'DomainEvent' || m.member === 'PropertiesChanged') events.push(m.member);
  });
  try {
    const domains = await testDriver.listDomains(0);
    assert.ok(domains.length > 0);
    const name = 'test';
    assert.ok((await Promise.all(domains.map((d) => d.name))).includes(name));
    await lv.virsh(lv.testUri, 'suspend', name);
    await lv.virsh(lv.testUri, 'resume', name);
    await waitFor(() => events.filter((e) => e === 'PropertiesChanged').length >= 2, DEADLINE);
    assert.deepEqual(events.slice(0, 4), ['DomainEvent', 'PropertiesChanged', 'DomainEvent', 'PropertiesChanged']);
  } finally {
    fx.client.conn.signalUnsubscribe(id);
  }
});

test('networks: define, start, destroy, undefine — the view follows', async () => {
  const view = new View(fx.client, T);
  await view.start();
  try {
    const uuid = 'c2a1d6e4-5f60-4a8b-9c0d-1e2f3a4b5c02';
    const path = pathOf('network', uuid);
    const xml = await xmlFile(
      'net.xml',
      `<network><name>changes-net</name><uuid>${uuid}</uuid><bridge name='virbrchg0'/><ip address='192.168.213.1' netmask='255.255.255.0'/></network>`,
    );
    let from = view.log.length;
    await lv.virsh(lv.testUri, 'net-define', xml);
    await view.waitSignal('InterfacesAdded', path, from);
    await view.assertCurrent('net-define');

    let at = view.changes.length;
    await lv.virsh(lv.testUri, 'net-start', 'changes-net');
    let changed = await view.waitChange(path, at, (c) => c.get('Active')?.value === true);
    await assertLikeGet(path, IFACE.Network, changed);
    await view.assertCurrent('net-start');

    at = view.changes.length;
    await lv.virsh(lv.testUri, 'net-destroy', 'changes-net');
    changed = await view.waitChange(path, at, (c) => c.get('Active')?.value === false);
    await assertLikeGet(path, IFACE.Network, changed);
    await view.assertCurrent('net-destroy');

    from = view.log.length;
    await lv.virsh(lv.testUri, 'net-undefine', 'changes-net');
    await view.waitSignal('InterfacesRemoved', path, from);
    await view.assertCurrent('net-undefine');
  } finally {
    view.stop();
  }
});

test('storage pools and their volumes: define, start, a volume and a refresh, destroy, undefine — the view follows', async () => {
  const view = new View(fx.client, T);
  await view.start();
  try {
    const uuid = 'd3b2e7f5-6071-4b9c-8d1e-2f3a4b5c6d03';
    const path = pathOf('storagepool', uuid);
    const xml = await xmlFile(
      'pool.xml',
      `<pool type='dir'><name>changes-pool</name><uuid>${uuid}</uuid><target><path>${join(dir, 'pool')}</path></target></pool>`,
    );
    let from = view.log.length;
    await lv.virsh(lv.testUri, 'pool-define', xml);
    await view.waitSignal('InterfacesAdded', path, from);
    await view.assertCurrent('pool-define');

    let at = view.changes.length;
    await lv.virsh(lv.testUri, 'pool-start', 'changes-pool');
    let changed = await view.waitChange(path, at, (c) => c.get('Active')?.value === true);
    await assertLikeGet(path, IFACE.StoragePool, changed);
    await view.assertCurrent('pool-start');

    // libvirt has no volume events: the pool's refresh announces its new volume.
    from = view.log.length;
    await lv.virsh(lv.testUri, 'vol-create-as', 'changes-pool', 'changes-vol', '1M');
    await lv.virsh(lv.testUri, 'pool-refresh', 'changes-pool');
    await waitFor(() => view.log.slice(from).some((l) => l.startsWith(`InterfacesAdded ${T}/storagevol/`)), DEADLINE);
    await view.assertCurrent('vol-create-as and pool-refresh');

    at = view.changes.length;
    from = view.log.length;
    await lv.virsh(lv.testUri, 'pool-destroy', 'changes-pool');
    changed = await view.waitChange(path, at, (c) => c.get('Active')?.value === false);
    await assertLikeGet(path, IFACE.StoragePool, changed);
    // An inactive pool lists no volumes: its volume goes with it.
    await waitFor(() => view.log.slice(from).some((l) => l.startsWith(`InterfacesRemoved ${T}/storagevol/`)), DEADLINE);
    await view.assertCurrent('pool-destroy');

    from = view.log.length;
    await lv.virsh(lv.testUri, 'pool-undefine', 'changes-pool');
    await view.waitSignal('InterfacesRemoved', path, from);
    await view.assertCurrent('pool-undefine');
  } finally {
    view.stop();
  }
});

test('secrets (qemu:///system): define and undefine — the view follows', async () => {
  const view = new View(fx.client, Q);
  await view.start();
  try {
    const uuid = 'e4c3f8a6-7182-4cad-9e2f-3a4b5c6d7e04';
    const path = `${Q}/secret/_${uuid.replaceAll('-', '_')}`;
    const xml = await xmlFile(
      'secret.xml',
      `<secret ephemeral='yes' private='no'><uuid>${uuid}</uuid><usage type='ceph'><name>changes-secret</name></usage></secret>`,
    );
    let from = view.log.length;
    await lv.virsh(lv.qemuUri, 'secret-define', xml);
    await view.waitSignal('InterfacesAdded', path, from);
    await view.assertCurrent('secret-define');
    from = view.log.length;
    await lv.virsh(lv.qemuUri, 'secret-undefine', uuid);
    await view.waitSignal('InterfacesRemoved', path, from);
    await view.assertCurrent('secret-undefine');
  } finally {
    view.stop();
  }
});

test('node devices (test driver vHBA): nodedev-create and nodedev-destroy — the view follows', async () => {
  const view = new View(fx.client, T);
  await view.start();
  try {
    const xml = await xmlFile(
      'vhba.xml',
      `<device><parent>scsi_host1</parent><capability type='scsi_host'><capability type='fc_host'>
        <wwnn>2000000012345678</wwnn><wwpn>1000000012345678</wwpn></capability></capability></device>`,
    );
    const from = view.log.length;
    await lv.virsh(lv.testUri, 'nodedev-create', xml);
    // virsh -q does not print the new device's name: the signal names it, and Connect agrees.
    const prefix = `InterfacesAdded ${T}/nodedev/`;
    await waitFor(() => view.log.slice(from).some((l) => l.startsWith(prefix)), DEADLINE);
    const path = (view.log.slice(from).find((l) => l.startsWith(prefix)) as string).slice('InterfacesAdded '.length);
    const name = view.value(path, IFACE.NodeDevice, 'Name') as string;
    const found = await testDriver.nodeDeviceLookupByName(name);
    assert.equal(found.objectPath, path);
    assert.equal(view.value(path, IFACE.NodeDevice, 'Parent'), 'scsi_host1');
    await view.assertCurrent('nodedev-create');
    const before = view.log.length;
    await lv.virsh(lv.testUri, 'nodedev-destroy', name);
    await view.waitSignal('InterfacesRemoved', path, before);
    await view.assertCurrent('nodedev-destroy');
  } finally {
    view.stop();
  }
});

test('gdbus, a real peer, sees InterfacesAdded, PropertiesChanged and InterfacesRemoved and calls GetManagedObjects', async () => {
  const address = fx.bus.address;
  const monitor = spawn('gdbus', ['monitor', '--address', address, '--dest', DEST], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  monitor.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  try {
    await waitFor(() => /is owned by/.test(out), DEADLINE);
    // gdbus monitor learns the owner of the name asynchronously; a signal before that is not shown.
    const uuid = 'f5d4a9b7-8293-4dbe-8f30-4b5c6d7e8f05';
    const path = pathOf('network', uuid);
    const xml = await xmlFile('net2.xml', `<network><name>changes-gdbus</name><uuid>${uuid}</uuid></network>`);
    await lv.virsh(lv.testUri, 'net-define', xml);
    await waitFor(() => out.includes(`org.freedesktop.DBus.ObjectManager.InterfacesAdded (objectpath '${path}'`), DEADLINE);
    await lv.virsh(lv.testUri, 'net-start', 'changes-gdbus');
    await waitFor(() => /PropertiesChanged \('org\.libvirt\.Network', \{'Active': <true>/.test(out), DEADLINE);
    const managed = await runOk('gdbus', [
      'call',
      '--address',
      address,
      '--dest',
      DEST,
      '--object-path',
      T,
      '--method',
      `${OM}.GetManagedObjects`,
    ]);
    assert.ok(managed.includes(`'${path}': {'org.libvirt.Network': {'Active': <true>`), managed);
    await lv.virsh(lv.testUri, 'net-destroy', 'changes-gdbus');
    await lv.virsh(lv.testUri, 'net-undefine', 'changes-gdbus');
    await waitFor(
      () => out.includes(`org.freedesktop.DBus.ObjectManager.InterfacesRemoved (objectpath '${path}', ['org.libvirt.Network'])`),
      DEADLINE,
    );
  } finally {
    monitor.kill();
  }
});
