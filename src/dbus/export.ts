// Object export: the server side of method calls (GDBus's g_dbus_connection_register_object and
// register_subtree). One InterfaceDeclaration drives dispatch, argument and reply checking,
// property access and introspection. This file keeps the registry (objects, subtrees, the child
// names introspection lists) and routes each call to a method of a registered interface or to a
// standard interface — Properties (properties.ts), Introspectable (introspectable.ts), Peer
// (peer.ts), ObjectManager (object-manager.ts) — and answers every "unknown …" error itself
// (names in export-model.ts). Handlers answer through a MethodInvocation (invocation.ts).

import { DBusError, DBusInvalidArgsError, StandardErrors } from './errors.js';
import {
  compileDeclared,
  compileInterface,
  type ExportedObject,
  type ExporterOptions,
  type ExportHost,
  type NodeView,
  type ObjectImplementation,
  ObjectPathInUseError,
  type Registration,
  type Subtree,
  type SubtreeContext,
  type SubtreeHandler,
  type SubtreeOptions,
  type Target,
  type UnknownKind,
  unknownError,
  wrongSignature,
} from './export-model.js';
import { buildSignal } from './export-signals.js';
import { errorText, isPromiseLike, joinPath, type MaybePromise, then } from './export-util.js';
import type { InterfaceDeclaration } from './interface.js';
import { introspectNode } from './introspectable.js';
import { MethodInvocation, sendErrorReply } from './invocation.js';
import { type Message, MessageType } from './message.js';
import { assertObjectPath, isValidErrorName } from './names.js';
import { ObjectManagers } from './object-manager.js';
import { PEER_METHODS, peerReply } from './peer.js';
import { answerProperties, changedProperties, type PropertiesRouter } from './properties.js';
import {
  IntrospectableInterface,
  isStandardInterface,
  ObjectManagerInterface,
  PeerInterface,
  PropertiesInterface,
  StandardInterfaceNames as Std,
} from './standard-interfaces.js';

export {
  compileInterface,
  type ExporterOptions,
  type ExportHost,
  type MethodHandler,
  type ObjectImplementation,
  ObjectPathInUseError,
  type PropertyAccessor,
  type PropertyContext,
  PropertyWriteOnlyError,
  type Registration,
  type SubtreeContext,
  type SubtreeHandler,
  type SubtreeOptions,
} from './export-model.js';
export { buildSignal, SignalQueue } from './export-signals.js';
export { MethodInvocation } from './invocation.js';

/** Runs `handle` (the handling of the call `msg`) and returns what it returns. */
export type CallScope = (msg: Message, handle: () => unknown) => unknown;

const PROPERTIES_METHODS = new Set(['Get', 'GetAll', 'Set']);

/** Exports objects and subtrees on one connection and answers the method calls addressed to them. */
export class ObjectExporter {
  private readonly objects = new Map<string, ExportedObject>();
  private readonly subtrees = new Map<string, Subtree>();
  private readonly managers: ObjectManagers;
  /** path → child name → number of registrations at or below that child. */
  private readonly children = new Map<string, Map<string, number>>();
  private readonly specific: boolean;
  private readonly machineId: string | undefined;
  /** What Properties calls need from the router. */
  private readonly propertiesRouter: PropertiesRouter;
  /**
   * Runs the handling of each incoming call (e.g. inside an AsyncLocalStorage scope naming the
   * caller, so that everything the handlers start knows on whose behalf it runs); unset: none.
   */
  callScope: CallScope | undefined;

  constructor(
    private readonly host: ExportHost,
    options: ExporterOptions = {},
  ) {
    this.specific = options.errorNames === 'specific';
    this.machineId = options.machineId;
    this.managers = new ObjectManagers({ objects: this.objects, subtrees: this.subtrees, host });
    this.propertiesRouter = { host, specific: this.specific, target: (view, name) => this.target(view, name) };
  }

  // ----- registration -----

  /**
   * Exports `impl` as interface `iface` at `path`. Throws ObjectPathInUseError if that path already
   * has that interface, DBusInvalidArgsError for a bad path or declaration or a standard interface.
   */
  registerObject(path: string, iface: InterfaceDeclaration, impl: ObjectImplementation): Registration {
    assertObjectPath(path);
    const compiled = compileInterface(iface);
    if (isStandardInterface(iface.name)) {
      throw new DBusInvalidArgsError(`${iface.name} is implemented by the exporter and cannot be registered`);
    }
    let obj = this.objects.get(path);
    if (obj?.entries.has(iface.name)) {
      throw new ObjectPathInUseError(`An object is already exported for the interface ${iface.name} at ${path}`);
    }
    if (!obj) {
      obj = { entries: new Map() };
      this.objects.set(path, obj);
    }
    const target: Target = { iface: compiled, impl };
    obj.entries.set(iface.name, target);
    this.addAnchor(path);
    if (this.managers.size > 0) this.managers.announceAdded(path, [target]);
    let registered = true;
    return {
      unregister: () => {
        if (!registered) return false;
        registered = false;
        const o = this.objects.get(path);
        if (o?.entries.get(iface.name) !== target) return false;
        o.entries.delete(iface.name);
        if (o.entries.size === 0) this.objects.delete(path);
        this.removeAnchor(path);
        if (this.managers.size > 0) this.managers.announceRemoved(path, [iface.name]);
        return true;
      },
    };
  }

  /** Exports a dynamic subtree at `path` (its root and direct children). Regular objects inside it take precedence. */
  registerSubtree(path: string, handler: SubtreeHandler, options: SubtreeOptions = {}): Registration {
    assertObjectPath(path);
    if (this.subtrees.has(path)) throw new ObjectPathInUseError(`A subtree is already exported for ${path}`);
    const st: Subtree = {
      path,
      handler,
      unenumerated: options.dispatchToUnenumeratedNodes === true,
      rootIsManaged: options.rootIsManaged !== false,
    };
    this.subtrees.set(path, st);
    this.addAnchor(path);
    let registered = true;
    return {
      unregister: () => {
        if (!registered || this.subtrees.get(path) !== st) return false;
        registered = false;
        this.subtrees.delete(path);
        this.removeAnchor(path);
        return true;
      },
    };
  }

  /** Makes `path` an object manager: it answers GetManagedObjects and emits InterfacesAdded/Removed for objects below it. */
  addObjectManager(path: string): Registration {
    assertObjectPath(path);
    this.managers.add(path);
    this.addAnchor(path);
    let registered = true;
    return {
      unregister: () => {
        if (!registered) return false;
        registered = false;
        this.managers.delete(path);
        this.removeAnchor(path);
        return true;
      },
    };
  }

  private addAnchor(path: string): void {
    this.walkAncestors(path, (parent, child) => {
      let m = this.children.get(parent);
      if (!m) {
        m = new Map();
        this.children.set(parent, m);
      }
      m.set(child, (m.get(child) ?? 0) + 1);
    });
  }

  private removeAnchor(path: string): void {
    this.walkAncestors(path, (parent, child) => {
      const m = this.children.get(parent);
      if (!m) return;
      const n = (m.get(child) ?? 1) - 1;
      if (n > 0) m.set(child, n);
      else {
        m.delete(child);
        if (m.size === 0) this.children.delete(parent);
      }
    });
  }

  private walkAncestors(path: string, fn: (parent: string, child: string) => void): void {
    if (path === '/') return;
    let parent = '/';
    for (const element of path.slice(1).split('/')) {
      fn(parent, element);
      parent = joinPath(parent, element);
    }
  }

  // ----- dispatch -----

  /** Answers one incoming METHOD_CALL (the connection passes every one of them here). */
  handleMethodCall(msg: Message): void {
    if (msg.type !== MessageType.MethodCall) return;
    try {
      const r = this.callScope ? this.callScope(msg, () => this.route(msg)) : this.route(msg);
      if (isPromiseLike(r)) r.then(undefined, (e: unknown) => this.answerError(msg, e));
    } catch (e) {
      this.answerError(msg, e);
    }
  }

  private answerError(msg: Message, e: unknown): void {
    if (e instanceof DBusError && isValidErrorName(e.errorName)) sendErrorReply(this.host, msg, e.errorName, e.message);
    else sendErrorReply(this.host, msg, StandardErrors.Failed, errorText(e));
  }

  private error(kind: UnknownKind, msg: Message, name = ''): DBusError {
    return unknownError(this.specific, kind, msg, name);
  }

  private route(msg: Message): unknown {
    const path = msg.path;
    const member = msg.member;
    if (path === undefined || member === undefined) {
      throw new DBusError(StandardErrors.InvalidArgs, 'Method call without path or member');
    }
    const iface = msg.interface;
    const obj = this.objects.get(path);
    // Fast path: a regular object with the interface asked for.
    if (obj !== undefined && iface !== undefined) {
      const t = obj.entries.get(iface);
      if (t !== undefined) return this.invoke(msg, t, iface);
    }
    if (iface === Std.Peer || (iface === undefined && PEER_METHODS.has(member) && !this.hasMember(obj, member))) {
      return this.peer(msg);
    }
    return then(this.view(path, msg), (view) => this.routeOnNode(msg, view));
  }

  private hasMember(obj: ExportedObject | undefined, member: string): boolean {
    if (!obj) return false;
    for (const t of obj.entries.values()) if (t.iface.methods.has(member)) return true;
    return false;
  }

  private findSubtree(path: string): { st: Subtree; child: string | null } | undefined {
    const own = this.subtrees.get(path);
    if (own) return { st: own, child: null };
    if (path === '/' || this.subtrees.size === 0) return undefined;
    const slash = path.lastIndexOf('/');
    const st = this.subtrees.get(slash === 0 ? '/' : path.slice(0, slash));
    return st ? { st, child: path.slice(slash + 1) } : undefined;
  }

  /** Finds out what is at `path` (asks the subtree if one covers it). */
  private view(path: string, msg: Message | undefined): MaybePromise<NodeView> {
    const regular = this.objects.get(path);
    const found = this.findSubtree(path);
    const base: NodeView = {
      path,
      regular,
      subtree: found?.st,
      child: found?.child ?? null,
      subtreeInterfaces: null,
      ctx: undefined,
    };
    if (!found) return base;
    const { st, child } = found;
    const ctx: SubtreeContext = { path: st.path, sender: msg?.sender, message: msg };
    base.ctx = ctx;
    const introspect = (): MaybePromise<NodeView> =>
      then(st.handler.introspect(child, ctx), (decls) => {
        base.subtreeInterfaces = Array.isArray(decls) ? decls : null;
        return base;
      });
    if (child === null || st.unenumerated) return introspect();
    return then(st.handler.enumerate(ctx), (names) => (names.includes(child) ? introspect() : base));
  }

  private exists(view: NodeView): boolean {
    return view.regular !== undefined || view.subtreeInterfaces !== null || this.managers.has(view.path);
  }

  /** The implementation of interface `name` at the node, if any. */
  private target(view: NodeView, name: string): MaybePromise<Target | undefined> {
    const t = view.regular?.entries.get(name);
    if (t) return t;
    const decl = view.subtreeInterfaces?.find((d) => d.name === name);
    if (!decl || !view.subtree) return undefined;
    const iface = compileDeclared(decl);
    return then(view.subtree.handler.dispatch(view.child, name, view.ctx!), (impl) => (impl ? { iface, impl } : undefined));
  }

  /** All interfaces of the node: regular ones, then the subtree's that regular ones do not shadow. */
  private interfacesOf(view: NodeView): InterfaceDeclaration[] {
    const out: InterfaceDeclaration[] = [];
    if (view.regular) for (const t of view.regular.entries.values()) out.push(t.iface.decl);
    if (view.subtreeInterfaces) {
      for (const d of view.subtreeInterfaces) if (!view.regular?.entries.has(d.name)) out.push(d);
    }
    return out;
  }

  private routeOnNode(msg: Message, view: NodeView): unknown {
    const member = msg.member!;
    let iface = msg.interface;
    if (iface === undefined) {
      // No interface field: the first interface of the object that has the method, then the standard ones.
      for (const d of this.interfacesOf(view)) {
        if (compileDeclared(d).methods.has(member)) {
          return then(this.target(view, d.name), (t) => {
            if (!t) throw this.error('interface', msg, d.name);
            return this.invoke(msg, t, d.name);
          });
        }
      }
      if (member === 'Introspect') iface = Std.Introspectable;
      else if (PROPERTIES_METHODS.has(member)) iface = Std.Properties;
      else if (member === 'GetManagedObjects' && this.managers.has(view.path)) iface = Std.ObjectManager;
      else throw this.exists(view) ? this.error('method', msg, member) : this.error('object', msg);
    }
    switch (iface) {
      case Std.Introspectable:
        return this.standard(msg, IntrospectableInterface, () => this.introspectView(view));
      case Std.Properties:
        if (!this.exists(view)) throw this.error('object', msg);
        return answerProperties(this.propertiesRouter, msg, view);
      case Std.ObjectManager:
        if (this.managers.has(view.path)) {
          return this.standard(msg, ObjectManagerInterface, () => this.managers.managedObjects(view.path, msg));
        }
    }
    return then(this.target(view, iface), (t) => {
      if (t) return this.invoke(msg, t, iface);
      if (!this.exists(view)) throw this.error('object', msg);
      // GDBus answers an interface a subtree node lacks as an unknown method, not an unknown interface.
      if (!this.specific && !view.regular && view.subtree) {
        throw new DBusError(
          StandardErrors.UnknownMethod,
          `Method “${msg.member}” on interface “${iface}” with signature “${msg.signature}” does not exist`,
        );
      }
      throw this.error('interface', msg, iface);
    });
  }

  /** Calls a method of a registered interface after checking the arguments. */
  private invoke(msg: Message, t: Target, ifaceName: string): void {
    const member = msg.member!;
    const m = t.iface.methods.get(member);
    if (m === undefined) throw this.error('method', msg, member);
    if (msg.signature !== m.inSignature) throw wrongSignature(msg, m);
    const handler = t.impl.methods?.[member];
    if (typeof handler !== 'function') {
      throw new DBusError(StandardErrors.NotSupported, `Method “${member}” of ${ifaceName} is not implemented`);
    }
    const inv = new MethodInvocation(msg, this.host, m.decl, m.outSignature, ifaceName);
    const methods = t.impl.methods!;
    inv.run(() => methods[member]!(msg.body, inv));
  }

  /** Answers a method of a standard interface with `fn`'s out values. */
  private standard(msg: Message, decl: InterfaceDeclaration, fn: () => MaybePromise<unknown[]>): void {
    const m = compileInterface(decl).methods.get(msg.member!);
    if (!m) throw this.error('method', msg, msg.member!);
    if (msg.signature !== m.inSignature) throw wrongSignature(msg, m);
    new MethodInvocation(msg, this.host, m.decl, m.outSignature, decl.name).run(fn);
  }

  // ----- org.freedesktop.DBus.Peer -----

  private peer(msg: Message): void {
    this.standard(msg, PeerInterface, () => peerReply(msg.member!, this.machineId));
  }

  // ----- org.freedesktop.DBus.Introspectable -----

  /** The introspection XML of `path` as a peer would get it. */
  introspect(path: string): Promise<string> {
    assertObjectPath(path);
    const xml = then(this.view(path, undefined), (v) => then(this.introspectView(v), (out) => out[0] as string));
    return Promise.resolve(xml);
  }

  private introspectView(view: NodeView): MaybePromise<unknown[]> {
    const children = this.children.get(view.path)?.keys();
    const isManager = this.managers.has(view.path);
    return introspectNode(this.interfacesOf(view), isManager, children, this.subtrees.get(view.path), view.ctx);
  }

  // ----- org.freedesktop.DBus.ObjectManager -----

  /** Emits InterfacesAdded from every object manager above `path`, e.g. for a new subtree node. */
  notifyInterfacesAdded(path: string, interfaces: Array<{ iface: InterfaceDeclaration; impl: ObjectImplementation }>): void {
    assertObjectPath(path);
    this.managers.announceAdded(
      path,
      interfaces.map((i) => ({ iface: compileInterface(i.iface), impl: i.impl })),
    );
  }

  /** Emits InterfacesRemoved from every object manager above `path`, e.g. for a vanished subtree node. */
  notifyInterfacesRemoved(path: string, interfaceNames: string[]): void {
    assertObjectPath(path);
    this.managers.announceRemoved(path, interfaceNames);
  }

  // ----- signals -----

  private sendSignal(path: string, iface: InterfaceDeclaration, member: string, args: unknown[], destination?: string): void {
    this.host.send(buildSignal(path, iface, member, args, destination));
  }

  /** Emits signal `member` of `iface` from `path` after checking `args` against its declaration. */
  emitDeclaredSignal(path: string, iface: InterfaceDeclaration, member: string, args: unknown[], destination?: string): void {
    this.sendSignal(path, iface, member, args, destination);
  }

  /**
   * Emits org.freedesktop.DBus.Properties.PropertiesChanged from `path`. Values are given in the
   * JavaScript mapping of each property's declared type (`iface` is a declaration, or the name of
   * an interface registered at `path`); each must be a declared, readable property.
   */
  emitPropertiesChanged(
    path: string,
    iface: InterfaceDeclaration | string,
    changed: Record<string, unknown> | Map<string, unknown>,
    invalidated: string[] = [],
  ): void {
    assertObjectPath(path);
    let decl: InterfaceDeclaration | undefined;
    if (typeof iface === 'string') {
      decl = this.objects.get(path)?.entries.get(iface)?.iface.decl;
      if (!decl) throw new DBusInvalidArgsError(`No interface ${iface} registered at ${path}`);
    } else decl = iface;
    this.sendSignal(path, PropertiesInterface, 'PropertiesChanged', changedProperties(decl, changed, invalidated));
  }
}
