// The service run by an unprivileged user on its session bus — what Cockpit's Machines uses for a
// user's own VMs: bin/libvirt-dbus --session as nobody (setpriv) starts that user's libvirtd
// (libvirt's autostart) and answers /org/libvirt/Test and /org/libvirt/QEMU through it (asked through
// the typed client). Needs root.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { type DomainProxy, ORG_LIBVIRT, OrgLibvirt } from '../../src/client/index.js';
import { DBusConnection } from '../../src/dbus/index.js';
import { startBus } from '../helpers/bus.js';
import { NOBODY, prepareUnprivileged, type Unprivileged } from '../helpers/unprivileged.js';

let user: Unprivileged;
before(() => {
  user = prepareUnprivileged();
});
after(async () => {
  await user?.cleanup();
});

it('bin/libvirt-dbus --session as that user: Test and QEMU answer through the autostarted daemon', { timeout: 120_000 }, async () => {
  // A bus the user can reach: its socket in a directory anyone may enter.
  const busDir = join(user.dir, 'bus');
  mkdirSync(busDir, { mode: 0o755 });
  const bus = await startBus({ listen: `unix:dir=${busDir}` });
  const service = spawn('setpriv', user.setpriv(join(user.code, 'bin', 'libvirt-dbus'), '--session'), {
    env: user.env({ DBUS_SESSION_BUS_ADDRESS: bus.address, LIBVIRT_DBUS_NODE: process.execPath }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  service.stderr.on('data', (d) => {
    stderr += d;
  });
  const conn = await DBusConnection.connect(bus.address, { bus: true });
  try {
    for (let i = 0; ; i++) {
      // Raw: a question to the bus itself, not to the service.
      const [owned] = await conn.call({
        destination: 'org.freedesktop.DBus',
        path: '/org/freedesktop/DBus',
        interface: 'org.freedesktop.DBus',
        member: 'NameHasOwner',
        signature: 's',
        body: ['org.libvirt'],
      });
      if (owned) break;
      assert.ok(i < 200 && service.exitCode === null, `the service did not take org.libvirt: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // The first call autostarts the user's daemon: allow it as long as before (90 s).
    const typed = (name: string) => OrgLibvirt.on(conn, name, ORG_LIBVIRT, { timeout: 90_000 });
    const test = await typed('Test').listDomains(0);
    assert.equal(test.length, 1);
    assert.equal(await (test[0] as DomainProxy).name, 'test');
    assert.deepEqual(await typed('QEMU').listDomains(0), []); // qemu:///session of a user with no VMs
    const started = user.daemonPid();
    assert.ok(started, 'the user daemon runs');
    assert.match(readFileSync(`/proc/${started}/status`, 'utf8'), new RegExp(`^Uid:\\s+${NOBODY}\\s`, 'm'));
  } finally {
    conn.close();
    service.kill('SIGTERM');
    await new Promise((r) => (service.exitCode !== null ? r(null) : service.once('exit', r)));
    await bus.stop();
  }
});
