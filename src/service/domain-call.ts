// Small helpers shared by the org.libvirt.Domain method tables: look the domain up before a
// handler runs, convert typed parameters first, and the C casts the reference relies on.

import type { Args, Invocation, MethodSpec } from './declare.js';
import { type DomainHandle, type DomainObject, lookupDomain } from './domain-object.js';
import { dictToTypedParams, type RemoteTypedParam } from './typed-params.js';

/** A method's handler given the looked-up domain. */
export type DomainCall = (h: DomainHandle, args: Args, inv: Invocation, obj: DomainObject) => Promise<unknown[]>;

/** Wraps a handler so that it first looks the domain up from the object path. */
export function onDomain(fn: DomainCall): MethodSpec<DomainObject>['call'] {
  return async (obj, args, inv) => fn(await lookupDomain(obj), args, inv, obj);
}

/**
 * Wraps a handler taking typed parameters from the `params` argument: like the reference, they
 * are converted (and rejected) before the domain is looked up. The method has no out arguments.
 */
export function withParams(
  fn: (h: DomainHandle, params: RemoteTypedParam[], args: Args) => Promise<void>,
): MethodSpec<DomainObject>['call'] {
  return async (obj, args) => {
    const params = dictToTypedParams(args.params);
    await fn(await lookupDomain(obj), params, args);
    return [];
  };
}

/** A D-Bus 't' holding a libvirt 'long long' (as the reference's C cast does). */
export function asUint64(v: bigint | number): bigint {
  return BigInt.asUintN(64, BigInt(v));
}

/** A D-Bus 't' passed where libvirt takes a 'long long'. */
export function asInt64(v: bigint | number): bigint {
  return BigInt.asIntN(64, BigInt(v));
}

/** A C string sent as a char array: the bytes up to the first NUL. */
export function cString(chars: Uint8Array | readonly number[] | string): string {
  if (typeof chars === 'string') return chars.replace(/\0.*$/s, '');
  const bytes = Buffer.from(chars as Uint8Array);
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? bytes.length : end).toString('utf8');
}
