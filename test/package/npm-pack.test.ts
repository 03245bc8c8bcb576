// The package as its users get it: `npm pack` on a clean copy of the tracked files (its prepack
// step builds dist/), installed into an empty project, where both libraries work from plain
// JavaScript, type-check from TypeScript under node16 and bundler resolution, and the command runs.
// The copy keeps the pack's build away from the dist/ the other tests are running from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };

/** Runs a command to completion and returns its standard output (throws with its stderr on failure). */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/** The tracked files of the repository (what a clone has), without the vendored npm packages. */
function trackedFiles(): string[] {
  return run('git', ['ls-files', '-z'], root)
    .split('\0')
    .filter((f) => f !== '');
}

test('npm pack gives a package whose libraries and command work where it is installed', { timeout: 600_000 }, (t) => {
  const work = mkdtempSync(join(tmpdir(), 'libvirt-dbus-pack-'));
  // npm writes its cache and logs under HOME: keep them out of the real home folder.
  const env = { HOME: join(work, 'home'), npm_config_cache: join(work, 'npm-cache'), npm_config_update_notifier: 'false' };
  mkdirSync(env.HOME);
  t.after(() => rmSync(work, { recursive: true, force: true }));

  const clone = join(work, 'clone');
  for (const f of trackedFiles()) cpSync(join(root, f), join(clone, f), { recursive: false });
  symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'));
  run('npm', ['pack', '--pack-destination', work], clone, env);
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, 'npm pack wrote a tarball');
  const paths = run('tar', ['-tzf', join(work, tarball)], work)
    .split('\n')
    .filter((p) => p !== '' && !p.endsWith('/'))
    .map((p) => p.replace(/^package\//, ''));
  t.diagnostic(`packed: ${tarball}, ${statSync(join(work, tarball)).size} bytes, ${paths.length} files`);

  // What users need is there; tests, benchmarks and sandbox tools are not.
  for (const need of [
    'dist/src/dbus/index.js',
    'dist/src/dbus/index.d.ts',
    'dist/src/libvirt/index.js',
    'dist/src/libvirt/index.d.ts',
    'dist/src/client/index.js',
    'dist/src/client/index.d.ts',
    'dist/src/cli.js',
    'dist/src/main.js',
    'dist/libvirt-dbus.cjs',
    'tools/snapshot.mjs',
    'bin/libvirt-dbus',
    'data/org.libvirt.Domain.xml',
    'src/unix/native/unix.c',
    'tools/install-system.mjs',
    'README.md',
    'CHANGELOG.md',
    'COPYING',
    'package.json',
  ]) {
    assert.ok(paths.includes(need), `the package holds ${need}`);
  }
  for (const p of paths) {
    assert.doesNotMatch(p, /^(test|bench|dist\/test|dist\/bench|dist\/tools|tools\/sandbox)\//, `no ${p} in the package`);
    assert.doesNotMatch(p, /\.test\.|\.map$/, `no ${p} in the package`);
  }

  // An empty project installs the tarball (the package has no dependencies: no registry needed).
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
  run('npm', ['install', '--no-audit', '--no-fund', '--offline', join(work, tarball)], app, env);
  assert.deepEqual(readdirSync(join(app, 'node_modules', pkg.name, 'dist', 'src')).includes('cli.js'), true);

  // Plain JavaScript: a peer-to-peer D-Bus call between a server and a client of the installed
  // library, and the libvirt client's typed error for a daemon that is not there.
  writeFileSync(
    join(app, 'use.mjs'),
    `import { DBusConnection, DBusServer } from 'libvirt-dbus/dbus';
import { LibvirtConnection, LibvirtError } from 'libvirt-dbus/libvirt';
import { OrgLibvirt, DomainProxy } from 'libvirt-dbus/client';
const server = new DBusServer('unix:tmpdir=${work}');
const accepted = [];
server.on('connection', (c) => accepted.push(c));
await server.start();
const client = await DBusConnection.connect(server.clientAddress);
const reply = await client.call({ path: '/', interface: 'org.freedesktop.DBus.Peer', member: 'Ping' });
client.close();
server.stop(true);
let error;
try {
  await LibvirtConnection.open('test+unix:///default?socket=${work}/no-such-socket');
} catch (e) {
  error = e;
}
const proxy = OrgLibvirt.on(client, 'Test');
console.log(JSON.stringify({ ping: reply, accepted: accepted.length, libvirtError: error instanceof LibvirtError, code: error?.code, client: proxy.objectPath, domainProxy: typeof DomainProxy }));
`,
  );
  const out = JSON.parse(run(process.execPath, ['use.mjs'], app, env)) as {
    ping: unknown[];
    accepted: number;
    libvirtError: boolean;
    code: number;
    client: string;
    domainProxy: string;
  };
  assert.deepEqual(out.ping, []);
  assert.equal(out.accepted, 1);
  assert.equal(out.libvirtError, true, 'opening a missing socket fails with LibvirtError');
  assert.equal(typeof out.code, 'number');
  assert.equal(out.client, '/org/libvirt/Test');
  assert.equal(out.domainProxy, 'function');

  // TypeScript: the same uses type-check with the package's declarations, and a wrong use does not.
  writeFileSync(
    join(app, 'use.ts'),
    `import { DBusConnection, type CallOptions } from 'libvirt-dbus/dbus';
import { LibvirtConnection } from 'libvirt-dbus/libvirt';
import { OrgLibvirt, type DomainProxy } from 'libvirt-dbus/client';
export async function names(): Promise<string[]> {
  const qemu = await OrgLibvirt.connect('system', 'QEMU');
  const domains: DomainProxy[] = await qemu.listDomains(0);
  return Promise.all(domains.map((d) => d.name));
}
export async function hostname(uri: string): Promise<string> {
  const conn: LibvirtConnection = await LibvirtConnection.open(uri);
  const { hostname } = await conn.connectGetHostname();
  return hostname;
}
export async function ping(address: string): Promise<unknown[]> {
  const options: CallOptions = { path: '/', interface: 'org.freedesktop.DBus.Peer', member: 'Ping' };
  return (await DBusConnection.connect(address)).call(options);
}
`,
  );
  writeFileSync(
    join(app, 'wrong.ts'),
    `import { LibvirtConnection } from 'libvirt-dbus/libvirt';
import type { DomainProxy } from 'libvirt-dbus/client';
export async function wrong(conn: LibvirtConnection): Promise<number> {
  return (await conn.connectGetHostname()).hostname;
}
export async function wrongName(d: DomainProxy): Promise<number> {
  return d.name;
}
`,
  );
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const typeRoots = join(root, 'node_modules', '@types');
  for (const [module, moduleResolution] of [
    ['node16', 'node16'],
    ['esnext', 'bundler'],
  ]) {
    const common = [
      '--noEmit',
      '--strict',
      '--target',
      'es2022',
      '--module',
      module,
      '--moduleResolution',
      moduleResolution,
      '--typeRoots',
      typeRoots,
      '--types',
      'node',
    ];
    run(process.execPath, [tsc, ...common, 'use.ts'], app, env);
    let errors = '';
    try {
      run(process.execPath, [tsc, ...common, 'wrong.ts'], app, env);
    } catch (err) {
      errors = (err as Error).message;
    }
    // Both wrong returns are caught: the libvirt client's and the org.libvirt client's types.
    assert.match(errors, /wrong\.ts\(4,\d+\): error TS2322/, `${moduleResolution}: ${errors}`);
    assert.match(errors, /wrong\.ts\(7,\d+\): error TS2322/, `${moduleResolution}: ${errors}`);
  }

  // The command, from the start-up snapshot the install step built for this node.
  const installed = join(app, 'node_modules', pkg.name);
  const blob = join(installed, 'dist', `libvirt-dbus-${process.version}.blob`);
  assert.ok(statSync(blob).mtimeMs > statSync(join(installed, 'dist', 'src', 'main.js')).mtimeMs, 'the snapshot is newer than dist/src');
  assert.equal(run('npx', ['--no', '--', 'libvirt-dbus', '--version'], app, env).trim(), `libvirt-dbus ${pkg.version}`);
});
