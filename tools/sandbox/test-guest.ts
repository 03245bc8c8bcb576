// The small test guest of the guest agent and channel tests: a Linux kernel and an initramfs in which
// busybox is /init and QEMU's guest agent (qemu-ga) answers on the virtio-serial port
// org.qemu.guest_agent.0 — a real agent protocol peer on the guest side of libvirt's agent channel,
// booted diskless under TCG — and busybox `tr` echoes the ports org.libvirt-dbus.test.echo and …echo2,
// each byte plus one, when the domain has them (the guest side of Domain.OpenChannel's test).
//
// Built from Debian packages without installing anything on the host: `apt-get download` fetches the
// cloud kernel, busybox-static and qemu-guest-agent into `.cache/test-guest/` (git-ignored), `dpkg-deb
// -x` unpacks them there, and the initramfs (newc cpio, tools/sandbox/cpio.ts) gets busybox, the
// virtio modules the cloud kernel has as modules (with their dependencies, read from each module's
// `depends=`), qemu-ga with the shared libraries `ldd` finds for it on the host, and a few files the
// tests check against (hostname, os-release, a user with a home for the SSH keys test, a utmp login).
//
// `node dist/tools/sandbox/test-guest.js` prepares it (test/all runs it); the tests only read it
// through testGuestFiles(), which fails with what to run when it is missing.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { type CpioEntry, newcArchive } from './cpio.js';

const execFileAsync = promisify(execFile);

/** The cache folder, at the repository's root (this file runs as dist/tools/sandbox/test-guest.js). */
export const TEST_GUEST_DIR = fileURLToPath(new URL('../../../.cache/test-guest/', import.meta.url));

/** Bumped whenever the guest's contents change (/init's text is hashed into the key as well), so an older cached build is rebuilt. */
const BUILD_VERSION = '2';

/**
 * The key a build is stamped with: BUILD_VERSION and a hash of /init's text, so a change of the init
 * script alone also makes testGuestFiles() ask for a rebuild (the module list is the wanted one, not
 * the resolved one, which is only known after unpacking: the template is what is hashed).
 */
function buildKey(): string {
  return `${BUILD_VERSION}-${createHash('sha256').update(initScript(MODULES)).digest('hex').slice(0, 16)}`;
}

/** The Debian packages the guest is made of (the kernel through its metapackage's dependency). */
const KERNEL_METAPACKAGE = 'linux-image-cloud-amd64';
const PACKAGES = ['busybox-static', 'qemu-guest-agent'];

/** The kernel modules /init loads (their dependencies first); the cloud kernel builds virtio as modules. */
const MODULES = ['virtio_pci', 'virtio_console'];

/** What the guest has, for the tests to compare with what the agent reports. */
export const GUEST = {
  hostname: 'agent-guest',
  user: 'guestuser',
  uid: 1000,
  /** /etc/os-release's ID, NAME, VERSION_ID and PRETTY_NAME. */
  os: { id: 'ldbtestguest', name: 'libvirt-dbus test guest', versionId: '1', prettyName: 'libvirt-dbus test guest 1' },
  /** The guest user's login time in its utmp (seconds since the epoch: 2026-01-01T00:00:00Z). */
  loginTime: 1_767_225_600,
  /** The virtio-serial port qemu-ga listens on, as libvirt names the agent channel. */
  agentPort: 'org.qemu.guest_agent.0',
  /** The virtio-serial ports the guest echoes on (those the domain has), each byte plus one (0xff wraps to 0x00). */
  echoPorts: ['org.libvirt-dbus.test.echo', 'org.libvirt-dbus.test.echo2'],
} as const;

/** The files a domain boots: `<os><kernel>` and `<os><initrd>`, and the kernel's release. */
export interface TestGuestFiles {
  kernel: string;
  initrd: string;
  kernelRelease: string;
}

/** Thrown when the guest has not been prepared (or was prepared by an older builder). */
export class TestGuestMissingError extends Error {
  override name = 'TestGuestMissingError';
}

const stampPath = () => join(TEST_GUEST_DIR, 'ready');

/** The prepared guest's files; throws TestGuestMissingError saying how to prepare it when absent. */
export function testGuestFiles(): TestGuestFiles {
  const stamp = existsSync(stampPath())
    ? (JSON.parse(readFileSync(stampPath(), 'utf8')) as { version?: string; kernelRelease?: string })
    : {};
  const kernel = join(TEST_GUEST_DIR, 'vmlinuz');
  const initrd = join(TEST_GUEST_DIR, 'initrd.img');
  if (stamp.version !== buildKey() || !stamp.kernelRelease || !existsSync(kernel) || !existsSync(initrd)) {
    throw new TestGuestMissingError(
      `the test guest is not prepared in ${TEST_GUEST_DIR}: run \`npm run build && node dist/tools/sandbox/test-guest.js\` ` +
        '(test/all does; it downloads the Debian packages linux-image-cloud-amd64, busybox-static and qemu-guest-agent with apt-get download)',
    );
  }
  return { kernel, initrd, kernelRelease: stamp.kernelRelease };
}

/** Runs a command and returns its standard output; its standard error becomes the error message. */
async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  try {
    return (await execFileAsync(cmd, args, { cwd, maxBuffer: 16 * 1024 * 1024 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** The versioned kernel package the metapackage depends on (e.g. linux-image-6.1.0-57-cloud-amd64). */
async function kernelPackage(): Promise<string> {
  const out = await run('apt-cache', ['depends', KERNEL_METAPACKAGE]);
  const m = /Depends:\s*(linux-image-\S+)/.exec(out);
  if (!m?.[1]) throw new Error(`apt-cache depends ${KERNEL_METAPACKAGE} names no kernel package (run apt-get update?):\n${out}`);
  return m[1];
}

/** The `depends=` field of a kernel module's .modinfo section (module names, possibly none). */
function moduleDepends(ko: Buffer): string[] {
  const at = ko.indexOf('\0depends=');
  if (at < 0) return [];
  const end = ko.indexOf(0, at + 1);
  return ko
    .subarray(at + '\0depends='.length, end)
    .toString('ascii')
    .split(',')
    .filter(Boolean);
}

/** Every module file under `dir` by module name (file names use '-' or '_' interchangeably). */
function moduleFiles(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.ko'))
      out.set(entry.name.slice(0, -3).replaceAll('-', '_'), join(entry.parentPath, entry.name));
  }
  return out;
}

/** `wanted` and their dependencies, each after what it depends on, with their files. */
function moduleLoadOrder(files: Map<string, string>, wanted: readonly string[]): Array<{ name: string; file: string }> {
  const order: Array<{ name: string; file: string }> = [];
  const visit = (name: string) => {
    if (order.some((m) => m.name === name)) return;
    const file = files.get(name);
    if (!file) throw new Error(`kernel module ${name} not found (is it built in? then drop it from MODULES)`);
    for (const dep of moduleDepends(readFileSync(file))) visit(dep);
    order.push({ name, file });
  };
  for (const w of wanted) visit(w);
  return order;
}

/** The shared libraries (and the dynamic loader) `ldd` resolves for `binary` on the host. */
async function sharedLibraries(binary: string): Promise<string[]> {
  const out = await run('ldd', [binary]);
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    if (/not found/.test(line)) throw new Error(`ldd ${binary}: ${line.trim()} (install the Debian package that has it)`);
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)/.exec(line);
    if (m?.[1]) libs.push(m[1]);
  }
  return libs;
}

/** One utmp record (glibc x86_64 layout, 384 bytes) of a user logged in on ttyS0 at `loginTime`. */
function utmpLogin(user: string, loginTime: number): Buffer {
  const b = Buffer.alloc(384);
  b.writeInt16LE(7, 0); // ut_type USER_PROCESS
  b.writeInt32LE(1, 4); // ut_pid
  b.write('ttyS0', 8, 32, 'ascii'); // ut_line
  b.write('S0', 40, 4, 'ascii'); // ut_id
  b.write(user, 44, 32, 'ascii'); // ut_user
  b.writeInt32LE(loginTime, 340); // ut_tv.tv_sec
  return b;
}

/** The guest's /init: mounts, modules, the echo on its port (when the domain has it), then qemu-ga on the agent port. */
function initScript(modules: readonly string[]): string {
  return `#!/bin/busybox sh
# /init of the libvirt-dbus test guest (tools/sandbox/test-guest.ts).
/bin/busybox --install -s /bin
export PATH=/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
hostname -F /etc/hostname
${modules.map((m) => `insmod /lib/modules/${m}.ko || echo "test-guest: insmod ${m} failed"`).join('\n')}
# Prints the device of the virtio-serial port named $1, waiting up to $2 tenths of a second: ports
# appear once virtio_console has probed the device (asynchronously), so they are looked up by name.
port_named() {
  i=0
  while [ $i -lt $2 ]; do
    for d in /sys/class/virtio-ports/*; do
      [ "$(cat "$d/name" 2>/dev/null)" = "$1" ] && { echo "\${d##*/}"; return 0; }
    done
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}
# The echo of port $1, in the background: every byte read on it is written back plus one (255 wraps
# to 0), so the host tells the guest's answer from its own bytes. The port is opened once, read-write
# (it allows one open at a time), and kept open: closing it would discard what the host already sent.
# A read ends (tr exits) whenever no host side is connected; tr then runs again on the same port
# after a pause, so each new host connection gets the echo. A domain without the port skips it.
echo_on() {
  (
    echo_port=$(port_named "$1" 300) || exit 0
    exec 3<>"/dev/$echo_port"
    echo "test-guest: echo on $1 at /dev/$echo_port"
    while :; do
      tr '\\000-\\376\\377' '\\001-\\377\\000' <&3 >&3
      sleep 0.2
    done
  ) &
}
${GUEST.echoPorts.map((p) => `echo_on ${p}`).join('\n')}
port=$(port_named ${GUEST.agentPort} 600)
echo "test-guest: agent port /dev/\${port:-(none)}"
# PID 1 must never exit (the kernel would panic): restart the agent if it ends.
while :; do
  /usr/sbin/qemu-ga -m virtio-serial -p "/dev/$port" -t /run
  echo "test-guest: qemu-ga exited ($?)"
  sleep 1
done
`;
}

/** Adds `entry` after directory entries for each of its missing parents. */
function addWithParents(entries: CpioEntry[], entry: CpioEntry): void {
  const parts = entry.path.split('/').filter(Boolean);
  for (let i = 1; i < parts.length; i++) {
    const dir = parts.slice(0, i).join('/');
    if (!entries.some((e) => e.path === dir)) entries.push({ kind: 'dir', path: dir });
  }
  entries.push({ ...entry, path: parts.join('/') });
}

/** Downloads, unpacks and builds the guest into TEST_GUEST_DIR (replacing an earlier build). */
export async function prepareTestGuest(log: (line: string) => void = () => {}): Promise<TestGuestFiles> {
  const debs = join(TEST_GUEST_DIR, 'debs');
  const root = join(TEST_GUEST_DIR, 'root');
  rmSync(TEST_GUEST_DIR, { recursive: true, force: true });
  mkdirSync(debs, { recursive: true });
  const packages = [await kernelPackage(), ...PACKAGES];
  log(`downloading ${packages.join(' ')}`);
  // As root, apt's download sandbox user could not write here; the files are only unpacked, never installed.
  await run('apt-get', ['download', '-q', '-o', 'APT::Sandbox::User=root', ...packages], debs);
  for (const deb of readdirSync(debs).filter((f) => f.endsWith('.deb'))) await run('dpkg-deb', ['-x', join(debs, deb), root]);

  const releases = readdirSync(join(root, 'lib/modules'));
  const kernelRelease = releases[0];
  if (releases.length !== 1 || !kernelRelease) throw new Error(`expected one kernel in ${root}/lib/modules, found: ${releases.join(', ')}`);
  const modules = moduleLoadOrder(moduleFiles(join(root, 'lib/modules', kernelRelease)), MODULES);
  const qemuGa = join(root, 'usr/sbin/qemu-ga');

  const entries: CpioEntry[] = [];
  for (const dir of ['bin', 'usr/sbin', 'proc', 'sys', 'run', 'etc', 'home', 'lib/modules'])
    addWithParents(entries, { kind: 'dir', path: dir });
  entries.push({ kind: 'dir', path: 'tmp', mode: 0o1777 }, { kind: 'dir', path: 'root', mode: 0o700 });
  entries.push({ kind: 'dir', path: 'dev' }, { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 });
  addWithParents(entries, { kind: 'symlink', path: 'var/run', target: '../run' });
  entries.push({ kind: 'dir', path: `home/${GUEST.user}`, mode: 0o755, uid: GUEST.uid, gid: GUEST.uid });
  const file = (path: string, data: Uint8Array | string, mode = 0o644) => addWithParents(entries, { kind: 'file', path, data, mode });
  file('init', initScript(modules.map((m) => m.name)), 0o755);
  file('bin/busybox', readFileSync(join(root, 'bin/busybox')), 0o755);
  file('usr/sbin/qemu-ga', readFileSync(qemuGa), 0o755);
  for (const lib of await sharedLibraries(qemuGa)) file(lib, readFileSync(lib), 0o755);
  for (const m of modules) file(`lib/modules/${m.name}.ko`, readFileSync(m.file));
  file('etc/hostname', `${GUEST.hostname}\n`);
  file('etc/passwd', `root:x:0:0:root:/root:/bin/sh\n${GUEST.user}:x:${GUEST.uid}:${GUEST.uid}::/home/${GUEST.user}:/bin/sh\n`);
  file('etc/group', `root:x:0:\n${GUEST.user}:x:${GUEST.uid}:\n`);
  const { id, name, versionId, prettyName } = GUEST.os;
  file('etc/os-release', `ID=${id}\nNAME="${name}"\nVERSION_ID=${versionId}\nPRETTY_NAME="${prettyName}"\n`);
  file('run/utmp', utmpLogin(GUEST.user, GUEST.loginTime));

  // QEMU runs as another user: everything it opens must be world-readable.
  const kernel = join(TEST_GUEST_DIR, 'vmlinuz');
  const initrd = join(TEST_GUEST_DIR, 'initrd.img');
  copyFileSync(join(root, 'boot', `vmlinuz-${kernelRelease}`), kernel);
  writeFileSync(initrd, gzipSync(newcArchive(entries)), { mode: 0o644 });
  writeFileSync(stampPath(), `${JSON.stringify({ version: buildKey(), kernelRelease, packages })}\n`);
  log(`test guest ready: ${kernel} (${kernelRelease}), ${initrd}`);
  return { kernel, initrd, kernelRelease };
}

// Run as a program: prepare the guest unless an up-to-date one is there (`--force` rebuilds).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const force = process.argv.includes('--force');
  let ready = false;
  try {
    if (!force) ready = Boolean(testGuestFiles());
  } catch (err) {
    if (!(err instanceof TestGuestMissingError)) throw err;
  }
  if (ready) console.log(`test guest already prepared in ${TEST_GUEST_DIR}`);
  else
    await prepareTestGuest((l) => console.log(l)).catch((err: Error) => {
      console.error(`preparing the test guest failed: ${err.message}`);
      process.exit(1);
    });
}
