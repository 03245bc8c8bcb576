// What a Domain or DomainSnapshot object is on the service side: its path below a Connect
// object. Like the reference, every call looks the libvirt object up again from the path
// (by UUID, and by name for a snapshot), so an object path stays valid across renames and
// a vanished object answers with libvirt's own "not found" error.

import type { LibvirtConnection, RemoteNonnullDomain, RemoteNonnullDomainSnapshot } from '../libvirt/index.js';
import { OrgLibvirtError } from './errors.js';
import { lastElement, type ServiceObject } from './lookup.js';
import { decodeString, snapshotPath, uuidObjectPath, uuidToString } from './paths.js';

/** A Domain or DomainSnapshot object: its Connect object and its own path. */
export type DomainObject = ServiceObject;

/** A looked-up domain together with the connection it came from. */
export interface DomainHandle {
  conn: LibvirtConnection;
  dom: RemoteNonnullDomain;
}

/** A looked-up snapshot together with the connection it came from. */
export interface SnapshotHandle {
  conn: LibvirtConnection;
  snap: RemoteNonnullDomainSnapshot;
}

/**
 * Parses a UUID the way virUUIDParse does: leading blanks, then 32 hex digits that may be
 * separated by '-' or ' ', then only blanks. Returns undefined when malformed.
 */
export function parseUuidLikeLibvirt(text: string): Uint8Array | undefined {
  let i = 0;
  while (text[i] === ' ') i++;
  const out = new Uint8Array(16);
  for (let n = 0; n < 16; n++) {
    while (text[i] === '-' || text[i] === ' ') i++;
    const pair = text.slice(i, i + 2);
    if (!/^[0-9a-fA-F]{2}$/.test(pair)) return undefined;
    out[n] = Number.parseInt(pair, 16);
    i += 2;
  }
  while (i < text.length) {
    if (text[i] !== ' ') return undefined;
    i++;
  }
  return out;
}

/** The UUID bytes named by a domain path element '_xxxxxxxx_xxxx_…' (the reference's decoding). */
function uuidOfElement(element: string): Uint8Array {
  const uuid = parseUuidLikeLibvirt(element.slice(1).replaceAll('_', '-'));
  if (!uuid) throw new OrgLibvirtError('Invalid UUID');
  return uuid;
}

/** Looks up the domain an object path names (virDomainLookupByUUIDString). */
export async function lookupDomain(obj: DomainObject): Promise<DomainHandle> {
  const conn = await obj.connect.connection();
  const uuid = uuidOfElement(lastElement(obj.path));
  const { dom } = await conn.domainLookupByUuid({ uuid });
  return { conn, dom };
}

/** Length of '_' + a UUID with dashes. */
const UUID_ELEMENT_LENGTH = 37;

/**
 * Looks up the snapshot a DomainSnapshot object path names: its domain by UUID, then it by name.
 * The errors are the reference's: when the domain cannot be found it passes NULL on and libvirt
 * complains about the domain pointer; when the snapshot cannot be found, freeing the domain has
 * already cleared libvirt's error, leaving "unknown error".
 */
export async function lookupSnapshot(obj: DomainObject): Promise<SnapshotHandle> {
  const conn = await obj.connect.connection();
  const element = lastElement(obj.path);
  let dom: RemoteNonnullDomain;
  try {
    if (element.length < UUID_ELEMENT_LENGTH + 1 || element[UUID_ELEMENT_LENGTH] !== '_') throw new Error();
    const uuid = uuidOfElement(element.slice(0, UUID_ELEMENT_LENGTH));
    dom = (await conn.domainLookupByUuid({ uuid })).dom;
  } catch {
    throw new OrgLibvirtError('invalid domain pointer in virDomainSnapshotLookupByName');
  }
  const name = decodeString(element.slice(UUID_ELEMENT_LENGTH + 1));
  try {
    const { snap } = await conn.domainSnapshotLookupByName({ dom, name, flags: 0 });
    return { conn, snap };
  } catch {
    throw new OrgLibvirtError('unknown error');
  }
}

/** The object path of a domain below a Connect object. */
export function domainPathOf(connectPath: string, dom: RemoteNonnullDomain): string {
  return uuidObjectPath(connectPath, 'domain', uuidToString(dom.uuid));
}

/** The object path of a snapshot below a Connect object. */
export function snapshotPathOf(connectPath: string, snap: RemoteNonnullDomainSnapshot): string {
  return snapshotPath(connectPath, uuidToString(snap.dom.uuid), snap.name);
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
