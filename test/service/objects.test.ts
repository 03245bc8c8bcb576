// The object interfaces below a Connect object end to end — Network, StoragePool, StorageVol,
// NodeDevice, Interface (test driver) and Secret, NWFilter (qemu:///system) — every member at
// least once through python3-dbus, compared with virsh on the same private daemon; the signals
// libvirt events turn into; subtree introspection; and unknown or deleted objects.
// Deliberately through python3-dbus, not the typed client the other service tests use: this is
// the test of every object kind against a D-Bus implementation that is not ours.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseIntrospectionXml } from '../../src/dbus/index.js';
import { encodeString } from '../../src/service/paths.js';
import type { PrivateLibvirtd } from '../helpers/libvirtd.js';
import { type Fixture, IFACE, peerError, startFixture, startService } from './fixture.js';
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
  await peer.subscribe({ iface: IFACE.Connect });
  await peer.subscribe({ iface: IFACE.StoragePool });
});

after(async () => {
  await fx?.stop();
});

const uuidPath = (base: string, kind: string, uuid: string) => `${base}/${kind}/_${uuid.trim().replaceAll('-', '_')}`;
const doc = async (uri: string, ...args: string[]) => (await lv.virsh(uri, ...args)).trimEnd();

test('Network: properties, XML, update, leases, lifecycle and NetworkEvent signals', async () => {
  const N = IFACE.Network;
  const xml =
    "<network><name>obj-net</name><bridge name='objbr0'/><ip address='10.8.0.1' netmask='255.255.255.0'><dhcp><range start='10.8.0.2' end='10.8.0.9'/></dhcp></ip></network>";
  const [path] = (await peer.call(T, IFACE.Connect, 'NetworkDefineXML', 's', [xml])) as [string];
  const uuid = (await lv.virsh(lv.testUri, 'net-uuid', 'obj-net')).trim();
  assert.equal(path, uuidPath(T, 'network', uuid));
  assert.equal(await peer.get(path, N, 'Name'), 'obj-net');
  assert.equal(await peer.get(path, N, 'UUID'), uuid);
  assert.equal(await peer.get(path, N, 'Active'), false);
  assert.equal(await peer.get(path, N, 'Persistent'), true);
  assert.equal(await peer.get(path, N, 'Autostart'), false);
  await peer.set(path, N, 'Autostart', true);
  assert.match(await lv.virsh(lv.testUri, 'net-info', 'obj-net'), /Autostart:\s+yes/);
  const [all] = (await peer.call(path, 'org.freedesktop.DBus.Properties', 'GetAll', 's', [N])) as [Record<string, unknown>];
  assert.deepEqual(all, { Active: false, Autostart: true, Name: 'obj-net', Persistent: true, UUID: uuid });
  const [got] = (await peer.call(path, N, 'GetXMLDesc', 'u', [0])) as [string];
  assert.equal(got.trimEnd(), await doc(lv.testUri, 'net-dumpxml', 'obj-net'));

  await peer.call(path, N, 'Create');
  assert.equal(await peer.get(path, N, 'Active'), true);
  const started = await peer.waitForSignal((s) => s.member === 'NetworkEvent' && s.args[0] === path && s.args[1] === 2);
  assert.equal(started.path, T); // VIR_NETWORK_EVENT_STARTED on the Connect object

  // Update: add a DHCP host (VIR_NETWORK_UPDATE_COMMAND_ADD_LAST=3, SECTION_IP_DHCP_HOST=4, AFFECT_LIVE|CONFIG=3).
  await peer.call(path, N, 'Update', 'uuisu', [3, 4, -1, "<host mac='52:54:00:00:00:01' ip='10.8.0.5'/>", 3]);
  assert.match(await lv.virsh(lv.testUri, 'net-dumpxml', 'obj-net'), /52:54:00:00:00:01/);
  // The test driver has no DHCP leases: libvirt's error, mac '' passed as NULL.
  assert.equal((await peerError(peer.call(path, N, 'GetDHCPLeases', 'su', ['', 0]))).errorName, 'org.libvirt.Error');

  // virsh net-destroy is seen as a signal too (events come from the daemon, not from our calls).
  await lv.virsh(lv.testUri, 'net-destroy', 'obj-net');
  await peer.waitForSignal((s) => s.member === 'NetworkEvent' && s.args[0] === path && s.args[1] === 3);
  await peer.call(path, N, 'Create');
  await peer.call(path, N, 'Destroy');
  assert.equal(await peer.get(path, N, 'Active'), false);
  await peer.call(path, N, 'Undefine');
  await peer.waitForSignal((s) => s.member === 'NetworkEvent' && s.args[0] === path && s.args[1] === 1);
  // The object is gone: the same path now answers libvirt's "not found".
  const gone = await peerError(peer.get(path, N, 'Name'));
  assert.equal(gone.errorName, 'org.libvirt.Error');
  assert.match(gone.message, /Network not found/);
});

test('StoragePool and StorageVol: every member, StoragePoolEvent and Refresh signals', async () => {
  const P = IFACE.StoragePool;
  const V = IFACE.StorageVol;
  const xml = "<pool type='dir'><name>obj-pool</name><target><path>/obj-pool</path></target></pool>";
  const [path] = (await peer.call(T, IFACE.Connect, 'StoragePoolDefineXML', 'su', [xml, 0])) as [string];
  const uuid = (await lv.virsh(lv.testUri, 'pool-uuid', 'obj-pool')).trim();
  assert.equal(path, uuidPath(T, 'storagepool', uuid));
  await peer.waitForSignal((s) => s.member === 'StoragePoolEvent' && s.args[0] === path && s.args[1] === 0);
  assert.equal(await peer.get(path, P, 'Name'), 'obj-pool');
  assert.equal(await peer.get(path, P, 'UUID'), uuid);
  assert.equal(await peer.get(path, P, 'Persistent'), true);
  await peer.set(path, P, 'Autostart', true);
  assert.equal(await peer.get(path, P, 'Autostart'), true);
  await peer.call(path, P, 'Build', 'u', [0]);
  await peer.call(path, P, 'Create', 'u', [0]);
  assert.equal(await peer.get(path, P, 'Active'), true);
  const [[state, capacity, allocation, available]] = (await peer.call(path, P, 'GetInfo')) as [[number, number, number, number]];
  assert.equal(state, 2); // VIR_STORAGE_POOL_RUNNING
  assert.ok(capacity >= allocation && available >= 0);
  assert.match(await lv.virsh(lv.testUri, 'pool-info', 'obj-pool'), /State:\s+running/);
  const [pxml] = (await peer.call(path, P, 'GetXMLDesc', 'u', [0])) as [string];
  assert.equal(pxml.trimEnd(), await doc(lv.testUri, 'pool-dumpxml', 'obj-pool'));
  await peer.call(path, P, 'Refresh', 'u', [0]);
  await peer.waitForSignal((s) => s.member === 'Refresh' && s.path === path && s.iface === P);

  const [vol] = (await peer.call(path, P, 'StorageVolCreateXML', 'su', [
    '<volume><name>a b.img</name><capacity>1048576</capacity></volume>',
    0,
  ])) as [string];
  const key = (await lv.virsh(lv.testUri, 'vol-key', '--pool', 'obj-pool', 'a b.img')).trim();
  assert.equal(vol, `${T}/storagevol/${encodeString(key)}`);
  assert.deepEqual(await peer.call(path, P, 'StorageVolLookupByName', 's', ['a b.img']), [vol]);
  assert.deepEqual(await peer.call(path, P, 'ListStorageVolumes', 'u', [0]), [[vol]]);
  const [clone] = (await peer.call(path, P, 'StorageVolCreateXMLFrom', 'ssu', [
    '<volume><name>clone.img</name><capacity>1048576</capacity></volume>',
    key,
    0,
  ])) as [string];
  assert.match(await lv.virsh(lv.testUri, 'vol-list', 'obj-pool'), /clone\.img/);

  assert.equal(await peer.get(vol, V, 'Name'), 'a b.img');
  assert.equal(await peer.get(vol, V, 'Key'), key);
  assert.equal(await peer.get(vol, V, 'Path'), (await lv.virsh(lv.testUri, 'vol-path', '--pool', 'obj-pool', 'a b.img')).trim());
  // The reference calls virStorageVolGetInfoFlags, which the test driver lacks behind a daemon.
  const info = await peerError(peer.call(vol, V, 'GetInfo', 'u', [0]));
  assert.match(info.dbusMessage, /virStorageVolGetInfoFlags/);
  const [vxml] = (await peer.call(vol, V, 'GetXMLDesc', 'u', [0])) as [string];
  assert.equal(vxml.trimEnd(), await doc(lv.testUri, 'vol-dumpxml', '--pool', 'obj-pool', 'a b.img'));
  // The test driver has neither resize nor wipe: libvirt's error reaches the caller.
  for (const [m, sig, args] of [
    ['Resize', 'tu', [2097152, 0]],
    ['Wipe', 'uu', [0, 0]],
  ] as const) {
    const e = await peerError(peer.call(vol, V, m, sig, [...args]));
    assert.equal(e.errorName, 'org.libvirt.Error', m);
    assert.match(e.message, /not supported/);
  }
  await peer.call(vol, V, 'Delete', 'u', [0]);
  await peer.call(clone, V, 'Delete', 'u', [0]);
  assert.doesNotMatch(await lv.virsh(lv.testUri, 'vol-list', 'obj-pool'), /img/);
  assert.equal((await peerError(peer.get(vol, V, 'Name'))).errorName, 'org.libvirt.Error');

  await peer.call(path, P, 'Destroy');
  await peer.waitForSignal((s) => s.member === 'StoragePoolEvent' && s.args[0] === path && s.args[1] === 3);
  await peer.call(path, P, 'Delete', 'u', [0]);
  await peer.call(path, P, 'Undefine');
  assert.equal((await peerError(peer.get(path, P, 'Name'))).errorName, 'org.libvirt.Error');
});

test('NodeDevice: properties, XML, capabilities, and the calls the test driver lacks', async () => {
  const D = IFACE.NodeDevice;
  const path = `${T}/nodedev/scsi_5fhost1`;
  assert.equal(await peer.get(path, D, 'Name'), 'scsi_host1');
  assert.equal(await peer.get(path, D, 'Parent'), 'computer');
  // A device without a parent: libvirt returns NULL without an error.
  assert.equal((await peerError(peer.get(`${T}/nodedev/computer`, D, 'Parent'))).errorName, 'org.libvirt.Error');
  const [xml] = (await peer.call(path, D, 'GetXMLDesc', 'u', [0])) as [string];
  assert.equal(xml.trimEnd(), await doc(lv.testUri, 'nodedev-dumpxml', 'scsi_host1'));
  assert.deepEqual(await peer.call(path, D, 'ListCaps'), [['scsi_host']]);
  for (const [m, sig, args] of [
    ['Detach', 'su', ['', 0]],
    ['ReAttach', '', []],
    ['Reset', '', []],
  ] as const) {
    assert.equal((await peerError(peer.call(path, D, m, sig, [...args]))).errorName, 'org.libvirt.Error', m);
  }
  // Create a vHBA, see NodeDeviceEvent, destroy it through D-Bus.
  const vhba =
    "<device><parent>scsi_host1</parent><capability type='scsi_host'><capability type='fc_host'><wwnn>2000000012341299</wwnn><wwpn>1000000012341299</wwpn></capability></capability></device>";
  const [dev] = (await peer.call(T, IFACE.Connect, 'NodeDeviceCreateXML', 'su', [vhba, 0])) as [string];
  await peer.waitForSignal((s) => s.member === 'NodeDeviceEvent' && s.args[0] === dev && s.args[1] === 0);
  await peer.call(dev, D, 'Destroy');
  await peer.waitForSignal((s) => s.member === 'NodeDeviceEvent' && s.args[0] === dev && s.args[1] === 1);
  assert.equal((await peerError(peer.get(dev, D, 'Name'))).errorName, 'org.libvirt.Error');
});

test('Interface: properties, XML, lifecycle', async () => {
  const I = IFACE.Interface;
  const path = `${T}/interface/aa_3abb_3acc_3add_3aee_3aff`;
  assert.equal(await peer.get(path, I, 'Name'), 'eth1');
  assert.equal(await peer.get(path, I, 'MAC'), 'aa:bb:cc:dd:ee:ff');
  assert.equal(await peer.get(path, I, 'Active'), true);
  const [xml] = (await peer.call(path, I, 'GetXMLDesc', 'u', [0])) as [string];
  assert.equal(xml.trimEnd(), await doc(lv.testUri, 'iface-dumpxml', 'eth1'));
  await peer.call(path, I, 'Destroy', 'u', [0]);
  assert.equal(await peer.get(path, I, 'Active'), false);
  assert.match(await lv.virsh(lv.testUri, 'iface-list', '--inactive'), /eth1/);
  await peer.call(path, I, 'Create', 'u', [0]);
  assert.equal(await peer.get(path, I, 'Active'), true);
  const [other] = (await peer.call(T, IFACE.Connect, 'InterfaceDefineXML', 'su', [
    "<interface type='ethernet' name='eth7'><mac address='aa:bb:cc:dd:ee:07'/></interface>",
    0,
  ])) as [string];
  await peer.call(other, I, 'Undefine');
  assert.doesNotMatch(await lv.virsh(lv.testUri, 'iface-list', '--all'), /eth7/);
});

test('Secret: properties, value, XML, SecretEvent signals', async () => {
  const S = IFACE.Secret;
  const uuid = 'aaaaaaaa-2222-3333-4444-555555555555';
  const xml = `<secret ephemeral='no' private='no'><uuid>${uuid}</uuid><usage type='ceph'><name>obj-secret</name></usage></secret>`;
  const [path] = (await peer.call(Q, IFACE.Connect, 'SecretDefineXML', 'su', [xml, 0])) as [string];
  await peer.waitForSignal((s) => s.member === 'SecretEvent' && s.args[0] === path && s.args[1] === 0);
  assert.equal(await peer.get(path, S, 'UUID'), uuid);
  assert.equal(await peer.get(path, S, 'UsageType'), 2); // VIR_SECRET_USAGE_TYPE_CEPH
  assert.equal(await peer.get(path, S, 'UsageID'), 'obj-secret');
  const [got] = (await peer.call(path, S, 'GetXMLDesc', 'u', [0])) as [string];
  assert.equal(got.trimEnd(), await doc(lv.qemuUri, 'secret-dumpxml', uuid));
  await peer.call(path, S, 'SetValue', 'ayu', [[0, 1, 2, 255], 0]);
  assert.deepEqual(await peer.call(path, S, 'GetValue', 'u', [0]), [[0, 1, 2, 255]]);
  assert.equal((await lv.virsh(lv.qemuUri, 'secret-get-value', uuid)).trim(), Buffer.from([0, 1, 2, 255]).toString('base64'));
  await peer.call(path, S, 'Undefine');
  await peer.waitForSignal((s) => s.member === 'SecretEvent' && s.args[0] === path && s.args[1] === 1);
  assert.match((await peerError(peer.get(path, S, 'UUID'))).message, /[Ss]ecret/);
});

test('NWFilter: properties, XML, undefine', async () => {
  const F = IFACE.NWFilter;
  const uuid = 'bbbbbbbb-2222-3333-4444-555555555555';
  const [path] = (await peer.call(Q, IFACE.Connect, 'NWFilterDefineXML', 's', [
    `<filter name='obj-filter' chain='root'><uuid>${uuid}</uuid><rule action='drop' direction='in'><all/></rule></filter>`,
  ])) as [string];
  assert.equal(await peer.get(path, F, 'Name'), 'obj-filter');
  assert.equal(await peer.get(path, F, 'UUID'), uuid);
  const [xml] = (await peer.call(path, F, 'GetXMLDesc', 'u', [0])) as [string];
  assert.equal(xml.trimEnd(), await doc(lv.qemuUri, 'nwfilter-dumpxml', 'obj-filter'));
  await peer.call(path, F, 'Undefine');
  assert.doesNotMatch(await lv.virsh(lv.qemuUri, 'nwfilter-list'), /obj-filter/);
});

test('subtrees list what libvirt has now; unknown paths answer like the reference', async () => {
  const intro = async (p: string) =>
    parseIntrospectionXml(((await peer.call(p, 'org.freedesktop.DBus.Introspectable', 'Introspect')) as [string])[0]);
  const nets = await intro(`${T}/network`);
  const netUuids = (await lv.virsh(lv.testUri, 'net-list', '--all', '--uuid')).trim().split('\n');
  assert.deepEqual(nets.nodes.map((n) => n.name).sort(), netUuids.map((u) => `_${u.trim().replaceAll('-', '_')}`).sort());
  // As the reference, the subtree root reports the interface too.
  assert.deepEqual(
    nets.interfaces.map((i) => i.name).filter((n) => n.startsWith('org.libvirt')),
    [IFACE.Network],
  );
  const child = await intro(`${T}/nodedev/scsi_5fhost1`);
  assert.ok(child.interfaces.some((i) => i.name === IFACE.NodeDevice));
  const doms = await intro(`${T}/domain`);
  assert.equal(doms.nodes.length, 1);
  // A well-formed UUID nobody has: libvirt's "not found"; garbage: libvirt's UUID complaint.
  const missing = await peerError(peer.get(`${T}/network/_00000000_0000_0000_0000_000000000000`, IFACE.Network, 'Name'));
  assert.equal(missing.errorName, 'org.libvirt.Error');
  const garbage = await peerError(peer.call(`${T}/network/foo`, IFACE.Network, 'GetXMLDesc', 'u', [0]));
  assert.equal(garbage.dbusMessage, 'uuidstr in virNetworkLookupByUUIDString must be a valid UUID');
  // Another interface than the subtree's, or a path outside any subtree: GDBus's answers.
  const wrongIface = await peerError(peer.call(`${T}/nodedev/x`, IFACE.Network, 'GetXMLDesc', 'u', [0]));
  assert.equal(wrongIface.errorName, 'org.freedesktop.DBus.Error.UnknownMethod');
  const nowhere = await peerError(peer.call(`${T}/foo/bar`, IFACE.Network, 'GetXMLDesc', 'u', [0]));
  assert.equal(nowhere.errorName, 'org.freedesktop.DBus.Error.UnknownMethod');
  assert.match(nowhere.message, /Object does not exist at path/);
});

test('StorageVol on a directory pool of qemu:///system: info, resize, wipe', async () => {
  const P = IFACE.StoragePool;
  const V = IFACE.StorageVol;
  const dir = `${lv.dir}/qpool`;
  const [pool] = (await peer.call(Q, IFACE.Connect, 'StoragePoolCreateXML', 'su', [
    `<pool type='dir'><name>qpool</name><target><path>${dir}</path></target></pool>`,
    1, // VIR_STORAGE_POOL_CREATE_WITH_BUILD
  ])) as [string];
  const [vol] = (await peer.call(pool, P, 'StorageVolCreateXML', 'su', [
    "<volume><name>v.raw</name><capacity>1048576</capacity><target><format type='raw'/></target></volume>",
    0,
  ])) as [string];
  assert.equal(await peer.get(vol, V, 'Path'), `${dir}/v.raw`);
  assert.deepEqual(await peer.call(Q, IFACE.Connect, 'StorageVolLookupByPath', 's', [`${dir}/v.raw`]), [vol]);
  const [[type, capacity]] = (await peer.call(vol, V, 'GetInfo', 'u', [0])) as [[number, number, number]];
  assert.equal(type, 0); // VIR_STORAGE_VOL_FILE
  assert.equal(capacity, 1048576);
  await peer.call(vol, V, 'Resize', 'tu', [2097152, 0]);
  assert.match(await lv.virsh(lv.qemuUri, 'vol-info', `${dir}/v.raw`, '--bytes'), /Capacity:\s+2097152 bytes/);
  await peer.call(vol, V, 'Wipe', 'uu', [0, 0]); // VIR_STORAGE_VOL_WIPE_ALG_ZERO
  await peer.call(vol, V, 'Delete', 'u', [0]);
  await peer.call(pool, P, 'Destroy');
});

// Compared with data/*.xml, which interfaces.test.ts holds to the reference plus the listed additions.
test('live introspection of every object kind equals its interface description in data/', async () => {
  const { readFileSync } = await import('node:fs');
  const summary = (i: {
    methods: { name: string; in: { name?: string; signature: string }[]; out: { name?: string; signature: string }[] }[];
    signals: { name: string; args: { name?: string; signature: string }[] }[];
    properties: { name: string; signature: string; access: string }[];
  }) => ({
    methods: i.methods.map(
      (m) => `${m.name}(${m.in.map((a) => `${a.name}:${a.signature}`)})→(${m.out.map((a) => `${a.name}:${a.signature}`)})`,
    ),
    signals: i.signals.map((s) => `${s.name}(${s.args.map((a) => `${a.name}:${a.signature}`)})`),
    properties: i.properties.map((p) => `${p.name}:${p.signature}:${p.access}`),
  });
  const paths: Record<string, string> = {
    [IFACE.Connect]: T,
    [IFACE.Domain]: `${T}/domain/_00000000_0000_0000_0000_000000000001`,
    [IFACE.DomainSnapshot]: `${T}/domainsnapshot/_00000000_0000_0000_0000_000000000001_s`,
    [IFACE.DomainCheckpoint]: `${T}/checkpoint/_00000000_0000_0000_0000_000000000001_c`,
    [IFACE.Interface]: `${T}/interface/x`,
    [IFACE.NWFilter]: `${Q}/nwfilter/_00000000_0000_0000_0000_000000000001`,
    [IFACE.Network]: `${T}/network/_00000000_0000_0000_0000_000000000001`,
    [IFACE.NodeDevice]: `${T}/nodedev/x`,
    [IFACE.Secret]: `${Q}/secret/_00000000_0000_0000_0000_000000000001`,
    [IFACE.StoragePool]: `${T}/storagepool/_00000000_0000_0000_0000_000000000001`,
    [IFACE.StorageVol]: `${T}/storagevol/x`,
  };
  for (const [name, path] of Object.entries(paths)) {
    const [xml] = (await peer.call(path, 'org.freedesktop.DBus.Introspectable', 'Introspect')) as [string];
    const live = parseIntrospectionXml(xml).interfaces.find((i) => i.name === name);
    assert.ok(live, `${path} has ${name}`);
    const ref = parseIntrospectionXml(readFileSync(new URL(`../../../data/${name}.xml`, import.meta.url), 'utf8')).interfaces[0];
    assert.ok(ref);
    assert.deepEqual(summary(live), summary(ref), name);
  }
});

test('--listen: peers of the D-Bus server get the same objects and the signals', async () => {
  const { DBusConnection } = await import('../../src/dbus/index.js');
  const p2p = await startService(
    undefined,
    ['--listen', 'unix:tmpdir=/tmp', '--no-default-connects', '--connect', `Test=${lv.testUri}`],
    false,
  );
  try {
    const conn = await DBusConnection.connect(await p2p.stdoutLine());
    try {
      const signals: unknown[][] = [];
      conn.signalSubscribe({ interface: IFACE.Connect, member: 'NetworkEvent' }, (m) => signals.push(m.body));
      const [nets] = (await conn.call({ path: T, interface: IFACE.Connect, member: 'ListNetworks', signature: 'u', body: [0] })) as [
        string[],
      ];
      const uuid = (await lv.virsh(lv.testUri, 'net-uuid', 'default')).trim();
      const def = nets.find((n) => n.endsWith(uuid.replaceAll('-', '_')));
      assert.ok(def);
      await lv.virsh(lv.testUri, 'net-destroy', 'default');
      await lv.virsh(lv.testUri, 'net-start', 'default');
      const deadline = Date.now() + 10_000;
      while (signals.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(signals.slice(0, 2), [
        [def, 3],
        [def, 2],
      ]);
    } finally {
      conn.close();
    }
  } finally {
    assert.equal(await p2p.stop(), 0, `the service's exit on SIGTERM; its stderr: ${p2p.stderr()}`);
  }
});
