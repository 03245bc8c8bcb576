// The sysusers.d file that `npm run install-system` installs creates the service's user as
// systemd-sysusers reads it — checked in a throwaway root, never on this host's /etc.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../../', import.meta.url).pathname;

test('install-system installs a sysusers.d file from which systemd-sysusers creates libvirtdbus', (t) => {
  const work = mkdtempSync(join(tmpdir(), 'sysusers-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const dest = join(work, 'dest');
  const r = spawnSync(process.execPath, [join(root, 'tools/install-system.mjs')], {
    env: { ...process.env, DESTDIR: dest, PREFIX: '/usr' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const conf = join(dest, 'usr/lib/sysusers.d/libvirt-dbus.conf');
  const manifest = readFileSync(join(dest, 'usr/lib/libvirt-dbus/install-manifest.txt'), 'utf8');
  assert.match(manifest, /^\/usr\/lib\/sysusers\.d\/libvirt-dbus\.conf$/m);

  const sysroot = join(work, 'root');
  mkdirSync(join(sysroot, 'etc'), { recursive: true });
  const s = spawnSync('systemd-sysusers', [`--root=${sysroot}`, conf], { encoding: 'utf8' });
  assert.equal(s.status, 0, s.stderr);
  const passwd = readFileSync(join(sysroot, 'etc/passwd'), 'utf8');
  const user = /^libvirtdbus:x:(\d+):(\d+):libvirt-dbus user:\/nonexistent:(\S+)$/m.exec(passwd);
  assert.ok(user, `libvirtdbus in ${passwd}`);
  assert.ok(Number(user[1]) < 1000, 'a system uid');
  assert.match(readFileSync(join(sysroot, 'etc/group'), 'utf8'), new RegExp(`^libvirtdbus:x:${user[2]}:`, 'm'));
});
