// Command line of the org.libvirt service, compatible with the reference's:
//   --system / --session   which bus to own org.libvirt on (without either: root → system, else session)
//   -t, --threads N        accepted for compatibility (Node needs no worker pool)
//   -h, --help
// and ours:
//   --version
//   --connect NAME=URI     add a Connect object /org/libvirt/NAME, or point an existing one (e.g.
//                          Test) at another URI; repeatable. The bus's default objects stay.
//   --no-default-connects  export only the --connect objects
//   --listen ADDRESS       also serve the same objects peer to peer on a D-Bus server at ADDRESS
//                          (same-user authentication); its client address is printed on stdout.
//                          With --listen and neither --system nor --session, no bus is used at
//                          all (the defaults are then the session bus's objects).
//   --caller-identity      every libvirt call made for a caller acts as that caller
//                          (virConnectSetIdentity), so libvirt's access control judges it
//   --max-auth-time MS, --max-connections N, --max-incomplete-connections N, --max-pending-calls N,
//   --max-outgoing-bytes N   limits of the --listen servers (dbus-daemon's auth_timeout,
//                          max_completed_connections, max_incomplete_connections,
//                          max_replies_per_connection, max_outgoing_bytes)
// Exits non-zero with a one-line reason when the bus cannot be reached or org.libvirt is taken,
// and when the bus connection is lost; SIGTERM and SIGINT shut down cleanly (exit 0).

import { readFileSync } from 'node:fs';
import {
  compileInterface,
  DBusConnection,
  DBusServer,
  type DBusServerOptions,
  IntrospectableInterface,
  ObjectManagerInterface,
  PeerInterface,
  PropertiesInterface,
} from './dbus/index.js';
import { IdleMemoryReducer } from './service/idle-memory.js';
import { interfaces } from './service/interfaces.js';
import { type ConnectSpec, defaultConnects, LibvirtDBusService, mergeConnects } from './service/service.js';

/** Parsed command line. */
export interface CliOptions {
  bus: 'session' | 'system' | 'none';
  threads: number;
  connects: ConnectSpec[];
  noDefaults: boolean;
  listen: string[];
  /** Limits of the --listen servers; unset ones keep DBusServer's defaults. */
  limits: ListenLimits;
  /** --caller-identity: libvirt calls act as their D-Bus caller. */
  callerIdentity: boolean;
  help: boolean;
  version: boolean;
}

/** The limits of a --listen server that the command line can set. */
export type ListenLimits = Pick<
  DBusServerOptions,
  'authTimeout' | 'maxConnections' | 'maxIncompleteConnections' | 'maxPendingCalls' | 'maxWriteQueue'
>;

// Each --max-… option and the server option it sets.
const LIMIT_OPTIONS: Record<string, keyof ListenLimits> = {
  '--max-auth-time': 'authTimeout',
  '--max-connections': 'maxConnections',
  '--max-incomplete-connections': 'maxIncompleteConnections',
  '--max-pending-calls': 'maxPendingCalls',
  '--max-outgoing-bytes': 'maxWriteQueue',
};

/** A bad command line: message for stderr. */
export class UsageError extends Error {}

const HELP = `Usage:
  libvirt-dbus [OPTION…] - Provide a D-Bus interface to a libvirtd.

Options:
  -h, --help               Show help options
  --system                 Connect to the system bus
  --session                Connect to the session bus
  -t, --threads=N          Configure maximal number of worker threads (accepted, unused)
  --version                Print the version and exit
  --connect NAME=URI       Export /org/libvirt/NAME for URI (repeatable; replaces a default of that name)
  --no-default-connects    Export only the objects given with --connect
  --listen ADDRESS         Also serve peer to peer on a D-Bus server at ADDRESS (e.g. unix:tmpdir=/tmp);
                           without --system/--session no bus is used
  --caller-identity        Make each libvirt call as the D-Bus caller (virConnectSetIdentity), so
                           libvirt's access control judges the caller (see the README)
Limits of the --listen servers (defaults as dbus-daemon's system bus, see the README):
  --max-auth-time=MS       Time a peer has to authenticate (30000)
  --max-connections=N      Authenticated peers at once; more are refused (2048)
  --max-incomplete-connections=N
                           Peers authenticating at once; a new one drops the oldest (64)
  --max-pending-calls=N    Unanswered calls per peer; more get LimitsExceeded (128)
  --max-outgoing-bytes=N   Bytes queued for a peer that does not read before it is dropped (134217728)
`;

/** Parses argv (without node and script); `isRoot` picks the default bus. */
export function parseArgs(argv: readonly string[], isRoot: boolean): CliOptions {
  let system = false;
  let session = false;
  const o: CliOptions = {
    bus: 'session',
    threads: 4,
    connects: [],
    noDefaults: false,
    listen: [],
    limits: {},
    callerIdentity: false,
    help: false,
    version: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`Missing argument for ${name}`);
      i++;
      return next;
    };
    switch (name) {
      case '--system':
        system = true;
        break;
      case '--session':
        session = true;
        break;
      case '-t':
      case '--threads': {
        const v = value();
        if (!/^-?\d+$/.test(v)) throw new UsageError(`Cannot parse integer value “${v}” for ${name}`);
        o.threads = Number(v);
        break;
      }
      case '-h':
      case '--help':
      case '-?':
        o.help = true;
        break;
      case '--version':
        o.version = true;
        break;
      case '--connect': {
        const v = value();
        const at = v.indexOf('=');
        const cname = v.slice(0, at);
        if (at <= 0 || at === v.length - 1 || !/^[A-Za-z0-9_]+$/.test(cname)) {
          throw new UsageError(`--connect expects NAME=URI with NAME of [A-Za-z0-9_], got “${v}”`);
        }
        o.connects.push({ name: cname, uri: v.slice(at + 1) });
        break;
      }
      case '--no-default-connects':
        o.noDefaults = true;
        break;
      case '--caller-identity':
        o.callerIdentity = true;
        break;
      case '--listen':
        o.listen.push(value());
        break;
      default: {
        const limit = LIMIT_OPTIONS[name];
        if (!limit) throw new UsageError(`Unknown option ${arg}`);
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) {
          throw new UsageError(`${name} expects a positive integer, got “${v}”`);
        }
        o.limits[limit] = Number(v);
      }
    }
  }
  if (system && session) throw new UsageError('Only one of --session or --system can be used.');
  if (system) o.bus = 'system';
  else if (session) o.bus = 'session';
  else if (o.listen.length > 0) o.bus = 'none';
  else o.bus = isRoot ? 'system' : 'session';
  return o;
}

/** The version in package.json. */
function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** Runs the service until a signal or the loss of the bus. */
export async function main(argv: readonly string[]): Promise<void> {
  let opts: CliOptions;
  try {
    opts = parseArgs(argv, process.geteuid?.() === 0);
  } catch (err) {
    fail((err as Error).message);
  }
  if (opts.help) {
    process.stdout.write(HELP);
    return;
  }
  if (opts.version) {
    process.stdout.write(`libvirt-dbus ${version()}\n`);
    return;
  }
  const base = opts.noDefaults ? [] : defaultConnects(opts.bus === 'system' ? 'system' : 'session');
  const service = new LibvirtDBusService({ connects: mergeConnects(base, opts.connects), callerIdentity: opts.callerIdentity });
  new IdleMemoryReducer(); // lives as long as the process (its timer is unref'd)

  let stopping = false;
  let bus: DBusConnection | undefined;
  const servers: DBusServer[] = [];
  // The first reason to stop wins; later ones (e.g. our own bus.close() firing 'closed') are ignored.
  const shutdown = async (code: number, message?: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    if (message) process.stderr.write(`${message}\n`);
    // Closing libvirt connections politely must not keep a stuck daemon from letting us exit.
    setTimeout(() => process.exit(code), 5000).unref();
    for (const s of servers) s.stop(true);
    await service.close().catch(() => {});
    bus?.close();
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown(0));
  process.on('SIGINT', () => void shutdown(0));

  if (opts.bus !== 'none') {
    try {
      bus = await DBusConnection.connect(opts.bus);
    } catch (err) {
      fail(`Cannot connect to the ${opts.bus} bus: ${(err as Error).message}`);
    }
    bus.on('closed', () => void shutdown(1, 'Disconnected from D-Bus.'));
    try {
      await service.ownName(bus);
    } catch (err) {
      await shutdown(1, `Cannot own org.libvirt: ${(err as Error).message}`);
      return;
    }
    bus.signalSubscribe(
      { sender: 'org.freedesktop.DBus', interface: 'org.freedesktop.DBus', member: 'NameLost', arg0: 'org.libvirt' },
      () => void shutdown(1, 'Disconnected from D-Bus.'),
    );
  }
  for (const address of opts.listen) {
    const server = new DBusServer(address, { ...opts.limits, requireSameUser: true });
    server.on('connection', (conn: DBusConnection) => service.export(conn));
    try {
      await server.start();
    } catch (err) {
      await shutdown(1, `Cannot listen on ${address}: ${(err as Error).message}`);
      return;
    }
    servers.push(server);
    process.stdout.write(`${server.clientAddress}\n`);
  }
}

/** Work done once while the start-up snapshot is built (tools/bundle.mjs), so that no start repeats it. */
export function prepareSnapshot(): void {
  const standard = [PropertiesInterface, IntrospectableInterface, PeerInterface, ObjectManagerInterface];
  for (const decl of [...[...interfaces.values()].map((i) => i.declaration), ...standard]) compileInterface(decl);
}

/** Entry point of bin/libvirt-dbus: runs main and reports a failure as one line. */
export function run(argv: readonly string[] = process.argv.slice(2)): void {
  main(argv).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
