// org.libvirt.Connect end to end: our bin/libvirt-dbus on a private bus, talking to a private
// libvirtd, driven through the typed client (libvirt-dbus/client) and compared with virsh on the
// same daemon. Every member of the interface is called at least once; where the test driver lacks
// a function, the answer must be org.libvirt.Error (libvirt's own failure), and virsh must fail the
// same way.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ConnectProxy, ObjectProxy } from '../../src/client/index.js';
import { DBusError, parseIntrospectionXml, Variant } from '../../src/dbus/index.js';
import { ConnectInterface } from '../../src/service/connect.js';
import { errorOf } from '../helpers/errors.js';
import type { PrivateLibvirtd } from '../helpers/libvirtd.js';
import { type Fixture, IFACE, startFixture } from './fixture.js';
import { connectOn, record, unwrapped } from './typed.js';

const T = '/org/libvirt/Test';
const Q = '/org/libvirt/QEMU';
const C = IFACE.Connect;
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

/** The D-Bus error a call fails with. */
const fails = (p: Promise<unknown>): Promise<DBusError> => errorOf(p, DBusError);

/** The object paths of proxies. */
const paths = (proxies: ObjectProxy[]): string[] => proxies.map((p) => p.objectPath);

/** What virsh prints for a command that prints a document (trailing newlines dropped: virsh adds some). */
async function virshDoc(uri: string, ...args: string[]): Promise<string> {
  return (await lv.virsh(uri, ...args)).trimEnd();
}

/** The error virsh prints for a command that must fail. */
async function virshFails(uri: string, ...args: string[]): Promise<string> {
  try {
    await lv.virsh(uri, ...args);
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err);
  }
  assert.fail(`virsh ${args.join(' ')} succeeded`);
}

test('the default objects of the session bus are there, Test and QEMU point at the private daemon', async () => {
  // Raw: introspection XML is not part of the typed client.
  const introspect = async (path: string) =>
    parseIntrospectionXml(((await fx.client.call(path, 'org.freedesktop.DBus.Introspectable', 'Introspect')) as [string])[0]);
  const names = (await introspect('/org/libvirt')).nodes.map((n) => n.name);
  assert.deepEqual(names.sort(), ['QEMU', 'Test', 'UML', 'VBox', 'VMwareFusion', 'VMwarePlayer', 'VMwareWS']);
  const node = await introspect(T);
  const iface = node.interfaces.find((i) => i.name === C);
  assert.ok(iface);
  assert.deepEqual(
    iface.methods.map((m) => m.name),
    ConnectInterface.declaration.methods.map((m) => m.name),
  );
  assert.deepEqual(node.nodes.map((n) => n.name).sort(), [
    'checkpoint',
    'domain',
    'domainsnapshot',
    'interface',
    'network',
    'nodedev',
    'nwfilter',
    'secret',
    'storagepool',
    'storagevol',
  ]);
});

test('properties match virsh', async () => {
  const all = await test_.getAll();
  assert.deepEqual(Object.keys(all).sort(), ['Encrypted', 'Hostname', 'LibVersion', 'Secure', 'Version']);
  assert.equal(all.Hostname, (await lv.virsh(lv.testUri, 'hostname')).trim());
  assert.equal(await test_.hostname, all.Hostname);
  assert.equal(all.Encrypted, false); // a UNIX socket does not encrypt
  assert.equal(await test_.encrypted, false);
  assert.equal(all.Secure, false); // the reference answers virConnectIsEncrypted for Secure (diff-cockpit)
  assert.equal(await test_.secure, false);
  const version = await lv.virsh(lv.testUri, 'version');
  // "Using library: libvirt 9.0.0" ↔ 9000000
  const lib = /Using library: libvirt (\d+)\.(\d+)\.(\d+)/.exec(version);
  assert.ok(lib);
  assert.equal(await test_.libVersion, BigInt(Number(lib[1]) * 1e6 + Number(lib[2]) * 1e3 + Number(lib[3])));
  assert.equal(await test_.version, 2n); // the test driver's hypervisor version 0.0.2
  // Raw: the typed client has no setter for a read-only property.
  const setErr = await fx.client.fails(T, 'org.freedesktop.DBus.Properties', 'Set', 'ssv', [C, 'Hostname', new Variant('s', 'x')]);
  assert.match(setErr.errorName, /InvalidArgs|PropertyReadOnly/);
});

test('capabilities, sysinfo, CPU models, CPU baseline and comparison', async () => {
  const caps = await test_.getCapabilities();
  assert.equal(caps.trimEnd(), await virshDoc(lv.testUri, 'capabilities'));
  const sysinfo = await test_.getSysinfo(0);
  assert.equal(sysinfo.trimEnd(), await virshDoc(lv.testUri, 'sysinfo'));
  const models = await test_.getCPUModelNames('x86_64', 0);
  assert.deepEqual(models, (await lv.virsh(lv.testUri, 'cpu-models', 'x86_64')).trim().split('\n'));
  const cpu = '<cpu><arch>x86_64</arch><model>qemu64</model></cpu>';
  const baseline = await test_.baselineCPU([cpu], 0);
  assert.match(baseline, /<model fallback='forbid'>qemu64<\/model>/);
  // The test driver has no virConnectCompareCPU; QEMU has.
  const e = await fails(test_.compareCPU(cpu, 0));
  assert.equal(e.errorName, 'org.libvirt.Error');
  assert.match(e.message, /not supported/);
  const result = await qemu.compareCPU(cpu, 0);
  assert.equal(typeof result, 'number');
  // virConnectGetDomainCapabilities: all four NULL when empty; the test driver lacks it.
  assert.equal((await fails(test_.getDomainCapabilities('', '', '', '', 0))).errorName, 'org.libvirt.Error');
  await virshFails(lv.testUri, 'domcapabilities');
  const domcaps = await qemu.getDomainCapabilities('', '', '', '', 0);
  assert.match(domcaps, /^<domainCapabilities>/);
});

test('node information matches virsh', async () => {
  const map = await test_.nodeGetCPUMap(0);
  const cpumap = await lv.virsh(lv.testUri, 'nodecpumap');
  const count = /CPUs present:\s+(\d+)/.exec(cpumap);
  const online = /CPU map:\s+(\S+)/.exec(cpumap);
  assert.ok(count && online);
  assert.equal(map.length, Number(count[1]));
  assert.equal(map.map((b) => (b ? 'y' : '-')).join(''), online[1]);
  const stats = await test_.nodeGetCPUStats(-1, 0);
  const vstats = await lv.virsh(lv.testUri, 'nodecpustats', '--cpu', '-1');
  assert.deepEqual([...stats.keys()].sort(), ['idle', 'iowait', 'kernel', 'user']);
  assert.match(vstats, /user:/);
  const free = await test_.nodeGetFreeMemory();
  // virsh freecell --all prints KiB; libvirt's free memory is in bytes.
  assert.equal(free, 3145728n);
  assert.deepEqual(await test_.nodeGetSecurityModel(), ['testSecurity', '']);
  const qModel = await qemu.nodeGetSecurityModel();
  assert.equal(qModel.length, 2);
  // Memory parameters and stats: not in the test driver, present in QEMU.
  assert.equal((await fails(test_.nodeGetMemoryParameters(0))).errorName, 'org.libvirt.Error');
  assert.equal((await fails(test_.nodeGetMemoryStats(-1, 0))).errorName, 'org.libvirt.Error');
  const params = await qemu.nodeGetMemoryParameters(0);
  assert.equal(typeof unwrapped(params.get('shm_pages_to_scan')), 'number');
  const mem = await qemu.nodeGetMemoryStats(-1, 0);
  const vmem = await lv.virsh(lv.qemuUri, 'nodememstats');
  assert.match(vmem, new RegExp(`total\\s*:\\s*${mem.get('total')} KiB`));
  // Setting a parameter the driver rejects: libvirt's error; an unusable variant type: the reference's error.
  const setErr = await fails(test_.nodeSetMemoryParameters({ shm_pages_to_scan: new Variant('u', 100) }, 0));
  assert.equal(setErr.errorName, 'org.libvirt.Error');
  const badType = await fails(qemu.nodeSetMemoryParameters({ x: new Variant('ai', [1, 2]) }, 0));
  assert.equal(badType.errorName, 'org.libvirt.Error');
  assert.match(badType.message, /Invalid typed parameter 'ai'/);
});

test('domains: define, create, look up, list, stats, save image and restore', async () => {
  const list = paths(await test_.listDomains(0));
  const uuid = (await lv.virsh(lv.testUri, 'domuuid', 'test')).trim();
  const testPath = `${T}/domain/_${uuid.replaceAll('-', '_')}`;
  assert.deepEqual(list, [testPath]);
  assert.equal((await test_.domainLookupByName('test')).objectPath, testPath);
  assert.equal((await test_.domainLookupByUUID(uuid)).objectPath, testPath);
  const id = Number((await lv.virsh(lv.testUri, 'domid', 'test')).trim());
  assert.equal((await test_.domainLookupByID(id)).objectPath, testPath);
  const notFound = await fails(test_.domainLookupByName('nope'));
  assert.equal(notFound.errorName, 'org.libvirt.Error');
  assert.match(notFound.message, /Domain not found/); // libvirt's message, as the daemon words it
  // virDomainLookupByUUIDString's own message (unlike the other kinds' "uuidstr in … must be a valid UUID")
  assert.equal((await fails(test_.domainLookupByUUID('bad'))).message, 'Invalid UUID');

  const xml = (name: string) => `<domain type='test'><name>${name}</name><memory>8192</memory><os><type>hvm</type></os></domain>`;
  const defined = await test_.domainDefineXML(xml('dbus-defined'));
  const definedUuid = (await lv.virsh(lv.testUri, 'domuuid', 'dbus-defined')).trim();
  assert.equal(defined.objectPath, `${T}/domain/_${definedUuid.replaceAll('-', '_')}`);
  const events = record('DomainEvent', test_.onDomainEvent.bind(test_));
  try {
    const created = (await test_.domainCreateXML(xml('dbus-created'), 0)).objectPath;
    // Connect.DomainEvent(domain, VIR_DOMAIN_EVENT_STARTED=2, detail) on the Connect object (the subscription's path).
    await events.waitFor(([domain, event]) => domain.objectPath === created && event === 2);
    assert.match(await lv.virsh(lv.testUri, 'domstate', 'dbus-created'), /running/);
    assert.equal(created, `${T}/domain/_${(await lv.virsh(lv.testUri, 'domuuid', 'dbus-created')).trim().replaceAll('-', '_')}`);
  } finally {
    events.stop();
  }
  // With no descriptors to pass, as the reference: the domain is created.
  const withFiles = await test_.domainCreateXMLWithFiles(xml('dbus-files'), [], 0);
  assert.equal(withFiles.objectPath, `${T}/domain/_${(await lv.virsh(lv.testUri, 'domuuid', 'dbus-files')).trim().replaceAll('-', '_')}`);

  const records = await test_.getAllDomainStats(1, 0);
  const byName = new Map(records.map(([n, p]) => [n, p]));
  assert.equal(unwrapped(byName.get('test')?.get('state.state')), 1);
  assert.equal(unwrapped(byName.get('dbus-created')?.get('state.state')), 1);

  // Save with virsh, then the image's XML, redefine it, and restore through D-Bus.
  const file = `${lv.dir}/dbus-created.save`;
  await lv.virsh(lv.testUri, 'save', 'dbus-created', file);
  await fails(test_.domainLookupByName('dbus-created')); // a saved transient domain is gone
  const imageXml = await test_.domainSaveImageGetXMLDesc(file, 0);
  assert.equal(imageXml.trimEnd(), await virshDoc(lv.testUri, 'save-image-dumpxml', file));
  await test_.domainSaveImageDefineXML(file, imageXml, 0);
  await test_.domainRestore(file, '', 0); // '' → NULL dxml
  assert.match(await lv.virsh(lv.testUri, 'domstate', 'dbus-created'), /running/);
  await lv.virsh(lv.testUri, 'destroy', 'dbus-created');
  await lv.virsh(lv.testUri, 'undefine', 'dbus-defined');
});

test('networks, storage pools and volumes: create, define, look up, list', async () => {
  const nets = await test_.listNetworks(0);
  assert.equal(nets.length, (await lv.virsh(lv.testUri, 'net-list', '--all', '--name')).trim().split('\n').length);
  const netUuid = (await lv.virsh(lv.testUri, 'net-uuid', 'default')).trim();
  const netPath = `${T}/network/_${netUuid.replaceAll('-', '_')}`;
  assert.equal((await test_.networkLookupByName('default')).objectPath, netPath);
  assert.equal((await test_.networkLookupByUUID(netUuid)).objectPath, netPath);
  const netXml = (name: string, n: number) =>
    `<network><name>${name}</name><bridge name='dbr${n}'/><ip address='10.9.${n}.1' netmask='255.255.255.0'/></network>`;
  const defined = await test_.networkDefineXML(netXml('dbus-net', 1));
  assert.equal(defined.objectPath, `${T}/network/_${(await lv.virsh(lv.testUri, 'net-uuid', 'dbus-net')).trim().replaceAll('-', '_')}`);
  const created = await test_.networkCreateXML(netXml('dbus-net2', 2));
  assert.match(created.objectPath, new RegExp(`^${T}/network/_`));
  assert.match(await lv.virsh(lv.testUri, 'net-info', 'dbus-net2'), /Active:\s+yes/);

  const pools = await test_.listStoragePools(0);
  assert.equal(pools.length, (await lv.virsh(lv.testUri, 'pool-list', '--all', '--name')).trim().split('\n').length);
  const poolUuid = (await lv.virsh(lv.testUri, 'pool-uuid', 'default-pool')).trim();
  const poolPath = `${T}/storagepool/_${poolUuid.replaceAll('-', '_')}`;
  assert.equal((await test_.storagePoolLookupByName('default-pool')).objectPath, poolPath);
  assert.equal((await test_.storagePoolLookupByUUID(poolUuid)).objectPath, poolPath);
  const poolXml = (name: string) => `<pool type='dir'><name>${name}</name><target><path>/${name}</path></target></pool>`;
  const pdef = await test_.storagePoolDefineXML(poolXml('dbus-pool'), 0);
  assert.equal(pdef.objectPath, `${T}/storagepool/_${(await lv.virsh(lv.testUri, 'pool-uuid', 'dbus-pool')).trim().replaceAll('-', '_')}`);
  const pcre = await test_.storagePoolCreateXML(poolXml('dbus-pool2'), 0);
  assert.match(pcre.objectPath, new RegExp(`^${T}/storagepool/_`));

  await lv.virsh(lv.testUri, 'vol-create-as', 'default-pool', 'dbus vol.img', '1M');
  const key = (await lv.virsh(lv.testUri, 'vol-key', '--pool', 'default-pool', 'dbus vol.img')).trim();
  const volPath = (await lv.virsh(lv.testUri, 'vol-path', '--pool', 'default-pool', 'dbus vol.img')).trim();
  const byKey = (await test_.storageVolLookupByKey(key)).objectPath;
  assert.equal(byKey, `${T}/storagevol/${key.replace(/[^A-Za-z0-9]/g, (c) => `_${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`);
  assert.equal((await test_.storageVolLookupByPath(volPath)).objectPath, byKey);
  const sources = await test_.findStoragePoolSources('logical', '', 0);
  assert.equal(sources.trimEnd(), await virshDoc(lv.testUri, 'find-storage-pool-sources', 'logical'));
});

test('host interfaces and node devices', async () => {
  const ifaces = paths(await test_.listInterfaces(0));
  assert.deepEqual(ifaces, [`${T}/interface/aa_3abb_3acc_3add_3aee_3aff`]);
  assert.deepEqual([(await test_.interfaceLookupByName('eth1')).objectPath], ifaces);
  assert.deepEqual([(await test_.interfaceLookupByMAC('aa:bb:cc:dd:ee:ff')).objectPath], ifaces);
  await test_.interfaceChangeBegin(0);
  const ifXml = "<interface type='ethernet' name='eth9'><mac address='aa:bb:cc:dd:ee:09'/></interface>";
  const defined = await test_.interfaceDefineXML(ifXml, 0);
  assert.equal(defined.objectPath, `${T}/interface/aa_3abb_3acc_3add_3aee_3a09`);
  assert.match(await lv.virsh(lv.testUri, 'iface-list', '--all'), /eth9/);
  await test_.interfaceChangeRollback(0);
  assert.doesNotMatch(await lv.virsh(lv.testUri, 'iface-list', '--all'), /eth9/);
  await test_.interfaceChangeBegin(0);
  await test_.interfaceChangeCommit(0);

  const devs = paths(await test_.listNodeDevices(0));
  // (virsh 9's nodedev-list passes a flag the test driver refuses, so the names are known ones.)
  const names = devs.map((p) => p.slice(`${T}/nodedev/`.length).replaceAll('_5f', '_')).sort();
  assert.deepEqual(names, ['computer', 'scsi_host1', 'scsi_host11', 'scsi_host2']);
  for (const n of names) assert.match(await lv.virsh(lv.testUri, 'nodedev-dumpxml', n), new RegExp(`<name>${n}</name>`));
  assert.equal((await test_.nodeDeviceLookupByName('scsi_host1')).objectPath, `${T}/nodedev/scsi_5fhost1`);
  const wwn = await fails(test_.nodeDeviceLookupSCSIHostByWWN('2000000012341234', '1000000012341234', 0));
  assert.equal(wwn.errorName, 'org.libvirt.Error');
  const vhba =
    "<device><parent>scsi_host1</parent><capability type='scsi_host'><capability type='fc_host'><wwnn>2000000012341234</wwnn><wwpn>1000000012341234</wwpn></capability></capability></device>";
  const dev = await test_.nodeDeviceCreateXML(vhba, 0);
  assert.match(dev.objectPath, new RegExp(`^${T}/nodedev/scsi_5fhost\\d+$`));
});

test('secrets and network filters (qemu:///system of the private daemon)', async () => {
  assert.deepEqual(await qemu.listSecrets(0), []);
  const uuid = '11111111-2222-3333-4444-555555555555';
  const secretXml = `<secret ephemeral='no' private='no'><uuid>${uuid}</uuid><usage type='volume'><volume>/var/lib/x.img</volume></usage></secret>`;
  const path = (await qemu.secretDefineXML(secretXml, 0)).objectPath;
  assert.equal(path, `${Q}/secret/_11111111_2222_3333_4444_555555555555`);
  assert.equal((await qemu.secretLookupByUUID(uuid)).objectPath, path);
  assert.equal((await qemu.secretLookupByUsage(1, '/var/lib/x.img')).objectPath, path);
  assert.match(await lv.virsh(lv.qemuUri, 'secret-list'), new RegExp(uuid));
  assert.equal((await fails(test_.listSecrets(0))).errorName, 'org.libvirt.Error'); // test driver

  const filters = await qemu.listNWFilters(0);
  assert.equal(
    filters.length,
    (await lv.virsh(lv.qemuUri, 'nwfilter-list'))
      .trim()
      .split('\n')
      .filter((l) => l.trim()).length,
  );
  const fuuid = '99999999-2222-3333-4444-555555555555';
  const fpath = (await qemu.nwFilterDefineXML(`<filter name='dbus-filter' chain='root'><uuid>${fuuid}</uuid></filter>`)).objectPath;
  assert.equal(fpath, `${Q}/nwfilter/_99999999_2222_3333_4444_555555555555`);
  assert.equal((await qemu.nwFilterLookupByName('dbus-filter')).objectPath, fpath);
  assert.equal((await qemu.nwFilterLookupByUUID(fuuid)).objectPath, fpath);
  await lv.virsh(lv.qemuUri, 'nwfilter-undefine', 'dbus-filter');
  await lv.virsh(lv.qemuUri, 'secret-undefine', uuid);
});

test('bad arguments are answered by the exporter, never a crash', async () => {
  // Raw: the typed client can express neither a wrong signature nor an unknown method.
  const e = await fx.client.fails(T, C, 'ListDomains', 's', ['x']);
  assert.equal(e.errorName, 'org.freedesktop.DBus.Error.InvalidArgs');
  const unknown = await fx.client.fails(T, C, 'NoSuchMethod');
  assert.equal(unknown.errorName, 'org.freedesktop.DBus.Error.UnknownMethod');
  // Still alive:
  assert.ok(Array.isArray(await test_.listNetworks(0)));
});
