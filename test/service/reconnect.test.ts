// The service when libvirtd goes away and comes back: a call in flight fails at once with
// org.libvirt.Error, calls while the daemon is down fail with org.libvirt.Error (no hang), the
// connection comes back by itself so signals resume without any call, and calls succeed again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type PrivateBus, startBus } from '../helpers/bus.js';
import { type PrivateLibvirtd, startLibvirtd } from '../helpers/libvirtd.js';
import { DBusPeer, PeerCallError } from './peer.js';
import { type RunningService, startService } from './service-fixture.js';

const T = '/org/libvirt/Test';
let bus: PrivateBus;
let lv: PrivateLibvirtd;
let svc: RunningService;
let peer: DBusPeer;

before(async () => {
  bus = await startBus();
  lv = await startLibvirtd();
  svc = await startService(bus.address, ['--session', '--no-default-connects', '--connect', `Test=${lv.testUri}`]);
  peer = new DBusPeer(bus.address);
});

after(async () => {
  await peer?.close();
  await svc?.stop();
  await lv?.stop();
  await bus?.stop();
});

async function errorOf(p: Promise<unknown>): Promise<PeerCallError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PeerCallError, String(err));
    return err;
  }
  assert.fail('the call succeeded');
}

const listNetworks = () => peer.call(T, 'org.libvirt.Connect', 'ListNetworks', 'u', [0]);

test('libvirtd killed and restarted', async () => {
  await peer.subscribe({ iface: 'org.libvirt.Connect', member: 'NetworkEvent' });
  const [before] = (await listNetworks()) as [string[]];
  assert.equal(before.length, 1);
  const defaultNet = before[0] as string;

  // A call in flight when the daemon dies: freeze the daemon so the call stays pending, then kill it.
  process.kill(lv.pid, 'SIGSTOP');
  const pending = errorOf(peer.call(T, 'org.libvirt.Connect', 'GetCapabilities'));
  await new Promise((r) => setTimeout(r, 300));
  await lv.kill();
  const inFlight = await pending;
  assert.equal(inFlight.errorName, 'org.libvirt.Error');

  // While the daemon is down: libvirt's error (cannot connect), not a timeout.
  const down = await errorOf(listNetworks());
  assert.equal(down.errorName, 'org.libvirt.Error');
  // The service itself is still there.
  assert.equal(
    (await peer.call(T, 'org.freedesktop.DBus.Peer', 'Ping').then(() => 'pong')) as string,
    'pong',
  );

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
