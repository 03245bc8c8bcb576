// Change notification of the kinds libvirt has no events for (issue 13 item 9): snapshots,
// checkpoints, host interfaces and network filters created or deleted through the service are
// announced with InterfacesAdded / InterfacesRemoved (a snapshot deleted with its children: the
// children too), and a snapshot made by virsh behind the service's back at its domain's next
// event. The typed client's onInterfacesAdded/onInterfacesRemoved see the signals; the raw view
// (changes-view.ts) must equal a fresh GetManagedObjects after each step. Waits are for signals,
// with deadlines. Test driver (snapshots, checkpoints, interfaces) and qemu:///system of the same
// private daemon (network filters); nothing here needs QEMU.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type ConnectProxy, type DomainProxy, OrgLibvirt } from '../../src/client/index.js';
import type { Message } from '../../src/dbus/index.js';
import type { PrivateLibvirtd } from '../helpers/libvirtd.js';
import { DEADLINE, managedObjects, View } from './changes-view.js';
import { DEST, type Fixture, IFACE, startFixture, waitFor } from './fixture.js';

const T = '/org/libvirt/Test';
const Q = '/org/libvirt/QEMU';
const OM = 'org.freedesktop.DBus.ObjectManager';
/** VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN and VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN. */
const DELETE_CHILDREN = 1;

let fx: Fixture;
let lv: PrivateLibvirtd;
let testDriver: ConnectProxy;
let qemuDriver: ConnectProxy;
let dom: DomainProxy;

before(async () => {
  fx = await startFixture({
    args: (lv) => ['--session', '--no-default-connects', '--connect', `Test=${lv.testUri}`, '--connect', `QEMU=${lv.qemuUri}`],
  });
  lv = fx.libvirtd;
  testDriver = OrgLibvirt.on(fx.client.conn, 'Test');
  qemuDriver = OrgLibvirt.on(fx.client.conn, 'QEMU');
  dom = await testDriver.domainLookupByName('test');
});

after(async () => {
  await fx?.stop();
});

/** What the typed client saw of one Connect object's ObjectManager: "Added|Removed path interface", in order. */
class Seen {
  readonly log: string[] = [];
  private readonly offs: Array<() => void>;

  constructor(connect: ConnectProxy) {
    this.offs = [
      connect.onInterfacesAdded((a) => this.log.push(`Added ${a.proxy.objectPath} ${a.interfaceName}`)),
      connect.onInterfacesRemoved((path, ifaces) => this.log.push(`Removed ${path} ${ifaces.join(',')}`)),
    ];
  }

  /** Waits (with a deadline) until every entry of `expected` has been seen after the first `from`. */
  async wait(from: number, ...expected: string[]): Promise<void> {
    await waitFor(() => expected.every((e) => this.log.slice(from).includes(e)), DEADLINE);
  }

  stop(): void {
    for (const off of this.offs) off();
  }
}

/** A view and the typed client's signals of `manager`, for the length of `body`. */
async function watching(manager: string, connect: ConnectProxy, body: (view: View, seen: Seen) => Promise<void>): Promise<void> {
  const view = new View(fx.client, manager);
  const seen = new Seen(connect);
  await view.start();
  try {
    await body(view, seen);
  } finally {
    view.stop();
    seen.stop();
  }
}

test('snapshots through the service: SnapshotCreateXML announces each, Delete with children removes all of them', async () => {
  // Raw: the wire shape of InterfacesAdded (signature, one interface, its properties) is checked.
  const raw: Message[] = [];
  const id = fx.client.conn.signalSubscribe({ sender: DEST, interface: OM, path: T, member: 'InterfacesAdded' }, (m) => raw.push(m));
  try {
    await watching(T, testDriver, async (view, seen) => {
      const S = IFACE.DomainSnapshot;
      let from = seen.log.length;
      const s1 = await dom.snapshotCreateXML('<domainsnapshot><name>unev-s1</name></domainsnapshot>', 0);
      await seen.wait(from, `Added ${s1.objectPath} ${S}`);
      await view.assertCurrent('SnapshotCreateXML');
      const msg = raw.find((m) => m.body[0] === s1.objectPath);
      assert.ok(msg, 'a raw InterfacesAdded');
      assert.equal(msg.signature, 'oa{sa{sv}}');
      assert.deepEqual([...(msg.body[1] as Map<string, unknown>).keys()], [S]);

      // The second is the first's child (the first is current): deleting the first with its children removes both.
      from = seen.log.length;
      const s2 = await dom.snapshotCreateXML('<domainsnapshot><name>unev-s2</name></domainsnapshot>', 0);
      await seen.wait(from, `Added ${s2.objectPath} ${S}`);
      assert.deepEqual(
        (await s1.listChildren(0)).map((s) => s.objectPath),
        [s2.objectPath],
      );
      from = seen.log.length;
      await s1.delete(DELETE_CHILDREN);
      await seen.wait(from, `Removed ${s1.objectPath} ${S}`, `Removed ${s2.objectPath} ${S}`);
      await view.assertCurrent('Delete with children');
      assert.deepEqual(await dom.listDomainSnapshots(0), []);
    });
  } finally {
    fx.client.conn.signalUnsubscribe(id);
  }
});

test('checkpoints through the service: CheckpointCreateXML announces each, Delete with children removes all of them', async () => {
  await watching(T, testDriver, async (view, seen) => {
    const C = IFACE.DomainCheckpoint;
    let from = seen.log.length;
    const c1 = await dom.checkpointCreateXML('<domaincheckpoint><name>unev-c1</name></domaincheckpoint>', 0);
    await seen.wait(from, `Added ${c1.objectPath} ${C}`);
    from = seen.log.length;
    const c2 = await dom.checkpointCreateXML('<domaincheckpoint><name>unev-c2</name></domaincheckpoint>', 0);
    await seen.wait(from, `Added ${c2.objectPath} ${C}`);
    await view.assertCurrent('CheckpointCreateXML');
    from = seen.log.length;
    await c1.delete(DELETE_CHILDREN);
    await seen.wait(from, `Removed ${c1.objectPath} ${C}`, `Removed ${c2.objectPath} ${C}`);
    await view.assertCurrent('Delete with children');
    assert.deepEqual(await dom.listDomainCheckpoints(0), []);
  });
});

test('host interfaces through the service: InterfaceDefineXML, Undefine and InterfaceChangeRollback are announced', async () => {
  await watching(T, testDriver, async (view, seen) => {
    const I = IFACE.Interface;
    let from = seen.log.length;
    const iface = await testDriver.interfaceDefineXML(
      "<interface type='ethernet' name='unev7'><mac address='aa:bb:cc:dd:ee:77'/></interface>",
      0,
    );
    assert.equal(iface.objectPath, `${T}/interface/aa_3abb_3acc_3add_3aee_3a77`);
    await seen.wait(from, `Added ${iface.objectPath} ${I}`);
    assert.equal(view.value(iface.objectPath, I, 'Name'), 'unev7');
    await view.assertCurrent('InterfaceDefineXML');
    from = seen.log.length;
    await iface.undefine();
    await seen.wait(from, `Removed ${iface.objectPath} ${I}`);
    await view.assertCurrent('Interface.Undefine');

    // A rollback undoes a definition made after InterfaceChangeBegin: the interface goes again.
    await testDriver.interfaceChangeBegin(0);
    from = seen.log.length;
    const again = await testDriver.interfaceDefineXML(
      "<interface type='ethernet' name='unev8'><mac address='aa:bb:cc:dd:ee:88'/></interface>",
      0,
    );
    await seen.wait(from, `Added ${again.objectPath} ${I}`);
    from = seen.log.length;
    await testDriver.interfaceChangeRollback(0);
    await seen.wait(from, `Removed ${again.objectPath} ${I}`);
    // The test driver's rollback also leaves its built-in eth1 inactive: Interface properties are
    // not notified (no events), so only which objects exist is compared here.
    const fresh = await managedObjects(fx.client, T);
    assert.deepEqual([...view.objects.keys()].sort(), [...fresh.keys()].sort(), 'objects after InterfaceChangeRollback');
  });
});

test('network filters (qemu:///system) through the service: NWFilterDefineXML and Undefine are announced', async () => {
  await watching(Q, qemuDriver, async (view, seen) => {
    const F = IFACE.NWFilter;
    const uuid = 'cccccccc-2222-3333-4444-555555555555';
    let from = seen.log.length;
    const filter = await qemuDriver.nwFilterDefineXML(
      `<filter name='unev-filter' chain='root'><uuid>${uuid}</uuid><rule action='drop' direction='in'><all/></rule></filter>`,
    );
    assert.equal(filter.objectPath, `${Q}/nwfilter/_${uuid.replaceAll('-', '_')}`);
    await seen.wait(from, `Added ${filter.objectPath} ${F}`);
    assert.equal(view.value(filter.objectPath, F, 'Name'), 'unev-filter');
    await view.assertCurrent('NWFilterDefineXML');
    from = seen.log.length;
    await filter.undefine();
    await seen.wait(from, `Removed ${filter.objectPath} ${F}`);
    await view.assertCurrent('NWFilter.Undefine');
  });
});

test("a snapshot made and deleted by virsh behind the service's back is announced at the domain's next event", async () => {
  await watching(T, testDriver, async (view, seen) => {
    const S = IFACE.DomainSnapshot;
    await lv.virsh(lv.testUri, 'snapshot-create-as', 'test', 'unev-virsh');
    const path = (await dom.snapshotLookupByName('unev-virsh', 0)).objectPath;
    let from = seen.log.length;
    await lv.virsh(lv.testUri, 'suspend', 'test');
    await lv.virsh(lv.testUri, 'resume', 'test');
    await seen.wait(from, `Added ${path} ${S}`);
    await view.assertCurrent('snapshot-create-as and an event');
    await lv.virsh(lv.testUri, 'snapshot-delete', 'test', 'unev-virsh');
    from = seen.log.length;
    await lv.virsh(lv.testUri, 'suspend', 'test');
    await lv.virsh(lv.testUri, 'resume', 'test');
    await seen.wait(from, `Removed ${path} ${S}`);
    await view.assertCurrent('snapshot-delete and an event');
  });
});
