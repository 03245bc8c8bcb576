// Object export: the server side of method calls (GDBus's g_dbus_connection_register_object and
// register_subtree). One InterfaceDeclaration drives dispatch, argument and reply checking,
// property access and introspection. The exporter answers the standard interfaces
// (Introspectable, Properties, Peer, ObjectManager) and every "unknown …" error itself.
//
// Error names. By default the exporter answers exactly as GDBus 2.74 does (and therefore as the
// reference libvirt-dbus does): UnknownMethod for an unknown object, interface or method, and
// InvalidArgs for unknown properties and wrong property access. With `errorNames: 'specific'`
// it answers UnknownObject, UnknownInterface, UnknownProperty, PropertyReadOnly and
// PropertyWriteOnly instead (sd-bus style; PropertyWriteOnly is not in the specification).
// Messages are GDBus's in both modes.
import { readFileSync } from 'node:fs';
import { DBusError, DBusInvalidArgsError, StandardErrors } from './errors.js';
import type { InterfaceDeclaration, MethodDeclaration, NodeDeclaration, PropertyDeclaration } from './interface.js';
import { generateIntrospectionXml } from './introspection.js';
import { checkValues } from './encoder.js';
import { type Message, MessageFlags, MessageType } from './message.js';
import { assertInterfaceName, assertMemberName, assertObjectPath, isValidErrorName } from './names.js';
import { parseSignature } from './signature.js';
import {
  IntrospectableInterface,
  isStandardInterface,
  ObjectManagerInterface,
  PeerInterface,
  PropertiesInterface,
  StandardInterfaceNames as Std,
} from './standard-interfaces.js';
import { Variant } from './variant.js';

/** What the exporter needs from a connection: a way to send; the connection assigns serial and sender. */
export interface ExportHost {
  send(msg: Omit<Message, 'serial'>): void;
  /**
   * True if send() encodes the message at once and, when a body value does not fit its signature,
   * throws the encoder's DBusInvalidArgsError having sent nothing: replies are then checked by
   * that one encoding instead of a separate check first.
   */
  readonly checksValues?: boolean;
}

/** A method handler: gets the in arguments, returns the out arguments as an array (or a promise of them). */
export type MethodHandler = (
  args: unknown[],
  invocation: MethodInvocation,
  // biome-ignore lint/suspicious/noConfusingVoidType: handlers of methods without out args may return nothing
) => unknown[] | undefined | void | PromiseLike<unknown[] | undefined | void>;

/** Where a property is read or written: the object, and the call that asked (absent for signals). */
export interface PropertyContext {
  path: string;
  interfaceName: string;
  propertyName: string;
  sender: string | undefined;
  /** The Properties.Get/Set/GetAll or GetManagedObjects call, if a peer asked. */
  message: Message | undefined;
}

/** Accessors of one property. */
export interface PropertyAccessor {
  /** Returns the value in the JavaScript mapping of the property's type (a Variant for type 'v'). */
  get?(ctx: PropertyContext): unknown;
  /** Receives the value in the JavaScript mapping of the property's type (already type-checked). */
  set?(value: unknown, ctx: PropertyContext): void | PromiseLike<void>;
}

/**
 * The implementation of one interface on one object.
 *
 * - `methods[Name](args, invocation)` handles method `Name`. It returns the out arguments as an
 *   array (or a promise of one); a method without out arguments may return nothing. It may
 *   instead answer through `invocation.returnValue` / `invocation.returnError`, now, or later
 *   after calling `invocation.defer()` (returning nothing with out args is otherwise Failed). It
 *   may throw (or reject with) a DBusError to answer with that error name; any other error
 *   answers org.freedesktop.DBus.Error.Failed.
 * - Properties are read through `properties[Name].get` if present, else `getProperty(Name, ctx)`;
 *   written through `properties[Name].set`, else `setProperty(Name, value, ctx)`. Getters may
 *   return a promise. Access ('read'/'write'/'readwrite') is enforced from the declaration before
 *   any accessor runs, and values are checked against the declared type both ways.
 * - `getAllProperties(ctx)` optionally answers Properties.GetAll in one go (name → value); without
 *   it GetAll reads every readable property and fails with the first error, as libvirt-dbus does.
 */
export interface ObjectImplementation {
  methods?: Record<string, MethodHandler>;
  properties?: Record<string, PropertyAccessor>;
  getProperty?(name: string, ctx: PropertyContext): unknown;
  setProperty?(name: string, value: unknown, ctx: PropertyContext): void | PromiseLike<void>;
  getAllProperties?(
    ctx: Omit<PropertyContext, 'propertyName'>,
  ): Record<string, unknown> | Map<string, unknown> | PromiseLike<Record<string, unknown> | Map<string, unknown>>;
}

/** A registration; `unregister()` removes it and returns false if it was already removed. */
export interface Registration {
  unregister(): boolean;
}

/** Passed to subtree callbacks: the subtree's root path and the call that asked, if any. */
export interface SubtreeContext {
  path: string;
  sender: string | undefined;
  message: Message | undefined;
}

type MaybePromise<T> = T | PromiseLike<T>;

/**
 * A dynamic subtree of objects (GDBusSubtreeVTable): the direct children of the registered path
 * are computed on demand. `childName` is null for the subtree's root path itself.
 */
export interface SubtreeHandler {
  /** Names of the existing child nodes (single path elements). */
  enumerate(ctx: SubtreeContext): MaybePromise<string[]>;
  /** Interfaces of a node; null or undefined: no object there. */
  introspect(childName: string | null, ctx: SubtreeContext): MaybePromise<InterfaceDeclaration[] | null | undefined>;
  /** Implementation of one interface of a node; undefined: not available. */
  dispatch(
    childName: string | null,
    interfaceName: string,
    ctx: SubtreeContext,
  ): MaybePromise<ObjectImplementation | undefined>;
}

/** Options of a subtree. */
export interface SubtreeOptions {
  /** Dispatch calls to children that enumerate() does not list (G_DBUS_SUBTREE_FLAGS_DISPATCH_TO_UNENUMERATED_NODES); saves an enumerate() per call. */
  dispatchToUnenumeratedNodes?: boolean;
}

/** Options of an exporter. */
export interface ExporterOptions {
  /** Error names for unknown objects/interfaces/properties: 'gdbus' (default) or 'specific'; see the file comment. */
  errorNames?: 'gdbus' | 'specific';
  /** Machine id answered by Peer.GetMachineId (default: /etc/machine-id, then /var/lib/dbus/machine-id). */
  machineId?: string;
}

/** Registering a second object for the same path and interface, or a second subtree or object manager on a path. */
export class ObjectPathInUseError extends DBusError {
  constructor(message: string) {
    super('org.freedesktop.DBus.Error.ObjectPathInUse', message);
    this.name = 'ObjectPathInUseError';
  }
}

/** Error name answered, in 'specific' mode, to Properties.Get of a write-only property. */
export const PropertyWriteOnlyError = 'org.freedesktop.DBus.Error.PropertyWriteOnly';

// ---------------------------------------------------------------------------------------------
// Declarations compiled once into lookup tables (declarations are treated as immutable).

interface CompiledMethod {
  decl: MethodDeclaration;
  inSignature: string;
  outSignature: string;
}

interface CompiledProperty {
  decl: PropertyDeclaration;
  readable: boolean;
  writable: boolean;
}

interface CompiledInterface {
  decl: InterfaceDeclaration;
  methods: Map<string, CompiledMethod>;
  properties: Map<string, CompiledProperty>;
  signals: Map<string, string>;
}

const compiledCache = new WeakMap<InterfaceDeclaration, CompiledInterface>();

function argsSignature(args: { signature: string }[], where: string): string {
  let sig = '';
  for (const a of args) {
    if (parseSignature(a.signature).length !== 1) {
      throw new DBusInvalidArgsError(`${where}: argument type "${a.signature}" is not a single complete type`);
    }
    sig += a.signature;
  }
  parseSignature(sig); // the whole must be within the limits too
  return sig;
}

/** Checks a declaration and builds its lookup tables (cached per declaration object). */
export function compileInterface(decl: InterfaceDeclaration): CompiledInterface {
  const cached = compiledCache.get(decl);
  if (cached) return cached;
  assertInterfaceName(decl.name);
  const methods = new Map<string, CompiledMethod>();
  for (const m of decl.methods) {
    assertMemberName(m.name);
    if (methods.has(m.name)) throw new DBusInvalidArgsError(`${decl.name}: duplicate method ${m.name}`);
    const where = `${decl.name}.${m.name}`;
    methods.set(m.name, { decl: m, inSignature: argsSignature(m.in, where), outSignature: argsSignature(m.out, where) });
  }
  const properties = new Map<string, CompiledProperty>();
  for (const p of decl.properties) {
    assertMemberName(p.name);
    if (properties.has(p.name)) throw new DBusInvalidArgsError(`${decl.name}: duplicate property ${p.name}`);
    argsSignature([p], `${decl.name}.${p.name}`);
    if (p.access !== 'read' && p.access !== 'write' && p.access !== 'readwrite') {
      throw new DBusInvalidArgsError(`${decl.name}.${p.name}: bad access "${String(p.access)}"`);
    }
    properties.set(p.name, { decl: p, readable: p.access !== 'write', writable: p.access !== 'read' });
  }
  const signals = new Map<string, string>();
  for (const s of decl.signals) {
    assertMemberName(s.name);
    if (signals.has(s.name)) throw new DBusInvalidArgsError(`${decl.name}: duplicate signal ${s.name}`);
    signals.set(s.name, argsSignature(s.args, `${decl.name}.${s.name}`));
  }
  const compiled = { decl, methods, properties, signals };
  compiledCache.set(decl, compiled);
  return compiled;
}

/** compileInterface for declarations a subtree returns: a bad one is the exporter's fault (Failed), not the caller's. */
function compileDeclared(decl: InterfaceDeclaration): CompiledInterface {
  try {
    return compileInterface(decl);
  } catch (e) {
    throw new DBusError(StandardErrors.Failed, `Invalid interface declaration from a subtree: ${errorText(e)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

/** Runs `fn` on a value that may be a promise; stays synchronous when it is not. */
function then<T, R>(v: MaybePromise<T>, fn: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return isPromiseLike(v) ? Promise.resolve(v).then(fn) : fn(v);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** True if `path` is strictly below `ancestor`. */
function isBelow(path: string, ancestor: string): boolean {
  if (ancestor === '/') return path !== '/';
  return path.length > ancestor.length && path.startsWith(ancestor) && path.charCodeAt(ancestor.length) === 0x2f;
}

function joinPath(parent: string, child: string): string {
  return parent === '/' ? `/${child}` : `${parent}/${child}`;
}

/** Wraps a property value in a Variant of its declared type after checking it. */
function toVariant(p: PropertyDeclaration, value: unknown, iface: string): Variant {
  if (value instanceof Variant && p.signature !== 'v' && value.signature === p.signature) value = value.value;
  try {
    checkValues(p.signature, [value]);
  } catch (e) {
    throw new DBusError(
      StandardErrors.Failed,
      `Getter of property ${iface}.${p.name} returned a value not of type “${p.signature}”: ${errorText(e)}`,
    );
  }
  return new Variant(p.signature, value);
}

/**
 * Whether a getAllProperties value is deliberately wrapped twice (a `v` holding a variant of the
 * property's type), as services compatible with GLib-based ones sometimes must answer; its inner
 * value is still checked against the declared type.
 */
function isWrappedTwice(p: PropertyDeclaration, value: unknown): value is Variant {
  if (!(value instanceof Variant) || value.signature !== 'v' || p.signature === 'v') return false;
  const inner = value.value;
  if (!(inner instanceof Variant) || inner.signature !== p.signature) return false;
  toVariant(p, inner.value, '');
  return true;
}

let machineIdCache: string | undefined;

function readMachineId(): string {
  if (machineIdCache !== undefined) return machineIdCache;
  for (const file of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const id = readFileSync(file, 'utf8').trim();
      if (/^[0-9a-f]{32}$/.test(id)) {
        machineIdCache = id;
        return id;
      }
    } catch {
      // try the next file
    }
  }
  throw new DBusError(StandardErrors.Failed, 'Unable to load /etc/machine-id or /var/lib/dbus/machine-id');
}

/** Sends an ERROR reply to `call` unless the caller expects no reply; a failing send is dropped (e.g. connection closed). */
function sendErrorReply(host: ExportHost, call: Message, name: string, text: string): void {
  if (call.flags & MessageFlags.NoReplyExpected) return;
  const reply: Omit<Message, 'serial'> = {
    type: MessageType.Error,
    flags: MessageFlags.NoReplyExpected,
    errorName: name,
    replySerial: call.serial,
    signature: 's',
    body: [text],
  };
  if (call.sender !== undefined) reply.destination = call.sender;
  try {
    host.send(reply);
  } catch {
    // Nobody to tell: the connection is gone or refuses to send.
  }
}

// ---------------------------------------------------------------------------------------------
// Invocation.

/** One incoming method call being answered; handlers may answer through it, once. */
export class MethodInvocation {
  private done = false;
  private deferred = false;

  constructor(
    /** The METHOD_CALL message. */
    readonly message: Message,
    private readonly host: ExportHost,
    /** Declaration of the method called. */
    readonly method: MethodDeclaration,
    private readonly outSignature: string,
    /** Interface the method belongs to (also when the call had no interface field). */
    readonly interfaceName: string,
  ) {}

  /** Unique name of the caller (undefined on a peer-to-peer connection). */
  get sender(): string | undefined {
    return this.message.sender;
  }
  /** Object path called. */
  get path(): string {
    return this.message.path ?? '/';
  }
  /** Method name called. */
  get member(): string {
    return this.message.member ?? '';
  }
  /** True once an answer was sent (or dropped because the caller expects none). */
  get answered(): boolean {
    return this.done;
  }
  /** True if the caller set NO_REPLY_EXPECTED: answers are dropped. */
  get noReplyExpected(): boolean {
    return (this.message.flags & MessageFlags.NoReplyExpected) !== 0;
  }

  /** Promises an answer through returnValue/returnError later: what the handler returns is then ignored. */
  defer(): void {
    this.deferred = true;
  }

  /** Sends the method return with the out arguments; a value not fitting the out signature answers Failed and throws. */
  returnValue(values: unknown[] = []): void {
    this.claim();
    const host = this.host;
    if (this.noReplyExpected || !host.checksValues) {
      try {
        checkValues(this.outSignature, values);
      } catch (e) {
        this.refuseValues(e);
      }
      if (this.noReplyExpected) return;
    }
    const reply: Omit<Message, 'serial'> = {
      type: MessageType.MethodReturn,
      flags: MessageFlags.NoReplyExpected,
      replySerial: this.message.serial,
      signature: this.outSignature,
      body: values,
    };
    if (this.message.sender !== undefined) reply.destination = this.message.sender;
    try {
      host.send(reply);
    } catch (e) {
      if (host.checksValues && e instanceof DBusInvalidArgsError) this.refuseValues(e);
      // The connection could not send the reply (closed, or it refused the values): try to say so.
      this.sendError(StandardErrors.Failed, `Reply of ${this.interfaceName}.${this.member} could not be sent: ${errorText(e)}`);
    }
  }

  /** Answers Failed for out values that do not fit the out signature, and throws. */
  private refuseValues(e: unknown): never {
    const text = `Handler of ${this.interfaceName}.${this.member} returned values not of type “(${this.outSignature})”: ${errorText(e)}`;
    this.sendError(StandardErrors.Failed, text);
    throw new DBusInvalidArgsError(text);
  }

  /** Answers with an error: a DBusError keeps its name, anything else becomes org.freedesktop.DBus.Error.Failed. */
  returnError(error: unknown): void {
    this.claim();
    if (error instanceof DBusError && isValidErrorName(error.errorName)) this.sendError(error.errorName, error.message);
    else this.sendError(StandardErrors.Failed, errorText(error));
  }

  /** Answers with the error `name` and `message`. */
  returnDBusError(name: string, message: string): void {
    this.claim();
    this.sendError(isValidErrorName(name) ? name : StandardErrors.Failed, message);
  }

  private claim(): void {
    if (this.done) throw new Error(`${this.interfaceName}.${this.member} was already answered`);
    this.done = true;
  }

  private sendError(name: string, message: string): void {
    sendErrorReply(this.host, this.message, name, message);
  }

  /** Internal: turns what a handler returned into the answer, unless it answered itself. */
  complete(result: unknown): void {
    if (this.done || this.deferred) return;
    if (result === undefined) {
      if (this.outSignature === '') this.returnValue([]);
      else
        this.returnDBusError(
          StandardErrors.Failed,
          `Handler of ${this.interfaceName}.${this.member} returned no out arguments (expected “(${this.outSignature})”)`,
        );
      return;
    }
    if (!Array.isArray(result)) {
      this.returnDBusError(
        StandardErrors.Failed,
        `Handler of ${this.interfaceName}.${this.member} must return its out arguments as an array`,
      );
      return;
    }
    try {
      this.returnValue(result);
    } catch {
      // returnValue already answered Failed
    }
  }

  /** Internal: answers a thrown error unless already answered. */
  fail(error: unknown): void {
    if (!this.done) this.returnError(error);
  }

  /** Internal: runs a step whose result or error becomes the answer. */
  run(step: () => unknown): void {
    let r: unknown;
    try {
      r = step();
    } catch (e) {
      this.fail(e);
      return;
    }
    if (isPromiseLike(r)) {
      r.then(
        (v) => this.complete(v),
        (e) => this.fail(e),
      );
    } else this.complete(r);
  }
}

// ---------------------------------------------------------------------------------------------
// The exporter.

interface Target {
  iface: CompiledInterface;
  impl: ObjectImplementation;
}

interface ExportedObject {
  /** Interfaces by name, in registration order. */
  entries: Map<string, Target>;
}

interface Subtree {
  path: string;
  handler: SubtreeHandler;
  unenumerated: boolean;
}

/** What is at one path: regular interfaces, and the subtree node if a subtree covers the path. */
interface NodeView {
  path: string;
  regular: ExportedObject | undefined;
  subtree: Subtree | undefined;
  child: string | null;
  /** Interfaces the subtree declares for the node (null: none / not a subtree node). */
  subtreeInterfaces: InterfaceDeclaration[] | null;
  ctx: SubtreeContext | undefined;
}

const PEER_METHODS = new Set(['Ping', 'GetMachineId']);
const PROPERTIES_METHODS = new Set(['Get', 'GetAll', 'Set']);
const STANDARD_OBJECT_INTERFACES = [PropertiesInterface, IntrospectableInterface, PeerInterface];

/** Exports objects and subtrees on one connection and answers the method calls addressed to them. */
export class ObjectExporter {
  private readonly objects = new Map<string, ExportedObject>();
  private readonly subtrees = new Map<string, Subtree>();
  private readonly managers = new Set<string>();
  /** path → child name → number of registrations at or below that child. */
  private readonly children = new Map<string, Map<string, number>>();
  private readonly specific: boolean;
  private readonly machineId: string | undefined;
  /** Keeps ObjectManager signals in order when property getters are asynchronous. */
  private signalQueue: Promise<void> | undefined;

  constructor(
    private readonly host: ExportHost,
    options: ExporterOptions = {},
  ) {
    this.specific = options.errorNames === 'specific';
    this.machineId = options.machineId;
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
    if (this.managers.size > 0) this.announceAdded(path, [target]);
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
        if (this.managers.size > 0) this.announceRemoved(path, [iface.name]);
        return true;
      },
    };
  }

  /** Exports a dynamic subtree at `path` (its root and direct children). Regular objects inside it take precedence. */
  registerSubtree(path: string, handler: SubtreeHandler, options: SubtreeOptions = {}): Registration {
    assertObjectPath(path);
    if (this.subtrees.has(path)) throw new ObjectPathInUseError(`A subtree is already exported for ${path}`);
    const st: Subtree = { path, handler, unenumerated: options.dispatchToUnenumeratedNodes === true };
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
    if (this.managers.has(path)) throw new ObjectPathInUseError(`An object manager is already exported at ${path}`);
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
      const r = this.route(msg);
      if (isPromiseLike(r)) r.then(undefined, (e: unknown) => this.answerError(msg, e));
    } catch (e) {
      this.answerError(msg, e);
    }
  }

  private answerError(msg: Message, e: unknown): void {
    if (e instanceof DBusError && isValidErrorName(e.errorName)) sendErrorReply(this.host, msg, e.errorName, e.message);
    else sendErrorReply(this.host, msg, StandardErrors.Failed, errorText(e));
  }

  private error(kind: 'object' | 'interface' | 'method' | 'propsInterface' | 'property' | 'readonly' | 'writeonly', msg: Message, name = ''): DBusError {
    const s = this.specific;
    switch (kind) {
      case 'object':
        return new DBusError(
          s ? StandardErrors.UnknownObject : StandardErrors.UnknownMethod,
          `Object does not exist at path “${msg.path}”`,
        );
      case 'interface':
        return new DBusError(
          s ? StandardErrors.UnknownInterface : StandardErrors.UnknownMethod,
          `No such interface “${name}” on object at path ${msg.path}`,
        );
      case 'method':
        return new DBusError(StandardErrors.UnknownMethod, `No such method “${name}”`);
      case 'propsInterface':
        return new DBusError(s ? StandardErrors.UnknownInterface : StandardErrors.InvalidArgs, `No such interface “${name}”`);
      case 'property':
        return new DBusError(s ? StandardErrors.UnknownProperty : StandardErrors.InvalidArgs, `No such property “${name}”`);
      case 'readonly':
        return new DBusError(
          s ? StandardErrors.PropertyReadOnly : StandardErrors.InvalidArgs,
          `Property “${name}” is not writable`,
        );
      case 'writeonly':
        return new DBusError(s ? PropertyWriteOnlyError : StandardErrors.InvalidArgs, `Property “${name}” is not readable`);
    }
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
    return then(view.subtree.handler.dispatch(view.child, name, view.ctx!), (impl) =>
      impl ? { iface, impl } : undefined,
    );
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
        return this.properties(msg, view);
      case Std.ObjectManager:
        if (this.managers.has(view.path)) {
          return this.standard(msg, ObjectManagerInterface, () => this.managedObjects(view.path, msg));
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
    if (msg.signature !== m.inSignature) {
      throw new DBusError(
        StandardErrors.InvalidArgs,
        `Type of message, “(${msg.signature})”, does not match expected type “(${m.inSignature})”`,
      );
    }
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
    if (msg.signature !== m.inSignature) {
      throw new DBusError(
        StandardErrors.InvalidArgs,
        `Type of message, “(${msg.signature})”, does not match expected type “(${m.inSignature})”`,
      );
    }
    new MethodInvocation(msg, this.host, m.decl, m.outSignature, decl.name).run(fn);
  }

  // ----- org.freedesktop.DBus.Peer -----

  private peer(msg: Message): void {
    this.standard(msg, PeerInterface, () => (msg.member === 'Ping' ? [] : [this.machineId ?? readMachineId()]));
  }

  // ----- org.freedesktop.DBus.Introspectable -----

  /** The introspection XML of `path` as a peer would get it. */
  introspect(path: string): Promise<string> {
    assertObjectPath(path);
    const xml = then(this.view(path, undefined), (v) => then(this.introspectView(v), (out) => out[0] as string));
    return Promise.resolve(xml);
  }

  private introspectView(view: NodeView): MaybePromise<unknown[]> {
    const interfaces = this.interfacesOf(view);
    if (this.managers.has(view.path)) interfaces.push(ObjectManagerInterface);
    if (interfaces.length > 0) interfaces.unshift(...STANDARD_OBJECT_INTERFACES);
    const names = new Set(this.children.get(view.path)?.keys());
    const build = (): unknown[] => {
      const nodes: NodeDeclaration[] = [];
      for (const name of names) nodes.push({ name, interfaces: [], nodes: [] });
      return [generateIntrospectionXml({ interfaces, nodes })];
    };
    const st = this.subtrees.get(view.path);
    if (!st) return build();
    return then(st.handler.enumerate({ path: st.path, sender: view.ctx?.sender, message: view.ctx?.message }), (list) => {
      for (const n of list) names.add(n);
      return build();
    });
  }

  // ----- org.freedesktop.DBus.Properties -----

  private properties(msg: Message, view: NodeView): void {
    const member = msg.member!;
    const m = compileInterface(PropertiesInterface).methods.get(member);
    if (!m) throw this.error('method', msg, member);
    if (msg.signature !== m.inSignature) {
      // GDBus does not recognise a Properties call with other arguments as one at all.
      if (!this.specific) throw this.error('interface', msg, Std.Properties);
      throw new DBusError(
        StandardErrors.InvalidArgs,
        `Type of message, “(${msg.signature})”, does not match expected type “(${m.inSignature})”`,
      );
    }
    const ifaceName = msg.body[0] as string;
    const inv = new MethodInvocation(msg, this.host, m.decl, m.outSignature, Std.Properties);
    inv.run(() =>
      then(this.target(view, ifaceName), (t) => {
        if (!t) throw this.error('propsInterface', msg, ifaceName);
        const ctx = (propertyName: string): PropertyContext => ({
          path: view.path,
          interfaceName: ifaceName,
          propertyName,
          sender: msg.sender,
          message: msg,
        });
        if (member === 'GetAll') {
          return then(this.readAll(t, ctx('')), (values) => [values]);
        }
        const name = msg.body[1] as string;
        const p = t.iface.properties.get(name);
        if (!p) throw this.error('property', msg, name);
        if (member === 'Get') {
          if (!p.readable) throw this.error('writeonly', msg, name);
          return then(this.readProperty(t, p, ctx(name)), (v) => [v]);
        }
        if (!p.writable) throw this.error('readonly', msg, name);
        const value = msg.body[2] as Variant;
        if (value.signature !== p.decl.signature) {
          throw new DBusError(
            StandardErrors.InvalidArgs,
            `Error setting property “${name}”: Expected type “${p.decl.signature}” but got “${value.signature}”`,
          );
        }
        const setter = t.impl.properties?.[name]?.set;
        let r: unknown;
        if (setter) r = setter.call(t.impl.properties![name], value.value, ctx(name));
        else if (t.impl.setProperty) r = t.impl.setProperty(name, value.value, ctx(name));
        else throw new DBusError(StandardErrors.NotSupported, `Property “${name}” has no setter`);
        return then(r, () => []);
      }),
    );
  }

  private readProperty(t: Target, p: CompiledProperty, ctx: PropertyContext): MaybePromise<Variant> {
    const name = p.decl.name;
    const accessor = t.impl.properties?.[name];
    let r: unknown;
    if (accessor?.get) r = accessor.get(ctx);
    else if (t.impl.getProperty) r = t.impl.getProperty(name, ctx);
    else throw new DBusError(StandardErrors.NotSupported, `Property “${name}” has no getter`);
    return then(r, (v) => toVariant(p.decl, v, t.iface.decl.name));
  }

  /** Reads every readable property into name → Variant; fails with the first error. */
  private readAll(t: Target, ctx: PropertyContext): MaybePromise<Map<string, Variant>> {
    const out = new Map<string, Variant>();
    if (t.impl.getAllProperties) {
      const { propertyName: _, ...base } = ctx;
      return then(t.impl.getAllProperties(base), (values) => {
        const get = values instanceof Map ? (k: string) => values.get(k) : (k: string) => values[k];
        const has = values instanceof Map ? (k: string) => values.has(k) : (k: string) => Object.hasOwn(values, k);
        for (const p of t.iface.properties.values()) {
          if (!p.readable || !has(p.decl.name)) continue;
          const v = get(p.decl.name);
          out.set(p.decl.name, isWrappedTwice(p.decl, v) ? v : toVariant(p.decl, v, t.iface.decl.name));
        }
        return out;
      });
    }
    const pending: PromiseLike<unknown>[] = [];
    for (const p of t.iface.properties.values()) {
      if (!p.readable) continue;
      const v = this.readProperty(t, p, { ...ctx, propertyName: p.decl.name });
      if (isPromiseLike(v)) {
        out.set(p.decl.name, undefined as unknown as Variant); // keep declaration order
        pending.push(v.then((x) => out.set(p.decl.name, x)));
      } else out.set(p.decl.name, v);
    }
    return pending.length === 0 ? out : Promise.all(pending).then(() => out);
  }

  /** Like readAll but skips properties that fail (for ObjectManager data, where one bad getter must not hide the object). */
  private async readAllLenient(t: Target, ctx: PropertyContext): Promise<Map<string, Variant>> {
    try {
      return await this.readAll(t, ctx);
    } catch {
      const out = new Map<string, Variant>();
      for (const p of t.iface.properties.values()) {
        if (!p.readable) continue;
        try {
          out.set(p.decl.name, await this.readProperty(t, p, { ...ctx, propertyName: p.decl.name }));
        } catch {
          // left out
        }
      }
      return out;
    }
  }

  // ----- org.freedesktop.DBus.ObjectManager -----

  private async managedObjects(root: string, msg: Message): Promise<unknown[]> {
    const result = new Map<string, Map<string, Map<string, Variant>>>();
    const add = async (path: string, targets: Target[]): Promise<void> => {
      let ifaces = result.get(path);
      if (!ifaces) {
        ifaces = new Map();
        result.set(path, ifaces);
      }
      for (const t of targets) {
        if (ifaces.has(t.iface.decl.name)) continue;
        const ctx = { path, interfaceName: t.iface.decl.name, propertyName: '', sender: msg.sender, message: msg };
        ifaces.set(t.iface.decl.name, await this.readAllLenient(t, ctx));
      }
    };
    for (const [path, obj] of this.objects) {
      if (isBelow(path, root)) await add(path, [...obj.entries.values()]);
    }
    for (const st of this.subtrees.values()) {
      if (st.path !== root && !isBelow(st.path, root)) continue;
      const ctx: SubtreeContext = { path: st.path, sender: msg.sender, message: msg };
      const nodes: Array<string | null> = [...(await st.handler.enumerate(ctx))];
      if (st.path !== root) nodes.unshift(null);
      for (const child of nodes) {
        const path = child === null ? st.path : joinPath(st.path, child);
        const decls = await st.handler.introspect(child, ctx);
        if (!decls) continue;
        const targets: Target[] = [];
        for (const d of decls) {
          if (this.objects.get(path)?.entries.has(d.name)) continue;
          const impl = await st.handler.dispatch(child, d.name, ctx);
          if (impl) targets.push({ iface: compileDeclared(d), impl });
        }
        if (targets.length > 0) await add(path, targets);
      }
    }
    return [result];
  }

  private managersAbove(path: string): string[] {
    const out: string[] = [];
    for (const m of this.managers) if (isBelow(path, m)) out.push(m);
    return out;
  }

  private enqueueSignal(job: () => MaybePromise<void>): void {
    const prev = this.signalQueue;
    if (prev !== undefined) {
      this.trackSignals(prev.then(job));
      return;
    }
    let r: MaybePromise<void>;
    try {
      r = job();
    } catch {
      return; // a signal that cannot be built is dropped; nothing is waiting for it
    }
    if (isPromiseLike(r)) this.trackSignals(Promise.resolve(r));
  }

  private trackSignals(p: Promise<void>): void {
    const noop = (): void => {};
    const q: Promise<void> = p.then(noop, noop).then(() => {
      if (this.signalQueue === q) this.signalQueue = undefined;
    });
    this.signalQueue = q;
  }

  private announceAdded(path: string, targets: Target[]): void {
    const managers = this.managersAbove(path);
    if (managers.length === 0) return;
    this.enqueueSignal(async () => {
      const ifaces = new Map<string, Map<string, Variant>>();
      for (const t of targets) {
        const ctx = { path, interfaceName: t.iface.decl.name, propertyName: '', sender: undefined, message: undefined };
        ifaces.set(t.iface.decl.name, await this.readAllLenient(t, ctx));
      }
      for (const m of managers) this.sendSignal(m, ObjectManagerInterface, 'InterfacesAdded', [path, ifaces]);
    });
  }

  private announceRemoved(path: string, names: string[]): void {
    const managers = this.managersAbove(path);
    if (managers.length === 0) return;
    this.enqueueSignal(() => {
      for (const m of managers) this.sendSignal(m, ObjectManagerInterface, 'InterfacesRemoved', [path, names]);
    });
  }

  /** Emits InterfacesAdded from every object manager above `path`, e.g. for a new subtree node. */
  notifyInterfacesAdded(path: string, interfaces: Array<{ iface: InterfaceDeclaration; impl: ObjectImplementation }>): void {
    assertObjectPath(path);
    this.announceAdded(
      path,
      interfaces.map((i) => ({ iface: compileInterface(i.iface), impl: i.impl })),
    );
  }

  /** Emits InterfacesRemoved from every object manager above `path`, e.g. for a vanished subtree node. */
  notifyInterfacesRemoved(path: string, interfaceNames: string[]): void {
    assertObjectPath(path);
    this.announceRemoved(path, interfaceNames);
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
    const compiled = compileInterface(decl);
    const values = new Map<string, Variant>();
    const entries = changed instanceof Map ? changed.entries() : Object.entries(changed);
    for (const [name, value] of entries) {
      const p = compiled.properties.get(name);
      if (!p) throw new DBusInvalidArgsError(`${decl.name} has no property ${name}`);
      try {
        values.set(name, toVariant(p.decl, value, decl.name));
      } catch (e) {
        throw new DBusInvalidArgsError(errorText(e));
      }
    }
    for (const name of invalidated) {
      if (!compiled.properties.has(name)) throw new DBusInvalidArgsError(`${decl.name} has no property ${name}`);
    }
    this.sendSignal(path, PropertiesInterface, 'PropertiesChanged', [decl.name, values, invalidated]);
  }
}

/** Builds a SIGNAL message for signal `member` of `iface`, checking `args` against the declaration (DBusInvalidArgsError). */
export function buildSignal(
  path: string,
  iface: InterfaceDeclaration,
  member: string,
  args: unknown[],
  destination?: string,
): Omit<Message, 'serial'> {
  assertObjectPath(path);
  const signature = compileInterface(iface).signals.get(member);
  if (signature === undefined) throw new DBusInvalidArgsError(`${iface.name} declares no signal ${member}`);
  try {
    checkValues(signature, args);
  } catch (e) {
    throw new DBusInvalidArgsError(`Arguments of signal ${iface.name}.${member} do not fit “(${signature})”: ${errorText(e)}`);
  }
  const msg: Omit<Message, 'serial'> = {
    type: MessageType.Signal,
    flags: MessageFlags.NoReplyExpected,
    path,
    interface: iface.name,
    member,
    signature,
    body: args,
  };
  if (destination !== undefined) msg.destination = destination;
  return msg;
}
