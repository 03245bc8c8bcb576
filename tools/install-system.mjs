#!/usr/bin/env node
// Installs (or, with --uninstall, removes) libvirt-dbus as the system's org.libvirt service: the
// program, the bus policy, the activation files of both buses, the interface XMLs, the polkit rule,
// the man page, a sandboxed systemd unit and the `libvirtdbus` user (with its sysusers.d file) — what the Debian package of
// the reference installs, plus the unit. Honours DESTDIR (staging) and PREFIX (default /usr/local).
// Every installed path is recorded in a manifest, so uninstalling removes exactly those files.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const uninstall = process.argv.includes('--uninstall');
const destdir = process.env.DESTDIR ?? '';
const prefix = process.env.PREFIX ?? '/usr/local';
// Paths dbus-daemon, polkit and systemd read: under /usr for a distribution prefix, /etc otherwise.
const vendor = prefix === '/usr';
const paths = {
  libdir: join(prefix, 'lib', 'libvirt-dbus'),
  sbindir: join(prefix, 'sbin'),
  busPolicyDir: vendor ? '/usr/share/dbus-1/system.d' : '/etc/dbus-1/system.d',
  systemServicesDir: join(prefix, 'share/dbus-1/system-services'),
  sessionServicesDir: join(prefix, 'share/dbus-1/services'),
  interfacesDir: join(prefix, 'share/dbus-1/interfaces'),
  polkitDir: vendor ? '/usr/share/polkit-1/rules.d' : '/etc/polkit-1/rules.d',
  unitDir: vendor ? '/usr/lib/systemd/system' : '/etc/systemd/system',
  man8Dir: join(prefix, 'share/man/man8'),
  // systemd-sysusers reads /usr/lib, /usr/local/lib and /etc sysusers.d.
  sysusersDir: join(prefix, 'lib/sysusers.d'),
};
const manifestPath = join(paths.libdir, 'install-manifest.txt');
const at = (p) => join(destdir || '/', p);
const say = (s) => console.log(s);

if (uninstall) {
  const manifest = at(manifestPath);
  if (!existsSync(manifest)) {
    console.error(`nothing to uninstall: ${manifest} not found (was it installed with this PREFIX and DESTDIR?)`);
    process.exit(1);
  }
  const files = readFileSync(manifest, 'utf8').split('\n').filter(Boolean);
  for (const f of files) rmSync(at(f), { force: true });
  rmSync(at(manifestPath), { force: true });
  // Remove the folders the program lived in, deepest first, if now empty.
  const dirs = [...new Set(files.filter((f) => f.startsWith(paths.libdir)).map((f) => dirname(f)))].sort((a, b) => b.length - a.length);
  for (let d of dirs) {
    while (d.startsWith(paths.libdir)) {
      try {
        rmdirSync(at(d));
      } catch {
        break;
      }
      d = dirname(d);
    }
  }
  say(`removed ${files.length} files (the user libvirtdbus is kept, as Debian keeps system users)`);
  reloadBus();
  process.exit(0);
}

if (!existsSync(join(root, 'dist/src/cli.js'))) {
  say('==> building first (npm run build)');
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('build failed: run `npm ci && npm run build` and try again');
    process.exit(1);
  }
}

const installed = [];
function put(target, content, mode = 0o644) {
  mkdirSync(dirname(at(target)), { recursive: true });
  writeFileSync(at(target), content);
  chmodSync(at(target), mode);
  installed.push(target);
}
const subst = (text) => text.replaceAll('@sbindir@', paths.sbindir).replaceAll('@libdir@', paths.libdir);
const data = (p) => readFileSync(join(root, 'data', p), 'utf8');

// The program: compiled code, package.json (for "type": "module" and the version), the native addon.
function copyTree(rel, filter) {
  const src = join(root, rel);
  if (!existsSync(src)) return;
  if (statSync(src).isDirectory()) {
    for (const name of readdirSync(src)) copyTree(join(rel, name), filter);
  } else if (filter(rel)) {
    put(join(paths.libdir, rel), readFileSync(src), statSync(src).mode & 0o777);
  }
}
copyTree('dist/src', (p) => p.endsWith('.js'));
copyTree('src/unix', (p) => p.endsWith('.node'));
put(join(paths.libdir, 'package.json'), readFileSync(join(root, 'package.json')));
// The start-up snapshot, after dist/src: bin/libvirt-dbus uses it only when it is the newer.
copyTree('dist', (p) => /^dist\/libvirt-dbus-[^/]*\.blob$/.test(p));
put(join(paths.libdir, 'bin/libvirt-dbus'), readFileSync(join(root, 'bin/libvirt-dbus')), 0o755);
// The node that installed it runs it (node flags are in bin/libvirt-dbus).
put(
  join(paths.sbindir, 'libvirt-dbus'),
  `#!/bin/sh\nLIBVIRT_DBUS_NODE=${process.execPath} exec ${join(paths.libdir, 'bin/libvirt-dbus')} "$@"\n`,
  0o755,
);

put(join(paths.busPolicyDir, 'org.libvirt.conf'), data('dbus-1/system.d/org.libvirt.conf'));
put(join(paths.systemServicesDir, 'org.libvirt.service'), subst(data('dbus-1/system-services/org.libvirt.service.in')));
put(join(paths.sessionServicesDir, 'org.libvirt.service'), subst(data('dbus-1/services/org.libvirt.service.in')));
for (const f of readdirSync(join(root, 'data')).filter((f) => /^org\.libvirt\..*\.xml$/.test(f))) {
  put(join(paths.interfacesDir, f), data(f));
}
put(join(paths.polkitDir, 'libvirt-dbus.rules'), data('polkit-1/rules.d/libvirt-dbus.rules'));
put(join(paths.unitDir, 'libvirt-dbus.service'), subst(data('systemd/libvirt-dbus.service.in')));
put(join(paths.man8Dir, 'libvirt-dbus.8'), data('man/libvirt-dbus.8'));
put(join(paths.sysusersDir, 'libvirt-dbus.conf'), data('sysusers.d/libvirt-dbus.conf'));
put(manifestPath, installed.concat(manifestPath).join('\n') + '\n');
say(`installed ${installed.length} files under ${destdir || '/'} (PREFIX=${prefix})`);

if (!destdir) {
  ensureUser();
  reloadBus();
} else {
  say('DESTDIR is set: the user libvirtdbus is not created (the package manager does that on the target)');
}

function ensureUser() {
  if (spawnSync('getent', ['passwd', 'libvirtdbus']).status === 0) return;
  if (process.getuid?.() !== 0) {
    say('not root: create the system user libvirtdbus yourself');
    return;
  }
  // The sysusers.d file just installed says who the user is; systemd-sysusers creates it from that.
  const sysusers = spawnSync('systemd-sysusers', [join(paths.sysusersDir, 'libvirt-dbus.conf')], { stdio: 'inherit' });
  if (sysusers.status !== 0) {
    const r = spawnSync(
      'adduser',
      [
        '--quiet',
        '--system',
        '--group',
        '--disabled-login',
        '--home',
        '/nonexistent',
        '--no-create-home',
        '--gecos',
        'libvirt-dbus user',
        'libvirtdbus',
      ],
      { stdio: 'inherit' },
    );
    if (r.status !== 0)
      spawnSync(
        'useradd',
        [
          '--system',
          '--user-group',
          '--home-dir',
          '/nonexistent',
          '--no-create-home',
          '--shell',
          '/usr/sbin/nologin',
          '--comment',
          'libvirt-dbus user',
          'libvirtdbus',
        ],
        { stdio: 'inherit' },
      );
  }
  say('created the system user libvirtdbus');
}

function reloadBus() {
  // A running system bus picks up the new policy and activation file.
  if (destdir || !existsSync('/run/dbus/system_bus_socket')) return;
  spawnSync(
    'dbus-send',
    ['--system', '--type=method_call', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.ReloadConfig'],
    { stdio: 'ignore' },
  );
}
