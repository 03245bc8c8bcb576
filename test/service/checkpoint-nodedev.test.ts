// Node device lifecycle members and domain checkpoints (beyond libvirt-dbus 1.4.1) on the test
// driver of a private libvirtd, through the typed client, compared with virsh on the same daemon.
// The test driver implements checkpoints but none of the node device lifecycle calls (its
// IsActive/IsPersistent/GetAutostart fail too, which virsh nodedev-info prints as yes/yes/no):
// there they are checked to reach the caller as libvirt's own "not supported" error, and the
// properties are read on qemu:///system's node devices (udev), where libvirt implements them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ConnectProxy, DomainProxy, NodeDeviceProxy } from '../../src/client/index.js';
import { DBusError, parseIntrospectionXml } from '../../src/dbus/index.js';
import { errorOf } from '../helpers/errors.js';
import type { PrivateLibvirtd } from '../helpers/libvirtd.js';
import { type Fixture, IFACE, startFixture, TEST_PATH, TEST_UUID } from './fixture.js';
import { connectOn } from './typed.js';

const T = '/org/libvirt/Test';
let fx: Fixture;
let lv: PrivateLibvirtd;
let test_: ConnectProxy;
let qemu: ConnectProxy;
let dom: DomainProxy;

before(async () => {
  fx = await startFixture({ args: (lv) => ['--session', '--connect', `Test=${lv.testUri}`, '--connect', `QEMU=${lv.qemuUri}`] });
  lv = fx.libvirtd;
  test_ = connectOn(fx.client.conn, 'Test');
  qemu = connectOn(fx.client.conn, 'QEMU');
  dom = await test_.domainLookupByName('test');
  assert.equal(dom.objectPath, TEST_PATH);
});

after(async () => {
  await fx?.stop();
});

/** The D-Bus error a typed call fails with. */
const fails = (p: Promise<unknown>): Promise<DBusError> => errorOf(p, DBusError);

/** The test driver's node device 'computer', looked up by name. */
async function computer(): Promise<NodeDeviceProxy> {
  const dev = await test_.nodeDeviceLookupByName('computer');
  assert.equal(dev.objectPath, `${T}/nodedev/computer`);
  return dev;
}

/** `virsh nodedev-info` as a map of its fields. */
async function nodedevInfo(uri: string, name: string): Promise<Map<string, string>> {
  const out = await lv.virsh(uri, 'nodedev-info', name);
  return new Map(
    out
      .split('\n')
      .filter((l) => l.includes(':'))
      .map((l) => [l.slice(0, l.indexOf(':')).trim(), l.slice(l.indexOf(':') + 1).trim()]),
  );
}

/** The path of checkpoint `name` of the test domain, as snapshot paths are built. */
const checkpointPath = (name: string) => `${T}/checkpoint/_${TEST_UUID.replaceAll('-', '_')}_${name}`;

/** Checkpoint names of the test domain according to virsh. */
const virshCheckpoints = async () =>
  (await lv.virsh(lv.testUri, 'checkpoint-list', 'test', '--name'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .sort();

test('NodeDevice: Active, Persistent, Autostart on qemu:///system as virsh nodedev-info shows them', async () => {
  const devices = await qemu.listNodeDevices(0);
  assert.ok(devices.length > 0, 'the udev node device driver lists devices');
  for (const dev of devices.slice(0, 5)) {
    const name = await dev.name;
    const info = await nodedevInfo(lv.qemuUri, name);
    assert.equal(await dev.active, info.get('Active') === 'yes', `${name} Active`);
    assert.equal(await dev.persistent, info.get('Persistent') === 'yes', `${name} Persistent`);
    assert.equal(await dev.autostart, info.get('Autostart') === 'yes', `${name} Autostart`);
    const all = await dev.getAll();
    for (const p of ['Active', 'Autostart', 'Persistent']) assert.ok(p in all, `GetAll has ${p}`);
  }
});

test('NodeDevice: the test driver lacks IsActive, IsPersistent, GetAutostart: org.libvirt.Error', async () => {
  const dev = await computer();
  for (const [prop, read, fn] of [
    ['Active', () => dev.active, 'virNodeDeviceIsActive'],
    ['Persistent', () => dev.persistent, 'virNodeDeviceIsPersistent'],
    ['Autostart', () => dev.autostart, 'virNodeDeviceGetAutostart'],
  ] as const) {
    const e = await fails(read());
    assert.equal(e.errorName, 'org.libvirt.Error', prop);
    assert.match(e.message, new RegExp(`not supported by the connection driver: ${fn}`));
  }
});

test('NodeDevice: Define, Create, Undefine and setting Autostart give the test driver\'s "not supported" error', async () => {
  const dev = await computer();
  const mdev =
    "<device><parent>computer</parent><capability type='mdev'><type id='mtty-1'/><uuid>b1ae8bf6-38b0-4c81-9d44-78ce3f520496</uuid></capability></device>";
  const errors = [
    await fails(test_.nodeDeviceDefineXML(mdev, 0)),
    await fails(dev.create(0)),
    await fails(dev.undefine(0)),
    await fails(dev.setAutostart(true)),
  ];
  const fns = ['virNodeDeviceDefineXML', 'virNodeDeviceCreate', 'virNodeDeviceUndefine', 'virNodeDeviceSetAutostart'];
  errors.forEach((e, i) => {
    assert.equal(e.errorName, 'org.libvirt.Error', fns[i]);
    assert.match(e.message, new RegExp(`not supported by the connection driver: ${fns[i]}`));
  });
  // Nothing was defined (virsh 9.0's nodedev-list fails on the test driver, so ask the service).
  const devices = (await test_.listNodeDevices(0)).map((d) => d.objectPath);
  assert.ok(!devices.some((d) => d.includes('mdev')), devices.join(' '));
});

test('Checkpoints: create, look up, list, XML, parent, children, delete — as virsh sees them', async () => {
  const C = IFACE.DomainCheckpoint;
  const c1 = await dom.checkpointCreateXML('<domaincheckpoint><name>c1</name></domaincheckpoint>', 0);
  assert.equal(c1.objectPath, checkpointPath('c1'));
  const c2 = await dom.checkpointCreateXML('<domaincheckpoint><name>c-2</name></domaincheckpoint>', 0);
  // '-' is not kept by the path encoding: it becomes _2d, as in snapshot paths.
  assert.equal(c2.objectPath, checkpointPath('c_2d2'));
  assert.deepEqual(await virshCheckpoints(), ['c-2', 'c1']);

  assert.equal((await dom.checkpointLookupByName('c-2', 0)).objectPath, c2.objectPath);
  const missing = await fails(dom.checkpointLookupByName('nope', 0));
  assert.equal(missing.errorName, 'org.libvirt.Error');
  const listed = (await dom.listDomainCheckpoints(0)).map((c) => c.objectPath);
  assert.deepEqual(listed.sort(), [c1.objectPath, c2.objectPath].sort());

  const xml = await c2.getXMLDesc(0);
  assert.equal(xml.trimEnd(), (await lv.virsh(lv.testUri, 'checkpoint-dumpxml', 'test', 'c-2')).trimEnd());
  assert.equal((await c2.getParent(0)).objectPath, c1.objectPath);
  const orphan = await fails(c1.getParent(0));
  assert.equal(orphan.errorName, 'org.libvirt.Error');
  assert.match(orphan.message, /checkpoint 'c1' does not have a parent/);
  assert.deepEqual(
    (await c1.listAllChildren(0)).map((c) => c.objectPath),
    [c2.objectPath],
  );
  assert.deepEqual(await c2.listAllChildren(0), []);

  // The subtree lists the checkpoints that exist, and each node has the interface.
  // Raw: introspection XML is not part of the typed client.
  const intro = async (p: string) =>
    parseIntrospectionXml(((await fx.client.call(p, 'org.freedesktop.DBus.Introspectable', 'Introspect')) as [string])[0]);
  const nodes = (await intro(`${T}/checkpoint`)).nodes.map((n) => `${T}/checkpoint/${n.name}`);
  assert.deepEqual(nodes.sort(), [c1.objectPath, c2.objectPath].sort());
  assert.ok((await intro(c1.objectPath)).interfaces.some((i) => i.name === C));

  await c2.delete(0);
  assert.deepEqual(await virshCheckpoints(), ['c1']);
  assert.equal((await fails(c2.getXMLDesc(0))).errorName, 'org.libvirt.Error');
  await c1.delete(0);
  assert.deepEqual(await virshCheckpoints(), []);
  assert.deepEqual(await dom.listDomainCheckpoints(0), []);
});

test('Backups: the test driver has none, and says so through org.libvirt.Error', async () => {
  const begin = await fails(dom.backupBegin('<domainbackup/>', '', 0));
  assert.equal(begin.errorName, 'org.libvirt.Error');
  assert.match(begin.message, /not supported by the connection driver: virDomainBackupBegin/);
  const desc = await fails(dom.backupGetXMLDesc(0));
  assert.match(desc.message, /not supported by the connection driver: virDomainBackupGetXMLDesc/);
});
