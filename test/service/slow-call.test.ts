// One slow libvirt call must not stall unrelated calls of other clients: a domain whose QEMU is
// frozen (SIGSTOP) makes GetStats wait on its monitor; meanwhile another client's calls — on the
// connection, on another object, on the same domain without its monitor — are answered. When QEMU
// runs again, the slow call completes too. Calls go through the typed client.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { DomainProxy, ORG_LIBVIRT, OrgLibvirt } from '../../src/client/index.js';
import { DBusConnection } from '../../src/dbus/index.js';
import { startSystemSandbox, type SystemSandbox } from '../../tools/sandbox/system-bus.js';

const VM = 'slow-vm';
const XML = `<domain type='qemu'><name>${VM}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os><devices></devices></domain>`;

let sandbox: SystemSandbox;
let qemuPid = 0;
before(async () => {
  sandbox = await startSystemSandbox({ service: 'ours' });
  const file = `${sandbox.dir}/${VM}.xml`;
  (await import('node:fs')).writeFileSync(file, XML);
  await sandbox.virsh('define', file);
  await sandbox.virsh('start', VM);
  qemuPid = Number(
    execFileSync('pgrep', ['-f', `guest=${VM},`], { encoding: 'utf8' })
      .trim()
      .split('\n')[0],
  );
  assert.ok(qemuPid > 0, 'QEMU runs');
});
after(async () => {
  if (qemuPid > 0) {
    try {
      process.kill(qemuPid, 'SIGCONT');
    } catch {}
  }
  await sandbox?.stop();
});

/** The typed proxy of /org/libvirt/QEMU on `conn`; a call waits for its reply up to 120 s. */
const qemuOn = (conn: DBusConnection) => OrgLibvirt.on(conn, 'QEMU', ORG_LIBVIRT, { timeout: 120_000 });

test('a call stuck on a frozen QEMU does not hold up other calls', async () => {
  const slowClient = await DBusConnection.connect(sandbox.busAddress, { bus: true });
  const otherClient = await DBusConnection.connect(sandbox.busAddress, { bus: true });
  try {
    const other = qemuOn(otherClient);
    const domains = await other.listDomains(0);
    const paths = domains.map((d) => d.objectPath);
    const vmPath = paths[0] as string;
    assert.equal(paths.length, 1);
    const slowVm = new DomainProxy(slowClient, vmPath, ORG_LIBVIRT, { timeout: 120_000 });

    process.kill(qemuPid, 'SIGSTOP');
    let slowDone = false;
    const slow = slowVm.getStats(0, 0).finally(() => {
      slowDone = true;
    });
    // Let the slow call reach libvirt and block on the monitor.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(slowDone, false, 'GetStats waits for the frozen QEMU');

    const hostname = await other.hostname;
    assert.equal(typeof hostname, 'string');
    const again = (await other.listDomains(0)).map((d) => d.objectPath);
    assert.deepEqual(again, paths);
    const xml = await (domains[0] as DomainProxy).getXMLDesc(0);
    assert.match(xml, new RegExp(`<name>${VM}</name>`));
    for (let i = 0; i < 10; i++) {
      await other.listNetworks(0);
    }
    assert.equal(slowDone, false, 'the other calls were answered while GetStats still waited');

    process.kill(qemuPid, 'SIGCONT');
    const stats = await slow;
    assert.ok(stats instanceof Map && stats.size > 0, 'GetStats completes once QEMU runs again');
  } finally {
    slowClient.close();
    otherClient.close();
  }
});
