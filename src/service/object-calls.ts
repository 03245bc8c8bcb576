// Handlers of the objects below a Connect object: look the object up from its path first (on
// every call, as the reference, so a path never goes stale), then run on it.

import type { Invocation } from './declare.js';
import type { Handle, ObjectKind, ServiceObject } from './object-kinds.js';

/** Wraps a method handler so that it first looks the `kind` object up from the object path. */
export function on<R, K, A, T>(
  kind: ObjectKind<R, K>,
  fn: (h: Handle<R>, args: A, inv: Invocation, obj: ServiceObject) => Promise<T>,
): (obj: ServiceObject, args: A, inv: Invocation) => Promise<T> {
  return async (obj, args, inv) => fn(await kind.lookupFrom(obj), args, inv, obj);
}

/** A property getter on the `kind` object looked up from the object path. */
export function read<R, K, T>(kind: ObjectKind<R, K>, fn: (h: Handle<R>) => Promise<T>): (obj: ServiceObject) => Promise<T> {
  return async (obj) => fn(await kind.lookupFrom(obj));
}

/** A property setter on the `kind` object looked up from the object path. */
export function write<R, K, V>(
  kind: ObjectKind<R, K>,
  fn: (h: Handle<R>, value: V) => Promise<void>,
): (obj: ServiceObject, value: V) => Promise<void> {
  return async (obj, value) => fn(await kind.lookupFrom(obj), value);
}
