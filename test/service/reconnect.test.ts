// The service when libvirtd goes away and comes back: a call in flight fails at once with
// org.libvirt.Error, calls while the daemon is down fail with org.libvirt.Error (no hang), the
// connection comes back by itself so signals resume without any call, and calls succeed again.
// Calls and signals go through the typed client.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ConnectProxy } from '../../src/client/index.js';
import { DBusError } from '../../src/dbus/index.js';
import { errorOf } from '../helpers/errors.js';
import type { PrivateLibvirtd } from '../helpers/libvirtd.js';
import { type Fixture, startFixture } from './fixture.js';
import { connectOn, record } from './typed.js';

const T = '/org/libvirt/Test';
let fx: Fixture;
let lv: PrivateLibvirtd;
let test_: ConnectProxy;

before(async () => {
  fx = await startFixture();
  lv = fx.libvirtd;
  test_ = connectOn(fx.client.conn);
});

after(async () => {
  await fx?.stop();
});

const networkPaths = async () => (await test_.listNetworks(0)).map((n) => n.objectPath);

test('libvirtd killed and restarted', async () => {
  const events = record('NetworkEvent', test_.onNetworkEvent.bind(test_));
  try {
    const before = await networkPaths();
    assert.equal(before.length, 1);
    const defaultNet = before[0] as string;

    // A call in flight when the daemon dies: freeze the daemon so the call stays pending, then kill it.
    process.kill(lv.pid, 'SIGSTOP');
    const pending = errorOf(test_.getCapabilities(), DBusError);
    await new Promise((r) => setTimeout(r, 300));
    await lv.kill();
    const inFlight = await pending;
    assert.equal(inFlight.errorName, 'org.libvirt.Error');

    // While the daemon is down: libvirt's error (cannot connect), not a timeout.
    const down = await errorOf(networkPaths(), DBusError);
    assert.equal(down.errorName, 'org.libvirt.Error');
    // The service itself is still there. Raw: org.freedesktop.DBus.Peer is not an org.libvirt interface of the typed client.
    assert.deepEqual(await fx.client.call(T, 'org.freedesktop.DBus.Peer', 'Ping'), []);

    await lv.restart();
    // Without making any call, the service reconnects and registers its event callbacks again:
    // toggle the network until its lifecycle events come through.
    const deadline = Date.now() + 30_000;
    let got = false;
    while (!got && Date.now() < deadline) {
      const mark = events.seen.length;
      await lv.virsh(lv.testUri, 'net-destroy', 'default').catch(() => '');
      await lv.virsh(lv.testUri, 'net-start', 'default').catch(() => '');
      try {
        await events.waitFor(([network], i) => i >= mark && network.objectPath === defaultNet, 1000);
        got = true;
      } catch {
        // not reconnected yet
      }
    }
    assert.ok(got, 'NetworkEvent signals resumed after the restart');
    assert.deepEqual(await networkPaths(), [defaultNet]);
  } finally {
    events.stop();
  }
});
