// A real `npm run install-system` (PREFIX=/usr/local) on this machine, then D-Bus activation on a
// private *system* bus that reads the installed policy and activation files: a call to org.libvirt
// as root starts our service under the user libvirtdbus through dbus-daemon-launch-helper and is
// answered; a caller that is neither root nor in group libvirt is refused by the policy.
// The bus runs as messagebus (the launch helper insists) in a private mount namespace where
// /run/dbus is a folder of the test, so the service finds the bus at the default system address.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, chmodSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemBusConfig } from '../../tools/sandbox/system-bus.js';
import { run, runOk } from '../helpers/run.js';

const root = new URL('../../../', import.meta.url).pathname;

test('installed service is D-Bus activated on the system bus as libvirtdbus; the policy refuses others', async (t) => {
  assert.equal(process.getuid?.(), 0, 'this test installs into the system and must run as root (CI does)');
  const install = spawnSync(process.execPath, [join(root, 'tools/install-system.mjs')], {
    env: { ...process.env, PREFIX: '/usr/local', DESTDIR: '' },
    encoding: 'utf8',
  });
  assert.equal(install.status, 0, install.stderr + install.stdout);
  after(() => {
    spawnSync(process.execPath, [join(root, 'tools/install-system.mjs'), '--uninstall'], {
      env: { ...process.env, PREFIX: '/usr/local', DESTDIR: '' },
    });
  });
  assert.equal(spawnSync('getent', ['passwd', 'libvirtdbus']).status, 0, 'the system user libvirtdbus exists');

  const dir = mkdtempSync(join(tmpdir(), 'sysbus-'));
  chmodSync(dir, 0o755);
  const runDbus = join(dir, 'run-dbus');
  mkdirSync(runDbus);
  spawnSync('chown', ['messagebus', runDbus, dir]);
  writeFileSync(join(dir, 'system.conf'), systemBusConfig({ activation: true, pidfile: join(dir, 'pid') }));
  const bus = spawn(
    'unshare',
    [
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      `mkdir -p /run/dbus && mount --bind ${runDbus} /run/dbus && exec setpriv --reuid=messagebus --regid=messagebus --init-groups dbus-daemon --config-file=${dir}/system.conf --nofork --nosyslog`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let busLog = '';
  bus.stderr.on('data', (b: Buffer) => {
    busLog += b.toString();
  });
  after(async () => {
    // The activated service exits when its bus goes away.
    if (bus.exitCode === null)
      await new Promise<void>((r) => {
        bus.once('exit', () => r());
        bus.kill('SIGTERM');
      });
    rmSync(dir, { recursive: true, force: true });
  });
  const socket = join(runDbus, 'system_bus_socket');
  for (let i = 0; i < 200 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 25));
  const address = `unix:path=${socket}`;

  const gdbus = (...args: string[]) => runOk('gdbus', ['call', '--address', address, ...args], { timeout: 30_000 });
  const props = await gdbus(
    '--dest',
    'org.libvirt',
    '--object-path',
    '/org/libvirt/QEMU',
    '--method',
    'org.freedesktop.DBus.Introspectable.Introspect',
  );
  assert.match(props, /org\.libvirt\.Connect/, busLog);

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
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
  const expectedUid = Number(spawnSync('id', ['-u', 'libvirtdbus'], { encoding: 'utf8' }).stdout.trim());
  assert.equal(uid, expectedUid, 'the service runs as libvirtdbus');
  assert.match(
    readFileSync(`/proc/${pid}/cmdline`, 'utf8'),
    /--snapshot-blob\0\/usr\/local\/lib\/libvirt-dbus\/dist\/libvirt-dbus-v[\d.]+\.blob\0--\0--system\0$/,
    'started from the installed snapshot',
  );

  await t.test('a caller outside root and group libvirt is refused', async () => {
    const refused = await run('setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      'gdbus',
      'call',
      '--address',
      address,
      '--dest',
      'org.libvirt',
      '--object-path',
      '/org/libvirt/QEMU',
      '--method',
      'org.freedesktop.DBus.Peer.Ping',
    ]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.err, /AccessDenied/);
  });
});
