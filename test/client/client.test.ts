// The typed client (libvirt-dbus/client) against the real thing: our service on a private bus
// in front of a private libvirtd, its answers compared with virsh on the same daemon.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { type ConnectProxy, type DomainProxy, NetworkProxy, OrgLibvirt } from '../../src/client/index.js';
import { DBusError } from '../../src/dbus/index.js';
import { generateClient } from '../../tools/gen-client.js';
import { lines, type PrivateLibvirtd } from '../helpers/libvirtd.js';
import { type Fixture, startFixture } from '../service/fixture.js';

const root = new URL('../../../', import.meta.url).pathname;
let fx: Fixture;
let lv: PrivateLibvirtd;
let test_: ConnectProxy;

before(async () => {
  fx = await startFixture();
  lv = fx.libvirtd;
  test_ = await OrgLibvirt.connect(fx.bus.address, 'Test', { bus: true });
});

after(async () => {
  test_?.connection.close();
  await fx?.stop();
});

/** Waits for `p` or fails after `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

test('the generated client is up to date with data/org.libvirt.*.xml', () => {
  assert.equal(readFileSync(`${root}src/client/org-libvirt.gen.ts`, 'utf8'), generateClient(`${root}data`), 'run npm run generate:client');
});

test('listDomains gives Domain proxies whose typed properties agree with virsh', async () => {
  const domains = await test_.listDomains(0);
  const names = await Promise.all(domains.map((d) => d.name));
  assert.deepEqual(names.sort(), lines(await lv.virsh(lv.testUri, 'list', '--all', '--name')));
  const d = domains.find((_, i) => names[i] === 'test') as DomainProxy;
  assert.equal(await d.uuid, (await lv.virsh(lv.testUri, 'domuuid', 'test')).trim());
  assert.equal(typeof (await d.id), 'number');
  assert.equal(await d.active, true);
  const all = await d.getAll();
  assert.equal(all.Name, 'test');
  assert.equal(all.UUID, await d.uuid);
  assert.equal(all.Active, true);
  assert.equal(all.OSType, (await lv.virsh(lv.testUri, 'dominfo', 'test')).match(/OS Type:\s+(\S+)/)?.[1]);
  assert.match(await d.getXMLDesc(0), /<name>test<\/name>/);
  assert.equal((await test_.domainLookupByName('test')).objectPath, d.objectPath);
});

test('a read-write property is set through its setter, as virsh sees it', async () => {
  const net = await test_.networkLookupByName('default');
  assert.ok(net instanceof NetworkProxy);
  const before = await net.autostart;
  await net.setAutostart(!before);
  try {
    assert.equal(await net.autostart, !before);
    assert.match(await lv.virsh(lv.testUri, 'net-info', 'default'), new RegExp(`Autostart:\\s+${!before ? 'yes' : 'no'}`));
  } finally {
    await net.setAutostart(before);
  }
});

test('signals arrive typed, with object paths as proxies', async () => {
  const [d] = await Promise.all([test_.domainLookupByName('test')]);
  const events: Array<{ domain: DomainProxy; event: number }> = [];
  let wake: () => void = () => {};
  const seen = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const stop = test_.onDomainEvent((domain, event) => {
    events.push({ domain, event });
    wake();
  });
  try {
    await test_.hostname; // a round trip: the match rule is in place before the event is caused
    await d.suspend();
    await within(seen, 30_000, 'DomainEvent');
    assert.equal(events[0]?.domain.objectPath, d.objectPath);
    assert.equal(events[0]?.event, 3, 'VIR_DOMAIN_EVENT_SUSPENDED');
    assert.equal(await events[0]?.domain.name, 'test');
  } finally {
    stop();
    await d.resume();
  }
});

test("libvirt's errors reach the caller as org.libvirt.Error", async () => {
  await assert.rejects(test_.domainLookupByName('no-such-domain'), (err: unknown) => {
    assert.ok(err instanceof DBusError);
    assert.equal(err.errorName, 'org.libvirt.Error');
    assert.match(err.message, /no-such-domain|not found/i);
    return true;
  });
});

// Type-level checks, compiled by the build and never run: a wrong use must not compile (an
// unused @ts-expect-error fails the build).
export async function wrongUsesDoNotCompile(c: ConnectProxy): Promise<void> {
  // @ts-expect-error flags is a number
  await c.listDomains('0');
  const [d] = await c.listDomains(0);
  // @ts-expect-error Name is a string
  const n: number = await d!.name;
  // @ts-expect-error Autostart is a boolean
  await (await c.networkLookupByName('default')).setAutostart(1);
  // @ts-expect-error the event handler's first argument is a DomainProxy
  c.onDomainEvent((domain: string) => domain);
  void n;
}
