// The one set-up of the service tests: a private bus, a private libvirtd, an org.libvirt service on
// that bus — ours as bin/libvirt-dbus (as a client meets it), ours inside this process, or the C
// reference — and clients: our DBusConnection (`client`) and, on demand, a python3-dbus peer (`peer`).
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DBusConnection, type DBusError, type Message } from '../../src/dbus/index.js';
import { LibvirtDBusService } from '../../src/service/service.js';
import { type PrivateBus, startBus } from '../helpers/bus.js';
import { errorOf } from '../helpers/errors.js';
import { type LibvirtdOptions, type PrivateLibvirtd, startLibvirtd } from '../helpers/libvirtd.js';
import { IFACE } from './iface.js';
import { DBusPeer, PeerCallError } from './peer.js';

export { IFACE };
export const DEST = 'org.libvirt';
export const TEST = '/org/libvirt/Test';
/** The test driver's built-in running domain 'test'. */
export const TEST_UUID = '6695eb01-f6a4-8304-79aa-97f2502e193f';
export const TEST_PATH = `${TEST}/domain/_${TEST_UUID.replaceAll('-', '_')}`;
/** Path of bin/libvirt-dbus. */
export const BIN = fileURLToPath(new URL('../../../bin/libvirt-dbus', import.meta.url));

/** The D-Bus error a peer's call fails with. */
export const peerError = (p: Promise<unknown>): Promise<PeerCallError> => errorOf(p, PeerCallError);

/** A client of an org.libvirt service on a bus. */
export class Client {
  constructor(readonly conn: DBusConnection) {}

  /** Calls a method and resolves with the reply body. */
  call(path: string, iface: string, member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    return this.conn.call({ destination: DEST, path, interface: iface, member, signature, body, timeout: 60_000 });
  }

  /** Calls a method of org.libvirt.Domain. */
  dom(path: string, member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    return this.call(path, IFACE.Domain, member, signature, body);
  }

  /** Calls a method and resolves with its error (rejects if it succeeds). */
  fails(path: string, iface: string, member: string, signature = '', body: unknown[] = []): Promise<DBusError> {
    return errorOf<DBusError>(this.call(path, iface, member, signature, body));
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

/** A service run as its own process (ours or the reference). */
export interface RunningService {
  child: ChildProcess;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** First line it wrote to stdout (the --listen address), once there. */
  stdoutLine(): Promise<string>;
  /** Stops it with SIGTERM and resolves with its exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts bin/libvirt-dbus (or `program`) with `args` and DBUS_SESSION_BUS_ADDRESS=`busAddress`;
 * with `waitForName`, waits until org.libvirt answers on that bus.
 */
export async function startService(
  busAddress: string | undefined,
  args: string[],
  waitForName = true,
  program?: string,
): Promise<RunningService> {
  const env = { ...process.env };
  if (busAddress) env.DBUS_SESSION_BUS_ADDRESS = busAddress;
  // bin/libvirt-dbus is a shell script (it starts node from the start-up snapshot), run as itself.
  env.LIBVIRT_DBUS_NODE ??= process.execPath;
  const argv = program ? [program, ...args] : [BIN, ...args];
  const child = spawn(argv[0] as string, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (b: Buffer) => {
      stdout += b.toString();
      const nl = stdout.indexOf('\n');
      if (nl >= 0) resolve(stdout.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`service exited (${code}): ${stderr}`)));
  });
  firstLine.catch(() => {});
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const svc: RunningService = {
    child,
    stderr: () => stderr,
    stdoutLine: () => firstLine,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
  if (waitForName && busAddress) {
    const conn = await DBusConnection.connect(busAddress, { bus: true });
    try {
      // Ours answers once it owns the name; the reference owns it before its objects answer.
      const ready = () =>
        (program
          ? conn.call({ destination: DEST, path: TEST, interface: 'org.freedesktop.DBus.Peer', member: 'Ping', timeout: 5000 })
          : conn.call({
              destination: 'org.freedesktop.DBus',
              path: '/org/freedesktop/DBus',
              interface: 'org.freedesktop.DBus',
              member: 'NameHasOwner',
              signature: 's',
              body: [DEST],
            })
        ).then(
          (r) => program !== undefined || r[0] === true,
          () => false,
        );
      const deadline = Date.now() + 20_000;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`service exited (${child.exitCode}): ${stderr}`);
        const pong = await ready();
        if (pong) break;
        if (Date.now() > deadline) throw new Error(`service did not answer as org.libvirt: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } catch (err) {
      await svc.stop();
      throw err;
    } finally {
      conn.close();
    }
  }
  return svc;
}

/** Which org.libvirt a fixture runs. */
export type FixtureService = 'ours' | 'ours-in-process' | 'reference';

/** Options of startFixture(). */
export interface FixtureOptions {
  /** Default 'ours': bin/libvirt-dbus. The reference serves test:///default in its own process. */
  service?: FixtureService;
  /** What the private libvirtd offers besides its plain UNIX sockets (SASL, TCP, TLS). */
  libvirtd?: LibvirtdOptions;
  /**
   * Our service's arguments, given the private daemon (default: `--session --no-default-connects
   * --connect Test=<its test driver>`). In process, only the `--connect NAME=URI` pairs count.
   */
  args?: (libvirtd: PrivateLibvirtd) => string[];
}

/** A running fixture. */
export interface Fixture {
  bus: PrivateBus;
  libvirtd: PrivateLibvirtd;
  /** The service process (not for 'ours-in-process'). */
  process?: RunningService;
  /** The service object (only for 'ours-in-process'). */
  service?: LibvirtDBusService;
  /** Our D-Bus client on the bus. */
  client: Client;
  /** A python3-dbus client on the bus, started on first use. */
  readonly peer: DBusPeer;
  /** Stops everything it started, in reverse order. */
  stop(): Promise<void>;
}

/** The `--connect NAME=URI` pairs of an argument list. */
function connectsOf(args: string[]): Array<{ name: string; uri: string }> {
  const connects: Array<{ name: string; uri: string }> = [];
  args.forEach((a, i) => {
    const pair = a === '--connect' ? args[i + 1] : undefined;
    const eq = pair?.indexOf('=') ?? -1;
    if (pair && eq > 0) connects.push({ name: pair.slice(0, eq), uri: pair.slice(eq + 1) });
  });
  return connects;
}

/** Starts a private bus and libvirtd, the chosen service and a client. */
export async function startFixture(options: FixtureOptions = {}): Promise<Fixture> {
  const choice = options.service ?? 'ours';
  const stops: Array<() => Promise<unknown> | unknown> = [];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s();
  };
  try {
    const bus = await startBus();
    stops.push(() => bus.stop());
    const libvirtd = await startLibvirtd(options.libvirtd);
    stops.push(() => libvirtd.stop());
    const args = (options.args ?? ((lv) => ['--session', '--no-default-connects', '--connect', `Test=${lv.testUri}`]))(libvirtd);
    let proc: RunningService | undefined;
    let service: LibvirtDBusService | undefined;
    if (choice === 'ours-in-process') {
      service = new LibvirtDBusService({ connects: connectsOf(args), reconnectDelays: [] });
      const serviceConn = await DBusConnection.connect(bus.address, { bus: true });
      const s = service;
      stops.push(async () => {
        await s.close();
        serviceConn.close();
      });
      await service.ownName(serviceConn);
    } else {
      proc = await (choice === 'reference'
        ? startService(bus.address, ['--session'], true, '/usr/sbin/libvirt-dbus')
        : startService(bus.address, args));
      const p = proc;
      stops.push(() => p.stop());
    }
    const client = new Client(await DBusConnection.connect(bus.address, { bus: true }));
    stops.push(() => client.close());
    let peer: DBusPeer | undefined;
    stops.push(() => peer?.close());
    return {
      bus,
      libvirtd,
      process: proc,
      service,
      client,
      get peer() {
        peer ??= new DBusPeer(bus.address);
        return peer;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Waits until `cond` holds (polling), or fails after `ms`. */
export async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
