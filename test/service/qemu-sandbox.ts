// The set-up of the tests that drive real QEMU (TCG) domains: a system sandbox (private system bus,
// libvirtd and org.libvirt service, tools/sandbox/system-bus.ts), a client that hands each signal
// of the service to the test, a folder for the domains' files, and nbdkit disks.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DBusConnection, type Message, type SignalSubscription } from '../../src/dbus/index.js';
import { freePort, waitForListener } from '../../tools/sandbox/net.js';
import { type ServiceChoice, type SystemSandbox, startSystemSandbox } from '../../tools/sandbox/system-bus.js';
import { IFACE } from './iface.js';

/** A running QEMU sandbox. */
export interface QemuSandbox {
  readonly sandbox: SystemSandbox;
  /** Our client on the sandbox's system bus. */
  readonly bus: DBusConnection;
  /** A folder for images and domain XML, removed by stop(). */
  readonly images: string;
  /** Starts nbdkit with `args` (plugin, filters, parameters) on a free port of 127.0.0.1; resolves with the port. */
  nbdkit(args: string[]): Promise<number>;
  /** Stops nbdkit, the client and the sandbox (its libvirtd has its own state: nothing is left behind). */
  stop(): Promise<void>;
}

/** What startQemuSandbox needs to know. */
export interface QemuSandboxOptions {
  service: ServiceChoice;
  /** Which signals of org.libvirt the test wants, each handed to `onSignal` in order. */
  signals: Omit<SignalSubscription, 'sender'>;
  onSignal(m: Message): void;
  /** Prefix of the images folder's name. */
  prefix: string;
  /** The folder's mode: QEMU runs as another user, so it must at least read it (0o777 when QEMU writes there). */
  mode?: number;
}

/** Starts the sandbox and the client; the service has opened its libvirt connection when it resolves. */
export async function startQemuSandbox(o: QemuSandboxOptions): Promise<QemuSandbox> {
  const servers: ChildProcess[] = [];
  let bus: DBusConnection | undefined;
  let images = '';
  const sandbox = await startSystemSandbox({ service: o.service, cockpit: false });
  const stop = async () => {
    for (const s of servers) s.kill('SIGKILL');
    bus?.close();
    await sandbox.stop();
    if (images) rmSync(images, { recursive: true, force: true });
  };
  try {
    bus = await DBusConnection.connect(sandbox.busAddress, { bus: true });
    bus.signalSubscribe({ ...o.signals, sender: 'org.libvirt' }, o.onSignal);
    // Like the reference, the service opens its libvirt connection (and registers its event
    // callbacks) on the first call that needs it; this one also orders the AddMatch before it.
    await bus.call({
      destination: 'org.libvirt',
      path: '/org/libvirt/QEMU',
      interface: IFACE.Connect,
      member: 'ListDomains',
      signature: 'u',
      body: [0],
    });
    images = mkdtempSync(join(tmpdir(), o.prefix));
    chmodSync(images, o.mode ?? 0o755);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    sandbox,
    bus,
    images,
    async nbdkit(args) {
      const port = await freePort();
      const child = spawn('nbdkit', ['-f', '-i', '127.0.0.1', '-p', String(port), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      servers.push(child);
      let stderr = '';
      child.stderr?.on('data', (d) => {
        stderr += d;
      });
      await waitForListener(child, port, () => stderr);
      return port;
    },
    stop,
  };
}
