// Shared set-up of the org.libvirt.Domain tests: a private bus, a private libvirtd, our service
// (in this process) exporting /org/libvirt/Test for the daemon's test driver, and a client
// connection on the same bus. Optionally the reference libvirt-dbus on a second private bus.
import { type ChildProcess, spawn } from 'node:child_process';
import { DBusConnection, type DBusError, type Message } from '../../src/dbus/index.js';
import { LibvirtDBusService } from '../../src/service/service.js';
import { type PrivateBus, startBus } from '../helpers/bus.js';
import { type PrivateLibvirtd, startLibvirtd } from '../helpers/libvirtd.js';
import { type RunningService, startService } from './service-fixture.js';

export const DEST = 'org.libvirt';
export const TEST = '/org/libvirt/Test';
export const DOMAIN_IFACE = 'org.libvirt.Domain';
export const SNAPSHOT_IFACE = 'org.libvirt.DomainSnapshot';
/** The test driver's built-in running domain 'test'. */
export const TEST_UUID = '6695eb01-f6a4-8304-79aa-97f2502e193f';
export const TEST_PATH = `${TEST}/domain/_${TEST_UUID.replaceAll('-', '_')}`;

/** A client of an org.libvirt service on a bus. */
export class Client {
  constructor(readonly conn: DBusConnection) {}

  /** Calls a method and resolves with the reply body. */
  call(path: string, iface: string, member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    return this.conn.call({ destination: DEST, path, interface: iface, member, signature, body, timeout: 60_000 });
  }

  /** Calls a method of org.libvirt.Domain. */
  dom(path: string, member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    return this.call(path, DOMAIN_IFACE, member, signature, body);
  }

  /** Calls a method and resolves with its error (rejects if it succeeds). */
  async fails(path: string, iface: string, member: string, signature = '', body: unknown[] = []): Promise<DBusError> {
    try {
      await this.call(path, iface, member, signature, body);
    } catch (err) {
      return err as DBusError;
    }
    throw new Error(`${member} succeeded`);
  }

  /** Reads a property. */
  async get(path: string, iface: string, name: string): Promise<unknown> {
    const [v] = await this.call(path, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [iface, name]);
    return (v as { value: unknown }).value;
  }

  /** Collects the signals matching `match` until stopped. */
  collect(match: { sender?: string; interface?: string; member?: string; path?: string }): {
    signals: Message[];
    stop(): void;
  } {
    const signals: Message[] = [];
    const id = this.conn.signalSubscribe({ sender: undefined, ...match }, (m) => signals.push(m));
    return { signals, stop: () => this.conn.signalUnsubscribe(id) };
  }

  close(): void {
    this.conn.close();
  }
}

/** Our service against a private libvirtd's test driver, on a private bus. */
export interface OurService {
  bus: PrivateBus;
  libvirtd: PrivateLibvirtd;
  service: LibvirtDBusService;
  client: Client;
  stop(): Promise<void>;
}

/** Starts bus, libvirtd, our service and a client. */
export async function startOurService(): Promise<OurService> {
  const bus = await startBus();
  const libvirtd = await startLibvirtd();
  const service = new LibvirtDBusService({ connects: [{ name: 'Test', uri: libvirtd.testUri }], reconnectDelays: [] });
  const serviceConn = await DBusConnection.connect(bus.address, { bus: true });
  await service.ownName(serviceConn);
  const client = new Client(await DBusConnection.connect(bus.address, { bus: true }));
  return {
    bus,
    libvirtd,
    service,
    client,
    async stop() {
      client.close();
      await service.close();
      serviceConn.close();
      await libvirtd.stop();
      await bus.stop();
    },
  };
}

/** Our bin/libvirt-dbus as its own process, against a private libvirtd, on a private bus. */
export interface OurProcess {
  bus: PrivateBus;
  libvirtd: PrivateLibvirtd;
  client: Client;
  stop(): Promise<void>;
}

/**
 * Starts bus and libvirtd, then bin/libvirt-dbus with `args(testUri)` (e.g. `--session --connect
 * Test=<testUri>`, the reference's session objects with Test on the private daemon) and a client.
 */
export async function startOurProcess(args: (testUri: string) => string[]): Promise<OurProcess> {
  const bus = await startBus();
  const libvirtd = await startLibvirtd();
  let svc: RunningService;
  try {
    svc = await startService(bus.address, args(libvirtd.testUri));
  } catch (err) {
    await libvirtd.stop();
    await bus.stop();
    throw err;
  }
  const client = new Client(await DBusConnection.connect(bus.address, { bus: true }));
  return {
    bus,
    libvirtd,
    client,
    async stop() {
      client.close();
      await svc.stop();
      await libvirtd.stop();
      await bus.stop();
    },
  };
}

/** The reference libvirt-dbus (test:///default in its own process) on a private bus. */
export interface ReferenceService {
  bus: PrivateBus;
  client: Client;
  stop(): Promise<void>;
}

/** Starts the installed reference on its own private bus and waits until it answers. */
export async function startReference(): Promise<ReferenceService> {
  const bus = await startBus();
  const child: ChildProcess = spawn('/usr/sbin/libvirt-dbus', ['--session'], {
    env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: bus.address },
    stdio: 'ignore',
  });
  const client = new Client(await DBusConnection.connect(bus.address, { bus: true }));
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await client.call(TEST, 'org.freedesktop.DBus.Peer', 'Ping');
      break;
    } catch (err) {
      if (Date.now() > deadline || child.exitCode !== null) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    bus,
    client,
    async stop() {
      client.close();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await bus.stop();
    },
  };
}

/** Waits until `cond` holds (polling), or fails after `ms`. */
export async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
