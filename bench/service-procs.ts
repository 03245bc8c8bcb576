// The two org.libvirt services under comparison, each on its own private bus, both reaching one private
// libvirtd's qemu:///system: ours (bin/libvirt-dbus --connect QEMU=<socket URI>) and the C reference
// (/usr/sbin/libvirt-dbus --system, in a mount namespace whose /run/libvirt is the daemon's socket folder,
// since the reference cannot be pointed at a socket). Plus CPU time of a process from /proc.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DBusConnection } from '../src/dbus/index.js';
import { LibvirtConnection } from '../src/libvirt/index.js';
import { type PrivateBus, startBus } from '../tools/sandbox/bus.js';
import type { PrivateLibvirtd } from '../tools/sandbox/libvirtd.js';

/** A running org.libvirt service and our client connection to it. */
export interface ServiceUnderTest {
  label: string;
  pid: number;
  /** Address of its private bus (for more client connections). */
  address: string;
  client: DBusConnection;
  stop(): Promise<void>;
}

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUS_NAME = 'org.libvirt';

/**
 * Starts our service on a private session bus, its QEMU object pointed at the private daemon; `nodeArgs`
 * go to node itself (e.g. --cpu-prof, which Node 20 refuses in NODE_OPTIONS), through
 * bin/libvirt-dbus's LIBVIRT_DBUS_NODE_ARGS.
 */
export async function startOurs(lvd: PrivateLibvirtd, nodeArgs: string[] = []): Promise<ServiceUnderTest> {
  const bus = await startBus();
  const bin = join(REPO, 'bin', 'libvirt-dbus');
  // bin/libvirt-dbus itself (from its start-up snapshot, as it is run); nodeArgs through its variable.
  const child = spawn(bin, ['--session', '--connect', `QEMU=${lvd.qemuUri}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: bus.address, LIBVIRT_DBUS_NODE_ARGS: nodeArgs.join(' ') },
  });
  return attach('ours', bus, child);
}

/** Starts the reference on a private bus (as its system bus, so its QEMU object is qemu:///system). */
export async function startReference(lvd: PrivateLibvirtd): Promise<ServiceUnderTest> {
  const bus = await startBus();
  const sockDir = dirname(lvd.socketPath);
  // `exec` twice: the spawned pid ends up being libvirt-dbus itself, so /proc/<pid>/stat is its CPU.
  const script = `mount --bind '${sockDir}' /run/libvirt && exec /usr/sbin/libvirt-dbus --system`;
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address },
  });
  return attach('reference', bus, child);
}

async function attach(label: string, bus: PrivateBus, child: ChildProcess): Promise<ServiceUnderTest> {
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const client = await DBusConnection.connect(bus.address, { bus: true });
  const stop = async () => {
    client.close();
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    }
    await bus.stop();
  };
  try {
    const deadline = Date.now() + 30_000;
    while ((await client.getNameOwner(BUS_NAME)) === undefined) {
      if (child.exitCode !== null) throw new Error(`${label} service exited (${child.exitCode}): ${stderr}`);
      if (Date.now() > deadline) throw new Error(`${label} service did not take ${BUS_NAME} within 30 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { label, pid: child.pid ?? -1, address: bus.address, client, stop };
}

const TICK_US = 1_000_000 / 100; // USER_HZ is 100 on Linux (sysconf(_SC_CLK_TCK))

/** User + system CPU time of a process so far, in microseconds (10 ms resolution). */
export function processCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields from after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

/** The bus name and the Connect object both services are measured on. */
export const DEST = 'org.libvirt';
export const CONNECT = '/org/libvirt/QEMU';

/** Connect.ListDomains(0) on the measured Connect object: the domains' paths. */
export async function listDomains(c: DBusConnection, timeout?: number): Promise<string[]> {
  const [paths] = (await c.call({
    destination: DEST,
    path: CONNECT,
    interface: 'org.libvirt.Connect',
    member: 'ListDomains',
    signature: 'u',
    body: [0],
    timeout,
  })) as [string[]];
  return paths;
}

/** Defines `count` inactive QEMU domains named `${prefix}-0`… on the private daemon. */
export async function defineInactiveDomains(lvd: PrivateLibvirtd, prefix: string, count: number): Promise<void> {
  const admin = await LibvirtConnection.open(lvd.qemuUri);
  try {
    for (let i = 0; i < count; i++) {
      await admin.domainDefineXml({
        xml: `<domain type='qemu'><name>${prefix}-${i}</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os></domain>`,
      });
    }
  } finally {
    admin.close();
  }
}

/** VmRSS of a process in KiB. */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

/**
 * One call of the soak mix, by number: 70% succeed (ListDomains, GetAll, GetXMLDesc of `domain`, a
 * defined inactive domain), 30% fail in each way (an unknown domain path, a bad signature, a libvirt
 * error). Resolves either way; rejects only when a call that must fail succeeds.
 */
export function mixedCall(c: DBusConnection, domain: string, i: number, timeout?: number): Promise<unknown> {
  const k = i % 10;
  const dom = (member: string, signature = 'u', body: unknown[] = [0]) =>
    c.call({ destination: DEST, path: domain, interface: 'org.libvirt.Domain', member, signature, body, timeout });
  if (k < 3) return listDomains(c, timeout);
  if (k < 5)
    return c.call({
      destination: DEST,
      path: domain,
      interface: 'org.freedesktop.DBus.Properties',
      member: 'GetAll',
      signature: 's',
      body: ['org.libvirt.Domain'],
      timeout,
    });
  if (k < 7) return dom('GetXMLDesc');
  const fail = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error('expected an error');
      },
      () => undefined,
    );
  if (k === 7) {
    const missing = `${CONNECT}/domain/_00000000_0000_0000_0000_000000000000`;
    return fail(
      c.call({
        destination: DEST,
        path: missing,
        interface: 'org.libvirt.Domain',
        member: 'GetXMLDesc',
        signature: 'u',
        body: [0],
        timeout,
      }),
    );
  }
  if (k === 8) return fail(dom('GetXMLDesc', 's', ['not a number']));
  return fail(dom('Resume')); // a defined, inactive domain: libvirt refuses
}
