// org.libvirt.Connect end to end: our bin/libvirt-dbus on a private bus, talking to a private
// libvirtd, driven by python3-dbus and compared with virsh on the same daemon. Every member of
// the interface is called at least once; where the test driver lacks a function, the answer must
// be org.libvirt.Error (libvirt's own failure), and virsh must fail the same way.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseIntrospectionXml } from '../../src/dbus/index.js';
import { ConnectInterface } from '../../src/service/connect.js';
import type { PrivateLibvirtd } from '../helpers/libvirtd.js';
import { type Fixture, IFACE, peerError, startFixture } from './fixture.js';
import { type DBusPeer, typed } from './peer.js';

const T = '/org/libvirt/Test';
const Q = '/org/libvirt/QEMU';
const C = IFACE.Connect;
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

/** Calls a Connect method on /org/libvirt/Test. */
const call = (member: string, sig = '', args: unknown[] = [], path = T) => peer.call(path, C, member, sig, args);

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
  const [xml] = (await peer.call('/org/libvirt', 'org.freedesktop.DBus.Introspectable', 'Introspect')) as [string];
  const names = parseIntrospectionXml(xml).nodes.map((n) => n.name);
  assert.deepEqual(names.sort(), ['QEMU', 'Test', 'UML', 'VBox', 'VMwareFusion', 'VMwarePlayer', 'VMwareWS']);
  const [cxml] = (await peer.call(T, 'org.freedesktop.DBus.Introspectable', 'Introspect')) as [string];
  const node = parseIntrospectionXml(cxml);
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
  const [all] = (await peer.call(T, 'org.freedesktop.DBus.Properties', 'GetAll', 's', [C])) as [Record<string, unknown>];
  assert.deepEqual(Object.keys(all).sort(), ['Encrypted', 'Hostname', 'LibVersion', 'Secure', 'Version']);
  assert.equal(all.Hostname, (await lv.virsh(lv.testUri, 'hostname')).trim());
  assert.equal(all.Encrypted, false); // a UNIX socket does not encrypt
  assert.equal(all.Secure, false); // the reference answers virConnectIsEncrypted for Secure (diff-cockpit)
  const version = await lv.virsh(lv.testUri, 'version');
  // "Using library: libvirt 9.0.0" ↔ 9000000
  const lib = /Using library: libvirt (\d+)\.(\d+)\.(\d+)/.exec(version);
  assert.ok(lib);
  assert.equal(await peer.get(T, C, 'LibVersion'), Number(lib[1]) * 1e6 + Number(lib[2]) * 1e3 + Number(lib[3]));
  assert.equal(await peer.get(T, C, 'Version'), 2); // the test driver's hypervisor version 0.0.2
  const setErr = await peerError(peer.set(T, C, 'Hostname', 'x'));
  assert.match(setErr.errorName, /InvalidArgs|PropertyReadOnly/);
});

test('capabilities, sysinfo, CPU models, CPU baseline and comparison', async () => {
  const [caps] = (await call('GetCapabilities')) as [string];
  assert.equal(caps.trimEnd(), await virshDoc(lv.testUri, 'capabilities'));
  const [sysinfo] = (await call('GetSysinfo', 'u', [0])) as [string];
  assert.equal(sysinfo.trimEnd(), await virshDoc(lv.testUri, 'sysinfo'));
  const [models] = (await call('GetCPUModelNames', 'su', ['x86_64', 0])) as [string[]];
  assert.deepEqual(models, (await lv.virsh(lv.testUri, 'cpu-models', 'x86_64')).trim().split('\n'));
  const cpu = '<cpu><arch>x86_64</arch><model>qemu64</model></cpu>';
  const [baseline] = (await call('BaselineCPU', 'asu', [[cpu], 0])) as [string];
  assert.match(baseline, /<model fallback='forbid'>qemu64<\/model>/);
  // The test driver has no virConnectCompareCPU; QEMU has.
  const e = await peerError(call('CompareCPU', 'su', [cpu, 0]));
  assert.equal(e.errorName, 'org.libvirt.Error');
  assert.match(e.message, /not supported/);
  const [result] = (await call('CompareCPU', 'su', [cpu, 0], Q)) as [number];
  assert.equal(typeof result, 'number');
  // virConnectGetDomainCapabilities: all four NULL when empty; the test driver lacks it.
  assert.equal((await peerError(call('GetDomainCapabilities', 'ssssu', ['', '', '', '', 0]))).errorName, 'org.libvirt.Error');
  await virshFails(lv.testUri, 'domcapabilities');
  const [domcaps] = (await call('GetDomainCapabilities', 'ssssu', ['', '', '', '', 0], Q)) as [string];
  assert.match(domcaps, /^<domainCapabilities>/);
});

test('node information matches virsh', async () => {
  const [map] = (await call('NodeGetCPUMap', 'u', [0])) as [boolean[]];
  const cpumap = await lv.virsh(lv.testUri, 'nodecpumap');
  const count = /CPUs present:\s+(\d+)/.exec(cpumap);
  const online = /CPU map:\s+(\S+)/.exec(cpumap);
  assert.ok(count && online);
  assert.equal(map.length, Number(count[1]));
  assert.equal(map.map((b) => (b ? 'y' : '-')).join(''), online[1]);
  const [stats] = (await call('NodeGetCPUStats', 'iu', [-1, 0])) as [Record<string, number>];
  const vstats = await lv.virsh(lv.testUri, 'nodecpustats', '--cpu', '-1');
  assert.deepEqual(Object.keys(stats).sort(), ['idle', 'iowait', 'kernel', 'user']);
  assert.match(vstats, /user:/);
  const [free] = (await call('NodeGetFreeMemory')) as [number];
  // virsh freecell --all prints KiB; libvirt's free memory is in bytes.
  assert.equal(free, 3145728);
  const [secModel] = (await call('NodeGetSecurityModel')) as [[string, string]];
  assert.deepEqual(secModel, ['testSecurity', '']);
  const [qModel] = (await call('NodeGetSecurityModel', '', [], Q)) as [[string, string]];
  assert.equal(qModel.length, 2);
  // Memory parameters and stats: not in the test driver, present in QEMU.
  assert.equal((await peerError(call('NodeGetMemoryParameters', 'u', [0]))).errorName, 'org.libvirt.Error');
  assert.equal((await peerError(call('NodeGetMemoryStats', 'iu', [-1, 0]))).errorName, 'org.libvirt.Error');
  const [params] = (await call('NodeGetMemoryParameters', 'u', [0], Q)) as [Record<string, number>];
  assert.equal(typeof params.shm_pages_to_scan, 'number');
  const [mem] = (await call('NodeGetMemoryStats', 'iu', [-1, 0], Q)) as [Record<string, number>];
  const vmem = await lv.virsh(lv.qemuUri, 'nodememstats');
  assert.match(vmem, new RegExp(`total\\s*:\\s*${mem.total} KiB`));
  // Setting a parameter the driver rejects: libvirt's error; an unusable variant type: the reference's error.
  const setErr = await peerError(call('NodeSetMemoryParameters', 'a{sv}u', [{ shm_pages_to_scan: typed('u', 100) }, 0]));
  assert.equal(setErr.errorName, 'org.libvirt.Error');
  const badType = await peerError(call('NodeSetMemoryParameters', 'a{sv}u', [{ x: [1, 2] }, 0], Q));
  assert.equal(badType.errorName, 'org.libvirt.Error');
  assert.match(badType.message, /Invalid typed parameter 'ai'/);
});

test('domains: define, create, look up, list, stats, save image and restore', async () => {
  const [list] = (await call('ListDomains', 'u', [0])) as [string[]];
  const uuid = (await lv.virsh(lv.testUri, 'domuuid', 'test')).trim();
  const testPath = `${T}/domain/_${uuid.replaceAll('-', '_')}`;
  assert.deepEqual(list, [testPath]);
  assert.deepEqual(await call('DomainLookupByName', 's', ['test']), [testPath]);
  assert.deepEqual(await call('DomainLookupByUUID', 's', [uuid]), [testPath]);
  const id = Number((await lv.virsh(lv.testUri, 'domid', 'test')).trim());
  assert.deepEqual(await call('DomainLookupByID', 'i', [id]), [testPath]);
  const notFound = await peerError(call('DomainLookupByName', 's', ['nope']));
  assert.equal(notFound.errorName, 'org.libvirt.Error');
  assert.match(notFound.message, /Domain not found/); // libvirt's message, as the daemon words it
  // virDomainLookupByUUIDString's own message (unlike the other kinds' "uuidstr in … must be a valid UUID")
  assert.equal((await peerError(call('DomainLookupByUUID', 's', ['bad']))).dbusMessage, 'Invalid UUID');

  const xml = (name: string) => `<domain type='test'><name>${name}</name><memory>8192</memory><os><type>hvm</type></os></domain>`;
  const [defined] = (await call('DomainDefineXML', 's', [xml('dbus-defined')])) as [string];
  const definedUuid = (await lv.virsh(lv.testUri, 'domuuid', 'dbus-defined')).trim();
  assert.equal(defined, `${T}/domain/_${definedUuid.replaceAll('-', '_')}`);
  await peer.subscribe({ iface: C, member: 'DomainEvent' });
  const [created] = (await call('DomainCreateXML', 'su', [xml('dbus-created'), 0])) as [string];
  // Connect.DomainEvent(domain, VIR_DOMAIN_EVENT_STARTED=2, detail) on the Connect object.
  const started = await peer.waitForSignal((s) => s.member === 'DomainEvent' && s.args[0] === created && s.args[1] === 2);
  assert.equal(started.path, T);
  assert.match(await lv.virsh(lv.testUri, 'domstate', 'dbus-created'), /running/);
  assert.equal(created, `${T}/domain/_${(await lv.virsh(lv.testUri, 'domuuid', 'dbus-created')).trim().replaceAll('-', '_')}`);
  // With no descriptors to pass, as the reference: the domain is created.
  const [withFiles] = (await call('DomainCreateXMLWithFiles', 'sahu', [xml('dbus-files'), [], 0])) as [string];
  assert.equal(withFiles, `${T}/domain/_${(await lv.virsh(lv.testUri, 'domuuid', 'dbus-files')).trim().replaceAll('-', '_')}`);

  const [records] = (await call('GetAllDomainStats', 'uu', [1, 0])) as [[string, Record<string, number>][]];
  const byName = new Map(records.map(([n, p]) => [n, p]));
  assert.equal(byName.get('test')?.['state.state'], 1);
  assert.equal(byName.get('dbus-created')?.['state.state'], 1);

  // Save with virsh, then the image's XML, redefine it, and restore through D-Bus.
  const file = `${lv.dir}/dbus-created.save`;
  await lv.virsh(lv.testUri, 'save', 'dbus-created', file);
  await peerError(call('DomainLookupByName', 's', ['dbus-created'])); // a saved transient domain is gone
  const [imageXml] = (await call('DomainSaveImageGetXMLDesc', 'su', [file, 0])) as [string];
  assert.equal(imageXml.trimEnd(), await virshDoc(lv.testUri, 'save-image-dumpxml', file));
  await call('DomainSaveImageDefineXML', 'ssu', [file, imageXml, 0]);
  await call('DomainRestore', 'ssu', [file, '', 0]); // '' → NULL dxml
  assert.match(await lv.virsh(lv.testUri, 'domstate', 'dbus-created'), /running/);
  await lv.virsh(lv.testUri, 'destroy', 'dbus-created');
  await lv.virsh(lv.testUri, 'undefine', 'dbus-defined');
});

test('networks, storage pools and volumes: create, define, look up, list', async () => {
  const [nets] = (await call('ListNetworks', 'u', [0])) as [string[]];
  assert.equal(nets.length, (await lv.virsh(lv.testUri, 'net-list', '--all', '--name')).trim().split('\n').length);
  const netUuid = (await lv.virsh(lv.testUri, 'net-uuid', 'default')).trim();
  const netPath = `${T}/network/_${netUuid.replaceAll('-', '_')}`;
  assert.deepEqual(await call('NetworkLookupByName', 's', ['default']), [netPath]);
  assert.deepEqual(await call('NetworkLookupByUUID', 's', [netUuid]), [netPath]);
  const netXml = (name: string, n: number) =>
    `<network><name>${name}</name><bridge name='dbr${n}'/><ip address='10.9.${n}.1' netmask='255.255.255.0'/></network>`;
  const [defined] = (await call('NetworkDefineXML', 's', [netXml('dbus-net', 1)])) as [string];
  assert.equal(defined, `${T}/network/_${(await lv.virsh(lv.testUri, 'net-uuid', 'dbus-net')).trim().replaceAll('-', '_')}`);
  const [created] = (await call('NetworkCreateXML', 's', [netXml('dbus-net2', 2)])) as [string];
  assert.match(created, new RegExp(`^${T}/network/_`));
  assert.match(await lv.virsh(lv.testUri, 'net-info', 'dbus-net2'), /Active:\s+yes/);

  const [pools] = (await call('ListStoragePools', 'u', [0])) as [string[]];
  assert.equal(pools.length, (await lv.virsh(lv.testUri, 'pool-list', '--all', '--name')).trim().split('\n').length);
  const poolUuid = (await lv.virsh(lv.testUri, 'pool-uuid', 'default-pool')).trim();
  const poolPath = `${T}/storagepool/_${poolUuid.replaceAll('-', '_')}`;
  assert.deepEqual(await call('StoragePoolLookupByName', 's', ['default-pool']), [poolPath]);
  assert.deepEqual(await call('StoragePoolLookupByUUID', 's', [poolUuid]), [poolPath]);
  const poolXml = (name: string) => `<pool type='dir'><name>${name}</name><target><path>/${name}</path></target></pool>`;
  const [pdef] = (await call('StoragePoolDefineXML', 'su', [poolXml('dbus-pool'), 0])) as [string];
  assert.equal(pdef, `${T}/storagepool/_${(await lv.virsh(lv.testUri, 'pool-uuid', 'dbus-pool')).trim().replaceAll('-', '_')}`);
  const [pcre] = (await call('StoragePoolCreateXML', 'su', [poolXml('dbus-pool2'), 0])) as [string];
  assert.match(pcre, new RegExp(`^${T}/storagepool/_`));

  await lv.virsh(lv.testUri, 'vol-create-as', 'default-pool', 'dbus vol.img', '1M');
  const key = (await lv.virsh(lv.testUri, 'vol-key', '--pool', 'default-pool', 'dbus vol.img')).trim();
  const volPath = (await lv.virsh(lv.testUri, 'vol-path', '--pool', 'default-pool', 'dbus vol.img')).trim();
  const [byKey] = (await call('StorageVolLookupByKey', 's', [key])) as [string];
  assert.equal(byKey, `${T}/storagevol/${key.replace(/[^A-Za-z0-9]/g, (c) => `_${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`);
  assert.deepEqual(await call('StorageVolLookupByPath', 's', [volPath]), [byKey]);
  const [sources] = (await call('FindStoragePoolSources', 'ssu', ['logical', '', 0])) as [string];
  assert.equal(sources.trimEnd(), await virshDoc(lv.testUri, 'find-storage-pool-sources', 'logical'));
});

test('host interfaces and node devices', async () => {
  const [ifaces] = (await call('ListInterfaces', 'u', [0])) as [string[]];
  assert.deepEqual(ifaces, [`${T}/interface/aa_3abb_3acc_3add_3aee_3aff`]);
  assert.deepEqual(await call('InterfaceLookupByName', 's', ['eth1']), ifaces);
  assert.deepEqual(await call('InterfaceLookupByMAC', 's', ['aa:bb:cc:dd:ee:ff']), ifaces);
  await call('InterfaceChangeBegin', 'u', [0]);
  const ifXml = "<interface type='ethernet' name='eth9'><mac address='aa:bb:cc:dd:ee:09'/></interface>";
  const [defined] = (await call('InterfaceDefineXML', 'su', [ifXml, 0])) as [string];
  assert.equal(defined, `${T}/interface/aa_3abb_3acc_3add_3aee_3a09`);
  assert.match(await lv.virsh(lv.testUri, 'iface-list', '--all'), /eth9/);
  await call('InterfaceChangeRollback', 'u', [0]);
  assert.doesNotMatch(await lv.virsh(lv.testUri, 'iface-list', '--all'), /eth9/);
  await call('InterfaceChangeBegin', 'u', [0]);
  await call('InterfaceChangeCommit', 'u', [0]);

  const [devs] = (await call('ListNodeDevices', 'u', [0])) as [string[]];
  // (virsh 9's nodedev-list passes a flag the test driver refuses, so the names are known ones.)
  const names = devs.map((p) => p.slice(`${T}/nodedev/`.length).replaceAll('_5f', '_')).sort();
  assert.deepEqual(names, ['computer', 'scsi_host1', 'scsi_host11', 'scsi_host2']);
  for (const n of names) assert.match(await lv.virsh(lv.testUri, 'nodedev-dumpxml', n), new RegExp(`<name>${n}</name>`));
  assert.deepEqual(await call('NodeDeviceLookupByName', 's', ['scsi_host1']), [`${T}/nodedev/scsi_5fhost1`]);
  const wwn = await peerError(call('NodeDeviceLookupSCSIHostByWWN', 'ssu', ['2000000012341234', '1000000012341234', 0]));
  assert.equal(wwn.errorName, 'org.libvirt.Error');
  const vhba =
    "<device><parent>scsi_host1</parent><capability type='scsi_host'><capability type='fc_host'><wwnn>2000000012341234</wwnn><wwpn>1000000012341234</wwpn></capability></capability></device>";
  const [dev] = (await call('NodeDeviceCreateXML', 'su', [vhba, 0])) as [string];
  assert.match(dev, new RegExp(`^${T}/nodedev/scsi_5fhost\\d+$`));
});

test('secrets and network filters (qemu:///system of the private daemon)', async () => {
  const [secrets] = (await call('ListSecrets', 'u', [0], Q)) as [string[]];
  assert.deepEqual(secrets, []);
  const uuid = '11111111-2222-3333-4444-555555555555';
  const secretXml = `<secret ephemeral='no' private='no'><uuid>${uuid}</uuid><usage type='volume'><volume>/var/lib/x.img</volume></usage></secret>`;
  const [path] = (await call('SecretDefineXML', 'su', [secretXml, 0], Q)) as [string];
  assert.equal(path, `${Q}/secret/_11111111_2222_3333_4444_555555555555`);
  assert.deepEqual(await call('SecretLookupByUUID', 's', [uuid], Q), [path]);
  assert.deepEqual(await call('SecretLookupByUsage', 'is', [1, '/var/lib/x.img'], Q), [path]);
  assert.match(await lv.virsh(lv.qemuUri, 'secret-list'), new RegExp(uuid));
  assert.equal((await peerError(call('ListSecrets', 'u', [0]))).errorName, 'org.libvirt.Error'); // test driver

  const [filters] = (await call('ListNWFilters', 'u', [0], Q)) as [string[]];
  assert.equal(
    filters.length,
    (await lv.virsh(lv.qemuUri, 'nwfilter-list'))
      .trim()
      .split('\n')
      .filter((l) => l.trim()).length,
  );
  const fuuid = '99999999-2222-3333-4444-555555555555';
  const [fpath] = (await call('NWFilterDefineXML', 's', [`<filter name='dbus-filter' chain='root'><uuid>${fuuid}</uuid></filter>`], Q)) as [
    string,
  ];
  assert.equal(fpath, `${Q}/nwfilter/_99999999_2222_3333_4444_555555555555`);
  assert.deepEqual(await call('NWFilterLookupByName', 's', ['dbus-filter'], Q), [fpath]);
  assert.deepEqual(await call('NWFilterLookupByUUID', 's', [fuuid], Q), [fpath]);
  await lv.virsh(lv.qemuUri, 'nwfilter-undefine', 'dbus-filter');
  await lv.virsh(lv.qemuUri, 'secret-undefine', uuid);
});

test('bad arguments are answered by the exporter, never a crash', async () => {
  const e = await peerError(call('ListDomains', 's', ['x']));
  assert.equal(e.errorName, 'org.freedesktop.DBus.Error.InvalidArgs');
  const unknown = await peerError(call('NoSuchMethod'));
  assert.equal(unknown.errorName, 'org.freedesktop.DBus.Error.UnknownMethod');
  // Still alive:
  assert.ok(Array.isArray((await call('ListNetworks', 'u', [0]))[0]));
});
