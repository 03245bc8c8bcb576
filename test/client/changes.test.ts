// The typed client's change notification (issue 13 item 9) against the real thing: our service
// on a private bus in front of a private libvirtd's test driver, changed behind its back by virsh.
// getManagedObjects gives proxies of the right classes; onInterfacesAdded/onInterfacesRemoved and
// onPropertiesChanged follow net-define/net-start/net-destroy/net-undefine, waited for with
// deadlines; a handler unsubscribed before a change is not called.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  type ConnectProxy,
  DomainProxy,
  type DomainProperties,
  type ManagedObject,
  NetworkProxy,
  type NetworkProperties,
  NodeDeviceProxy,
  OrgLibvirt,
  proxyClasses,
  StoragePoolProxy,
  type Unsubscribe,
} from '../../src/client/index.js';
import type { Variant } from '../../src/dbus/index.js';
import { lines, type PrivateLibvirtd } from '../helpers/libvirtd.js';
import { type Fixture, startFixture, waitFor } from '../service/fixture.js';

const DEADLINE = 20_000;
const NET = 'client-om-net';
const NET_UUID = 'a4c1e4f2-6b9d-4c1a-9e0f-3d2b1c0a9f13';

let fx: Fixture;
let lv: PrivateLibvirtd;
let test_: ConnectProxy;
let dir: string;

before(async () => {
  fx = await startFixture();
  lv = fx.libvirtd;
  test_ = await OrgLibvirt.connect(fx.bus.address, 'Test', { bus: true });
  dir = mkdtempSync(join(tmpdir(), 'client-om-'));
});

after(async () => {
  test_?.connection.close();
  await fx?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The names virsh lists for `command` (with `--all --name`), sorted. */
async function virshNames(command: string): Promise<string[]> {
  return lines(await lv.virsh(lv.testUri, command, '--all', '--name'));
}

test('getManagedObjects gives proxies of the right classes, named as virsh lists them', async () => {
  const objects = await test_.getManagedObjects();
  const domains = objects.flatMap((o) => (o.interfaceName === 'org.libvirt.Domain' ? [o] : []));
  const networks = objects.flatMap((o) => (o.interfaceName === 'org.libvirt.Network' ? [o] : []));
  const pools = objects.flatMap((o) => (o.interfaceName === 'org.libvirt.StoragePool' ? [o] : []));
  for (const d of domains) assert.ok(d.proxy instanceof DomainProxy, d.proxy.objectPath);
  for (const n of networks) assert.ok(n.proxy instanceof NetworkProxy, n.proxy.objectPath);
  for (const p of pools) assert.ok(p.proxy instanceof StoragePoolProxy, p.proxy.objectPath);
  for (const o of objects) assert.equal(o.proxy.interfaceName, o.interfaceName, o.proxy.objectPath);
  assert.ok(
    objects.some((o) => o.proxy instanceof NodeDeviceProxy),
    'node devices are managed objects too',
  );
  // The properties carried by the ObjectManager and those the proxies read agree with virsh.
  assert.deepEqual(domains.map((d) => d.properties.Name).sort(), await virshNames('list'));
  assert.deepEqual((await Promise.all(domains.map((d) => d.proxy.name))).sort(), await virshNames('list'));
  assert.deepEqual(networks.map((n) => n.properties.Name).sort(), await virshNames('net-list'));
  assert.deepEqual(pools.map((p) => p.properties.Name).sort(), await virshNames('pool-list'));
  const test = domains.find((d) => d.properties.Name === 'test');
  assert.equal(test?.properties.Active, true);
  assert.equal(test?.properties.UUID, (await lv.virsh(lv.testUri, 'domuuid', 'test')).trim());
});

test('getManagedObjects is the raw a{oa{sa{sv}}} of GetManagedObjects, as proxies with unwrapped values', async () => {
  const [raw] = (await fx.client.call(test_.objectPath, 'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects')) as [
    Map<string, Map<string, Map<string, Variant>>>,
  ];
  const expected: Array<[string, string, Record<string, unknown>]> = [];
  for (const [path, ifaces] of raw) {
    for (const [iface, props] of ifaces) {
      if (iface in proxyClasses) expected.push([path, iface, Object.fromEntries([...props].map(([k, v]) => [k, v.value]))]);
    }
  }
  const typed = (await test_.getManagedObjects()).map((o) => [o.proxy.objectPath, o.interfaceName, o.properties]);
  const order = (a: unknown[], b: unknown[]) => (`${a[0]} ${a[1]}` < `${b[0]} ${b[1]}` ? -1 : 1);
  assert.ok(expected.length > 0);
  assert.deepEqual(typed.sort(order), expected.sort(order));
});

test('a network defined, started, stopped and undefined with virsh is announced to the typed handlers', async () => {
  const path = `${test_.objectPath}/network/_${NET_UUID.replaceAll('-', '_')}`;
  const added: ManagedObject[] = [];
  const removed: Array<{ objectPath: string; interfaces: string[] }> = [];
  const changes: Array<{ iface: string; changed: Partial<NetworkProperties>; invalidated: string[] }> = [];
  const unsubscribedCalls: unknown[] = [];
  const stops = [
    test_.onInterfacesAdded((o) => added.push(o)),
    test_.onInterfacesRemoved((objectPath, interfaces) => removed.push({ objectPath, interfaces })),
  ];
  const net = new NetworkProxy(test_.connection, path, test_.destination);
  stops.push(net.onPropertiesChanged((iface, changed, invalidated) => changes.push({ iface, changed, invalidated })));
  // Subscribed and at once unsubscribed: must see none of what follows.
  net.onPropertiesChanged((...args) => unsubscribedCalls.push(args))();
  test_.onInterfacesAdded((o) => unsubscribedCalls.push(o))();
  test_.onInterfacesRemoved((p) => unsubscribedCalls.push(p))();
  const xml = join(dir, 'net.xml');
  writeFileSync(xml, `<network><name>${NET}</name><uuid>${NET_UUID}</uuid><bridge name='virbrcom0'/></network>`);
  let defined = false;
  try {
    await test_.hostname; // a round trip: the match rules are in place before virsh acts
    await lv.virsh(lv.testUri, 'net-define', xml);
    defined = true;
    await waitFor(() => added.some((o) => o.proxy.objectPath === path), DEADLINE);
    const a = added.find((o) => o.proxy.objectPath === path);
    assert.equal(a?.interfaceName, 'org.libvirt.Network');
    assert.ok(a?.proxy instanceof NetworkProxy);
    if (a?.interfaceName === 'org.libvirt.Network') {
      assert.equal(a.properties.Name, NET);
      assert.equal(a.properties.Active, false);
      assert.equal(await a.proxy.name, NET);
    }

    await lv.virsh(lv.testUri, 'net-start', NET);
    await waitFor(() => changes.some((c) => c.changed.Active === true), DEADLINE);
    const started = changes.find((c) => c.changed.Active === true);
    assert.equal(started?.iface, 'org.libvirt.Network');
    assert.equal(started?.changed.Persistent, true);
    assert.deepEqual(started?.invalidated, []);
    assert.equal(await net.active, true);

    const from = changes.length;
    await lv.virsh(lv.testUri, 'net-destroy', NET);
    await waitFor(() => changes.slice(from).some((c) => c.changed.Active === false), DEADLINE);
    assert.equal(await net.active, false);

    await lv.virsh(lv.testUri, 'net-undefine', NET);
    defined = false;
    await waitFor(() => removed.some((r) => r.objectPath === path), DEADLINE);
    assert.deepEqual(removed.find((r) => r.objectPath === path)?.interfaces, ['org.libvirt.Network']);
    assert.ok(!(await virshNames('net-list')).includes(NET));

    // Every signal of the steps above has been delivered to the subscribed handlers; one more
    // round trip lets anything still queued for the unsubscribed ones arrive first.
    await test_.hostname;
    assert.deepEqual(unsubscribedCalls, [], 'unsubscribed handlers are not called');
    assert.ok(
      changes.every((c) => c.iface === 'org.libvirt.Network'),
      'only this object and interface',
    );
  } finally {
    for (const stop of stops) stop();
    if (defined) {
      await lv.virsh(lv.testUri, 'net-destroy', NET).catch(() => undefined);
      await lv.virsh(lv.testUri, 'net-undefine', NET).catch(() => undefined);
    }
  }
});

test('onPropertiesChanged is filtered to its object: another network changing does not reach it', async () => {
  const [other] = (await test_.listNetworks(0)).filter((n) => n instanceof NetworkProxy);
  assert.ok(other, 'the test driver has a network');
  const seen: unknown[] = [];
  const stop = other.onPropertiesChanged((...args) => seen.push(args));
  const xml = join(dir, 'net2.xml');
  writeFileSync(xml, `<network><name>${NET}-2</name><bridge name='virbrcom1'/></network>`);
  const added: string[] = [];
  const stopAdded = test_.onInterfacesAdded((o) => {
    if (o.interfaceName === 'org.libvirt.Network' && o.properties.Name === `${NET}-2`) added.push(o.proxy.objectPath);
  });
  const removed: string[] = [];
  const stopRemoved = test_.onInterfacesRemoved((p) => removed.push(p));
  try {
    await test_.hostname;
    await lv.virsh(lv.testUri, 'net-create', xml); // transient: added, then removed when destroyed
    await waitFor(() => added.length > 0, DEADLINE);
    await lv.virsh(lv.testUri, 'net-destroy', `${NET}-2`);
    await waitFor(() => removed.includes(added[0] as string), DEADLINE);
    await test_.hostname;
    assert.deepEqual(seen, []);
  } finally {
    stop();
    stopAdded();
    stopRemoved();
    await lv.virsh(lv.testUri, 'net-destroy', `${NET}-2`).catch(() => undefined);
  }
});

// Type-level checks, compiled by the build and never run: a wrong use must not compile (an
// unused @ts-expect-error fails the build).
export async function wrongUsesDoNotCompile(c: ConnectProxy, d: DomainProxy): Promise<void> {
  d.onPropertiesChanged((_iface, changed) => {
    // @ts-expect-error Domain's Active is a boolean
    const n: number | undefined = changed.Active;
    void n;
  });
  // @ts-expect-error changed has only Domain's properties
  d.onPropertiesChanged((_iface, changed) => changed.NoSuchProperty);
  for (const o of await c.getManagedObjects()) {
    if (o.interfaceName === 'org.libvirt.Network') {
      const p: NetworkProxy = o.proxy; // narrowed with the interface name
      const autostart: boolean | undefined = o.properties.Autostart;
      void p;
      void autostart;
    }
    // @ts-expect-error not narrowed: any interface's proxy
    const p: NetworkProxy = o.proxy;
    void p;
  }
  // @ts-expect-error InterfacesRemoved gives the path and interface names
  c.onInterfacesRemoved((path: number) => path);
}

// The README's example of a current view, compiled by the build (kept in step by hand).
export async function readmeViewCompiles(qemu: ConnectProxy): Promise<Map<string, DomainProperties>> {
  const domains = new Map<string, DomainProperties>(); // by object path
  const watch = (d: DomainProxy) => d.onPropertiesChanged((_iface, changed) => Object.assign(domains.get(d.objectPath) ?? {}, changed));
  const stops = new Map<string, Unsubscribe>();
  const add = (o: ManagedObject) => {
    if (o.interfaceName !== 'org.libvirt.Domain') return;
    domains.set(o.proxy.objectPath, o.properties);
    stops.set(o.proxy.objectPath, watch(o.proxy));
  };
  qemu.onInterfacesAdded(add); // subscribe first, then read once
  qemu.onInterfacesRemoved((path) => {
    domains.delete(path);
    stops.get(path)?.();
    stops.delete(path);
  });
  for (const o of await qemu.getManagedObjects()) add(o);
  return domains;
}
