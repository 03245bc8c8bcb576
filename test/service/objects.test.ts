// The object interfaces below a Connect object end to end — Network, StoragePool, StorageVol,
// NodeDevice, Interface (test driver) and Secret, NWFilter (qemu:///system) — every member at
// least once through the typed client (libvirt-dbus/client), compared with virsh on the same
// private daemon; the signals libvirt events turn into; subtree introspection; and unknown or
// deleted objects.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type ConnectProxy, NetworkProxy, type ObjectProxy, OrgLibvirt } from '../../src/client/index.js';
import { DBusError, parseIntrospectionXml } from '../../src/dbus/index.js';
import { encodeString } from '../../src/service/paths.js';
import { errorOf } from '../helpers/errors.js';
import type { PrivateLibvirtd } from '../helpers/libvirtd.js';
import { type Fixture, IFACE, startFixture, startService } from './fixture.js';
import { CALL_TIMEOUT_MS, connectOn, record } from './typed.js';

const T = '/org/libvirt/Test';
const Q = '/org/libvirt/QEMU';
let fx: Fixture;
let lv: PrivateLibvirtd;
/** /org/libvirt/Test (test:///default) and /org/libvirt/QEMU (qemu:///system) of the private daemon. */
let test_: ConnectProxy;
let qemu: ConnectProxy;

before(async () => {
  fx = await startFixture({ args: (lv) => ['--session', '--connect', `Test=${lv.testUri}`, '--connect', `QEMU=${lv.qemuUri}`] });
  lv = fx.libvirtd;
  test_ = connectOn(fx.client.conn, 'Test');
  qemu = connectOn(fx.client.conn, 'QEMU');
});

after(async () => {
  await fx?.stop();
});

const uuidPath = (base: string, kind: string, uuid: string) => `${base}/${kind}/_${uuid.trim().replaceAll('-', '_')}`;
const doc = async (uri: string, ...args: string[]) => (await lv.virsh(uri, ...args)).trimEnd();
/** The D-Bus error a call fails with. */
const fails = (p: Promise<unknown>): Promise<DBusError> => errorOf(p, DBusError);
/** The object paths of proxies. */
const paths = (proxies: ObjectProxy[]): string[] => proxies.map((p) => p.objectPath);

test('Network: properties, XML, update, leases, lifecycle and NetworkEvent signals', async () => {
  const xml =
    "<network><name>obj-net</name><bridge name='objbr0'/><ip address='10.8.0.1' netmask='255.255.255.0'><dhcp><range start='10.8.0.2' end='10.8.0.9'/></dhcp></ip></network>";
  // NetworkEvent comes on the Connect object (the subscription's path).
  const events = record('NetworkEvent', test_.onNetworkEvent.bind(test_));
  try {
    const net = await test_.networkDefineXML(xml);
    const path = net.objectPath;
    const uuid = (await lv.virsh(lv.testUri, 'net-uuid', 'obj-net')).trim();
    assert.equal(path, uuidPath(T, 'network', uuid));
    assert.equal(await net.name, 'obj-net');
    assert.equal(await net.uuid, uuid);
    assert.equal(await net.active, false);
    assert.equal(await net.persistent, true);
    assert.equal(await net.autostart, false);
    await net.setAutostart(true);
    assert.match(await lv.virsh(lv.testUri, 'net-info', 'obj-net'), /Autostart:\s+yes/);
    assert.deepEqual(await net.getAll(), { Active: false, Autostart: true, Name: 'obj-net', Persistent: true, UUID: uuid });
    const got = await net.getXMLDesc(0);
    assert.equal(got.trimEnd(), await doc(lv.testUri, 'net-dumpxml', 'obj-net'));

    const event = (e: number) => events.waitFor(([n, ev]) => n.objectPath === path && ev === e);
    await net.create();
    assert.equal(await net.active, true);
    await event(2); // VIR_NETWORK_EVENT_STARTED

    // Update: add a DHCP host (VIR_NETWORK_UPDATE_COMMAND_ADD_LAST=3, SECTION_IP_DHCP_HOST=4, AFFECT_LIVE|CONFIG=3).
    await net.update(3, 4, -1, "<host mac='52:54:00:00:00:01' ip='10.8.0.5'/>", 3);
    assert.match(await lv.virsh(lv.testUri, 'net-dumpxml', 'obj-net'), /52:54:00:00:00:01/);
    // The test driver has no DHCP leases: libvirt's error, mac '' passed as NULL.
    assert.equal((await fails(net.getDHCPLeases('', 0))).errorName, 'org.libvirt.Error');

    // virsh net-destroy is seen as a signal too (events come from the daemon, not from our calls).
    await lv.virsh(lv.testUri, 'net-destroy', 'obj-net');
    await event(3); // VIR_NETWORK_EVENT_STOPPED
    await net.create();
    await net.destroy();
    assert.equal(await net.active, false);
    await net.undefine();
    await event(1); // VIR_NETWORK_EVENT_UNDEFINED
    // The object is gone: the same path now answers libvirt's "not found".
    const gone = await fails(net.name);
    assert.equal(gone.errorName, 'org.libvirt.Error');
    assert.match(gone.message, /Network not found/);
  } finally {
    events.stop();
  }
});

test('StoragePool and StorageVol: every member, StoragePoolEvent and Refresh signals', async () => {
  const xml = "<pool type='dir'><name>obj-pool</name><target><path>/obj-pool</path></target></pool>";
  const events = record('StoragePoolEvent', test_.onStoragePoolEvent.bind(test_));
  try {
    const pool = await test_.storagePoolDefineXML(xml, 0);
    const path = pool.objectPath;
    const event = (e: number) => events.waitFor(([p, ev]) => p.objectPath === path && ev === e);
    const uuid = (await lv.virsh(lv.testUri, 'pool-uuid', 'obj-pool')).trim();
    assert.equal(path, uuidPath(T, 'storagepool', uuid));
    await event(0); // VIR_STORAGE_POOL_EVENT_DEFINED
    assert.equal(await pool.name, 'obj-pool');
    assert.equal(await pool.uuid, uuid);
    assert.equal(await pool.persistent, true);
    await pool.setAutostart(true);
    assert.equal(await pool.autostart, true);
    await pool.build(0);
    await pool.create(0);
    assert.equal(await pool.active, true);
    const [state, capacity, allocation, available] = await pool.getInfo();
    assert.equal(state, 2); // VIR_STORAGE_POOL_RUNNING
    assert.ok(capacity >= allocation && available >= 0n);
    assert.match(await lv.virsh(lv.testUri, 'pool-info', 'obj-pool'), /State:\s+running/);
    const pxml = await pool.getXMLDesc(0);
    assert.equal(pxml.trimEnd(), await doc(lv.testUri, 'pool-dumpxml', 'obj-pool'));
    // Refresh comes on the pool's own object, on org.libvirt.StoragePool (the subscription's path and interface).
    const refreshed = record('Refresh', pool.onRefresh.bind(pool));
    try {
      await pool.refresh(0);
      await refreshed.waitFor(() => true);
    } finally {
      refreshed.stop();
    }

    const vol = await pool.storageVolCreateXML('<volume><name>a b.img</name><capacity>1048576</capacity></volume>', 0);
    const key = (await lv.virsh(lv.testUri, 'vol-key', '--pool', 'obj-pool', 'a b.img')).trim();
    assert.equal(vol.objectPath, `${T}/storagevol/${encodeString(key)}`);
    assert.equal((await pool.storageVolLookupByName('a b.img')).objectPath, vol.objectPath);
    assert.deepEqual(paths(await pool.listStorageVolumes(0)), [vol.objectPath]);
    const clone = await pool.storageVolCreateXMLFrom('<volume><name>clone.img</name><capacity>1048576</capacity></volume>', key, 0);
    assert.match(await lv.virsh(lv.testUri, 'vol-list', 'obj-pool'), /clone\.img/);

    assert.equal(await vol.name, 'a b.img');
    assert.equal(await vol.key, key);
    assert.equal(await vol.path, (await lv.virsh(lv.testUri, 'vol-path', '--pool', 'obj-pool', 'a b.img')).trim());
    // The reference calls virStorageVolGetInfoFlags, which the test driver lacks behind a daemon.
    const info = await fails(vol.getInfo(0));
    assert.match(info.message, /virStorageVolGetInfoFlags/);
    const vxml = await vol.getXMLDesc(0);
    assert.equal(vxml.trimEnd(), await doc(lv.testUri, 'vol-dumpxml', '--pool', 'obj-pool', 'a b.img'));
    // The test driver has neither resize nor wipe: libvirt's error reaches the caller.
    for (const [m, call] of [
      ['Resize', () => vol.resize(2097152, 0)],
      ['Wipe', () => vol.wipe(0, 0)],
    ] as const) {
      const e = await fails(call());
      assert.equal(e.errorName, 'org.libvirt.Error', m);
      assert.match(e.message, /not supported/);
    }
    await vol.delete(0);
    await clone.delete(0);
    assert.doesNotMatch(await lv.virsh(lv.testUri, 'vol-list', 'obj-pool'), /img/);
    assert.equal((await fails(vol.name)).errorName, 'org.libvirt.Error');

    await pool.destroy();
    await event(3); // VIR_STORAGE_POOL_EVENT_STOPPED
    await pool.delete(0);
    await pool.undefine();
    assert.equal((await fails(pool.name)).errorName, 'org.libvirt.Error');
  } finally {
    events.stop();
  }
});

test('NodeDevice: properties, XML, capabilities, and the calls the test driver lacks', async () => {
  const dev = await test_.nodeDeviceLookupByName('scsi_host1');
  assert.equal(dev.objectPath, `${T}/nodedev/scsi_5fhost1`);
  assert.equal(await dev.name, 'scsi_host1');
  assert.equal(await dev.parent, 'computer');
  // A device without a parent: libvirt returns NULL without an error.
  const computer = await test_.nodeDeviceLookupByName('computer');
  assert.equal(computer.objectPath, `${T}/nodedev/computer`);
  assert.equal((await fails(computer.parent)).errorName, 'org.libvirt.Error');
  const xml = await dev.getXMLDesc(0);
  assert.equal(xml.trimEnd(), await doc(lv.testUri, 'nodedev-dumpxml', 'scsi_host1'));
  assert.deepEqual(await dev.listCaps(), ['scsi_host']);
  for (const [m, call] of [
    ['Detach', () => dev.detach('', 0)],
    ['ReAttach', () => dev.reAttach()],
    ['Reset', () => dev.reset()],
  ] as const) {
    assert.equal((await fails(call())).errorName, 'org.libvirt.Error', m);
  }
  // Create a vHBA, see NodeDeviceEvent, destroy it through D-Bus.
  const vhba =
    "<device><parent>scsi_host1</parent><capability type='scsi_host'><capability type='fc_host'><wwnn>2000000012341299</wwnn><wwpn>1000000012341299</wwpn></capability></capability></device>";
  const events = record('NodeDeviceEvent', test_.onNodeDeviceEvent.bind(test_));
  try {
    const vdev = await test_.nodeDeviceCreateXML(vhba, 0);
    const event = (e: number) => events.waitFor(([d, ev]) => d.objectPath === vdev.objectPath && ev === e);
    await event(0); // VIR_NODE_DEVICE_EVENT_CREATED
    await vdev.destroy();
    await event(1); // VIR_NODE_DEVICE_EVENT_DELETED
    assert.equal((await fails(vdev.name)).errorName, 'org.libvirt.Error');
  } finally {
    events.stop();
  }
});

test('Interface: properties, XML, lifecycle', async () => {
  const iface = await test_.interfaceLookupByName('eth1');
  assert.equal(iface.objectPath, `${T}/interface/aa_3abb_3acc_3add_3aee_3aff`);
  assert.equal(await iface.name, 'eth1');
  assert.equal(await iface.mac, 'aa:bb:cc:dd:ee:ff');
  assert.equal(await iface.active, true);
  const xml = await iface.getXMLDesc(0);
  assert.equal(xml.trimEnd(), await doc(lv.testUri, 'iface-dumpxml', 'eth1'));
  await iface.destroy(0);
  assert.equal(await iface.active, false);
  assert.match(await lv.virsh(lv.testUri, 'iface-list', '--inactive'), /eth1/);
  await iface.create(0);
  assert.equal(await iface.active, true);
  const other = await test_.interfaceDefineXML("<interface type='ethernet' name='eth7'><mac address='aa:bb:cc:dd:ee:07'/></interface>", 0);
  await other.undefine();
  assert.doesNotMatch(await lv.virsh(lv.testUri, 'iface-list', '--all'), /eth7/);
});

test('Secret: properties, value, XML, SecretEvent signals', async () => {
  const uuid = 'aaaaaaaa-2222-3333-4444-555555555555';
  const xml = `<secret ephemeral='no' private='no'><uuid>${uuid}</uuid><usage type='ceph'><name>obj-secret</name></usage></secret>`;
  const events = record('SecretEvent', qemu.onSecretEvent.bind(qemu));
  try {
    const secret = await qemu.secretDefineXML(xml, 0);
    const event = (e: number) => events.waitFor(([s, ev]) => s.objectPath === secret.objectPath && ev === e);
    await event(0); // VIR_SECRET_EVENT_DEFINED
    assert.equal(await secret.uuid, uuid);
    assert.equal(await secret.usageType, 2); // VIR_SECRET_USAGE_TYPE_CEPH
    assert.equal(await secret.usageID, 'obj-secret');
    const got = await secret.getXMLDesc(0);
    assert.equal(got.trimEnd(), await doc(lv.qemuUri, 'secret-dumpxml', uuid));
    await secret.setValue(Uint8Array.from([0, 1, 2, 255]), 0);
    assert.deepEqual([...(await secret.getValue(0))], [0, 1, 2, 255]);
    assert.equal((await lv.virsh(lv.qemuUri, 'secret-get-value', uuid)).trim(), Buffer.from([0, 1, 2, 255]).toString('base64'));
    await secret.undefine();
    await event(1); // VIR_SECRET_EVENT_UNDEFINED
    assert.match((await fails(secret.uuid)).message, /[Ss]ecret/);
  } finally {
    events.stop();
  }
});

test('NWFilter: properties, XML, undefine', async () => {
  const uuid = 'bbbbbbbb-2222-3333-4444-555555555555';
  const filter = await qemu.nwFilterDefineXML(
    `<filter name='obj-filter' chain='root'><uuid>${uuid}</uuid><rule action='drop' direction='in'><all/></rule></filter>`,
  );
  assert.equal(filter.objectPath, uuidPath(Q, 'nwfilter', uuid));
  assert.equal(await filter.name, 'obj-filter');
  assert.equal(await filter.uuid, uuid);
  const xml = await filter.getXMLDesc(0);
  assert.equal(xml.trimEnd(), await doc(lv.qemuUri, 'nwfilter-dumpxml', 'obj-filter'));
  await filter.undefine();
  assert.doesNotMatch(await lv.virsh(lv.qemuUri, 'nwfilter-list'), /obj-filter/);
});

test('subtrees list what libvirt has now; unknown paths answer like the reference', async () => {
  // Raw: introspection XML is not part of the typed client.
  const intro = async (p: string) =>
    parseIntrospectionXml(((await fx.client.call(p, 'org.freedesktop.DBus.Introspectable', 'Introspect')) as [string])[0]);
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
  // Proxies of paths nobody returned: the typed client addresses any path.
  const network = (p: string) => new NetworkProxy(fx.client.conn, p);
  // A well-formed UUID nobody has: libvirt's "not found"; garbage: libvirt's UUID complaint.
  const missing = await fails(network(`${T}/network/_00000000_0000_0000_0000_000000000000`).name);
  assert.equal(missing.errorName, 'org.libvirt.Error');
  const garbage = await fails(network(`${T}/network/foo`).getXMLDesc(0));
  assert.equal(garbage.message, 'uuidstr in virNetworkLookupByUUIDString must be a valid UUID');
  // Another interface than the subtree's, or a path outside any subtree: GDBus's answers.
  const wrongIface = await fails(network(`${T}/nodedev/x`).getXMLDesc(0));
  assert.equal(wrongIface.errorName, 'org.freedesktop.DBus.Error.UnknownMethod');
  const nowhere = await fails(network(`${T}/foo/bar`).getXMLDesc(0));
  assert.equal(nowhere.errorName, 'org.freedesktop.DBus.Error.UnknownMethod');
  assert.match(nowhere.message, /Object does not exist at path/);
});

test('StorageVol on a directory pool of qemu:///system: info, resize, wipe', async () => {
  const dir = `${lv.dir}/qpool`;
  const pool = await qemu.storagePoolCreateXML(
    `<pool type='dir'><name>qpool</name><target><path>${dir}</path></target></pool>`,
    1, // VIR_STORAGE_POOL_CREATE_WITH_BUILD
  );
  const vol = await pool.storageVolCreateXML(
    "<volume><name>v.raw</name><capacity>1048576</capacity><target><format type='raw'/></target></volume>",
    0,
  );
  assert.equal(await vol.path, `${dir}/v.raw`);
  assert.equal((await qemu.storageVolLookupByPath(`${dir}/v.raw`)).objectPath, vol.objectPath);
  const [type, capacity] = await vol.getInfo(0);
  assert.equal(type, 0); // VIR_STORAGE_VOL_FILE
  assert.equal(capacity, 1048576n);
  await vol.resize(2097152, 0);
  assert.match(await lv.virsh(lv.qemuUri, 'vol-info', `${dir}/v.raw`, '--bytes'), /Capacity:\s+2097152 bytes/);
  await vol.wipe(0, 0); // VIR_STORAGE_VOL_WIPE_ALG_ZERO
  await vol.delete(0);
  await pool.destroy();
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
    // Raw: introspection XML is not part of the typed client.
    const [xml] = (await fx.client.call(path, 'org.freedesktop.DBus.Introspectable', 'Introspect')) as [string];
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
      // Peer to peer: no destination.
      const p2pTest = OrgLibvirt.on(conn, 'Test', undefined, { timeout: CALL_TIMEOUT_MS });
      const events = record('NetworkEvent', p2pTest.onNetworkEvent.bind(p2pTest));
      try {
        const nets = paths(await p2pTest.listNetworks(0));
        const uuid = (await lv.virsh(lv.testUri, 'net-uuid', 'default')).trim();
        const def = nets.find((n) => n.endsWith(uuid.replaceAll('-', '_')));
        assert.ok(def);
        await lv.virsh(lv.testUri, 'net-destroy', 'default');
        await lv.virsh(lv.testUri, 'net-start', 'default');
        await events.waitFor((_, i) => i >= 1, 10_000);
        assert.deepEqual(
          events.seen.slice(0, 2).map(([n, e]) => [n.objectPath, e]),
          [
            [def, 3],
            [def, 2],
          ],
        );
      } finally {
        events.stop();
      }
    } finally {
      conn.close();
    }
  } finally {
    assert.equal(await p2p.stop(), 0, `the service's exit on SIGTERM; its stderr: ${p2p.stderr()}`);
  }
});
