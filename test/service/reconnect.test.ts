// The service when libvirtd goes away and comes back: a call in flight fails at once with
// org.libvirt.Error, calls while the daemon is down fail with org.libvirt.Error (no hang), the
// connection comes back by itself so signals resume without any call, and calls succeed again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { PrivateLibvirtd } from '../helpers/libvirtd.js';
import { type Fixture, IFACE, peerError, startFixture } from './fixture.js';
import type { DBusPeer } from './peer.js';

const T = '/org/libvirt/Test';
let fx: Fixture;
let lv: PrivateLibvirtd;
let peer: DBusPeer;

before(async () => {
  fx = await startFixture();
  lv = fx.libvirtd;
  peer = fx.peer;
});

after(async () => {
  await fx?.stop();
});

const listNetworks = () => peer.call(T, IFACE.Connect, 'ListNetworks', 'u', [0]);

test('libvirtd killed and restarted', async () => {
  await peer.subscribe({ iface: IFACE.Connect, member: 'NetworkEvent' });
  const [before] = (await listNetworks()) as [string[]];
  assert.equal(before.length, 1);
  const defaultNet = before[0] as string;

  // A call in flight when the daemon dies: freeze the daemon so the call stays pending, then kill it.
  process.kill(lv.pid, 'SIGSTOP');
  const pending = peerError(peer.call(T, IFACE.Connect, 'GetCapabilities'));
  await new Promise((r) => setTimeout(r, 300));
  await lv.kill();
  const inFlight = await pending;
  assert.equal(inFlight.errorName, 'org.libvirt.Error');

  // While the daemon is down: libvirt's error (cannot connect), not a timeout.
  const down = await peerError(listNetworks());
  assert.equal(down.errorName, 'org.libvirt.Error');
  // The service itself is still there.
  assert.equal((await peer.call(T, 'org.freedesktop.DBus.Peer', 'Ping').then(() => 'pong')) as string, 'pong');

  await lv.restart();
  // Without making any call, the service reconnects and registers its event callbacks again:
  // toggle the network until its lifecycle events come through.
  const deadline = Date.now() + 30_000;
  let got = false;
  while (!got && Date.now() < deadline) {
    const mark = peer.signals.length;
    await lv.virsh(lv.testUri, 'net-destroy', 'default').catch(() => '');
    await lv.virsh(lv.testUri, 'net-start', 'default').catch(() => '');
    try {
      await peer.waitForSignal((s) => peer.signals.indexOf(s) >= mark && s.args[0] === defaultNet, 1000);
      got = true;
    } catch {
      // not reconnected yet
    }
  }
  assert.ok(got, 'NetworkEvent signals resumed after the restart');
  assert.deepEqual(await listNetworks(), [[defaultNet]]);
});
