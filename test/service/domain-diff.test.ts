// Differential test of org.libvirt.Domain and org.libvirt.DomainSnapshot: the same sequence of
// calls against the reference libvirt-dbus (test:///default in its own process, on its own
// private bus) and against our service (the test driver of a fresh private libvirtd). Every
// reply — values or org.libvirt.Error with libvirt's message — must be the same.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DBusError, Variant } from '../../src/dbus/index.js';
import { type Client, type Fixture, IFACE, startFixture, TEST, TEST_PATH } from './fixture.js';

/** A directory both services (and the daemon) can write to. */
const DIR = mkdtempSync(join(tmpdir(), 'domain-diff-'));
const OTHER_UUID = 'c7a5fdbd-cdaf-9455-926a-d65c16db1809';
const OTHER_PATH = `${TEST}/domain/_${OTHER_UUID.replaceAll('-', '_')}`;
const OTHER_XML = `<domain type='test'><name>other</name><uuid>${OTHER_UUID}</uuid><memory>131072</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`;
const snap = (uuidPath: string, name: string) => `${TEST}/domainsnapshot/${uuidPath.slice(uuidPath.lastIndexOf('/') + 1)}_${name}`;
const S1 = snap(TEST_PATH, 's1');
const S2 = snap(TEST_PATH, 's2');
const u = (v: number) => new Variant('u', v);
const t = (v: bigint) => new Variant('t', v);
const s = (v: string) => new Variant('s', v);
const b = (v: boolean) => new Variant('b', v);

/** One step: [label, object path, interface, member, signature, body]. */
type Step = [string, string, string, string, string, unknown[]];
type Outcome = { reply: unknown[] } | { error: string; message: string };

/** What ours answers where it differs from the reference for a reason outside this module. */
const deviations: Record<string, Outcome> = {
  // libvirtd answers a failed virDomainGetSecurityLabelList with ret -1 and no error, which
  // libvirt's own client turns into its generic message; the reference's in-process test driver
  // reports the real cause.
  GetSecurityLabelList: { error: 'org.libvirt.Error', message: 'An error occurred, but the cause is unknown' },
};
const D = (member: string, signature = '', body: unknown[] = [], path = TEST_PATH): Step => [
  member,
  path,
  IFACE.Domain,
  member,
  signature,
  body,
];
const P = (name: string, path = TEST_PATH): Step => [
  `Get ${name}`,
  path,
  'org.freedesktop.DBus.Properties',
  'Get',
  'ss',
  [IFACE.Domain, name],
];
const S = (member: string, path: string, signature = '', body: unknown[] = []): Step => [
  `${member} ${path.slice(path.lastIndexOf('_') + 1)}`,
  path,
  IFACE.DomainSnapshot,
  member,
  signature,
  body,
];

const steps: Step[] = [
  // properties
  ...['Active', 'Autostart', 'Id', 'Name', 'OSType', 'Persistent', 'SchedulerType', 'Updated', 'UUID'].map((p) => P(p)),
  // reading
  D('GetState', 'u', [0]),
  D('GetStats', 'uu', [0, 0]),
  D('GetStats', 'uu', [1, 0]),
  D('GetXMLDesc', 'u', [0]),
  D('GetXMLDesc', 'u', [2]),
  D('GetSchedulerParameters', 'u', [0]),
  D('GetBlockIOParameters', 'u', [0]),
  D('GetMemoryParameters', 'u', [0]),
  D('GetNumaParameters', 'u', [0]),
  D('GetPerfEvents', 'u', [0]),
  D('GetVcpus', 'u', [0]),
  D('GetVcpus', 'u', [0x10]),
  D('GetVcpuPinInfo', 'u', [0]),
  D('GetEmulatorPinInfo', 'u', [0]),
  D('GetIOThreadInfo', 'u', [0]),
  D('GetJobInfo'),
  D('GetJobStats', 'u', [0]),
  D('GetControlInfo', 'u', [0]),
  D('GetDiskErrors', 'u', [0]),
  D('GetFSInfo', 'u', [0]),
  D('GetHostname', 'u', [0]),
  D('GetTime', 'u', [0]),
  D('GetSecurityLabelList'),
  D('MemoryStats', 'u', [0]),
  D('InterfaceAddresses', 'uu', [0, 0]),
  D('GetBlockIOTune', 'su', ['vda', 0]),
  D('GetBlockIOTune', 'su', ['nope', 0]),
  D('GetInterfaceParameters', 'su', ['vnet0', 0]),
  D('GetBlockJobInfo', 'su', ['vda', 0]),
  D('HasManagedSaveImage', 'u', [0]),
  D('GetMetadata', 'isu', [0, '', 0]),
  D('GetGuestVcpus', 'u', [0]),
  D('MigrateGetMaxSpeed', 'u', [0]),
  D('MigrateGetCompressionCache', 'u', [0]),
  D('BlockPeek', 'sttu', ['vda', 0n, 10n, 0]),
  D('MemoryPeek', 'ttu', [0n, 10n, 1]),
  D('MemoryPeek', 'ttu', [0n, 10n, 0]),
  // typed parameters in
  D('SetMemoryParameters', 'a{sv}u', [new Map([['hard_limit', t(1048576n)]]), 0]),
  D('GetMemoryParameters', 'u', [0]),
  D('SetMemoryParameters', 'a{sv}u', [new Map([['hard_limit', new Variant('as', [])]]), 0]),
  D('SetBlockIOParameters', 'a{sv}u', [new Map([['weight', u(500)]]), 0]),
  D('GetBlockIOParameters', 'u', [0]),
  D('SetNumaParameters', 'a{sv}u', [new Map([['numa_nodeset', s('0')]]), 0]),
  D('GetNumaParameters', 'u', [0]),
  D('SetPerfEvents', 'a{sv}u', [new Map([['cmt', b(true)]]), 0]),
  D('GetPerfEvents', 'u', [0]),
  D('SetSchedulerParameters', 'a{sv}u', [new Map([['weight', u(10)]]), 0]),
  D('SetInterfaceParameters', 'sa{sv}u', ['testnet0', new Map([['inbound.average', u(100)]]), 0]),
  D('GetInterfaceParameters', 'su', ['testnet0', 0]),
  D('GetInterfaceParameters', 'su', ['aa:bb:cc:dd:ee:ff', 0]),
  D('SetBlockIOTune', 'sa{sv}u', ['vda', new Map([['total_bytes_sec', t(1000n)]]), 0]),
  D('GetBlockIOTune', 'su', ['vda', 0]),
  // metadata and guest
  D('SetMetadata', 'isssu', [0, 'hello', '', '', 0]),
  D('GetMetadata', 'isu', [0, '', 0]),
  D('SetMetadata', 'isssu', [2, '<e>x</e>', 'k', 'http://example.org/', 0]),
  D('GetMetadata', 'isu', [2, 'http://example.org/', 0]),
  D('SetMemory', 'tu', [262144n, 0]),
  D('SetVcpus', 'uu', [1, 0]),
  D('GetVcpus', 'u', [0]),
  D('SetTime', 'tuu', [1000n, 5, 0]),
  D('SetUserPassword', 'ssu', ['root', 'secret', 0]),
  D('SetMemoryStatsPeriod', 'iu', [5, 0]),
  D('SendKey', 'uuauu', [0, 0, [1, 2], 0]),
  D('SendProcessSignal', 'xuu', [1n, 9, 0]),
  D('InjectNMI', 'u', [0]),
  D('PMWakeup', 'u', [0]),
  D('AddIOThread', 'uu', [1, 0]),
  D('GetIOThreadInfo', 'u', [0]),
  D('PinIOThread', 'uabu', [1, [true, false], 0]),
  D('DelIOThread', 'uu', [1, 0]),
  D('PinVcpu', 'uabu', [0, [false, true], 0]),
  D('GetVcpuPinInfo', 'u', [0]),
  D('PinEmulator', 'abu', [[true], 0]),
  D('AbortJob'),
  D('BlockCommit', 'ssstu', ['vda', '', '', 0n, 0]),
  D('BlockCopy', 'ssa{sv}u', ['vda', '<disk/>', new Map(), 0]),
  D('BlockJobAbort', 'su', ['vda', 0]),
  D('BlockPull', 'stu', ['vda', 0n, 0]),
  D('BlockRebase', 'sstu', ['vda', '', 0n, 0]),
  D('BlockResize', 'stu', ['vda', 1024n, 0]),
  D('BlockJobSetSpeed', 'stu', ['vda', 1n, 0]),
  D('FSFreeze', 'asu', [[], 0]),
  D('FSThaw', 'asu', [['/'], 0]),
  D('FSTrim', 'stu', ['', 0n, 0]),
  D('MigrateSetMaxSpeed', 'tu', [1n, 0]),
  D('MigrateSetMaxDowntime', 'tu', [1n, 0]),
  D('MigrateSetCompressionCache', 'tu', [1n, 0]),
  D('MigrateStartPostCopy', 'u', [0]),
  D('MigrateToURI3', 'sa{sv}u', ['test:///default', new Map(), 2]),
  D('OpenGraphicsFD', 'uu', [0, 0]),
  D('AttachDevice', 'su', ["<disk type='file' device='disk'><target dev='vdb'/></disk>", 0]),
  D('DetachDevice', 'su', ["<disk type='file' device='disk'><target dev='vdb'/></disk>", 0]),
  D('UpdateDevice', 'su', ["<disk type='file' device='disk'><target dev='vda'/></disk>", 0]),
  // snapshots
  D('SnapshotCreateXML', 'su', ['<domainsnapshot><name>s1</name></domainsnapshot>', 0]),
  D('SnapshotCreateXML', 'su', ['<domainsnapshot><name>s2</name></domainsnapshot>', 0]),
  D('ListDomainSnapshots', 'u', [0]),
  D('SnapshotCurrent', 'u', [0]),
  D('SnapshotLookupByName', 'su', ['s1', 0]),
  D('SnapshotLookupByName', 'su', ['nope', 0]),
  S('GetParent', S2, 'u', [0]),
  S('GetParent', S1, 'u', [0]),
  S('IsCurrent', S1, 'u', [0]),
  S('IsCurrent', S2, 'u', [0]),
  S('ListChildren', S1, 'u', [0]),
  S('Revert', S1, 'u', [0]),
  S('IsCurrent', S1, 'u', [0]),
  S('Delete', S2, 'u', [0]),
  S('GetXMLDesc', S2, 'u', [0]),
  S('Delete', S1, 'u', [0]),
  D('ListDomainSnapshots', 'u', [0]),
  // life cycle of the running domain
  D('Suspend'),
  D('GetState', 'u', [0]),
  D('Resume'),
  D('Reboot', 'u', [0]),
  D('Reset', 'u', [0]),
  D('CoreDump', 'suu', ['/nonexistent/dir/core', 0, 0]),
  D('ManagedSave', 'u', [0]),
  D('HasManagedSaveImage', 'u', [0]),
  D('GetState', 'u', [0]),
  P('Id'),
  P('Active'),
  D('Create', 'u', [0]),
  D('HasManagedSaveImage', 'u', [0]),
  D('ManagedSaveRemove', 'u', [0]),
  D('Shutdown', 'u', [0]),
  D('Create', 'u', [0]),
  D('CoreDump', 'suu', [`${DIR}/core`, 0, 0]),
  D('Save', 'ssu', [`${DIR}/save`, '', 0]),
  D('GetState', 'u', [0]),
  D('Create', 'u', [0]),
  D('Destroy', 'u', [0]),
  D('Rename', 'su', ['renamed', 0]),
  P('Name'),
  D('Save', 'ssu', ['/nonexistent/dir/save', '', 0]),
  D('CreateWithFiles', 'ahu', [[], 0]),
  ['Set Autostart', TEST_PATH, 'org.freedesktop.DBus.Properties', 'Set', 'ssv', [IFACE.Domain, 'Autostart', b(true)]],
  P('Autostart'),
  // a second domain: defined, inspected, undefined
  ['DomainDefineXML', TEST, IFACE.Connect, 'DomainDefineXML', 's', [OTHER_XML]],
  P('Name', OTHER_PATH),
  P('Id', OTHER_PATH),
  P('Persistent', OTHER_PATH),
  D('GetState', 'u', [0], OTHER_PATH),
  D('GetXMLDesc', 'u', [0], OTHER_PATH),
  D('Undefine', 'u', [0], OTHER_PATH),
  D('GetState', 'u', [0], OTHER_PATH),
  // paths that name nothing
  D('GetState', 'u', [0], `${TEST}/domain/_00000000_0000_0000_0000_000000000001`),
  D('GetState', 'u', [0], `${TEST}/domain/garbage`),
];

/**
 * Properties.GetAll, separately: the reference wraps each value in a second variant (its
 * builder adds g_variant_new_variant(value) at a `v` position) and leaves out properties whose
 * getter fails, so a vanished domain answers an empty dictionary.
 */
const getAllSteps: Step[] = [
  ['GetAll', TEST_PATH, 'org.freedesktop.DBus.Properties', 'GetAll', 's', [IFACE.Domain]],
  ['GetAll (gone)', OTHER_PATH, 'org.freedesktop.DBus.Properties', 'GetAll', 's', [IFACE.Domain]],
];

/** Runs every step, recording each reply or error. */
async function run(client: Client, list: Step[] = steps): Promise<Array<Outcome & { label: string }>> {
  const out: Array<Outcome & { label: string }> = [];
  for (const [label, path, iface, member, signature, body] of list) {
    try {
      const reply = await client.call(path, iface, member, signature, body);
      // libvirt lists snapshots in hash-table order, which differs from process to process.
      if (member === 'ListDomainSnapshots' || member === 'ListChildren') (reply[0] as string[]).sort();
      out.push({ label, reply });
    } catch (err) {
      if (!(err instanceof DBusError)) throw err;
      out.push({ label, error: err.errorName, message: err.message });
    }
  }
  return out;
}

describe('org.libvirt.Domain against the reference', () => {
  let ours: Fixture;
  let ref: Fixture;
  before(async () => {
    [ours, ref] = await Promise.all([startFixture({ service: 'ours-in-process' }), startFixture({ service: 'reference' })]);
  });
  after(async () => {
    await Promise.all([ours?.stop(), ref?.stop()]);
    rmSync(DIR, { recursive: true, force: true });
  });

  it('gives the same replies and errors for the same calls', async () => {
    compare(await run(ref.client), await run(ours.client), steps);
  });

  it('answers Properties.GetAll as the reference does', async () => {
    compare(await run(ref.client, getAllSteps), await run(ours.client, getAllSteps), getAllSteps);
  });
});

/** Asserts that every outcome of ours equals the reference's (or its known deviation). */
function compare(expected: Array<Outcome & { label: string }>, actual: unknown[], list: Step[]): void {
  const mismatches: string[] = [];
  expected.forEach((e, i) => {
    const label = list[i]?.[0] as string;
    const deviation = deviations[label];
    const want = deviation ? { label, ...deviation } : e;
    try {
      assert.deepEqual(actual[i], want);
    } catch {
      mismatches.push(`${label}:\n  ref:  ${show(e)}\n  ours: ${show(actual[i])}`);
    }
  });
  assert.equal(mismatches.length, 0, `\n${mismatches.join('\n')}`);
}

function show(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    typeof x === 'bigint' ? `${x}n` : x instanceof Map ? Object.fromEntries(x) : x instanceof Variant ? { [x.signature]: x.value } : x,
  ).slice(0, 600);
}
