// Change notification for one Connect object: PropertiesChanged with the new values, and the
// ObjectManager's InterfacesAdded / InterfacesRemoved, driven by libvirt's lifecycle events.
//
// It sits between the Connect object and the bus as its signal sink, so it sees every signal the
// existing bindings make of an event (Connect.DomainEvent, NetworkEvent, StoragePoolEvent,
// NodeDeviceEvent, SecretEvent and StoragePool.Refresh) without a second registration with the
// daemon. After such a signal it looks the object up again and reads what changed. All signals of
// the Connect object are emitted in event order, so a PropertiesChanged comes right after the
// signal of its event and before that of any later one, while the reads of successive events run
// in parallel; each read starts after its event, so the last emission about an object carries its
// state after its last event.
//
// Which objects exist: a per-connection set of known paths of every top-level kind, and of each
// kind inside another (volumes, snapshots, checkpoints) per parent, filled by listing them when the
// libvirt connection opens (again after a reconnect, announcing what changed meanwhile: objects
// added and removed, and the others' notified properties read again) and kept by the events. The
// facts are tables in change-tables.ts. Storage volumes have no events: a pool's volumes are
// listed again on its lifecycle and refresh events (`virsh pool-refresh`), so a volume created or
// deleted behind the service's back is announced at the next such event; a domain's snapshots and
// checkpoints likewise on each of its lifecycle events. Snapshots, checkpoints, host interfaces and
// network filters have no events in libvirt at all: the D-Bus methods that create or delete them
// (CALL_EFFECTS) are wrapped (implementationFor) so that, once one has succeeded, what it changed
// is listed again and the difference announced — after the reply, in order with the other signals.
// Host interfaces and network filters changed behind the service's back are announced only at the
// next such call or reconnect.

import { changedProperties, managedProperties, SignalQueue, type Variant } from '../dbus/index.js';
import { type LibvirtConnection, LibvirtConnectionClosedError, LibvirtError, LibvirtProtocolError } from '../libvirt/index.js';
import {
  type AnyKind,
  CALL_EFFECTS,
  type CallEffect,
  CHILD_KINDS,
  type ChildKind,
  childKind,
  LIFECYCLE_SIGNALS,
  TOP_LEVEL_KINDS,
} from './change-tables.js';
import type { OpenHook, SignalSink } from './connect-object.js';
import type { DefinedInterface, InterfaceImplementation } from './declare.js';
import { NOTIFIED_PROPERTIES } from './emits-changed.js';
import { interfaceOf } from './interfaces.js';
import { type ConnectHandle, Kinds, type ServiceObject } from './object-kinds.js';
import { lastElement } from './paths.js';

const OBJECT_MANAGER = 'org.freedesktop.DBus.ObjectManager';
const PROPERTIES = 'org.freedesktop.DBus.Properties';
const CONNECT = 'org.libvirt.Connect';

/** libvirt's error codes for "no such object": the object is gone (any other failure decides nothing). */
const NOT_FOUND = new Set([
  'VIR_ERR_NO_DOMAIN',
  'VIR_ERR_NO_DOMAIN_CHECKPOINT',
  'VIR_ERR_NO_DOMAIN_SNAPSHOT',
  'VIR_ERR_NO_INTERFACE',
  'VIR_ERR_NO_NWFILTER',
  'VIR_ERR_NO_NETWORK',
  'VIR_ERR_NO_NODE_DEVICE',
  'VIR_ERR_NO_SECRET',
  'VIR_ERR_NO_STORAGE_POOL',
  'VIR_ERR_NO_STORAGE_VOL',
]);

/** How long one step may hold the signals behind it (a daemon that stopped answering must not stall them). */
const STEP_TIMEOUT_MS = 15_000;

/** What a step emits once every step before it has emitted (may still read, in the rare case it must). */
type Emission = () => void | Promise<void>;

/**
 * Signals in order, reads in parallel: each step's reading starts at once, and its emission runs
 * after every earlier step's — at once when nothing is pending (the existing signals then pass
 * straight through). A burst of events thus costs about one round of reads, not one per event.
 * The ordering is the D-Bus library's SignalQueue; this adds the reads and their time limit.
 */
class OrderedSteps {
  private readonly queue = new SignalQueue();

  /** Emits `emission` now if nothing is pending, else after the steps before it. */
  now(emission: () => void): void {
    this.queue.enqueue(emission);
  }

  /** Starts `read` at once and runs the emission it gives after the steps before it; a failure (or none) emits nothing. */
  after(read: Promise<Emission | undefined>): void {
    read.catch(() => undefined); // settled here; its failure is handled in the queue
    this.queue.enqueue(async () => {
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), STEP_TIMEOUT_MS);
        timer.unref();
      });
      try {
        const emission = await Promise.race([read, limit]);
        await Promise.race([emission?.(), limit]);
      } finally {
        clearTimeout(timer);
      }
    });
  }
}

/** Whether `err` says the object does not exist (rather than that libvirt could not be asked). */
function isNotFound(err: unknown): boolean {
  return err instanceof LibvirtError && NOT_FOUND.has(err.codeName);
}

/** Whether `err` says libvirt could not be asked at all (rather than answering with an error of its own). */
function isConnectionProblem(err: unknown): boolean {
  return !(err instanceof LibvirtError) || err instanceof LibvirtConnectionClosedError || err instanceof LibvirtProtocolError;
}

/**
 * Change notification of one Connect object; its `sink` and `hook` are given to the ConnectObject,
 * and the exporter binds the objects' interfaces through its `implementationFor`.
 */
export class ChangeNotifier {
  /** Known object paths of each top-level kind, by kind segment; undefined before the first listing. */
  private known: Map<string, Set<string>> | undefined;
  /** Known object paths of each child kind, by kind segment and then by parent path. */
  private children = new Map<string, Map<string, Set<string>>>();
  private readonly steps = new OrderedSteps();
  /** Per interface: its methods with those of CALL_EFFECTS wrapped (see implementationFor). */
  private readonly wrappedMethods = new Map<string, InterfaceImplementation['methods']>();

  /** The Connect object's signals pass through here on their way to `emit`. */
  readonly sink: SignalSink;
  /** Lists what exists on every (re)opened libvirt connection. */
  readonly hook: OpenHook;

  /** `connect` gives the Connect object (made after its notifier, which it needs as its sink). */
  constructor(
    private readonly connect: () => ConnectHandle,
    private readonly emit: SignalSink,
  ) {
    this.sink = (path, iface, member, signature, body) => {
      this.steps.now(() => emit(path, iface, member, signature, body));
      const kind = iface === CONNECT ? LIFECYCLE_SIGNALS.get(member) : undefined;
      if (kind) this.steps.after(this.reconcile(kind, body[0] as string));
      else if (iface === Kinds.storagePool.interface && member === 'Refresh') {
        this.steps.after(this.reconcile(Kinds.storagePool as AnyKind, path));
      }
    };
    this.hook = async (conn) => {
      this.steps.after(this.seed(conn));
    };
  }

  /**
   * `iface`'s implementation for `obj`, with each method of CALL_EFFECTS followed, once it has
   * succeeded, by listing what it changes again and announcing the difference (the listing
   * starts after the call's libvirt call has returned, so it sees its result, and its signals
   * follow the reply).
   */
  implementationFor<O extends ServiceObject>(iface: DefinedInterface<O>, obj: O): InterfaceImplementation {
    const impl = iface.implementationFor(obj);
    const effects = CALL_EFFECTS.get(iface.name);
    if (!effects) return impl;
    // The bound methods (an object on the interface's methods, holding `obj`) are put on a
    // prototype with the wrapped members, made once per interface: a call costs one object more.
    let wrapped = this.wrappedMethods.get(iface.name);
    if (!wrapped) {
      wrapped = Object.create(Object.getPrototypeOf(impl.methods) as object) as InterfaceImplementation['methods'];
      for (const [member, effect] of effects) {
        const call = impl.methods[member];
        if (!call) throw new Error(`${iface.name} has no method ${member}`);
        const notifier = this;
        wrapped[member] = async function (this: InterfaceImplementation['methods'], body, invocation) {
          const out = await call.call(this, body, invocation);
          notifier.steps.after(notifier.relist(effect, invocation.path));
          return out;
        };
      }
      this.wrappedMethods.set(iface.name, wrapped);
    }
    impl.methods = Object.assign(Object.create(wrapped) as InterfaceImplementation['methods'], impl.methods);
    return impl;
  }

  private get path(): string {
    return this.connect().path;
  }

  private object(path: string): ServiceObject {
    return { connect: this.connect(), path };
  }

  /**
   * Lists every top-level kind and every parent's children; after a reconnect, announces what
   * changed while the connection was down: objects added and removed, and the notified properties
   * of the others (read again).
   */
  private async seed(conn: LibvirtConnection): Promise<Emission> {
    const lists = await Promise.all(
      TOP_LEVEL_KINDS.map(async (kind) => {
        try {
          return [kind, await kind.list(conn, 0)] as const;
        } catch (err) {
          // A driver without this kind (e.g. the test driver's secrets) has none; a lost connection
          // decides nothing (the listing is done again when it is back).
          if (isConnectionProblem(err)) throw err;
          return [kind, [] as unknown[]] as const;
        }
      }),
    );
    const refsOf = new Map(lists);
    const children = await Promise.all(
      CHILD_KINDS.map(async (child) => {
        const parents = refsOf.get(child.parent) ?? [];
        const byParent = await Promise.all(
          parents.map(async (ref) => [child.parent.pathOf(this.path, ref), await this.childrenIn(conn, child, ref)] as const),
        );
        return [child, byParent] as const;
      }),
    );
    const paths = lists.map(([kind, refs]) => [kind, new Set(kind.pathsOf(this.path, refs))] as const);
    return async () => {
      if (this.known === undefined) {
        this.known = new Map(paths.map(([kind, set]) => [kind.segment, set]));
        this.children = new Map(
          children.map(([child, byParent]) => [
            child.kind.segment,
            new Map(byParent.filter((e): e is [string, Set<string>] => e[1] !== undefined && e[1].size > 0)),
          ]),
        );
        return;
      }
      for (const [kind, now] of paths) {
        const known = this.knownOf(kind);
        // What was there before and still is may have changed while the connection was down.
        const kept = [...now].filter((p) => known.has(p));
        await this.update(kind, known, now);
        const bodies = await Promise.all(kept.map((p) => this.readNotified(p, interfaceOf(kind))));
        for (const [i, p] of kept.entries()) this.propertiesChanged(p, bodies[i]);
      }
      for (const [child, byParent] of children) {
        for (const [parentPath, now] of byParent) if (now) await this.updateChildren(child, parentPath, now);
        const parents = new Set(byParent.map(([p]) => p));
        for (const parentPath of [...this.childrenOf(child).keys()]) {
          if (!parents.has(parentPath)) await this.updateChildren(child, parentPath, new Set());
        }
      }
    };
  }

  /** Paths of the children of kind `child` in the parent `ref` (none when it has none, e.g. an inactive pool; undefined when that cannot be told). */
  private async childrenIn(conn: LibvirtConnection, child: ChildKind, ref: unknown): Promise<Set<string> | undefined> {
    try {
      return new Set(child.kind.pathsOf(this.path, await child.listIn(conn, ref)));
    } catch (err) {
      if (isConnectionProblem(err)) throw err;
      // libvirt lists no volumes of an inactive pool, and a driver without snapshots or
      // checkpoints has none; a parent gone meanwhile is its own event's business.
      return isNotFound(err) ? undefined : new Set();
    }
  }

  /**
   * After a call of CALL_EFFECTS on `path`: lists what it changed (a top-level kind, or the
   * children of one parent) and gives the emission announcing the difference.
   */
  private async relist(effect: CallEffect, path: string): Promise<Emission | undefined> {
    const conn = await this.connect().connection();
    if (effect.in === undefined) {
      const now = new Set(await effect.kind.listPaths(conn, this.path, 0));
      return async () => {
        if (this.known !== undefined) await this.update(effect.kind, this.knownOf(effect.kind), now);
      };
    }
    const child = childKind(effect.kind);
    const parentPath = effect.in === 'self' ? path : child.parentPathOf(this.path, path);
    if (parentPath === undefined) return undefined;
    let parent: unknown;
    try {
      parent = await child.parent.lookup(conn, child.parent.key.decode(lastElement(parentPath)));
    } catch (err) {
      if (!isNotFound(err)) return undefined;
    }
    const now = parent === undefined ? new Set<string>() : await this.childrenIn(conn, child, parent);
    return async () => {
      if (this.known !== undefined && now !== undefined) await this.updateChildren(child, parentPath, now);
    };
  }

  private knownOf(kind: AnyKind): Set<string> {
    let set = this.known?.get(kind.segment);
    if (!set) {
      set = new Set();
      this.known?.set(kind.segment, set);
    }
    return set;
  }

  private childrenOf(child: ChildKind): Map<string, Set<string>> {
    let byParent = this.children.get(child.kind.segment);
    if (!byParent) {
      byParent = new Map();
      this.children.set(child.kind.segment, byParent);
    }
    return byParent;
  }

  /** Announces the difference between `known` and `now` (and makes `known` equal to it). */
  private async update(kind: AnyKind, known: Set<string>, now: ReadonlySet<string>): Promise<void> {
    const iface = interfaceOf(kind);
    const added = [...now].filter((p) => !known.has(p));
    const values = await Promise.all(added.map((p) => this.readAll(iface, p)));
    added.forEach((p, i) => {
      known.add(p);
      this.interfacesAdded(p, iface, values[i] as Map<string, Variant>);
    });
    for (const p of [...known]) {
      if (now.has(p)) continue;
      known.delete(p);
      this.interfacesRemoved(p, iface);
    }
  }

  /** Announces the difference between the known children of `parentPath` and `now`. */
  private async updateChildren(child: ChildKind, parentPath: string, now: ReadonlySet<string>): Promise<void> {
    const byParent = this.childrenOf(child);
    let known = byParent.get(parentPath);
    if (!known) {
      known = new Set();
      byParent.set(parentPath, known);
    }
    await this.update(child.kind, known, now);
    if (known.size === 0) byParent.delete(parentPath);
  }

  /**
   * After an event about the object at `path`: reads at once whether it exists and its properties
   * (all of them if it is not known now, else the notified ones), and gives what to emit in turn —
   * InterfacesAdded when it is new, InterfacesRemoved when it is gone, else PropertiesChanged with
   * the new values of its notified properties — and then its children listed again (a pool's
   * volumes, a domain's snapshots and checkpoints).
   */
  private async reconcile(kind: AnyKind, path: string): Promise<Emission | undefined> {
    const conn = await this.connect().connection();
    let ref: unknown;
    try {
      ref = await kind.lookup(conn, kind.key.decode(lastElement(path)));
    } catch (err) {
      if (!isNotFound(err)) return undefined;
    }
    const iface = interfaceOf(kind);
    const wasKnown = this.known?.get(kind.segment)?.has(path) === true;
    const inside = CHILD_KINDS.filter((c) => c.parent === kind);
    const [all, notified, children] = await Promise.all([
      ref !== undefined && !wasKnown ? this.readAll(iface, path) : undefined,
      ref !== undefined && wasKnown ? this.readNotified(path, iface) : undefined,
      Promise.all(inside.map((c) => (ref === undefined ? new Set<string>() : this.childrenIn(conn, c, ref)))),
    ]);
    return async () => {
      if (this.known === undefined) return; // not listed yet: the listing's own emission comes first
      const known = this.knownOf(kind);
      if (ref === undefined) {
        if (known.delete(path)) this.interfacesRemoved(path, iface);
      } else if (!known.has(path)) {
        known.add(path);
        // Read for the state known when the event came; that changed meanwhile (rarely): read now.
        this.interfacesAdded(path, iface, all ?? (await this.readAll(iface, path)));
      } else if (notified) {
        this.propertiesChanged(path, notified);
      } else if (all) {
        const names = NOTIFIED_PROPERTIES[iface.name] ?? [];
        const picked = new Map([...all].filter(([name]) => names.includes(name)));
        if (picked.size > 0) this.propertiesChanged(path, [iface.name, picked, []]);
      }
      for (const [i, child] of inside.entries()) {
        const now = children[i];
        if (now) await this.updateChildren(child, path, now);
      }
    };
  }

  /** Every property of `iface` at `path` that can be read, in its declared type. */
  private readAll(iface: DefinedInterface<ServiceObject>, path: string): Promise<Map<string, Variant>> {
    return managedProperties(iface.declaration, iface.implementationFor(this.object(path)), path);
  }

  /** The arguments of a PropertiesChanged with the notified properties of `path` that can be read (undefined: none). */
  private async readNotified(path: string, iface: DefinedInterface<ServiceObject>): Promise<unknown[] | undefined> {
    const names = NOTIFIED_PROPERTIES[iface.name] ?? [];
    if (names.length === 0) return undefined;
    const impl = iface.implementationFor(this.object(path));
    const read = await Promise.allSettled(names.map((n) => impl.properties[n]?.get?.()));
    const changed = new Map<string, unknown>();
    names.forEach((n, i) => {
      const r = read[i];
      if (r?.status === 'fulfilled') changed.set(n, r.value);
    });
    return changed.size > 0 ? changedProperties(iface.declaration, changed, []) : undefined;
  }

  private propertiesChanged(path: string, args: unknown[] | undefined): void {
    if (args) this.emit(path, PROPERTIES, 'PropertiesChanged', 'sa{sv}as', args);
  }

  private interfacesAdded(path: string, iface: DefinedInterface<ServiceObject>, values: Map<string, Variant>): void {
    this.emit(this.path, OBJECT_MANAGER, 'InterfacesAdded', 'oa{sa{sv}}', [path, new Map([[iface.name, values]])]);
  }

  private interfacesRemoved(path: string, iface: DefinedInterface<ServiceObject>): void {
    this.emit(this.path, OBJECT_MANAGER, 'InterfacesRemoved', 'oas', [path, [iface.name]]);
  }
}
