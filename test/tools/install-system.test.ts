// `npm run install-system` into a staging DESTDIR: every file the Debian package of the reference
// installs (plus the systemd unit) lands where the bus, polkit and systemd read it; uninstall
// removes exactly those files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../../', import.meta.url).pathname;

function install(destdir: string, prefix: string, uninstall = false) {
  const r = spawnSync(process.execPath, [join(root, 'tools/install-system.mjs'), ...(uninstall ? ['--uninstall'] : [])], {
    env: { ...process.env, DESTDIR: destdir, PREFIX: prefix },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  return r.stdout;
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

for (const prefix of ['/usr', '/usr/local']) {
  test(`staged install with PREFIX=${prefix} puts every file in place, uninstall removes them`, () => {
    const dest = mkdtempSync(join(tmpdir(), 'destdir-'));
    try {
      install(dest, prefix);
      const etcOrShare = prefix === '/usr';
      const policy = join(dest, etcOrShare ? 'usr/share/dbus-1/system.d' : 'etc/dbus-1/system.d', 'org.libvirt.conf');
      const p = readFileSync(policy, 'utf8');
      assert.match(p, /<policy user="libvirtdbus">\s*<allow own="org.libvirt"\/>/);
      assert.match(p, /<policy user="root">\s*<allow send_destination="org.libvirt"\/>/);
      assert.match(p, /<policy group="libvirt">\s*<allow send_destination="org.libvirt"\/>/);

      const sys = readFileSync(join(dest, prefix, 'share/dbus-1/system-services/org.libvirt.service'), 'utf8');
      assert.match(sys, /^Name=org\.libvirt$/m);
      assert.match(sys, new RegExp(`^Exec=${prefix}/sbin/libvirt-dbus --system$`, 'm'));
      assert.match(sys, /^User=libvirtdbus$/m);
      const ses = readFileSync(join(dest, prefix, 'share/dbus-1/services/org.libvirt.service'), 'utf8');
      assert.match(ses, new RegExp(`^Exec=${prefix}/sbin/libvirt-dbus --session$`, 'm'));

      const wrapper = join(dest, prefix, 'sbin/libvirt-dbus');
      assert.equal(statSync(wrapper).mode & 0o777, 0o755);
      assert.match(
        readFileSync(wrapper, 'utf8'),
        new RegExp(`^LIBVIRT_DBUS_NODE=${process.execPath} exec ${prefix}/lib/libvirt-dbus/bin/libvirt-dbus "\\$@"$`, 'm'),
      );
      // The start-up snapshot, newer than dist/src (else bin/libvirt-dbus would not use it).
      const blob = join(dest, prefix, `lib/libvirt-dbus/dist/libvirt-dbus-${process.version}.blob`);
      assert.ok(statSync(blob).mtimeMs > statSync(join(dest, prefix, 'lib/libvirt-dbus/dist/src/main.js')).mtimeMs);
      assert.ok(existsSync(join(dest, prefix, 'lib/libvirt-dbus/bin/libvirt-dbus')));
      assert.ok(existsSync(join(dest, prefix, 'lib/libvirt-dbus/dist/src/cli.js')));
      assert.ok(existsSync(join(dest, prefix, 'lib/libvirt-dbus/package.json')));

      const xmls = readdirSync(join(dest, prefix, 'share/dbus-1/interfaces')).sort();
      assert.deepEqual(xmls, [
        'org.libvirt.Connect.xml',
        'org.libvirt.Domain.xml',
        'org.libvirt.DomainCheckpoint.xml',
        'org.libvirt.DomainSnapshot.xml',
        'org.libvirt.Interface.xml',
        'org.libvirt.NWFilter.xml',
        'org.libvirt.Network.xml',
        'org.libvirt.NodeDevice.xml',
        'org.libvirt.Secret.xml',
        'org.libvirt.StoragePool.xml',
        'org.libvirt.StorageVol.xml',
      ]);
      const rules = readFileSync(
        join(dest, etcOrShare ? 'usr/share/polkit-1/rules.d' : 'etc/polkit-1/rules.d', 'libvirt-dbus.rules'),
        'utf8',
      );
      assert.match(rules, /org\.libvirt\.unix\.manage/);
      assert.match(rules, /subject\.user == "libvirtdbus"/);
      const unit = readFileSync(join(dest, etcOrShare ? 'usr/lib/systemd/system' : 'etc/systemd/system', 'libvirt-dbus.service'), 'utf8');
      assert.match(unit, new RegExp(`^ExecStart=${prefix}/sbin/libvirt-dbus --system$`, 'm'));
      assert.match(unit, /^BusName=org\.libvirt$/m);
      assert.match(unit, /^ProtectSystem=strict$/m);
      const man = join(dest, prefix, 'share/man/man8/libvirt-dbus.8');
      const rendered = spawnSync('man', ['-l', man], { encoding: 'utf8' });
      if (rendered.status === 0) assert.match(rendered.stdout, /--listen/);
      else assert.match(readFileSync(man, 'utf8'), /^\.TH LIBVIRT-DBUS 8/m);

      install(dest, prefix, true);
      assert.deepEqual(walk(dest), []);
    } finally {
      rmSync(dest, { recursive: true, force: true });
    }
  });
}

test('the systemd unit passes systemd-analyze verify', () => {
  const dest = mkdtempSync(join(tmpdir(), 'destdir-'));
  try {
    install(dest, '/usr');
    const unit = join(dest, 'usr/lib/systemd/system/libvirt-dbus.service');
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', unit], { encoding: 'utf8' });
    // The ExecStart binary lives under DESTDIR, not on this machine, so only that complaint is allowed.
    const problems = (r.stderr + r.stdout)
      .split('\n')
      .filter((l) => l.trim() && !/libvirt-dbus --system|is not executable|No such file|Command .* is not executable|dbus\.socket/.test(l));
    assert.deepEqual(problems, []);
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
});
