// One declaration per D-Bus interface of org.libvirt. Each member is written exactly once —
// name, argument names and signatures, property access, the libvirt function it maps to and
// the arguments where an empty string stands for NULL — and that one table drives dispatch,
// argument conversion, introspection and the generated data/org.libvirt.*.xml.

import type {
  Annotations,
  ArgDeclaration,
  InterfaceDeclaration,
  Message,
  MethodDeclaration,
  MethodInvocation,
  ObjectImplementation,
  PropertyAccess,
  PropertyDeclaration,
  SignalDeclaration,
} from '../dbus/index.js';
import { Variant } from '../dbus/index.js';
import { toDBusError } from './errors.js';
import type { ServiceObject } from './object-kinds.js';
import type { ArgsOf, ResultOf, TypeOf } from './signature-types.js';

/** Where a bound implementation keeps the object its handlers act on. */
const TARGET = Symbol('target');

/** What a handler knows about the call besides its arguments. */
export interface Invocation {
  /** Object path the call was made on. */
  path: string;
  /** Unique bus name of the caller, if any (none on a peer-to-peer connection). */
  sender?: string;
  /** File descriptors that came with the call (for `h` arguments the value is already the fd). */
  fds: number[];
  /** The incoming message, where a handler needs more. */
  message?: Message;
}

/** The annotation GDBus uses for documentation in introspection data. */
export const DocStringAnnotation = 'org.gtk.GDBus.DocString';
/** The annotation telling clients whether PropertiesChanged is emitted. */
export const EmitsChangedAnnotation = 'org.freedesktop.DBus.Property.EmitsChangedSignal';

/** The names listed in an `emptyIsNull` (never when absent). */
type NamesOf<E> = E extends readonly (infer N)[] ? N : never;

/**
 * A method: `in`/`out` are space-separated `name:type`, one complete D-Bus type each. The handler's
 * arguments and result are typed from them (signature-types.ts): `in: 'xml:s flags:u'` gives
 * `args: { xml: string; flags: number }`, `out: 'domain:o'` requires a `[string]`. `In`, `Out` and
 * `Null` are the literal strings of one declaration.
 */
export interface MethodSpec<O, In, Out, Null> {
  in?: In;
  out?: Out;
  /** The libvirt function(s) it maps to, comma-separated when several. */
  libvirt: string;
  /** In arguments (of type s) for which an empty string means NULL (they arrive as null). */
  emptyIsNull?: Null;
  /** Extra sentence(s) for the doc string (after the generated "See …" and NULL notes). */
  note?: string;
  /** Runs the method; returns one value per out argument. */
  call: (obj: O, args: ArgsOf<In, NamesOf<Null>>, inv: Invocation) => Promise<ResultOf<Out>>;
}

/** A property of a single complete type; the getter returns, the setter receives, that type. */
export interface PropertySpec<O, T extends string> {
  type: T;
  access: PropertyAccess;
  /** The libvirt function(s): getter, then setter, comma-separated. */
  libvirt: string;
  /** Value of the EmitsChangedSignal annotation on this property ('const' for names, UUIDs). */
  emitsChanged?: 'true' | 'false' | 'const' | 'invalidates';
  note?: string;
  get?: (obj: O) => Promise<TypeOf<T, 'out'>>;
  set?: (obj: O, value: TypeOf<T, 'in'>) => Promise<void>;
}

/** A signal: `args` is space-separated `name:type`. */
export interface SignalSpec {
  args?: string;
  /** The libvirt callback it comes from. */
  libvirt?: string;
  note?: string;
}

/**
 * Methods typed from their own declarations: `I`, `U` and `E` hold each method's `in`, `out` and
 * `emptyIsNull` literally (TypeScript infers them from the object written; unknown where left out).
 */
export type MethodsSpec<O, I, U, E> = { [K in keyof I & keyof U & keyof E]: MethodSpec<O, I[K], U[K], E[K]> };

/** Properties typed from their own `type`. */
export type PropertiesSpec<O, P> = { [K in keyof P]: PropertySpec<O, P[K] & string> };

/** Everything about one interface, its members typed from their own declarations (see defineInterface). */
export interface TypedInterfaceSpec<O, I, U, E, P> {
  /** Interface-level EmitsChangedSignal annotation (the reference says 'false' on most). */
  emitsChanged?: 'true' | 'false' | 'const' | 'invalidates';
  methods?: MethodsSpec<O, I, U, E>;
  properties?: PropertiesSpec<O, P>;
  signals?: Record<string, SignalSpec>;
}

/** A method as kept once declared (its handler was checked against its signatures then). */
export interface DeclaredMethod<O> {
  in?: string;
  out?: string;
  libvirt: string;
  emptyIsNull?: readonly string[];
  note?: string;
  call: (obj: O, args: { readonly [name: string]: unknown }, inv: Invocation) => Promise<readonly unknown[]>;
}

/** A property as kept once declared. */
export interface DeclaredProperty<O> {
  type: string;
  access: PropertyAccess;
  libvirt: string;
  emitsChanged?: 'true' | 'false' | 'const' | 'invalidates';
  note?: string;
  get?: (obj: O) => Promise<unknown>;
  set?: (obj: O, value: unknown) => Promise<void>;
}

/** Everything about one interface, as kept once declared (every member checked by then). */
export interface InterfaceSpec<O> {
  emitsChanged?: 'true' | 'false' | 'const' | 'invalidates';
  methods?: Record<string, DeclaredMethod<O>>;
  properties?: Record<string, DeclaredProperty<O>>;
  signals?: Record<string, SignalSpec>;
}

/**
 * The exporter's ObjectImplementation as defineInterface makes it: every method and property
 * present, handlers needing only part of the invocation, GetAll answered in one go. Errors reach
 * the caller as DBusError (libvirt failures as org.libvirt.Error).
 */
export interface InterfaceImplementation extends ObjectImplementation {
  methods: Record<string, (body: unknown[], invocation: Pick<MethodInvocation, 'message' | 'sender' | 'path'>) => Promise<unknown[]>>;
  properties: Record<string, { get?: () => Promise<unknown>; set?: (value: unknown) => Promise<void> }>;
  getAllProperties(): Promise<Map<string, unknown>>;
}

/** The result of defineInterface: the declaration plus a way to bind it to an object. */
export interface DefinedInterface<O> {
  readonly name: string;
  readonly declaration: InterfaceDeclaration;
  readonly spec: InterfaceSpec<O>;
  /** Binds the handlers to one service-side object. */
  implementationFor(obj: O): InterfaceImplementation;
  /** Signature and body for emitting a declared signal (throws on an unknown name or wrong arity). */
  signal(name: string, values: unknown[]): { signature: string; body: unknown[] };
}

/**
 * A table of methods declared apart from their interface (the Domain methods are in several
 * files), each typed from its own declaration as in defineInterface.
 */
export function defineMethods<
  const I extends Record<string, unknown>,
  const U extends Record<string, unknown>,
  const E extends Record<string, unknown>,
>(methods: MethodsSpec<ServiceObject, I, U, E>): Record<string, DeclaredMethod<ServiceObject>> {
  return methods as unknown as Record<string, DeclaredMethod<ServiceObject>>;
}

/** Parses 'flags:u xml:s' into argument declarations; throws on a malformed spec. */
export function parseArgSpec(spec: string | undefined): ArgDeclaration[] {
  if (spec === undefined || spec.trim() === '') return [];
  return spec
    .trim()
    .split(/\s+/)
    .map((part) => {
      const colon = part.indexOf(':');
      if (colon <= 0 || colon === part.length - 1) throw new Error(`bad argument spec '${part}'`);
      return { name: part.slice(0, colon), signature: part.slice(colon + 1) };
    });
}

// Which libvirt.org API page documents a function, as the reference's doc strings link them.
const docPages: [RegExp, string][] = [
  [/^vir(DomainSnapshot|DomainRevertToSnapshot|DomainListAllSnapshots|DomainHasCurrentSnapshot)/, 'domain-snapshot'],
  [/^vir(DomainCheckpoint|DomainListAllCheckpoints)/, 'domain-checkpoint'],
  [/^vir(Domain|ConnectDomain|ConnectListAllDomains|ConnectGetAllDomainStats|ConnectGetDomainCapabilities)/, 'domain'],
  [/^vir(Network|ConnectNetwork|ConnectListAllNetworks)/, 'network'],
  [/^vir(StorageVol|StoragePool|ConnectStoragePool|ConnectFindStoragePoolSources|ConnectListAllStoragePools)/, 'storage'],
  [/^vir(NodeDevice|ConnectNodeDevice|ConnectListAllNodeDevices)/, 'nodedev'],
  [/^vir(Interface|ConnectListAllInterfaces)/, 'interface'],
  [/^vir(Secret|ConnectSecret|ConnectListAllSecrets)/, 'secret'],
  [/^vir(NWFilter|ConnectListAllNWFilters)/, 'nwfilter'],
];

/** The libvirt.org link for a libvirt function. */
export function libvirtDocLink(fn: string): string {
  const page = docPages.find(([re]) => re.test(fn))?.[1] ?? 'host';
  return `https://libvirt.org/html/libvirt-libvirt-${page}.html#${fn}`;
}

function docString(libvirt: string | undefined, emptyIsNull: readonly string[] | undefined, note?: string): string {
  const lines: string[] = [];
  if (libvirt) {
    lines.push(
      `See ${libvirt
        .split(',')
        .map((fn) => libvirtDocLink(fn.trim()))
        .join(' and\n')}`,
    );
  }
  if (emptyIsNull && emptyIsNull.length > 0) {
    const names = emptyIsNull.map((n) => `@${n}`);
    const list = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
    lines.push(`Empty string can be used to pass a NULL as ${list} argument.`);
  }
  if (note) lines.push(note);
  return lines.join('\n');
}

function annotate(doc: string, extra?: Annotations): Annotations {
  const out: Annotations = {};
  if (doc) out[DocStringAnnotation] = doc;
  return { ...out, ...extra };
}

/**
 * Builds the InterfaceDeclaration and dispatch for one interface whose handlers act on a
 * ServiceObject; throws on an inconsistent spec. The type parameters are inferred, not written:
 * `I`, `U`, `E` (each method's `in`, `out`, `emptyIsNull`) and `P` (each property's `type`) type
 * the handlers.
 */
export function defineInterface<
  const I extends Record<string, unknown>,
  const U extends Record<string, unknown>,
  const E extends Record<string, unknown>,
  const P extends Record<string, string>,
>(name: string, spec: TypedInterfaceSpec<ServiceObject, I, U, E, P>): DefinedInterface<ServiceObject> {
  return buildInterface(name, spec as unknown as InterfaceSpec<ServiceObject>);
}

/** defineInterface for handlers acting on another type of object: `interfacesOn<T>()(name, spec)`. */
export function interfacesOn<O>() {
  return <
    const I extends Record<string, unknown>,
    const U extends Record<string, unknown>,
    const E extends Record<string, unknown>,
    const P extends Record<string, string>,
  >(
    name: string,
    spec: TypedInterfaceSpec<O, I, U, E, P>,
  ): DefinedInterface<O> => buildInterface(name, spec as unknown as InterfaceSpec<O>);
}

/** The declaration and dispatch of a spec whose handlers were checked by the caller's signature. */
function buildInterface<O>(name: string, spec: InterfaceSpec<O>): DefinedInterface<O> {
  const methods: MethodDeclaration[] = [];
  const properties: PropertyDeclaration[] = [];
  const signals: SignalDeclaration[] = [];
  const inArgs = new Map<string, ArgDeclaration[]>();
  const outArgs = new Map<string, ArgDeclaration[]>();
  const signalArgs = new Map<string, ArgDeclaration[]>();

  for (const [pname, p] of Object.entries(spec.properties ?? {})) {
    const readable = p.access !== 'write';
    const writable = p.access !== 'read';
    if (readable && !p.get) throw new Error(`${name}.${pname}: readable property without get`);
    if (writable && !p.set) throw new Error(`${name}.${pname}: writable property without set`);
    const extra: Annotations = p.emitsChanged ? { [EmitsChangedAnnotation]: p.emitsChanged } : {};
    properties.push({
      name: pname,
      signature: p.type,
      access: p.access,
      annotations: annotate(docString(p.libvirt, undefined, p.note), extra),
    });
  }
  for (const [mname, m] of Object.entries(spec.methods ?? {})) {
    const ins = parseArgSpec(m.in);
    const outs = parseArgSpec(m.out);
    for (const n of m.emptyIsNull ?? []) {
      const arg = ins.find((a) => a.name === n);
      if (arg?.signature !== 's') throw new Error(`${name}.${mname}: emptyIsNull names no 's' argument '${n}'`);
    }
    inArgs.set(mname, ins);
    outArgs.set(mname, outs);
    methods.push({
      name: mname,
      in: ins,
      out: outs,
      annotations: annotate(docString(m.libvirt, m.emptyIsNull, m.note)),
    });
  }
  for (const [sname, s] of Object.entries(spec.signals ?? {})) {
    const args = parseArgSpec(s.args);
    signalArgs.set(sname, args);
    signals.push({ name: sname, args, annotations: annotate(docString(s.libvirt, undefined, s.note)) });
  }

  const declaration: InterfaceDeclaration = {
    name,
    methods,
    signals,
    properties,
    annotations: spec.emitsChanged ? { [EmitsChangedAnnotation]: spec.emitsChanged } : {},
  };

  // The handlers are made once per interface and find their object through `this[TARGET]`: an
  // implementation for one call is then a few Object.create()s, not a closure per member (a
  // domain has over a hundred, and every call on a domain path asks for an implementation).
  type Bound = { [TARGET]: O };
  const methodsProto: InterfaceImplementation['methods'] = {};
  for (const [mname, m] of Object.entries(spec.methods ?? {})) {
    const ins = inArgs.get(mname) ?? [];
    methodsProto[mname] = async function (this: Bound, body, invocation) {
      const args: { [name: string]: unknown } = {};
      ins.forEach((a, i) => {
        const v = body[i];
        args[a.name as string] = m.emptyIsNull?.includes(a.name as string) && v === '' ? null : v;
      });
      const inv: Invocation = {
        path: invocation.path,
        sender: invocation.sender,
        fds: invocation.message.fds ?? [],
        message: invocation.message,
      };
      try {
        return (await m.call(this[TARGET], args, inv)) as unknown[];
      } catch (err) {
        throw toDBusError(err);
      }
    };
  }
  const accessorProtos: [string, InterfaceImplementation['properties'][string]][] = [];
  const readable: [PropertyDeclaration, (obj: O) => Promise<unknown>][] = [];
  for (const [pname, p] of Object.entries(spec.properties ?? {})) {
    const { get, set } = p;
    const proto: InterfaceImplementation['properties'][string] = {};
    if (get) {
      proto.get = async function (this: Bound) {
        try {
          return await get(this[TARGET]);
        } catch (err) {
          throw toDBusError(err);
        }
      };
      const decl = properties.find((d) => d.name === pname);
      if (decl && decl.access !== 'write') readable.push([decl, get]);
    }
    if (set) {
      proto.set = async function (this: Bound, value) {
        try {
          await set(this[TARGET], value);
        } catch (err) {
          throw toDBusError(err);
        }
      };
    }
    accessorProtos.push([pname, proto]);
  }
  // Declaration order, as GetAll answers.
  readable.sort((a, b) => properties.indexOf(a[0]) - properties.indexOf(b[0]));
  const bind = <T extends object>(proto: T, obj: O): T => {
    const bound = Object.create(proto) as T & Bound;
    bound[TARGET] = obj;
    return bound;
  };
  // A property's accessor is bound when it is asked for: a method call reads none, Get reads one.
  const propertiesProto = {} as InterfaceImplementation['properties'];
  for (const [pname, proto] of accessorProtos) {
    Object.defineProperty(propertiesProto, pname, {
      get(this: Bound) {
        return bind(proto, this[TARGET]);
      },
    });
  }

  const implementationFor = (obj: O): InterfaceImplementation => {
    return {
      methods: bind(methodsProto, obj),
      properties: bind(propertiesProto, obj),
      // Like the reference (observed: python-dbus sees variant_level=2, and a vanished domain
      // answers {}): every readable property in declaration order, each value wrapped twice, and a
      // property whose getter fails left out. The getters run concurrently: each is its own
      // libvirt round trip.
      async getAllProperties() {
        const results = await Promise.allSettled(readable.map(([, get]) => get(obj)));
        const out = new Map<string, unknown>();
        for (const [i, r] of results.entries()) {
          const p = readable[i]?.[0] as PropertyDeclaration;
          if (r.status === 'fulfilled') out.set(p.name, new Variant('v', new Variant(p.signature, r.value)));
        }
        return out;
      },
    };
  };

  return {
    name,
    declaration,
    spec,
    implementationFor,
    signal(sname, values) {
      const args = signalArgs.get(sname);
      if (!args) throw new Error(`${name} has no signal ${sname}`);
      if (args.length !== values.length) throw new Error(`${name}.${sname} takes ${args.length} arguments`);
      return { signature: args.map((a) => a.signature).join(''), body: values };
    },
  };
}

/** The values of the EmitsChangedSignal annotation. */
export type EmitsChanged = 'true' | 'false' | 'const' | 'invalidates';

/**
 * `defined` with the EmitsChangedSignal annotation of the properties named in `overrides` replaced
 * (the declaration is copied; handlers, spec and signals are shared). Change notification sets
 * them in one table (emits-changed.ts) instead of in every interface's file; throws on a name
 * that is not a property.
 */
export function withEmitsChanged<O>(defined: DefinedInterface<O>, overrides: Readonly<Record<string, EmitsChanged>>): DefinedInterface<O> {
  const names = new Set(defined.declaration.properties.map((p) => p.name));
  for (const name of Object.keys(overrides)) {
    if (!names.has(name)) throw new Error(`${defined.name} has no property ${name}`);
  }
  const properties = defined.declaration.properties.map((p) => {
    const value = overrides[p.name];
    return value === undefined ? p : { ...p, annotations: { ...p.annotations, [EmitsChangedAnnotation]: value } };
  });
  return { ...defined, declaration: { ...defined.declaration, properties } };
}
