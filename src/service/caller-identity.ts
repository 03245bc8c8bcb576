// --caller-identity: every libvirt call made for a D-Bus caller runs on a libvirt connection whose
// identity was set (virConnectSetIdentity) to that caller, so libvirt's own access control
// (access_drivers = [ "polkit" ]) judges the caller, not the service. The caller is known from
// the call's scope (an AsyncLocalStorage set around each incoming call by the exporter's
// callScope); its credentials come from the bus (GetConnectionCredentials) or, peer to peer, from
// the socket. Connections are pooled per identity and URI, and closed when the caller leaves the
// bus, its peer connection closes, or they stay idle. If the identity cannot be set the call
// fails: there is no fallback to the service's own rights.

import { AsyncLocalStorage } from 'node:async_hooks';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { type CallScope, type DBusConnection, Variant } from '../dbus/index.js';
import { LibvirtConnection, type RemoteTypedParam } from '../libvirt/index.js';
import { OrgLibvirtError } from './errors.js';
import { dictToTypedParams } from './typed-params.js';

/** The caller of the call being handled: the D-Bus connection it came on and its unique name there (none peer to peer). */
export interface Caller {
  readonly conn: DBusConnection;
  readonly sender: string | undefined;
}

/** Who libvirt is told a connection acts for (the VIR_CONNECT_IDENTITY_* parameters). */
export interface CallerIdentity {
  uid: number;
  gid: number;
  pid: number;
  /** The process's start time (clock ticks since boot, /proc/PID/stat), which with the pid names one process. */
  processTime: bigint;
  userName?: string;
  groupName?: string;
  selinuxContext?: string;
}

/** The calls could not be made as the caller (org.libvirt.Error, as every libvirt failure). */
export class CallerIdentityError extends OrgLibvirtError {
  constructor(message: string) {
    super(`Cannot act as the caller: ${message}`);
    this.name = 'CallerIdentityError';
  }
}

/** Options of CallerConnections. */
export interface CallerConnectionsOptions {
  /** A pooled connection unused this long (and with nothing in flight) is closed (default 60 s). */
  idleTimeout?: number;
  /** Opens a libvirt connection (default: a LibvirtConnection to `uri`). */
  open?: (uri: string) => Promise<LibvirtConnection>;
}

interface PoolEntry {
  readonly key: string;
  readonly identityKey: string;
  conn: Promise<LibvirtConnection>;
  lastUsed: number;
}

/** The libvirt connections opened for callers, one per identity and URI. */
export class CallerConnections {
  private readonly scope = new AsyncLocalStorage<Caller>();
  /** Resolved identities by D-Bus connection and unique name ('' peer to peer). */
  private readonly identities = new WeakMap<DBusConnection, Map<string, Promise<CallerIdentity>>>();
  private readonly pool = new Map<string, PoolEntry>();
  /** How many known callers (unique names, peers) have each identity: a process may hold several. */
  private readonly callers = new Map<string, number>();
  private readonly idleTimeout: number;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: CallerConnectionsOptions = {}) {
    this.idleTimeout = options.idleTimeout ?? 60_000;
  }

  /** The scope to install on `conn`'s exporter: each call it handles runs as its caller. */
  callScopeFor(conn: DBusConnection): CallScope {
    if (conn.isBus) {
      // A caller that leaves the bus takes its connections with it.
      conn.signalSubscribe({ sender: 'org.freedesktop.DBus', interface: 'org.freedesktop.DBus', member: 'NameOwnerChanged' }, (m) => {
        const [name, , newOwner] = m.body as [string, string, string];
        if (name.startsWith(':') && newOwner === '') this.forget(conn, name);
      });
    }
    conn.once('closed', () => this.forget(conn, undefined));
    return (msg, handle) => this.scope.run({ conn, sender: msg.sender }, handle);
  }

  /** The caller of the call being handled, if any. */
  current(): Caller | undefined {
    return this.scope.getStore();
  }

  /** Runs `fn` outside any caller's scope (for what the service does on its own behalf). */
  asService<T>(fn: () => T): T {
    return this.scope.exit(fn);
  }

  /** A libvirt connection to `uri` acting as `caller` (opened and its identity set on first use). */
  async connectionFor(uri: string, caller: Caller): Promise<LibvirtConnection> {
    if (this.closed) throw new CallerIdentityError('the service is shutting down');
    const identity = await this.identityOf(caller);
    const identityKey = identityKeyOf(identity);
    const key = `${uri}\n${identityKey}`;
    let entry = this.pool.get(key);
    if (entry) {
      const conn = await entry.conn.catch(() => undefined);
      if (conn?.isOpen) {
        entry.lastUsed = Date.now();
        return conn;
      }
      if (this.pool.get(key) === entry) this.pool.delete(key);
    }
    entry = { key, identityKey, lastUsed: Date.now(), conn: this.asService(() => this.open(uri, identity)) };
    this.pool.set(key, entry);
    this.scheduleSweep();
    const e = entry;
    e.conn.catch(() => {
      if (this.pool.get(key) === e) this.pool.delete(key);
    });
    return e.conn;
  }

  /** Number of pooled connections (open or opening). */
  get size(): number {
    return this.pool.size;
  }

  /** Closes every pooled connection. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    const entries = [...this.pool.values()];
    this.pool.clear();
    await Promise.all(entries.map((e) => closeEntry(e)));
  }

  private async open(uri: string, identity: CallerIdentity): Promise<LibvirtConnection> {
    const conn = this.options.open ? await this.options.open(uri) : await new LibvirtConnection(uri).open();
    try {
      await conn.connectSetIdentity({ params: identityParams(identity), flags: 0 });
    } catch (err) {
      await conn.close().catch(() => {});
      throw new CallerIdentityError((err as Error).message);
    }
    return conn;
  }

  private identityOf(caller: Caller): Promise<CallerIdentity> {
    let known = this.identities.get(caller.conn);
    if (!known) {
      known = new Map();
      this.identities.set(caller.conn, known);
    }
    const id = caller.sender ?? '';
    let identity = known.get(id);
    if (!identity) {
      identity = resolveIdentity(caller);
      known.set(id, identity);
      identity.then(
        (i) => this.callers.set(identityKeyOf(i), (this.callers.get(identityKeyOf(i)) ?? 0) + 1),
        // A failure is not remembered: the next call asks again.
        () => known?.delete(id),
      );
    }
    return identity;
  }

  /** Drops what is known of `sender` on `conn` (all of it when undefined); connections no caller still has close. */
  private forget(conn: DBusConnection, sender: string | undefined): void {
    const known = this.identities.get(conn);
    if (!known) return;
    const gone = sender === undefined ? [...known.values()] : [known.get(sender)].filter((p) => p !== undefined);
    if (sender === undefined) this.identities.delete(conn);
    else known.delete(sender);
    for (const p of gone) {
      p.then(
        (identity) => this.release(identityKeyOf(identity)),
        () => {},
      );
    }
  }

  /** One fewer caller with `identityKey`; at none, its connections close. */
  private release(identityKey: string): void {
    const n = (this.callers.get(identityKey) ?? 1) - 1;
    if (n > 0) {
      this.callers.set(identityKey, n);
      return;
    }
    this.callers.delete(identityKey);
    for (const e of [...this.pool.values()]) {
      if (e.identityKey !== identityKey) continue;
      this.pool.delete(e.key);
      void closeEntry(e);
    }
  }

  private scheduleSweep(): void {
    if (this.sweepTimer || this.closed) return;
    this.sweepTimer = setTimeout(
      () => {
        this.sweepTimer = undefined;
        void this.sweep();
      },
      Math.max(1000, this.idleTimeout / 2),
    );
    this.sweepTimer.unref();
  }

  private async sweep(): Promise<void> {
    const now = Date.now();
    for (const e of [...this.pool.values()]) {
      if (now - e.lastUsed < this.idleTimeout) continue;
      const conn = await e.conn.catch(() => undefined);
      // A call still waiting or a console still open keeps its connection.
      if (conn && (conn.pendingCalls > 0 || conn.openStreams > 0)) continue;
      if (this.pool.get(e.key) === e) this.pool.delete(e.key);
      await closeEntry(e);
    }
    if (this.pool.size > 0) this.scheduleSweep();
  }
}

async function closeEntry(e: PoolEntry): Promise<void> {
  const conn = await e.conn.catch(() => undefined);
  await conn?.close().catch(() => {});
}

/** One string naming an identity, for pooling. */
function identityKeyOf(i: CallerIdentity): string {
  return `${i.uid}:${i.gid}:${i.pid}:${i.processTime}:${i.selinuxContext ?? ''}`;
}

/** The VIR_CONNECT_IDENTITY_* typed parameters of an identity. */
export function identityParams(i: CallerIdentity): RemoteTypedParam[] {
  const params = new Map<string, Variant>([
    ['unix-user-id', new Variant('t', BigInt(i.uid))],
    ['unix-group-id', new Variant('t', BigInt(i.gid))],
    ['process-id', new Variant('x', BigInt(i.pid))],
    ['process-time', new Variant('t', i.processTime)],
  ]);
  if (i.userName !== undefined) params.set('user-name', new Variant('s', i.userName));
  if (i.groupName !== undefined) params.set('group-name', new Variant('s', i.groupName));
  if (i.selinuxContext !== undefined) params.set('selinux-context', new Variant('s', i.selinuxContext));
  return dictToTypedParams(params);
}

/** The caller's identity: its credentials from the bus or the socket, then what /proc and NSS say of its process and ids. */
async function resolveIdentity(caller: Caller): Promise<CallerIdentity> {
  let uid: number;
  let pid: number;
  let label: string | undefined;
  if (caller.sender !== undefined) {
    const [creds] = (await caller.conn.call({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'GetConnectionCredentials',
      signature: 's',
      body: [caller.sender],
    })) as [Map<string, { value: unknown }>];
    const get = (name: string) => creds.get(name)?.value;
    const u = get('UnixUserID');
    const p = get('ProcessID');
    if (typeof u !== 'number' || typeof p !== 'number') {
      throw new CallerIdentityError(`the bus does not say the user and process of ${caller.sender}`);
    }
    uid = u;
    pid = p;
    const l = get('LinuxSecurityLabel');
    if (l instanceof Uint8Array) label = Buffer.from(l).toString('utf8').replace(/\0+$/, '');
  } else {
    const creds = caller.conn.peerCredentials;
    if (!creds || creds.pid <= 0) throw new CallerIdentityError('the peer’s credentials are not known');
    uid = creds.uid;
    pid = creds.pid;
  }
  const { processTime, gid } = readProcess(pid);
  const [userName, groupName] = await Promise.all([lookupName('passwd', uid), lookupName('group', gid)]);
  // The bus reports AppArmor labels the same way; only an SELinux system has SELinux contexts.
  const selinuxContext = label && existsSync('/sys/fs/selinux/enforce') ? label : undefined;
  return { uid, gid, pid, processTime, userName, groupName, selinuxContext };
}

/** The start time and real group id of process `pid`, from /proc. */
function readProcess(pid: number): { processTime: bigint; gid: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses) start at field 3; start time is field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const gidLine = /^Gid:\s+(\d+)/m.exec(status);
    const time = fields[19];
    if (!gidLine || time === undefined || !/^\d+$/.test(time)) throw new Error('unexpected format');
    return { processTime: BigInt(time), gid: Number(gidLine[1]) };
  } catch (err) {
    throw new CallerIdentityError(`process ${pid} cannot be read: ${(err as Error).message}`);
  }
}

/** A user's or group's name through NSS (getent), or undefined when it has none. */
async function lookupName(db: 'passwd' | 'group', id: number): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)('getent', [db, String(id)], { timeout: 5000 });
    const name = stdout.split(':')[0];
    return name ? name : undefined;
  } catch {
    return undefined;
  }
}
