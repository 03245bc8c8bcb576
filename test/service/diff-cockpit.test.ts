// Differential test of a Cockpit Machines session: the calls cockpit-machines makes
// (src/libvirtApi/*.js: the overview's GetAll of pools, networks, node memory, capabilities,
// domains and node devices; usage polling; its VM, snapshot, network and storage actions)
// against the reference libvirt-dbus (test:///default in its own process) and against ours
// (the test driver of a fresh private libvirtd), each on its own private bus. Every reply and
// error, and every signal org.libvirt emits, in order, must be the same.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Variant } from '../../src/dbus/index.js';
import { compareLogs, compareSignals, Recorder, SignalLog, settle, sortFirst } from './diff-record.js';
import { type Fixture, IFACE, startFixture, TEST } from './fixture.js';

const CONNECT = IFACE.Connect;
const DOMAIN = IFACE.Domain;
const SNAPSHOT = IFACE.DomainSnapshot;
const NETWORK = IFACE.Network;
const POOL = IFACE.StoragePool;
const VOL = IFACE.StorageVol;
const NODEDEV = IFACE.NodeDevice;

/** cockpit-machines' Enum values (src/libvirtApi/helpers.ts). */
const VIR_DOMAIN_XML_SECURE = 1;
const VIR_DOMAIN_XML_INACTIVE = 2;
const USAGE_STATS = 4 | 8 | 32 | 1; // BALLOON | VCPU | BLOCK | STATE, as pollVmUsage asks
const VIR_DOMAIN_UNDEFINE_MANAGED_SAVE = 1;
const VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA = 2;

const VM_UUID = '5b2a8d1e-3f4c-4a6b-9c7d-0e1f2a3b4c5d';
const VM_XML = `<domain type='test'><name>cockpit-vm</name><uuid>${VM_UUID}</uuid><memory>262144</memory><vcpu>2</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`;
const NET_XML =
  "<network><name>cockpit-net</name><uuid>0f2e6b0c-9a51-4c1d-8e2a-3b4c5d6e7f80</uuid><bridge name='virbr9'/><ip address='192.168.150.1' netmask='255.255.255.0'/></network>";
const POOL_XML =
  '<pool type="dir"><name>cockpit-pool</name><uuid>8a1d3c6e-5b7f-4e29-a0c4-1d2e3f4a5b6c</uuid><target><path>/var/lib/cockpit-pool</path></target></pool>';
const VOL_XML = '<volume><name>disk1.img</name><capacity unit="M">10</capacity></volume>';

const xmlName = (xml: string | undefined) => /<name>([^<]*)<\/name>/.exec(xml ?? '')?.[1] ?? '';
/** arch and machine of a domain's <os><type>, as cockpit passes them to GetDomainCapabilities. */
const osType = (xml: string | undefined): [string, string] => {
  const m = /<type([^>]*)>/.exec(xml ?? '')?.[1] ?? '';
  return [/arch='([^']*)'/.exec(m)?.[1] ?? '', /machine='([^']*)'/.exec(m)?.[1] ?? ''];
};

/** cockpit's domainGet: XML twice, GetAll, domain capabilities, state, then snapshotGetAll. */
async function domainGet(r: Recorder, path: string): Promise<void> {
  const [xml] = (await r.call('GetXMLDesc secure', path, DOMAIN, 'GetXMLDesc', 'u', [VIR_DOMAIN_XML_SECURE])) ?? [];
  await r.call('GetXMLDesc inactive', path, DOMAIN, 'GetXMLDesc', 'u', [VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_INACTIVE]);
  await r.getAll('Domain GetAll', path, DOMAIN);
  if (xml === undefined) return;
  const [arch, machine] = osType(xml as string);
  await r.call('GetDomainCapabilities', TEST, CONNECT, 'GetDomainCapabilities', 'ssssu', ['', arch, machine, '', 0]);
  await r.call('GetState', path, DOMAIN, 'GetState', 'u', [0]);
  // snapshotGetAll: the list comes in hash-table order, so the walk goes in sorted order.
  const snaps = await r.call('ListDomainSnapshots', path, DOMAIN, 'ListDomainSnapshots', 'u', [0], sortFirst);
  for (const s of [...((snaps?.[0] as string[]) ?? [])].sort()) {
    await r.call('Snapshot GetXMLDesc', s, SNAPSHOT, 'GetXMLDesc', 'u', [0], withoutCreationTime);
    await r.call('Snapshot IsCurrent', s, SNAPSHOT, 'IsCurrent', 'u', [0]);
  }
}

/** A snapshot's XML without its <creationTime>: the wall clock (seconds) when each service took it. */
const withoutCreationTime = (reply: unknown[]): unknown[] => [
  (reply[0] as string).replace(/<creationTime>\d+<\/creationTime>/, '<creationTime/>'),
];

/** cockpit's storagePoolGet (with storageVolumeGetAll for an active pool). */
async function storagePoolGet(r: Recorder, path: string): Promise<void> {
  const [xml] = (await r.call('Pool GetXMLDesc', path, POOL, 'GetXMLDesc', 'u', [0])) ?? [];
  const props = await r.getAll('Pool GetAll', path, POOL);
  if (props.get('Active') !== true) return;
  const [pool] = (await r.call('StoragePoolLookupByName', TEST, CONNECT, 'StoragePoolLookupByName', 's', [xmlName(xml as string)])) ?? [];
  if (pool === undefined) return;
  const vols = await r.call('ListStorageVolumes', pool as string, POOL, 'ListStorageVolumes', 'u', [0], sortFirst);
  for (const v of [...((vols?.[0] as string[]) ?? [])].sort()) await r.call('Vol GetXMLDesc', v, VOL, 'GetXMLDesc', 'u', [0]);
}

/** cockpit's networkGet. */
async function networkGet(r: Recorder, path: string): Promise<void> {
  await r.getAll('Network GetAll', path, NETWORK);
  await r.call('Network GetXMLDesc', path, NETWORK, 'GetXMLDesc', 'u', [0]);
}

/** The overview page: getApiData, domainGetAll, nodeDeviceGetAll, one round of usage polling. */
async function overview(r: Recorder): Promise<string[]> {
  await r.getAll('Connect GetAll', TEST, CONNECT);
  await r.get('Get LibVersion', TEST, CONNECT, 'LibVersion');
  // storagePoolGetAll
  const [pools] = (await r.call('ListStoragePools', TEST, CONNECT, 'ListStoragePools', 'u', [0], sortFirst)) ?? [[]];
  for (const p of [...(pools as string[])].sort()) {
    if ((await r.get('Pool Get Active', p, POOL, 'Active')) === true) await r.call('Pool Refresh', p, POOL, 'Refresh', 'u', [0]);
    await storagePoolGet(r, p);
  }
  // networkGetAll
  const [nets] = (await r.call('ListNetworks', TEST, CONNECT, 'ListNetworks', 'u', [0], sortFirst)) ?? [[]];
  for (const n of [...(nets as string[])].sort()) await networkGet(r, n);
  await r.call('NodeGetMemoryStats', TEST, CONNECT, 'NodeGetMemoryStats', 'iu', [-1, 0]);
  await r.call('GetCapabilities', TEST, CONNECT, 'GetCapabilities');
  await r.call('NodeGetInfo (not in the API)', TEST, CONNECT, 'NodeGetInfo');
  // domainGetAll
  const [doms] = (await r.call('ListDomains', TEST, CONNECT, 'ListDomains', 'u', [0], sortFirst)) ?? [[]];
  for (const d of [...(doms as string[])].sort()) await domainGet(r, d);
  // nodeDeviceGetAll
  const [devs] = (await r.call('ListNodeDevices', TEST, CONNECT, 'ListNodeDevices', 'u', [0], sortFirst)) ?? [[]];
  for (const d of [...(devs as string[])].sort()) await r.call('NodeDevice GetXMLDesc', d, NODEDEV, 'GetXMLDesc', 'u', [0]);
  // pollVmUsage and the details page's addresses
  for (const d of [...(doms as string[])].sort()) {
    await r.call('GetStats', d, DOMAIN, 'GetStats', 'uu', [USAGE_STATS, 0], normaliseStats);
    for (const source of [0, 2, 1]) await r.call(`InterfaceAddresses ${source}`, d, DOMAIN, 'InterfaceAddresses', 'uu', [source, 0]);
  }
  return (doms as string[]).slice().sort();
}

/**
 * The test driver reports a vCPU's time as the wall clock at the call (testDomainGetVcpus), so
 * `vcpu.<n>.time` differs between any two calls; everything else in the record must agree.
 */
function normaliseStats(reply: unknown[]): unknown[] {
  const stats = new Map(reply[0] as Map<string, Variant>);
  for (const k of stats.keys()) if (/^vcpu\.\d+\.time$/.test(k)) stats.set(k, new Variant('t', 0n));
  return [stats, ...reply.slice(1)];
}

/** Cockpit's VM actions on the running domain `test`, each followed by the refresh its signal triggers. */
async function vmActions(r: Recorder, dom: string): Promise<void> {
  await r.call('Suspend', dom, DOMAIN, 'Suspend');
  await r.call('GetState paused', dom, DOMAIN, 'GetState', 'u', [0]);
  await r.call('Resume', dom, DOMAIN, 'Resume');
  await r.call('SnapshotCreateXML', dom, DOMAIN, 'SnapshotCreateXML', 'su', [
    '<domainsnapshot><name>snap1</name><description>first</description></domainsnapshot>',
    0,
  ]);
  await r.call('SnapshotCreateXML again', dom, DOMAIN, 'SnapshotCreateXML', 'su', [
    '<domainsnapshot><name>snap1</name></domainsnapshot>',
    0,
  ]);
  await r.call('SnapshotCurrent', dom, DOMAIN, 'SnapshotCurrent', 'u', [0]);
  await domainGet(r, dom);
  await r.call('Shutdown', dom, DOMAIN, 'Shutdown', 'u', [0]);
  await domainGet(r, dom);
  await r.call('Shutdown again', dom, DOMAIN, 'Shutdown', 'u', [0]);
  await r.call('Create', dom, DOMAIN, 'Create', 'u', [0]);
  await r.call('Reboot', dom, DOMAIN, 'Reboot', 'u', [0]);
  await r.call('SetMemory', dom, DOMAIN, 'SetMemory', 'tu', [2097152n, 1]);
  await r.call('Destroy', dom, DOMAIN, 'Destroy', 'u', [0]);
  await r.call('Destroy again', dom, DOMAIN, 'Destroy', 'u', [0]);
  await domainGet(r, dom);
  const [snap] = (await r.call('SnapshotLookupByName', dom, DOMAIN, 'SnapshotLookupByName', 'su', ['snap1', 0])) ?? [];
  if (snap) {
    await r.call('Revert', snap as string, SNAPSHOT, 'Revert', 'u', [0]);
    await r.call('Snapshot Delete', snap as string, SNAPSHOT, 'Delete', 'u', [0]);
  }
  await r.call('SnapshotLookupByName gone', dom, DOMAIN, 'SnapshotLookupByName', 'su', ['snap1', 0]);
  // domainChangeAutostart
  const [byName] = (await r.call('DomainLookupByName', TEST, CONNECT, 'DomainLookupByName', 's', ['test'])) ?? [];
  if (byName) await r.set('Set Autostart', byName as string, DOMAIN, 'Autostart', new Variant('b', true));
  await r.call('DomainLookupByName missing', TEST, CONNECT, 'DomainLookupByName', 's', ['no-such-vm']);
}

/** A VM defined, started, inspected, stopped and deleted (domainDelete), as the create dialog and delete do. */
async function vmLifetime(r: Recorder): Promise<void> {
  const [vm] = (await r.call('DomainDefineXML', TEST, CONNECT, 'DomainDefineXML', 's', [VM_XML])) ?? [];
  if (!vm) return;
  await domainGet(r, vm as string);
  await r.call('Create new', vm as string, DOMAIN, 'Create', 'u', [0]);
  await r.call('GetStats new', vm as string, DOMAIN, 'GetStats', 'uu', [USAGE_STATS, 0], normaliseStats);
  await r.call('Destroy new', vm as string, DOMAIN, 'Destroy', 'u', [0]);
  await r.call('Undefine new', vm as string, DOMAIN, 'Undefine', 'u', [
    VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
  ]);
  // the refresh that Undefined triggers: cockpit relies on "Domain not found" here
  await domainGet(r, vm as string);
}

/** Network create/start/autostart/stop/undefine, as the networks page does. */
async function networkActions(r: Recorder): Promise<void> {
  const [net] = (await r.call('NetworkDefineXML', TEST, CONNECT, 'NetworkDefineXML', 's', [NET_XML])) ?? [];
  if (!net) return;
  await networkGet(r, net as string);
  await r.call('Network Create', net as string, NETWORK, 'Create');
  const [byName] = (await r.call('NetworkLookupByName', TEST, CONNECT, 'NetworkLookupByName', 's', ['cockpit-net'])) ?? [];
  if (byName) await r.set('Network Set Autostart', byName as string, NETWORK, 'Autostart', new Variant('b', true));
  await networkGet(r, net as string);
  await r.call('Network Destroy', net as string, NETWORK, 'Destroy');
  await r.call('ListNetworks after stop', TEST, CONNECT, 'ListNetworks', 'u', [0], sortFirst);
  await r.call('Network Undefine', net as string, NETWORK, 'Undefine');
  await networkGet(r, net as string);
}

/** Storage pool and volume actions of the storage pages. */
async function storageActions(r: Recorder): Promise<void> {
  const [pool] = (await r.call('StoragePoolDefineXML', TEST, CONNECT, 'StoragePoolDefineXML', 'su', [POOL_XML, 0])) ?? [];
  if (!pool) return;
  await r.set('Pool Set Autostart', pool as string, POOL, 'Autostart', new Variant('b', true));
  await storagePoolGet(r, pool as string);
  await r.call('Pool Create', pool as string, POOL, 'Create', 'u', [0]);
  await r.call('Pool Refresh new', pool as string, POOL, 'Refresh', 'u', [0]);
  await r.call('StorageVolCreateXML', pool as string, POOL, 'StorageVolCreateXML', 'su', [VOL_XML, 0]);
  await storagePoolGet(r, pool as string);
  const [vol] = (await r.call('StorageVolLookupByName', pool as string, POOL, 'StorageVolLookupByName', 's', ['disk1.img'])) ?? [];
  if (vol) await r.call('Vol Delete', vol as string, VOL, 'Delete', 'u', [0]);
  await r.call('StorageVolLookupByName gone', pool as string, POOL, 'StorageVolLookupByName', 's', ['disk1.img']);
  await r.call('Pool Destroy', pool as string, POOL, 'Destroy');
  await r.call('Pool Undefine', pool as string, POOL, 'Undefine');
  await storagePoolGet(r, pool as string);
}

/** One whole session on one service. */
async function session(r: Recorder): Promise<void> {
  const doms = await overview(r);
  const test = doms.find((d) => d.endsWith('_6695eb01_f6a4_8304_79aa_97f2502e193f'));
  if (test) await vmActions(r, test);
  await vmLifetime(r);
  await networkActions(r);
  await storageActions(r);
  await overview(r);
}

describe('a Cockpit Machines session against the reference', () => {
  let ours: Fixture;
  let ref: Fixture;
  const logs: { ref?: Recorder; ours?: Recorder; refSignals?: SignalLog; ourSignals?: SignalLog } = {};

  before(async () => {
    // bin/libvirt-dbus as installed: the reference's session objects, with Test on the private daemon.
    [ours, ref] = await Promise.all([
      startFixture({ args: (lv) => ['--session', '--connect', `Test=${lv.testUri}`] }),
      startFixture({ service: 'reference' }),
    ]);
    logs.refSignals = new SignalLog(ref.client);
    logs.ourSignals = new SignalLog(ours.client);
    await Promise.all([logs.refSignals.ready(), logs.ourSignals.ready()]);
    // The two sessions run one after the other so that the two services never compete for the CPU mid-step.
    logs.ref = new Recorder(ref.client);
    await session(logs.ref);
    logs.ours = new Recorder(ours.client);
    await session(logs.ours);
    await settle([logs.refSignals, logs.ourSignals]);
  });
  after(async () => {
    logs.refSignals?.stop();
    logs.ourSignals?.stop();
    await Promise.all([ours?.stop(), ref?.stop()]);
  });

  it('gets the same replies and errors', () => {
    compareLogs(logs.ref?.log ?? [], logs.ours?.log ?? []);
  });

  // Signals are compared as they are: object paths derive from UUIDs both test drivers share,
  // and no signal of this session carries a time or a process-specific value.
  it('emits the same signals in the same order', () => {
    const refSignals = logs.refSignals?.tuples ?? [];
    // The session must have produced each kind of signal, or the comparison proves little.
    const members = new Set(refSignals.map(([, iface, member]) => `${iface}.${member}`));
    for (const m of ['Connect.DomainEvent', 'Connect.NetworkEvent', 'Connect.StoragePoolEvent', 'StoragePool.Refresh']) {
      assert.ok(members.has(`org.libvirt.${m}`), `the reference emitted no ${m}`);
    }
    compareSignals(refSignals, logs.ourSignals?.tuples ?? []);
  });
});
