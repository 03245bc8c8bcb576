// org.freedesktop.DBus.ObjectManager on exported objects: GetManagedObjects, and
// InterfacesAdded/InterfacesRemoved from every manager above an object that comes or goes.

import {
  compileDeclared,
  type ExportedObject,
  ObjectPathInUseError,
  type Subtree,
  type SubtreeContext,
  type Target,
} from './export-model.js';
import { buildSignal, SignalQueue } from './export-signals.js';
import { isBelow, joinPath } from './export-util.js';
import type { ExportHost } from './invocation.js';
import type { Message } from './message.js';
import { readAllLenient } from './properties.js';
import { ObjectManagerInterface } from './standard-interfaces.js';
import type { Variant } from './variant.js';

/** What the object managers read from the exporter: its objects and subtrees (shared, live), and where to send. */
export interface ManagedRegistry {
  readonly objects: ReadonlyMap<string, ExportedObject>;
  readonly subtrees: ReadonlyMap<string, Subtree>;
  readonly host: ExportHost;
}

/** The object managers of one exporter. */
export class ObjectManagers {
  private readonly paths = new Set<string>();
  /** Keeps ObjectManager signals in order when property getters are asynchronous. */
  private readonly signals = new SignalQueue();

  constructor(private readonly registry: ManagedRegistry) {}

  /** Number of object managers. */
  get size(): number {
    return this.paths.size;
  }

  /** True if `path` is an object manager. */
  has(path: string): boolean {
    return this.paths.has(path);
  }

  /** Makes `path` an object manager; ObjectPathInUseError if it is one already. */
  add(path: string): void {
    if (this.paths.has(path)) throw new ObjectPathInUseError(`An object manager is already exported at ${path}`);
    this.paths.add(path);
  }

  /** Stops `path` being an object manager. */
  delete(path: string): void {
    this.paths.delete(path);
  }

  /**
   * The out values of GetManagedObjects at `root`: every object below it, regular and subtree
   * nodes, with their properties. Subtrees are enumerated, and every node's properties read, all
   * at once (each may be a round trip to a backend); the answer keeps registration order.
   */
  async managedObjects(root: string, msg: Message): Promise<unknown[]> {
    const read = (path: string, t: Target) =>
      readAllLenient(t, { path, interfaceName: t.iface.decl.name, propertyName: '', sender: msg.sender, message: msg });
    const nodes: Array<Promise<Array<[string, Target[]]>>> = [];
    for (const [path, obj] of this.registry.objects) {
      if (isBelow(path, root)) nodes.push(Promise.resolve([[path, [...obj.entries.values()]]]));
    }
    for (const st of this.registry.subtrees.values()) {
      if (st.path !== root && !isBelow(st.path, root)) continue;
      nodes.push(this.subtreeNodes(st, root, msg));
    }
    const found = (await Promise.all(nodes)).flat();
    const values = await Promise.all(found.map(([path, targets]) => Promise.all(targets.map((t) => read(path, t)))));
    const result = new Map<string, Map<string, Map<string, Variant>>>();
    found.forEach(([path, targets], i) => {
      let ifaces = result.get(path);
      if (!ifaces) {
        ifaces = new Map();
        result.set(path, ifaces);
      }
      for (const [j, t] of targets.entries()) {
        if (!ifaces.has(t.iface.decl.name)) ifaces.set(t.iface.decl.name, values[i]?.[j] as Map<string, Variant>);
      }
    });
    return [result];
  }

  /** The nodes of subtree `st` below the manager at `root`, each with the interfaces regular objects do not shadow. */
  private async subtreeNodes(st: Subtree, root: string, msg: Message): Promise<Array<[string, Target[]]>> {
    const ctx: SubtreeContext = { path: st.path, sender: msg.sender, message: msg };
    const nodes: Array<string | null> = [...(await st.handler.enumerate(ctx))];
    if (st.path !== root && st.rootIsManaged) nodes.unshift(null);
    const out = await Promise.all(
      nodes.map(async (child): Promise<[string, Target[]]> => {
        const path = child === null ? st.path : joinPath(st.path, child);
        const decls = (await st.handler.introspect(child, ctx)) ?? [];
        const shadowed = this.registry.objects.get(path)?.entries;
        const targets = await Promise.all(
          decls
            .filter((d) => !shadowed?.has(d.name))
            .map(async (d): Promise<Target | undefined> => {
              const impl = await st.handler.dispatch(child, d.name, ctx);
              return impl ? { iface: compileDeclared(d), impl } : undefined;
            }),
        );
        return [path, targets.filter((t): t is Target => t !== undefined)];
      }),
    );
    return out.filter(([, targets]) => targets.length > 0);
  }

  private managersAbove(path: string): string[] {
    const out: string[] = [];
    for (const m of this.paths) if (isBelow(path, m)) out.push(m);
    return out;
  }

  /** Emits InterfacesAdded for `targets` at `path` from every manager above it. */
  announceAdded(path: string, targets: Target[]): void {
    const managers = this.managersAbove(path);
    if (managers.length === 0) return;
    this.signals.enqueue(async () => {
      const ifaces = new Map<string, Map<string, Variant>>();
      for (const t of targets) {
        const ctx = { path, interfaceName: t.iface.decl.name, propertyName: '', sender: undefined, message: undefined };
        ifaces.set(t.iface.decl.name, await readAllLenient(t, ctx));
      }
      for (const m of managers) this.send(m, 'InterfacesAdded', [path, ifaces]);
    });
  }

  /** Emits InterfacesRemoved for `names` at `path` from every manager above it. */
  announceRemoved(path: string, names: string[]): void {
    const managers = this.managersAbove(path);
    if (managers.length === 0) return;
    this.signals.enqueue(() => {
      for (const m of managers) this.send(m, 'InterfacesRemoved', [path, names]);
    });
  }

  private send(manager: string, member: string, args: unknown[]): void {
    this.registry.host.send(buildSignal(manager, ObjectManagerInterface, member, args));
  }
}
