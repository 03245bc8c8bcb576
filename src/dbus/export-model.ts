// The exporter's model: the public types an implementation is written against, interface
// declarations compiled once into lookup tables, what is exported at a path (regular objects and
// subtree nodes), and the answers every part of the exporter shares (unknown object, interface,
// method or property; a call with the wrong argument types).
//
// Error names. By default the exporter answers exactly as GDBus 2.74 does (and therefore as the
// reference libvirt-dbus does): UnknownMethod for an unknown object, interface or method, and
// InvalidArgs for unknown properties and wrong property access. With `errorNames: 'specific'`
// it answers UnknownObject, UnknownInterface, UnknownProperty, PropertyReadOnly and
// PropertyWriteOnly instead (sd-bus style; PropertyWriteOnly is not in the specification).
// Messages are GDBus's in both modes.

import { DBusError, DBusInvalidArgsError, StandardErrors } from './errors.js';
import { errorText, type MaybePromise } from './export-util.js';
import type { InterfaceDeclaration, MethodDeclaration, PropertyDeclaration } from './interface.js';
import type { MethodInvocation } from './invocation.js';
import type { Message } from './message.js';
import { assertInterfaceName, assertMemberName } from './names.js';
import { parseSignature } from './signature.js';

export type { ExportHost } from './invocation.js';

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
 * - `getAllProperties(ctx)` optionally answers Properties.GetAll in one go (name → value); a
 *   readable property it leaves out is left out of the answer (the way to answer as libvirt-dbus
 *   does, which leaves out properties whose getter fails). Without it GetAll reads every readable
 *   property through the accessors and fails with the first error.
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
  dispatch(childName: string | null, interfaceName: string, ctx: SubtreeContext): MaybePromise<ObjectImplementation | undefined>;
}

/** Options of a subtree. */
export interface SubtreeOptions {
  /** Dispatch calls to children that enumerate() does not list (G_DBUS_SUBTREE_FLAGS_DISPATCH_TO_UNENUMERATED_NODES); saves an enumerate() per call. */
  dispatchToUnenumeratedNodes?: boolean;
  /**
   * Whether an object manager above lists the subtree's root itself when introspect(null) gives it
   * interfaces (default true); false where the root only answers like its children for compatibility.
   */
  rootIsManaged?: boolean;
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

export interface CompiledMethod {
  decl: MethodDeclaration;
  inSignature: string;
  outSignature: string;
}

export interface CompiledProperty {
  decl: PropertyDeclaration;
  readable: boolean;
  writable: boolean;
}

export interface CompiledInterface {
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
export function compileDeclared(decl: InterfaceDeclaration): CompiledInterface {
  try {
    return compileInterface(decl);
  } catch (e) {
    throw new DBusError(StandardErrors.Failed, `Invalid interface declaration from a subtree: ${errorText(e)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// What is exported at a path.

/** One interface of one object: its compiled declaration and its implementation. */
export interface Target {
  iface: CompiledInterface;
  impl: ObjectImplementation;
}

/** A regular object: interfaces by name, in registration order. */
export interface ExportedObject {
  entries: Map<string, Target>;
}

/** A registered subtree. */
export interface Subtree {
  path: string;
  handler: SubtreeHandler;
  unenumerated: boolean;
  rootIsManaged: boolean;
}

/** What is at one path: regular interfaces, and the subtree node if a subtree covers the path. */
export interface NodeView {
  path: string;
  regular: ExportedObject | undefined;
  subtree: Subtree | undefined;
  child: string | null;
  /** Interfaces the subtree declares for the node (null: none / not a subtree node). */
  subtreeInterfaces: InterfaceDeclaration[] | null;
  ctx: SubtreeContext | undefined;
}

// ---------------------------------------------------------------------------------------------
// Answers shared by the router and the standard interfaces.

/** What was not found, or not allowed. */
export type UnknownKind = 'object' | 'interface' | 'method' | 'propsInterface' | 'property' | 'readonly' | 'writeonly';

/** The error for an unknown object, interface, method or property, or a refused property access; `specific` picks the names (see the file comment). */
export function unknownError(specific: boolean, kind: UnknownKind, msg: Message, name = ''): DBusError {
  const s = specific;
  switch (kind) {
    case 'object':
      return new DBusError(s ? StandardErrors.UnknownObject : StandardErrors.UnknownMethod, `Object does not exist at path “${msg.path}”`);
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
      return new DBusError(s ? StandardErrors.PropertyReadOnly : StandardErrors.InvalidArgs, `Property “${name}” is not writable`);
    case 'writeonly':
      return new DBusError(s ? PropertyWriteOnlyError : StandardErrors.InvalidArgs, `Property “${name}” is not readable`);
  }
}

/** The InvalidArgs answer to a call whose arguments are not of the method's in types. */
export function wrongSignature(msg: Message, m: CompiledMethod): DBusError {
  return new DBusError(
    StandardErrors.InvalidArgs,
    `Type of message, “(${msg.signature})”, does not match expected type “(${m.inSignature})”`,
  );
}
