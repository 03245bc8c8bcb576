// The installed service on an unprivileged user's session bus, the way Cockpit's Machines reaches a
// user's own VMs: `npm run install-system` staged (DESTDIR) and seen at /usr/local inside a private
// mount namespace; there, nobody's session bus reads the installed session activation file; a call
// from nobody to org.libvirt starts /usr/local/sbin/libvirt-dbus --session as nobody, which starts
// nobody's own libvirtd (libvirt's autostart) and answers from it. Needs root (unshare, setpriv).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { busConfig } from '../../tools/sandbox/bus.js';
import { NOBODY, prepareUnprivileged, type Unprivileged } from '../helpers/unprivileged.js';
import { runOk } from '../helpers/run.js';

const root = new URL('../../../', import.meta.url).pathname;
let user: Unprivileged;

before(() => {
  user = prepareUnprivileged();
});
after(async () => {
  await user?.cleanup();
});

test('nobody calls org.libvirt on its session bus: the installed service is activated and answers through its own libvirtd', {
  timeout: 120_000,
}, async () => {
  const stage = join(user.dir, 'stage');
  const install = spawnSync(process.execPath, [join(root, 'tools/install-system.mjs')], {
    env: { ...process.env, PREFIX: '/usr/local', DESTDIR: stage },
    encoding: 'utf8',
  });
  assert.equal(install.status, 0, install.stderr + install.stdout);
  const services = '/usr/local/share/dbus-1/services';
  assert.match(readFileSync(join(stage, services, 'org.libvirt.service'), 'utf8'), /^Exec=\/usr\/local\/sbin\/libvirt-dbus --session$/m);

  // A session bus of nobody's whose only service directory is the installed one.
  const busDir = join(user.dir, 'bus');
  mkdirSync(busDir);
  chmodSync(busDir, 0o777);
  const config = join(user.dir, 'session.conf');
  writeFileSync(config, busConfig(busDir, { listen: `unix:path=${busDir}/bus`, serviceDirs: [services] }));
  const bus = spawn(
    'unshare',
    [
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      `mount --bind '${join(stage, 'usr/local')}' /usr/local && exec setpriv --reuid=${NOBODY} --regid=${NOBODY} --clear-groups dbus-daemon --config-file=${config} --nofork --nosyslog`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: user.env() },
  );
  let busLog = '';
  bus.stderr.on('data', (b: Buffer) => {
    busLog += b.toString();
  });
  try {
    for (let i = 0; i < 200 && !existsSync(join(busDir, 'bus')); i++) await new Promise((r) => setTimeout(r, 25));
    const address = `unix:path=${busDir}/bus`;
    const gdbus = (...args: string[]) =>
      runOk('setpriv', user.setpriv('gdbus', 'call', '--address', address, ...args), { env: user.env(), timeout: 90_000 });
    const stdout = await gdbus(
      '--dest',
      'org.libvirt',
      '--object-path',
      '/org/libvirt/Test',
      '--method',
      'org.libvirt.Connect.ListDomains',
      '0',
    );
    assert.match(stdout, /\/org\/libvirt\/Test\/domain\/_/, busLog);

    const pidOut = await gdbus(
      '--dest',
      'org.freedesktop.DBus',
      '--object-path',
      '/org/freedesktop/DBus',
      '--method',
      'org.freedesktop.DBus.GetConnectionUnixProcessID',
      'org.libvirt',
    );
    const pid = Number(/uint32 (\d+)/.exec(pidOut)?.[1]);
    assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), new RegExp(`^Uid:\\s+${NOBODY}\\s`, 'm'), 'the service runs as nobody');
    assert.match(
      readFileSync(`/proc/${pid}/cmdline`, 'utf8'),
      /--snapshot-blob\0\/usr\/local\/lib\/libvirt-dbus\/dist\/libvirt-dbus-v[\d.]+\.blob\0--\0--session\0$/,
      'started from the installed snapshot',
    );
    const daemon = user.daemonPid();
    assert.ok(daemon, "nobody's libvirtd was started");
    assert.match(readFileSync(`/proc/${daemon}/status`, 'utf8'), new RegExp(`^Uid:\\s+${NOBODY}\\s`, 'm'));
  } finally {
    // The activated service exits when its bus goes away.
    if (bus.exitCode === null) {
      await new Promise<void>((r) => {
        bus.once('exit', () => r());
        bus.kill('SIGTERM');
      });
    }
  }
});
