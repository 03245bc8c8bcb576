// Change notification across a libvirtd restart: the test driver starts again from its built-in
// state, so a domain, a snapshot of the built-in domain and a host interface made before are gone
// and the built-in network, stopped before, is active again; after the service reconnects (by itself) the ObjectManager announces
// what changed while the daemon was away, and a view kept only from signals equals a fresh
// GetManagedObjects.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { OrgLibvirt } from '../../src/client/index.js';
import { View } from './changes-view.js';
import { type Fixture, startFixture } from './fixture.js';

const T = '/org/libvirt/Test';
let fx: Fixture;

before(async () => {
  fx = await startFixture();
});

after(async () => {
  await fx?.stop();
});

test('after libvirtd restarts, what changed meanwhile is announced: InterfacesRemoved (snapshots and host interfaces too), PropertiesChanged', async () => {
  const lv = fx.libvirtd;
  const view = new View(fx.client, T);
  await view.start();
  try {
    const uuid = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c06';
    const path = `${T}/domain/_${uuid.replaceAll('-', '_')}`;
    const xml = join(lv.dir, 'changes-restart.xml');
    writeFileSync(
      xml,
      `<domain type='test'><name>changes-restart</name><uuid>${uuid}</uuid><memory>65536</memory><os><type>hvm</type></os></domain>`,
    );
    let from = view.log.length;
    await lv.virsh(lv.testUri, 'define', xml);
    await view.waitSignal('InterfacesAdded', path, from);
    const testDriver = OrgLibvirt.on(fx.client.conn, 'Test');
    // Kinds without events: made through the service (announced), gone with the restart.
    from = view.log.length;
    const { objectPath: snap } = await (await testDriver.domainLookupByName('test')).snapshotCreateXML(
      '<domainsnapshot><name>changes-restart</name></domainsnapshot>',
      0,
    );
    const { objectPath: iface } = await testDriver.interfaceDefineXML(
      "<interface type='ethernet' name='restart7'><mac address='aa:bb:cc:dd:ee:78'/></interface>",
      0,
    );
    await view.waitSignal('InterfacesAdded', snap, from);
    await view.waitSignal('InterfacesAdded', iface, from);
    const { objectPath: net } = await testDriver.networkLookupByName('default');
    let at = view.changes.length;
    await lv.virsh(lv.testUri, 'net-destroy', 'default');
    await view.waitChange(net, at, (c) => c.get('Active')?.value === false);
    await view.assertCurrent('define and net-destroy');

    from = view.log.length;
    at = view.changes.length;
    await lv.restart();
    // The service reconnects in the background and lists again; no call of ours is needed.
    await view.waitSignal('InterfacesRemoved', path, from);
    await view.waitSignal('InterfacesRemoved', snap, from);
    await view.waitSignal('InterfacesRemoved', iface, from);
    await view.waitChange(net, at, (c) => c.get('Active')?.value === true);
    for (const gone of [path, snap, iface]) assert.equal(view.objects.has(gone), false, gone);
    await view.assertCurrent('the restart');
  } finally {
    view.stop();
  }
});
