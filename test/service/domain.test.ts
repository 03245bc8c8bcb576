// org.libvirt.Domain and org.libvirt.DomainSnapshot over a private bus, against the test driver
// of a private libvirtd, checked against virsh on the same daemon; and the Domain signals as
// virsh changes the domain behind the service's back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Message, Variant } from '../../src/dbus/index.js';
import { type Fixture, IFACE, startFixture, TEST, TEST_PATH, waitFor } from './fixture.js';
import { runOk } from '../helpers/run.js';

/** virsh's "Key: value" lines as a map. */
function fields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([^:]+):\s*(.*)$/.exec(line.trim());
    if (m) out.set((m[1] as string).trim(), (m[2] as string).trim());
  }
  return out;
}

describe('org.libvirt.Domain on the test driver', () => {
  let s: Fixture;
  const virsh = (...args: string[]) => s.libvirtd.virsh(s.libvirtd.testUri, ...args);
  before(async () => {
    s = await startFixture({ service: 'ours-in-process' });
  });
  after(async () => {
    await s?.stop();
  });

  it('reports the properties virsh dominfo shows', async () => {
    const info = fields(await virsh('dominfo', 'test'));
    const c = s.client;
    assert.equal(await c.get(TEST_PATH, IFACE.Domain, 'Name'), info.get('Name'));
    assert.equal(await c.get(TEST_PATH, IFACE.Domain, 'UUID'), info.get('UUID'));
    assert.equal(String(await c.get(TEST_PATH, IFACE.Domain, 'Id')), info.get('Id'));
    assert.equal(await c.get(TEST_PATH, IFACE.Domain, 'OSType'), info.get('OS Type'));
    assert.equal(await c.get(TEST_PATH, IFACE.Domain, 'Persistent'), info.get('Persistent') === 'yes');
    assert.equal(await c.get(TEST_PATH, IFACE.Domain, 'Autostart'), info.get('Autostart') === 'enable');
    assert.equal(await c.get(TEST_PATH, IFACE.Domain, 'Active'), info.get('State') === 'running');
    assert.equal(await c.get(TEST_PATH, IFACE.Domain, 'Updated'), false);
    const sched = fields(await virsh('schedinfo', 'test'));
    assert.deepEqual(await c.get(TEST_PATH, IFACE.Domain, 'SchedulerType'), [sched.get('Scheduler'), 1]);
    const [vcpus] = await c.dom(TEST_PATH, 'GetVcpus', 'u', [0]);
    assert.equal(String(vcpus), info.get('CPU(s)'));
  });

  it('writes Autostart as virsh sees it', async () => {
    await s.client.call(TEST_PATH, 'org.freedesktop.DBus.Properties', 'Set', 'ssv', [IFACE.Domain, 'Autostart', new Variant('b', true)]);
    assert.equal(fields(await virsh('dominfo', 'test')).get('Autostart'), 'enable');
    await s.client.call(TEST_PATH, 'org.freedesktop.DBus.Properties', 'Set', 'ssv', [IFACE.Domain, 'Autostart', new Variant('b', false)]);
    assert.equal(fields(await virsh('dominfo', 'test')).get('Autostart'), 'disable');
  });

  it('describes the domain as virsh dumpxml does', async () => {
    const [xml] = await s.client.dom(TEST_PATH, 'GetXMLDesc', 'u', [0]);
    assert.equal((xml as string).trim(), (await virsh('dumpxml', 'test')).trim());
  });

  it('gives interface addresses, memory statistics and vCPU pinning as virsh does', async () => {
    const [ifaces] = (await s.client.dom(TEST_PATH, 'InterfaceAddresses', 'uu', [0, 0])) as [
      [string, string, [number, string, number][]][],
    ];
    const addr = await virsh('domifaddr', 'test');
    for (const [name, mac, addrs] of ifaces) {
      assert.match(addr, new RegExp(`${name}\\s+${mac}\\s+ipv4\\s+${addrs[0]?.[1]}/${addrs[0]?.[2]}`));
    }
    const [stats] = (await s.client.dom(TEST_PATH, 'MemoryStats', 'u', [0])) as [Map<number, bigint>];
    const mem = await virsh('dommemstat', 'test');
    // VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON (6) and RSS (7)
    assert.match(mem, new RegExp(`actual ${stats.get(6)}\\b`));
    assert.match(mem, new RegExp(`rss ${stats.get(7)}\\b`));

    const [hostCpus] = (await s.client.dom(TEST_PATH, 'GetEmulatorPinInfo', 'u', [0])) as [boolean[]];
    const cpus = hostCpus.length;
    assert.equal(String(cpus), fields(await virsh('nodecpumap')).get('CPUs present'));
    const map = Array.from({ length: cpus }, (_, i) => i === 1);
    await s.client.dom(TEST_PATH, 'PinVcpu', 'uabu', [0, map, 0]);
    const [pins] = (await s.client.dom(TEST_PATH, 'GetVcpuPinInfo', 'u', [0])) as [boolean[][]];
    assert.deepEqual(pins[0], map);
    assert.match(await virsh('vcpupin', 'test', '--vcpu', '0'), /0\s+1\s*$/m);
  });

  it('sets metadata that virsh reads, and emits MetadataChange', async () => {
    const sig = s.client.collect({ interface: IFACE.Domain, member: 'MetadataChange', path: TEST_PATH });
    try {
      await s.client.dom(TEST_PATH, 'SetMetadata', 'isssu', [1, 'A title', '', '', 0]);
      assert.equal((await virsh('desc', 'test', '--title')).trim(), 'A title');
      await virsh('desc', 'test', '--live', 'from virsh');
      const [desc] = await s.client.dom(TEST_PATH, 'GetMetadata', 'isu', [0, '', 0]);
      assert.equal(desc, 'from virsh');
      await waitFor(() => sig.signals.length >= 2);
      assert.deepEqual(
        sig.signals.map((m) => m.body),
        [
          [1, ''],
          [0, ''],
        ],
      );
      assert.equal(sig.signals[0]?.signature, 'is');
    } finally {
      sig.stop();
    }
  });

  it('follows life-cycle changes made with virsh, with DomainEvent signals', async () => {
    const events = s.client.collect({ interface: IFACE.Connect, member: 'DomainEvent', path: TEST });
    const seen = (n: number) => waitFor(() => events.signals.length >= n);
    const state = async () => (await s.client.dom(TEST_PATH, 'GetState', 'u', [0]))[0];
    try {
      await virsh('suspend', 'test');
      await seen(1);
      assert.deepEqual(await state(), [3, 1]); // paused by the user
      await virsh('resume', 'test');
      await seen(2);
      assert.deepEqual(await state(), [1, 5]); // running, unpaused
      await virsh('destroy', 'test');
      await seen(3);
      assert.equal(await s.client.get(TEST_PATH, IFACE.Domain, 'Id'), 0);
      assert.equal(await s.client.get(TEST_PATH, IFACE.Domain, 'Active'), false);
      await s.client.dom(TEST_PATH, 'Create', 'u', [0]);
      await seen(4);
      assert.equal(fields(await virsh('dominfo', 'test')).get('State'), 'running');
      const body = (m: Message | undefined) => m?.body;
      // VIR_DOMAIN_EVENT_SUSPENDED/PAUSED, RESUMED/UNPAUSED, STOPPED/DESTROYED, STARTED/BOOTED
      assert.deepEqual(events.signals.map(body), [
        [TEST_PATH, 3, 0],
        [TEST_PATH, 4, 0],
        [TEST_PATH, 5, 1],
        [TEST_PATH, 2, 0],
      ]);
      assert.ok(events.signals.every((m) => m.signature === 'oii'));
    } finally {
      events.stop();
    }
  });

  it('creates, finds, reverts and deletes snapshots as virsh lists them', async () => {
    const c = s.client;
    const [p1] = await c.dom(TEST_PATH, 'SnapshotCreateXML', 'su', ['<domainsnapshot><name>one</name></domainsnapshot>', 0]);
    await virsh('snapshot-create-as', 'test', 'two space');
    const enc = `${TEST}/domainsnapshot/_${'6695eb01-f6a4-8304-79aa-97f2502e193f'.replaceAll('-', '_')}`;
    assert.equal(p1, `${enc}_one`);
    const [list] = (await c.dom(TEST_PATH, 'ListDomainSnapshots', 'u', [0])) as [string[]];
    assert.deepEqual([...list].sort(), [`${enc}_one`, `${enc}_two_20space`]);
    const names = (await virsh('snapshot-list', 'test', '--name')).split('\n').filter(Boolean).sort();
    assert.deepEqual(names, ['one', 'two space']);
    const [current] = await c.dom(TEST_PATH, 'SnapshotCurrent', 'u', [0]);
    assert.equal(current, `${enc}_two_20space`);
    assert.deepEqual(await c.call(`${enc}_two_20space`, IFACE.DomainSnapshot, 'GetParent', 'u', [0]), [`${enc}_one`]);
    assert.deepEqual(await c.call(`${enc}_one`, IFACE.DomainSnapshot, 'ListChildren', 'u', [0]), [[`${enc}_two_20space`]]);
    const [xml] = await c.call(`${enc}_two_20space`, IFACE.DomainSnapshot, 'GetXMLDesc', 'u', [0]);
    assert.equal((xml as string).trim(), (await virsh('snapshot-dumpxml', 'test', 'two space')).trim());
    await c.call(`${enc}_one`, IFACE.DomainSnapshot, 'Revert', 'u', [0]);
    assert.deepEqual(await c.call(`${enc}_one`, IFACE.DomainSnapshot, 'IsCurrent', 'u', [0]), [true]);
    assert.match(await virsh('snapshot-current', 'test', '--name'), /^one$/m);
    await c.call(`${enc}_two_20space`, IFACE.DomainSnapshot, 'Delete', 'u', [0]);
    assert.deepEqual(await c.dom(TEST_PATH, 'SnapshotLookupByName', 'su', ['one', 0]), [`${enc}_one`]);
    const gone = await c.fails(`${enc}_two_20space`, IFACE.DomainSnapshot, 'IsCurrent', 'u', [0]);
    assert.equal(gone.errorName, 'org.libvirt.Error');
    assert.equal(gone.message, 'unknown error');
    const noDomain = await c.fails(
      `${TEST}/domainsnapshot/_00000000_0000_0000_0000_000000000000_one`,
      IFACE.DomainSnapshot,
      'GetXMLDesc',
      'u',
      [0],
    );
    assert.equal(noDomain.message, 'invalid domain pointer in virDomainSnapshotLookupByName');
  });

  it('answers libvirt errors as org.libvirt.Error with libvirt’s message', async () => {
    const c = s.client;
    // The reference crashes on SetGuestVcpus; ours answers the test driver's refusal.
    const guest = await c.fails(TEST_PATH, IFACE.Domain, 'SetGuestVcpus', 'abiu', [[true, false, true], 1, 0]);
    assert.equal(guest.errorName, 'org.libvirt.Error');
    assert.equal(guest.message, 'this function is not supported by the connection driver: virDomainSetGuestVcpus');
    const big = await c.fails(TEST_PATH, IFACE.Domain, 'MemoryPeek', 'ttu', [0n, 1n << 40n, 1]);
    assert.equal(big.message, `memory peek request too large for remote protocol, ${1n << 40n} > 4194304`);
    const missing = await c.fails(`${TEST}/domain/_00000000_0000_0000_0000_000000000000`, IFACE.Domain, 'GetState', 'u', [0]);
    assert.equal(missing.errorName, 'org.libvirt.Error');
    assert.equal(missing.message, 'Domain not found');
    const badParam = await c.fails(TEST_PATH, IFACE.Domain, 'SetNumaParameters', 'a{sv}u', [
      new Map([['numa_mode', new Variant('ai', [1])]]),
      0,
    ]);
    assert.equal(badParam.message, "Invalid typed parameter 'ai'.");
    const wrongArgs = await c.fails(TEST_PATH, IFACE.Domain, 'GetState', 's', ['x']);
    assert.equal(wrongArgs.errorName, 'org.freedesktop.DBus.Error.InvalidArgs');
  });

  it('answers gdbus exactly as the reference answers it', async () => {
    const gdbus = async (...args: string[]) =>
      (
        await runOk('gdbus', ['call', '--address', s.bus.address, '-d', 'org.libvirt', '-o', TEST_PATH, '-m', ...args], { timeout: 30_000 })
      ).trim();
    // Texts as /usr/sbin/libvirt-dbus prints them for the test driver's fresh 'test' domain.
    assert.equal(await gdbus('org.libvirt.Domain.GetNumaParameters', '0'), "({'numa_mode': <<0>>, 'numa_nodeset': <<''>>},)");
    assert.equal(await gdbus('org.libvirt.Domain.GetControlInfo', '0'), '((uint32 0, uint32 0, uint64 0),)');
    assert.equal(
      await gdbus('org.libvirt.Domain.GetFSInfo', '0'),
      "([('/', 'vda1', 'ext4', ['vda']), ('/boot', 'vda2', 'ext4', ['vda'])],)",
    );
    assert.equal(await gdbus('org.libvirt.Domain.MemoryPeek', '0', '4', '1'), '([byte 0x00, 0x01, 0x02, 0x03],)');
  });

  it('returns typed parameters as variants in variants, like the reference', async () => {
    const [stats] = (await s.client.dom(TEST_PATH, 'GetStats', 'uu', [1, 0])) as [Map<string, Variant<Variant>>];
    const state = stats.get('state.state');
    assert.equal(state?.signature, 'v');
    assert.equal(state?.value.signature, 'i');
    assert.equal(state?.value.value, 1);
  });
});
