// Small helpers shared by the org.libvirt.Domain method tables: look the domain up before a
// handler runs, convert typed parameters first, the C casts the reference relies on, and CPU maps.

import type { LibvirtConnection, RemoteNonnullDomain } from '../libvirt/index.js';
import type { Invocation } from './declare.js';
import { on } from './object-calls.js';
import { type Handle, Kinds, type ServiceObject } from './object-kinds.js';
import { dictToTypedParams, type RemoteTypedParam } from './typed-params.js';

/** A looked-up domain together with the connection it came from. */
export type DomainHandle = Handle<RemoteNonnullDomain>;

/** Wraps a handler so that it first looks the domain up from the object path. */
export function onDomain<A, R>(
  fn: (h: DomainHandle, args: A, inv: Invocation, obj: ServiceObject) => Promise<R>,
): (obj: ServiceObject, args: A, inv: Invocation) => Promise<R> {
  return on(Kinds.domain, fn);
}

/**
 * Wraps a handler taking typed parameters from the `params` argument: like the reference, they
 * are converted (and rejected) before the domain is looked up. The method has no out arguments.
 */
export function withParams<A extends { readonly params: unknown }>(
  fn: (h: DomainHandle, params: RemoteTypedParam[], args: A) => Promise<void>,
): (obj: ServiceObject, args: A) => Promise<[]> {
  return async (obj, args) => {
    const params = dictToTypedParams(args.params);
    await fn(await Kinds.domain.lookupFrom(obj), params, args);
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

/** VIR_CPU_MAPLEN: bytes needed for a map of `cpus` CPUs. */
export function cpuMapLength(cpus: number): number {
  return (cpus + 7) >> 3;
}

/** An array of booleans (one per host CPU) → a libvirt CPU bitmap. */
export function boolsToCpumap(bools: readonly boolean[]): Buffer {
  const map = Buffer.alloc(cpuMapLength(bools.length));
  bools.forEach((used, cpu) => {
    if (used) map[cpu >> 3] = (map[cpu >> 3] as number) | (1 << (cpu & 7));
  });
  return map;
}

/** `count` booleans read from a libvirt CPU bitmap starting at byte `offset` (missing bytes are 0). */
export function cpumapToBools(map: Uint8Array, count: number, offset = 0): boolean[] {
  const out: boolean[] = [];
  for (let cpu = 0; cpu < count; cpu++) {
    const byte = map[offset + (cpu >> 3)] ?? 0;
    out.push((byte & (1 << (cpu & 7))) !== 0);
  }
  return out;
}

/** Number of host CPUs, as virNodeGetCPUMap(conn, NULL, NULL, 0) returns it. */
export async function hostCpuCount(conn: LibvirtConnection): Promise<number> {
  const r = await conn.nodeGetCpuMap({ need_map: 0, need_online: 0, flags: 0 });
  return r.ret;
}
