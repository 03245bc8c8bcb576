// The org.libvirt service: a set of Connect objects (one per hypervisor URI) exported on any
// number of D-Bus connections — the bus it owns org.libvirt on, and peers of a DBusServer.
// Each Connect object is one registered object plus one dynamic subtree per object kind, and an
// object manager over them.

import type { DBusConnection, Registration } from '../dbus/index.js';
import { RequestNameFlags, RequestNameReply } from '../dbus/index.js';
import { CallerConnections, type CallerConnectionsOptions } from './caller-identity.js';
import { ChangeNotifier } from './changes.js';
import { ConnectInterface } from './connect.js';
import { ConnectObject, type OpenHook, type SignalSink } from './connect-object.js';
import { registerDomainEvents } from './domain-events.js';
import { connectEventBindings } from './events.js';
import { interfaceOf } from './interfaces.js';
import { objectKinds } from './object-kinds.js';

/** The well-known name of the service. */
export const BUS_NAME = 'org.libvirt';

/** A Connect object to create: its name (last path element) and libvirt URI. */
export interface ConnectSpec {
  name: string;
  uri: string;
}

const SESSION_CONNECTS: readonly ConnectSpec[] = [
  { name: 'QEMU', uri: 'qemu:///session' },
  { name: 'Test', uri: 'test:///default' },
  { name: 'UML', uri: 'uml:///session' },
  { name: 'VBox', uri: 'vbox:///session' },
  { name: 'VMwareFusion', uri: 'vmwarefusion:///session' },
  { name: 'VMwarePlayer', uri: 'vmwareplayer:///session' },
  { name: 'VMwareWS', uri: 'vmwarews:///session' },
];

const SYSTEM_CONNECTS: readonly ConnectSpec[] = [
  { name: 'BHyve', uri: 'bhyve:///system' },
  { name: 'LXC', uri: 'lxc:///' },
  { name: 'OpenVZ', uri: 'openvz:///system' },
  { name: 'QEMU', uri: 'qemu:///system' },
  { name: 'Test', uri: 'test:///default' },
  { name: 'UML', uri: 'uml:///system' },
  { name: 'VBox', uri: 'vbox:///system' },
  { name: 'VZ', uri: 'vz:///system' },
  { name: 'Xen', uri: 'xen:///' },
];

/** The Connect objects the reference exports on the session or the system bus. */
export function defaultConnects(bus: 'session' | 'system'): ConnectSpec[] {
  return (bus === 'system' ? SYSTEM_CONNECTS : SESSION_CONNECTS).map((c) => ({ ...c }));
}

/**
 * `base` with `overrides` applied: an override with a name already there replaces its URI in
 * place, a new name is appended.
 */
export function mergeConnects(base: readonly ConnectSpec[], overrides: readonly ConnectSpec[]): ConnectSpec[] {
  const out = base.map((c) => ({ ...c }));
  for (const o of overrides) {
    const same = out.find((c) => c.name === o.name);
    if (same) same.uri = o.uri;
    else out.push({ ...o });
  }
  return out;
}

/** Options of the service. */
export interface ServiceOptions {
  /** The Connect objects to export. */
  connects: readonly ConnectSpec[];
  /** Background reconnect delays after a lost libvirt connection (see ConnectObjectOptions). */
  reconnectDelays?: readonly number[];
  /**
   * --caller-identity: libvirt calls made for a caller run on a connection whose identity is the
   * caller's (virConnectSetIdentity); off by default, as the reference acts with its own rights.
   */
  callerIdentity?: boolean | CallerConnectionsOptions;
}

/** Registers the domain module's event callbacks (the reference's 22 domain events and 3 beyond them) on every opened connection. */
const domainEventsHook: OpenHook = (conn, connectPath, emit) => registerDomainEvents(conn, connectPath, emit);

/** The org.libvirt service: Connect objects exported on D-Bus connections. */
export class LibvirtDBusService {
  /** Connect objects by name. */
  readonly connects = new Map<string, ConnectObject>();
  private readonly exported = new Map<DBusConnection, Registration[]>();
  /** Change notification of each Connect object (its implementations announce what calls create or delete). */
  private readonly changes = new Map<ConnectObject, ChangeNotifier>();
  /** The connections acting as callers, with --caller-identity. */
  readonly callers: CallerConnections | undefined;

  constructor(options: ServiceOptions) {
    const ci = options.callerIdentity;
    this.callers = ci ? new CallerConnections(ci === true ? {} : ci) : undefined;
    const emit: SignalSink = (path, iface, member, signature, body) => this.emitSignal(path, iface, member, signature, body);
    for (const spec of options.connects) {
      if (!/^[A-Za-z0-9_]+$/.test(spec.name)) throw new Error(`invalid Connect object name '${spec.name}'`);
      // Change notification sees the Connect object's signals on their way out (changes.ts).
      const changes: ChangeNotifier = new ChangeNotifier((): ConnectObject => connect, emit);
      const connect: ConnectObject = new ConnectObject({
        name: spec.name,
        uri: spec.uri,
        emit: changes.sink,
        events: connectEventBindings,
        hooks: [domainEventsHook, changes.hook],
        reconnectDelays: options.reconnectDelays,
        callers: this.callers,
      });
      this.connects.set(spec.name, connect);
      this.changes.set(connect, changes);
    }
  }

  /** Exports every object on `conn` (a bus connection or a peer); undone when it closes. */
  export(conn: DBusConnection): void {
    if (this.exported.has(conn)) return;
    if (this.callers) conn.objects.callScope = this.callers.callScopeFor(conn);
    const regs: Registration[] = [];
    for (const connect of this.connects.values()) {
      const changes = this.changes.get(connect) as ChangeNotifier;
      regs.push(conn.registerObject(connect.path, ConnectInterface.declaration, changes.implementationFor(ConnectInterface, connect)));
      for (const kind of objectKinds) {
        const root = kind.subtreePath(connect.path);
        const iface = interfaceOf(kind);
        regs.push(
          conn.registerSubtree(
            root,
            {
              enumerate: async () => {
                try {
                  return await kind.elements(await connect.connection());
                } catch {
                  return []; // as the reference: no children when libvirt cannot be asked
                }
              },
              // Like the reference, the subtree root itself also reports the interface.
              introspect: () => [iface.declaration],
              dispatch: (child, ifaceName) =>
                ifaceName === iface.name
                  ? changes.implementationFor(iface, { connect, path: child === null ? root : `${root}/${child}` })
                  : undefined,
            },
            // The root answers like an object only for the reference's sake: the manager leaves it out.
            { dispatchToUnenumeratedNodes: true, rootIsManaged: false },
          ),
        );
      }
      // org.freedesktop.DBus.ObjectManager on the Connect object: every object below it (changes.ts announces them).
      regs.push(conn.objects.addObjectManager(connect.path));
    }
    this.exported.set(conn, regs);
    conn.once('closed', () => this.unexport(conn));
  }

  /** Removes the objects from `conn`. */
  unexport(conn: DBusConnection): void {
    const regs = this.exported.get(conn);
    if (!regs) return;
    this.exported.delete(conn);
    for (const r of regs) r.unregister();
  }

  /** Broadcasts a signal on every connection the objects are exported on. */
  emitSignal(path: string, iface: string, member: string, signature: string, body: unknown[]): void {
    for (const conn of this.exported.keys()) {
      try {
        conn.emitSignal(null, path, iface, member, signature, body);
      } catch {
        // a connection closing right now; its 'closed' handler unexports it
      }
    }
  }

  /**
   * Exports on a bus connection and takes the name org.libvirt (without queueing). Throws with a
   * one-line reason if the name is taken.
   */
  async ownName(bus: DBusConnection, name = BUS_NAME): Promise<void> {
    this.export(bus);
    const reply = await bus.requestName(name, RequestNameFlags.DoNotQueue);
    if (reply !== RequestNameReply.PrimaryOwner && reply !== RequestNameReply.AlreadyOwner) {
      this.unexport(bus);
      throw new Error(`the name ${name} is already owned on this bus`);
    }
  }

  /** Closes every libvirt connection and removes the objects from every D-Bus connection. */
  async close(): Promise<void> {
    for (const conn of [...this.exported.keys()]) this.unexport(conn);
    await Promise.all([...this.connects.values()].map((c) => c.close()));
    await this.callers?.close();
  }
}
