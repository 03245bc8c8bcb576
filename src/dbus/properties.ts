// org.freedesktop.DBus.Properties on exported objects: Get, Set and GetAll through the
// implementation's accessors, with access and types checked against the declaration both ways,
// and the values of PropertiesChanged.

import { checkValues } from './encoder.js';
import { DBusError, DBusInvalidArgsError, StandardErrors } from './errors.js';
import {
  type CompiledProperty,
  compileInterface,
  type NodeView,
  type ObjectImplementation,
  type PropertyContext,
  type Target,
  unknownError,
  wrongSignature,
} from './export-model.js';
import { errorText, isPromiseLike, type MaybePromise, then } from './export-util.js';
import type { InterfaceDeclaration, PropertyDeclaration } from './interface.js';
import { type ExportHost, MethodInvocation } from './invocation.js';
import type { Message } from './message.js';
import { PropertiesInterface, StandardInterfaceNames as Std } from './standard-interfaces.js';
import { Variant } from './variant.js';

/** What answering Properties calls needs from the exporter. */
export interface PropertiesRouter {
  readonly host: ExportHost;
  readonly specific: boolean;
  /** The implementation of interface `name` at the node, if any. */
  target(view: NodeView, name: string): MaybePromise<Target | undefined>;
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

/** Answers a Get, Set or GetAll call at the node `view` (which exists). */
export function answerProperties(router: PropertiesRouter, msg: Message, view: NodeView): void {
  const member = msg.member!;
  const m = compileInterface(PropertiesInterface).methods.get(member);
  if (!m) throw unknownError(router.specific, 'method', msg, member);
  if (msg.signature !== m.inSignature) {
    // GDBus does not recognise a Properties call with other arguments as one at all.
    if (!router.specific) throw unknownError(false, 'interface', msg, Std.Properties);
    throw wrongSignature(msg, m);
  }
  const ifaceName = msg.body[0] as string;
  const inv = new MethodInvocation(msg, router.host, m.decl, m.outSignature, Std.Properties);
  inv.run(() =>
    then(router.target(view, ifaceName), (t) => {
      if (!t) throw unknownError(router.specific, 'propsInterface', msg, ifaceName);
      const ctx = (propertyName: string): PropertyContext => ({
        path: view.path,
        interfaceName: ifaceName,
        propertyName,
        sender: msg.sender,
        message: msg,
      });
      if (member === 'GetAll') {
        return then(readAll(t, ctx('')), (values) => [values]);
      }
      const name = msg.body[1] as string;
      const p = t.iface.properties.get(name);
      if (!p) throw unknownError(router.specific, 'property', msg, name);
      if (member === 'Get') {
        if (!p.readable) throw unknownError(router.specific, 'writeonly', msg, name);
        return then(readProperty(t, p, ctx(name)), (v) => [v]);
      }
      if (!p.writable) throw unknownError(router.specific, 'readonly', msg, name);
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

function readProperty(t: Target, p: CompiledProperty, ctx: PropertyContext): MaybePromise<Variant> {
  const name = p.decl.name;
  const accessor = t.impl.properties?.[name];
  let r: unknown;
  if (accessor?.get) r = accessor.get(ctx);
  else if (t.impl.getProperty) r = t.impl.getProperty(name, ctx);
  else throw new DBusError(StandardErrors.NotSupported, `Property “${name}” has no getter`);
  return then(r, (v) => toVariant(p.decl, v, t.iface.decl.name));
}

/** Reads every readable property into name → Variant; fails with the first error. */
function readAll(t: Target, ctx: PropertyContext): MaybePromise<Map<string, Variant>> {
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
    const v = readProperty(t, p, { ...ctx, propertyName: p.decl.name });
    if (isPromiseLike(v)) {
      out.set(p.decl.name, undefined as unknown as Variant); // keep declaration order
      pending.push(v.then((x) => out.set(p.decl.name, x)));
    } else out.set(p.decl.name, v);
  }
  return pending.length === 0 ? out : Promise.all(pending).then(() => out);
}

/**
 * Like readAll but skips properties that fail (for ObjectManager data, where one bad getter must not
 * hide the object), and every value is of its declared type: a GetAll answer wrapped twice for
 * compatibility is unwrapped, as ObjectManager data has no such history to keep.
 */
export async function readAllLenient(t: Target, ctx: PropertyContext): Promise<Map<string, Variant>> {
  try {
    const values = await readAll(t, ctx);
    for (const [name, v] of values) {
      const p = t.iface.properties.get(name)?.decl;
      if (p && isWrappedTwice(p, v)) values.set(name, v.value as Variant);
    }
    return values;
  } catch {
    const out = new Map<string, Variant>();
    for (const p of t.iface.properties.values()) {
      if (!p.readable) continue;
      try {
        out.set(p.decl.name, await readProperty(t, p, { ...ctx, propertyName: p.decl.name }));
      } catch {
        // left out
      }
    }
    return out;
  }
}

/**
 * The properties of interface `iface` as `impl` at `path` answers them, as ObjectManager data (every
 * readable property that can be read, in its declared type): for an exporter's user announcing an
 * object itself, e.g. in an InterfacesAdded it emits once for several connections.
 */
export function managedProperties(iface: InterfaceDeclaration, impl: ObjectImplementation, path: string): Promise<Map<string, Variant>> {
  const ctx: PropertyContext = { path, interfaceName: iface.name, propertyName: '', sender: undefined, message: undefined };
  return readAllLenient({ iface: compileInterface(iface), impl }, ctx);
}

/**
 * The arguments of PropertiesChanged for interface `decl`: `changed` in the JavaScript mapping of
 * each property's declared type, wrapped in Variants after checking; every name must be declared.
 */
export function changedProperties(
  decl: InterfaceDeclaration,
  changed: Record<string, unknown> | Map<string, unknown>,
  invalidated: string[],
): unknown[] {
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
  return [decl.name, values, invalidated];
}
