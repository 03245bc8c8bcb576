// Node device lifecycle members and domain checkpoints (beyond libvirt-dbus 1.4.1) on the test
// driver of a private libvirtd, through python3-dbus, compared with virsh on the same daemon.
// The test driver implements checkpoints but none of the node device lifecycle calls (its
// IsActive/IsPersistent/GetAutostart fail too, which virsh nodedev-info prints as yes/yes/no):
// there they are checked to reach the caller as libvirt's own "not supported" error, and the
// properties are read on qemu:///system's node devices (udev), where libvirt implements them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseIntrospectionXml } from '../../src/dbus/index.js';
import type { PrivateLibvirtd } from '../helpers/libvirtd.js';
import { type Fixture, IFACE, peerError, startFixture, TEST_PATH, TEST_UUID } from './fixture.js';
import type { DBusPeer } from './peer.js';

const T = '/org/libvirt/Test';
const Q = '/org/libvirt/QEMU';
let fx: Fixture;
let lv: PrivateLibvirtd;
let peer: DBusPeer;

before(async () => {
  fx = await startFixture({ args: (lv) => ['--session', '--connect', `Test=${lv.testUri}`, '--connect', `QEMU=${lv.qemuUri}`] });
  lv = fx.libvirtd;
  peer = fx.peer;
});

after(async () => {
  await fx?.stop();
});

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
  const D = IFACE.NodeDevice;
  const [devices] = (await peer.call(Q, IFACE.Connect, 'ListNodeDevices', 'u', [0])) as [string[]];
  assert.ok(devices.length > 0, 'the udev node device driver lists devices');
  for (const path of devices.slice(0, 5)) {
    const name = (await peer.get(path, D, 'Name')) as string;
    const info = await nodedevInfo(lv.qemuUri, name);
    assert.equal(await peer.get(path, D, 'Active'), info.get('Active') === 'yes', `${name} Active`);
    assert.equal(await peer.get(path, D, 'Persistent'), info.get('Persistent') === 'yes', `${name} Persistent`);
    assert.equal(await peer.get(path, D, 'Autostart'), info.get('Autostart') === 'yes', `${name} Autostart`);
    const [all] = (await peer.call(path, 'org.freedesktop.DBus.Properties', 'GetAll', 's', [D])) as [Record<string, unknown>];
    for (const p of ['Active', 'Autostart', 'Persistent']) assert.ok(p in all, `GetAll has ${p}`);
  }
});

test('NodeDevice: the test driver lacks IsActive, IsPersistent, GetAutostart: org.libvirt.Error', async () => {
  const path = `${T}/nodedev/computer`;
  for (const [prop, fn] of [
    ['Active', 'virNodeDeviceIsActive'],
    ['Persistent', 'virNodeDeviceIsPersistent'],
    ['Autostart', 'virNodeDeviceGetAutostart'],
  ] as const) {
    const e = await peerError(peer.get(path, IFACE.NodeDevice, prop));
    assert.equal(e.errorName, 'org.libvirt.Error');
    assert.match(e.message, new RegExp(`not supported by the connection driver: ${fn}`));
  }
});

test('NodeDevice: Define, Create, Undefine and setting Autostart give the test driver\'s "not supported" error', async () => {
  const D = IFACE.NodeDevice;
  const path = `${T}/nodedev/computer`;
  const mdev =
    "<device><parent>computer</parent><capability type='mdev'><type id='mtty-1'/><uuid>b1ae8bf6-38b0-4c81-9d44-78ce3f520496</uuid></capability></device>";
  const errors = [
    await peerError(peer.call(T, IFACE.Connect, 'NodeDeviceDefineXML', 'su', [mdev, 0])),
    await peerError(peer.call(path, D, 'Create', 'u', [0])),
    await peerError(peer.call(path, D, 'Undefine', 'u', [0])),
    await peerError(peer.set(path, D, 'Autostart', true)),
  ];
  const fns = ['virNodeDeviceDefineXML', 'virNodeDeviceCreate', 'virNodeDeviceUndefine', 'virNodeDeviceSetAutostart'];
  errors.forEach((e, i) => {
    assert.equal(e.errorName, 'org.libvirt.Error', fns[i]);
    assert.match(e.message, new RegExp(`not supported by the connection driver: ${fns[i]}`));
  });
  // Nothing was defined (virsh 9.0's nodedev-list fails on the test driver, so ask the service).
  const [devices] = (await peer.call(T, IFACE.Connect, 'ListNodeDevices', 'u', [0])) as [string[]];
  assert.ok(!devices.some((d) => d.includes('mdev')), devices.join(' '));
});

test('Checkpoints: create, look up, list, XML, parent, children, delete — as virsh sees them', async () => {
  const C = IFACE.DomainCheckpoint;
  const [c1] = (await peer.call(TEST_PATH, IFACE.Domain, 'CheckpointCreateXML', 'su', [
    '<domaincheckpoint><name>c1</name></domaincheckpoint>',
    0,
  ])) as [string];
  assert.equal(c1, checkpointPath('c1'));
  const [c2] = (await peer.call(TEST_PATH, IFACE.Domain, 'CheckpointCreateXML', 'su', [
    '<domaincheckpoint><name>c-2</name></domaincheckpoint>',
    0,
  ])) as [string];
  // '-' is not kept by the path encoding: it becomes _2d, as in snapshot paths.
  assert.equal(c2, checkpointPath('c_2d2'));
  assert.deepEqual(await virshCheckpoints(), ['c-2', 'c1']);

  assert.deepEqual(await peer.call(TEST_PATH, IFACE.Domain, 'CheckpointLookupByName', 'su', ['c-2', 0]), [c2]);
  const missing = await peerError(peer.call(TEST_PATH, IFACE.Domain, 'CheckpointLookupByName', 'su', ['nope', 0]));
  assert.equal(missing.errorName, 'org.libvirt.Error');
  const [listed] = (await peer.call(TEST_PATH, IFACE.Domain, 'ListDomainCheckpoints', 'u', [0])) as [string[]];
  assert.deepEqual([...listed].sort(), [c1, c2].sort());

  const [xml] = (await peer.call(c2, C, 'GetXMLDesc', 'u', [0])) as [string];
  assert.equal(xml.trimEnd(), (await lv.virsh(lv.testUri, 'checkpoint-dumpxml', 'test', 'c-2')).trimEnd());
  assert.deepEqual(await peer.call(c2, C, 'GetParent', 'u', [0]), [c1]);
  const orphan = await peerError(peer.call(c1, C, 'GetParent', 'u', [0]));
  assert.equal(orphan.errorName, 'org.libvirt.Error');
  assert.match(orphan.message, /checkpoint 'c1' does not have a parent/);
  assert.deepEqual(await peer.call(c1, C, 'ListAllChildren', 'u', [0]), [[c2]]);
  assert.deepEqual(await peer.call(c2, C, 'ListAllChildren', 'u', [0]), [[]]);

  // The subtree lists the checkpoints that exist, and each node has the interface.
  const intro = async (p: string) =>
    parseIntrospectionXml(((await peer.call(p, 'org.freedesktop.DBus.Introspectable', 'Introspect')) as [string])[0]);
  const nodes = (await intro(`${T}/checkpoint`)).nodes.map((n) => `${T}/checkpoint/${n.name}`);
  assert.deepEqual(nodes.sort(), [c1, c2].sort());
  assert.ok((await intro(c1)).interfaces.some((i) => i.name === C));

  await peer.call(c2, C, 'Delete', 'u', [0]);
  assert.deepEqual(await virshCheckpoints(), ['c1']);
  assert.equal((await peerError(peer.call(c2, C, 'GetXMLDesc', 'u', [0]))).errorName, 'org.libvirt.Error');
  await peer.call(c1, C, 'Delete', 'u', [0]);
  assert.deepEqual(await virshCheckpoints(), []);
  assert.deepEqual(await peer.call(TEST_PATH, IFACE.Domain, 'ListDomainCheckpoints', 'u', [0]), [[]]);
});

test('Backups: the test driver has none, and says so through org.libvirt.Error', async () => {
  const begin = await peerError(peer.call(TEST_PATH, IFACE.Domain, 'BackupBegin', 'ssu', ['<domainbackup/>', '', 0]));
  assert.equal(begin.errorName, 'org.libvirt.Error');
  assert.match(begin.message, /not supported by the connection driver: virDomainBackupBegin/);
  const desc = await peerError(peer.call(TEST_PATH, IFACE.Domain, 'BackupGetXMLDesc', 'u', [0]));
  assert.match(desc.message, /not supported by the connection driver: virDomainBackupGetXMLDesc/);
});
