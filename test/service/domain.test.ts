// org.libvirt.Domain and org.libvirt.DomainSnapshot over a private bus, against the test driver
// of a private libvirtd, checked against virsh on the same daemon; and the Domain signals as
// virsh changes the domain behind the service's back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ConnectProxy, DomainProxy, DomainSnapshotProxy, OrgLibvirt } from '../../src/client/index.js';
import { DBusError, type Message, Variant } from '../../src/dbus/index.js';
import { errorOf } from '../helpers/errors.js';
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
  let test: ConnectProxy;
  let dom: DomainProxy;
  const virsh = (...args: string[]) => s.libvirtd.virsh(s.libvirtd.testUri, ...args);
  before(async () => {
    s = await startFixture({ service: 'ours-in-process' });
    test = OrgLibvirt.on(s.client.conn, 'Test');
    dom = await test.domainLookupByName('test');
    assert.equal(dom.objectPath, TEST_PATH);
  });
  after(async () => {
    await s?.stop();
  });

  it('reports the properties virsh dominfo shows', async () => {
    const info = fields(await virsh('dominfo', 'test'));
    assert.equal(await dom.name, info.get('Name'));
    assert.equal(await dom.uuid, info.get('UUID'));
    assert.equal(String(await dom.id), info.get('Id'));
    assert.equal(await dom.osType, info.get('OS Type'));
    assert.equal(await dom.persistent, info.get('Persistent') === 'yes');
    assert.equal(await dom.autostart, info.get('Autostart') === 'enable');
    assert.equal(await dom.active, info.get('State') === 'running');
    assert.equal(await dom.updated, false);
    const sched = fields(await virsh('schedinfo', 'test'));
    assert.deepEqual(await dom.schedulerType, [sched.get('Scheduler'), 1]);
    assert.equal(String(await dom.getVcpus(0)), info.get('CPU(s)'));
  });

  it('writes Autostart as virsh sees it', async () => {
    await dom.setAutostart(true);
    assert.equal(fields(await virsh('dominfo', 'test')).get('Autostart'), 'enable');
    await dom.setAutostart(false);
    assert.equal(fields(await virsh('dominfo', 'test')).get('Autostart'), 'disable');
  });

  it('describes the domain as virsh dumpxml does', async () => {
    const xml = await dom.getXMLDesc(0);
    assert.equal(xml.trim(), (await virsh('dumpxml', 'test')).trim());
  });

  it('gives interface addresses, memory statistics and vCPU pinning as virsh does', async () => {
    const ifaces = await dom.interfaceAddresses(0, 0);
    const addr = await virsh('domifaddr', 'test');
    for (const [name, mac, addrs] of ifaces) {
      assert.match(addr, new RegExp(`${name}\\s+${mac}\\s+ipv4\\s+${addrs[0]?.[1]}/${addrs[0]?.[2]}`));
    }
    const stats = await dom.memoryStats(0);
    const mem = await virsh('dommemstat', 'test');
    // VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON (6) and RSS (7)
    assert.match(mem, new RegExp(`actual ${stats.get(6)}\\b`));
    assert.match(mem, new RegExp(`rss ${stats.get(7)}\\b`));

    const hostCpus = await dom.getEmulatorPinInfo(0);
    const cpus = hostCpus.length;
    assert.equal(String(cpus), fields(await virsh('nodecpumap')).get('CPUs present'));
    const map = Array.from({ length: cpus }, (_, i) => i === 1);
    await dom.pinVcpu(0, map, 0);
    const pins = await dom.getVcpuPinInfo(0);
    assert.deepEqual(pins[0], map);
    assert.match(await virsh('vcpupin', 'test', '--vcpu', '0'), /0\s+1\s*$/m);
  });

  it('sets metadata that virsh reads, and emits MetadataChange', async () => {
    const changes: Array<[number, string]> = [];
    const unsubscribe = dom.onMetadataChange((type, nsuri) => changes.push([type, nsuri]));
    // Raw as well: the signal's signature on the wire is checked.
    const sig = s.client.collect({ interface: IFACE.Domain, member: 'MetadataChange', path: TEST_PATH });
    try {
      await dom.setMetadata(1, 'A title', '', '', 0);
      assert.equal((await virsh('desc', 'test', '--title')).trim(), 'A title');
      await virsh('desc', 'test', '--live', 'from virsh');
      assert.equal(await dom.getMetadata(0, '', 0), 'from virsh');
      await waitFor(() => changes.length >= 2 && sig.signals.length >= 2);
      assert.deepEqual(changes, [
        [1, ''],
        [0, ''],
      ]);
      assert.deepEqual(
        sig.signals.map((m) => m.body),
        changes,
      );
      assert.ok(sig.signals.every((m) => m.signature === 'is'));
    } finally {
      unsubscribe();
      sig.stop();
    }
  });

  it('follows life-cycle changes made with virsh, with DomainEvent signals', async () => {
    const typed: Array<[string, number, number]> = [];
    const unsubscribe = test.onDomainEvent((d, event, detail) => typed.push([d.objectPath, event, detail]));
    // Raw as well: the signal's signature on the wire is checked.
    const events = s.client.collect({ interface: IFACE.Connect, member: 'DomainEvent', path: TEST });
    const seen = (n: number) => waitFor(() => typed.length >= n && events.signals.length >= n);
    const state = () => dom.getState(0);
    try {
      await virsh('suspend', 'test');
      await seen(1);
      assert.deepEqual(await state(), [3, 1]); // paused by the user
      await virsh('resume', 'test');
      await seen(2);
      assert.deepEqual(await state(), [1, 5]); // running, unpaused
      await virsh('destroy', 'test');
      await seen(3);
      assert.equal(await dom.id, 0);
      assert.equal(await dom.active, false);
      await dom.create(0);
      await seen(4);
      assert.equal(fields(await virsh('dominfo', 'test')).get('State'), 'running');
      const body = (m: Message | undefined) => m?.body;
      // VIR_DOMAIN_EVENT_SUSPENDED/PAUSED, RESUMED/UNPAUSED, STOPPED/DESTROYED, STARTED/BOOTED
      assert.deepEqual(typed, [
        [TEST_PATH, 3, 0],
        [TEST_PATH, 4, 0],
        [TEST_PATH, 5, 1],
        [TEST_PATH, 2, 0],
      ]);
      assert.deepEqual(events.signals.map(body), typed);
      assert.ok(events.signals.every((m) => m.signature === 'oii'));
    } finally {
      unsubscribe();
      events.stop();
    }
  });

  it('creates, finds, reverts and deletes snapshots as virsh lists them', async () => {
    const one = await dom.snapshotCreateXML('<domainsnapshot><name>one</name></domainsnapshot>', 0);
    await virsh('snapshot-create-as', 'test', 'two space');
    const enc = `${TEST}/domainsnapshot/_${'6695eb01-f6a4-8304-79aa-97f2502e193f'.replaceAll('-', '_')}`;
    assert.equal(one.objectPath, `${enc}_one`);
    const list = await dom.listDomainSnapshots(0);
    assert.deepEqual(list.map((p) => p.objectPath).sort(), [`${enc}_one`, `${enc}_two_20space`]);
    const names = (await virsh('snapshot-list', 'test', '--name')).split('\n').filter(Boolean).sort();
    assert.deepEqual(names, ['one', 'two space']);
    const two = await dom.snapshotCurrent(0);
    assert.equal(two.objectPath, `${enc}_two_20space`);
    assert.equal((await two.getParent(0)).objectPath, `${enc}_one`);
    assert.deepEqual(
      (await one.listChildren(0)).map((p) => p.objectPath),
      [`${enc}_two_20space`],
    );
    const xml = await two.getXMLDesc(0);
    assert.equal(xml.trim(), (await virsh('snapshot-dumpxml', 'test', 'two space')).trim());
    await one.revert(0);
    assert.equal(await one.isCurrent(0), true);
    assert.match(await virsh('snapshot-current', 'test', '--name'), /^one$/m);
    await two.delete(0);
    assert.equal((await dom.snapshotLookupByName('one', 0)).objectPath, `${enc}_one`);
    const gone = await errorOf(two.isCurrent(0), DBusError);
    assert.equal(gone.errorName, 'org.libvirt.Error');
    assert.equal(gone.message, 'unknown error');
    const orphan = new DomainSnapshotProxy(s.client.conn, `${TEST}/domainsnapshot/_00000000_0000_0000_0000_000000000000_one`);
    const noDomain = await errorOf(orphan.getXMLDesc(0), DBusError);
    assert.equal(noDomain.message, 'invalid domain pointer in virDomainSnapshotLookupByName');
  });

  it('answers libvirt errors as org.libvirt.Error with libvirt’s message', async () => {
    const fails = (p: Promise<unknown>) => errorOf(p, DBusError);
    // The reference crashes on SetGuestVcpus; ours answers the test driver's refusal.
    const guest = await fails(dom.setGuestVcpus([true, false, true], 1, 0));
    assert.equal(guest.errorName, 'org.libvirt.Error');
    assert.equal(guest.message, 'this function is not supported by the connection driver: virDomainSetGuestVcpus');
    const big = await fails(dom.memoryPeek(0n, 1n << 40n, 1));
    assert.equal(big.message, `memory peek request too large for remote protocol, ${1n << 40n} > 4194304`);
    const absent = new DomainProxy(s.client.conn, `${TEST}/domain/_00000000_0000_0000_0000_000000000000`);
    const missing = await fails(absent.getState(0));
    assert.equal(missing.errorName, 'org.libvirt.Error');
    assert.equal(missing.message, 'Domain not found');
    const badParam = await fails(dom.setNumaParameters(new Map([['numa_mode', new Variant('ai', [1])]]), 0));
    assert.equal(badParam.message, "Invalid typed parameter 'ai'.");
    // Raw: a call with the wrong signature cannot be made through the typed client.
    const wrongArgs = await s.client.fails(TEST_PATH, IFACE.Domain, 'GetState', 's', ['x']);
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
    const stats = (await dom.getStats(1, 0)) as Map<string, Variant<Variant>>;
    const state = stats.get('state.state');
    assert.equal(state?.signature, 'v');
    assert.equal(state?.value.signature, 'i');
    assert.equal(state?.value.value, 1);
  });
});
