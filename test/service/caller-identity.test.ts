// --caller-identity against the real thing: a private libvirtd with access_drivers = [ "polkit" ],
// a private polkitd on the private system bus whose rules let user alice see and start only the
// domain alice-vm, and our service on that bus. Callers are real processes (gdbus run as alice or
// bob with setpriv), so polkit judges them by their own pid, start time and uid. Without the option
// the service acts with its own rights, as the reference does.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { DBusConnection } from '../../src/dbus/index.js';
import { canConnect } from '../../tools/sandbox/net.js';
import { type SandboxUser, startSystemSandbox, type SystemSandbox } from '../../tools/sandbox/system-bus.js';
import { IFACE } from './iface.js';

const execFileAsync = promisify(execFile);
const ALICE: SandboxUser = { name: 'alice', uid: 64101 };
const BOB: SandboxUser = { name: 'bob', uid: 64102 };

// Root may do everything (the service and the test act as root); alice may use the connection and
// the domain alice-vm only; bob is left to the policy's defaults (he sees domains: getattr is
// allowed to anyone by org.libvirt.api.policy) except that starting anything is refused.
// The service's user libvirtdbus (used by one test) gets everything but connect.write.
const RULES = `polkit.addRule(function(action, subject) {
  if (subject.user == "root") return polkit.Result.YES;
  if (subject.user == "libvirtdbus") return action.id == "org.libvirt.api.connect.write" ? polkit.Result.NOT_HANDLED : polkit.Result.YES;
  if (action.id.indexOf("org.libvirt.api.") != 0) return polkit.Result.NOT_HANDLED;
  if (subject.user == "alice") {
    if (action.id.indexOf("org.libvirt.api.connect.") == 0) return polkit.Result.YES;
    if (action.id.indexOf("org.libvirt.api.domain.") == 0)
      return action.lookup("domain_name") == "alice-vm" ? polkit.Result.YES : polkit.Result.NO;
    return polkit.Result.NO;
  }
  if (subject.user == "bob" && action.id == "org.libvirt.api.domain.start") return polkit.Result.NO;
  return polkit.Result.NOT_HANDLED;
});
`;

const domainXml = (name: string) => `<domain type='qemu'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os><devices></devices></domain>`;

// Inside the sandbox's namespace /run/libvirt is a folder of the sandbox (see p2pSocket()).
const P2P_SOCKET = '/run/libvirt/org.libvirt-p2p';
const p2pSocket = () => join(dirname(sandbox.libvirtSocket), 'org.libvirt-p2p');

let sandbox: SystemSandbox;
let root: DBusConnection;
const paths = new Map<string, string>();

before(async () => {
  sandbox = await startSystemSandbox({
    service: 'ours',
    // Also peer to peer, where the caller is known from the socket's credentials.
    // /org/libvirt/RO is on libvirtd's read-only socket, where virConnectSetIdentity is refused
    // (polkit cannot refuse it to the service here: polkitd allows root everything).
    serviceArgs: [
      '--caller-identity',
      '--listen',
      `unix:path=${P2P_SOCKET}`,
      '--connect',
      `RO=qemu+unix:///system?socket=/run/libvirt/libvirt-sock-ro`,
    ],
    libvirtdConfig: ['access_drivers = [ "polkit" ]'],
    polkit: { rules: RULES, users: [ALICE, BOB] },
  });
  for (const name of ['alice-vm', 'bob-vm']) {
    const file = `${sandbox.dir}/${name}.xml`;
    writeFileSync(file, domainXml(name));
    await sandbox.virsh('define', file);
  }
  root = await DBusConnection.connect(sandbox.busAddress, { bus: true });
  for (const name of ['alice-vm', 'bob-vm']) {
    const [path] = (await root.call({
      destination: 'org.libvirt',
      path: '/org/libvirt/QEMU',
      interface: IFACE.Connect,
      member: 'DomainLookupByName',
      signature: 's',
      body: [name],
    })) as [string];
    paths.set(name, path);
  }
});

after(async () => {
  root?.close();
  await sandbox?.stop();
});

/** What the sandbox's daemons said last, for a failure's message. */
function diagnostics(): string {
  return ['sandbox', 'libvirtd', 'service', 'polkitd'].map((n) => `--- ${n}:\n${sandbox.log(n).slice(-1500)}`).join('\n');
}

/** gdbus call on the private system bus as `user`. */
function gdbusAs(user: SandboxUser, path: string, method: string, ...args: string[]) {
  return sandbox.runAs(user, ['gdbus', 'call', '--system', '--dest', 'org.libvirt', '--object-path', path, '--method', method, ...args]);
}

/** The object paths in gdbus's printout of an `ao` reply. */
function objectPaths(stdout: string): string[] {
  return [...stdout.matchAll(/'(\/org\/libvirt\/[^']+)'/g)].map((m) => m[1] as string).sort();
}

/** Connect.ListDomains(0) on /org/libvirt/QEMU through `conn` (the test's root client by default), sorted. */
const listDomains = async (conn: DBusConnection = root): Promise<string[]> => {
  const [list] = (await conn.call({
    destination: conn.isBus ? 'org.libvirt' : undefined,
    path: '/org/libvirt/QEMU',
    interface: IFACE.Connect,
    member: 'ListDomains',
    signature: 'u',
    body: [0],
  })) as [string[]];
  return [...list].sort();
};

test('as alice, ListDomains returns only alice-vm; as root, every domain', async () => {
  const alice = await gdbusAs(ALICE, '/org/libvirt/QEMU', 'org.libvirt.Connect.ListDomains', '0');
  assert.equal(alice.code, 0, alice.stderr);
  assert.deepEqual(objectPaths(alice.stdout), [paths.get('alice-vm')]);
  assert.deepEqual(await listDomains(), [paths.get('alice-vm'), paths.get('bob-vm')].sort());
  // bob falls to the defaults: he may see both.
  const bob = await gdbusAs(BOB, '/org/libvirt/QEMU', 'org.libvirt.Connect.ListDomains', '0');
  assert.equal(bob.code, 0, bob.stderr);
  assert.deepEqual(objectPaths(bob.stdout), [paths.get('alice-vm'), paths.get('bob-vm')].sort());
});

test('as alice, starting bob-vm is refused with org.libvirt.Error; alice-vm starts', async () => {
  const refused = await gdbusAs(ALICE, paths.get('bob-vm') as string, 'org.libvirt.Domain.Create', '0');
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /org\.libvirt\.Error: access denied/);
  assert.match(await sandbox.virsh('domstate', 'bob-vm'), /shut off/);

  const started = await gdbusAs(ALICE, paths.get('alice-vm') as string, 'org.libvirt.Domain.Create', '0');
  assert.equal(started.code, 0, started.stderr);
  assert.match(await sandbox.virsh('domstate', 'alice-vm'), /running/);
  await sandbox.virsh('destroy', 'alice-vm');
});

test('a property read as alice on bob-vm is refused; on alice-vm it answers', async () => {
  const denied = await gdbusAs(ALICE, paths.get('bob-vm') as string, 'org.freedesktop.DBus.Properties.Get', 'org.libvirt.Domain', 'Name');
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /org\.libvirt\.Error/);
  const name = await gdbusAs(ALICE, paths.get('alice-vm') as string, 'org.freedesktop.DBus.Properties.Get', 'org.libvirt.Domain', 'Name');
  assert.equal(name.code, 0, name.stderr);
  assert.match(name.stdout, /'alice-vm'/);
});

test('bob, refused by his own rules, cannot start a domain that root can', async () => {
  const refused = await gdbusAs(BOB, paths.get('bob-vm') as string, 'org.libvirt.Domain.Create', '0');
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /org\.libvirt\.Error: access denied/);
});

test('events keep arriving for everyone on the service’s own connection', async () => {
  const got = new Promise<string>((resolve) => {
    root.signalSubscribe({ sender: 'org.libvirt', interface: IFACE.Connect, member: 'DomainEvent' }, (m) => resolve(m.body[0] as string));
  });
  await root.call({
    destination: 'org.freedesktop.DBus',
    path: '/org/freedesktop/DBus',
    interface: 'org.freedesktop.DBus',
    member: 'GetId',
  });
  await sandbox.virsh('start', 'bob-vm');
  try {
    assert.equal(await withDeadline(got, 60_000, 'DomainEvent'), paths.get('bob-vm'));
  } finally {
    await sandbox.virsh('destroy', 'bob-vm');
  }
});

test('a caller’s libvirt connection opens on its first call and closes when it leaves the bus', async () => {
  // libvirtd's own count of its clients (virt-admin on the sandbox's admin socket).
  const admin = `libvirtd:///system?socket=${join(dirname(sandbox.libvirtSocket), 'libvirt-admin-sock')}`;
  const clients = async () => {
    const { stdout } = await execFileAsync('virt-admin', ['-c', admin, 'srv-clients-list', 'libvirtd']);
    return stdout.split('\n').filter((l) => /^\s*\d+\s/.test(l)).length;
  };
  // The service's own connection, and one for the test's `root` client, which stays on the bus.
  await listDomains();
  const base = await clients();
  // alice's caller stays on the bus until the file `release` exists.
  const release = join(dirname(sandbox.libvirtSocket), 'release-caller');
  const script = `import dbus, os, time
bus = dbus.SystemBus()
qemu = bus.get_object('org.libvirt', '/org/libvirt/QEMU')
print(len(qemu.ListDomains(dbus.UInt32(0), dbus_interface='org.libvirt.Connect')), flush=True)
while not os.path.exists('/run/libvirt/release-caller'):
    time.sleep(0.05)
`;
  const done = sandbox.runAs(ALICE, ['/usr/bin/python3', '-c', script]);
  try {
    await until(async () => (await clients()) === base + 1);
  } finally {
    writeFileSync(release, '');
  }
  const r = await done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '1', 'alice sees her domain only');
  await until(async () => (await clients()) === base);
});

test('peer to peer, the caller is known from the socket', async () => {
  // Peer to peer the caller is known from the socket (root here: the server only accepts its own user).
  await until(() => canConnect(p2pSocket()));
  const peer = await DBusConnection.connect(`unix:path=${p2pSocket()}`);
  let list: string[];
  try {
    list = await listDomains(peer);
  } finally {
    peer.close();
  }
  assert.deepEqual([...list].sort(), [paths.get('alice-vm'), paths.get('bob-vm')].sort());
});

test('when the identity cannot be set the call fails with org.libvirt.Error: no fallback to the service’s rights', async () => {
  // As installed, the service runs as libvirtdbus; here that user lacks connect.write, which
  // virConnectSetIdentity needs (polkitd allows root everything, so only another user shows this).
  await sandbox.startService('ours', { user: 'libvirtdbus', serviceArgs: ['--caller-identity'] });
  try {
    const refused = await gdbusAs(ALICE, '/org/libvirt/QEMU', 'org.libvirt.Connect.ListDomains', '0');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /org\.libvirt\.Error: Cannot act as the caller: access denied/);
    assert.equal(objectPaths(refused.stdout).length, 0);
    // The service's own rights would have listed both domains.
    await sandbox.startService('ours', { user: 'libvirtdbus', serviceArgs: [] });
    const plain = await gdbusAs(ALICE, '/org/libvirt/QEMU', 'org.libvirt.Connect.ListDomains', '0');
    assert.equal(plain.code, 0, `${plain.stderr}\n${diagnostics()}`);
    assert.deepEqual(objectPaths(plain.stdout), [paths.get('alice-vm'), paths.get('bob-vm')].sort());
  } finally {
    await sandbox.startService('ours');
  }
});

test('without --caller-identity the service acts with its own rights, as the reference', async () => {
  await sandbox.startService('ours', { serviceArgs: ['--connect', `RO=qemu+unix:///system?socket=/run/libvirt/libvirt-sock-ro`] });
  const all = [paths.get('alice-vm'), paths.get('bob-vm')].sort();
  const alice = await gdbusAs(ALICE, '/org/libvirt/QEMU', 'org.libvirt.Connect.ListDomains', '0');
  assert.equal(alice.code, 0, `${alice.stderr}\n${diagnostics()}`);
  assert.deepEqual(objectPaths(alice.stdout), all);
  const ro = await gdbusAs(ALICE, '/org/libvirt/RO', 'org.libvirt.Connect.ListDomains', '0');
  assert.equal(ro.code, 0, ro.stderr);
  assert.deepEqual(
    objectPaths(ro.stdout),
    all.map((p) => p?.replace('/QEMU/', '/RO/')),
  );
});

/** Polls `probe` until it gives a value (a state change we cannot be told of, e.g. polkitd reloading its rules). */
async function until<T>(probe: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`state not reached within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no ${what} within ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
