// From an object path to the libvirt object it names, and back. Like the reference, every call
// looks the object up again (by UUID, name, MAC or key decoded from the path), so a path never
// goes stale and a vanished object answers with libvirt's own "not found" error.

import type {
  LibvirtConnection,
  RemoteNonnullInterface,
  RemoteNonnullNetwork,
  RemoteNonnullNodeDevice,
  RemoteNonnullNwfilter,
  RemoteNonnullSecret,
  RemoteNonnullStoragePool,
  RemoteNonnullStorageVol,
} from '../libvirt/index.js';
import { parseUuidLikeLibvirt } from './domain-object.js';
import { OrgLibvirtError } from './errors.js';
import { decodeString, stringObjectPath, uuidObjectPath, uuidToString } from './paths.js';

/** The part of a Connect object that objects below it need. */
export interface ConnectHandle {
  /** Object path of the Connect object, e.g. /org/libvirt/QEMU. */
  readonly path: string;
  /** The libvirt connection, opened on first use. */
  connection(): Promise<LibvirtConnection>;
}

/** An object below a Connect object: its Connect object and its own path. */
export interface ServiceObject {
  readonly connect: ConnectHandle;
  readonly path: string;
}

/** The last element of an object path. */
export function lastElement(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * UUID bytes of a UUID string as virXLookupByUUIDString parses it; an invalid one fails with
 * the message libvirt gives (`uuidstr in virNetworkLookupByUUIDString must be a valid UUID`,
 * but plain `Invalid UUID` from virDomainLookupByUUIDString — seen in test/service/diff-objects).
 */
export function uuidArg(uuid: string, fn: string): Uint8Array {
  const bytes = parseUuidLikeLibvirt(uuid);
  if (!bytes) {
    throw new OrgLibvirtError(fn === 'virDomainLookupByUUIDString' ? 'Invalid UUID' : `uuidstr in ${fn} must be a valid UUID`);
  }
  return bytes;
}

/** UUID string of a path element '_xxxxxxxx_xxxx_…' as the reference decodes it. */
function uuidOfElement(path: string): string {
  return lastElement(path).slice(1).replaceAll('_', '-');
}

/** A looked-up object together with the connection it came from. */
export interface Handle<T> {
  conn: LibvirtConnection;
  ref: T;
}

/** virNetworkLookupByUUIDString on the UUID in the path. */
export async function lookupNetwork(obj: ServiceObject): Promise<Handle<RemoteNonnullNetwork>> {
  const conn = await obj.connect.connection();
  const uuid = uuidArg(uuidOfElement(obj.path), 'virNetworkLookupByUUIDString');
  const { net } = await conn.networkLookupByUuid({ uuid });
  return { conn, ref: net };
}

/** virStoragePoolLookupByUUIDString on the UUID in the path. */
export async function lookupStoragePool(obj: ServiceObject): Promise<Handle<RemoteNonnullStoragePool>> {
  const conn = await obj.connect.connection();
  const uuid = uuidArg(uuidOfElement(obj.path), 'virStoragePoolLookupByUUIDString');
  const { pool } = await conn.storagePoolLookupByUuid({ uuid });
  return { conn, ref: pool };
}

/** virSecretLookupByUUIDString on the UUID in the path. */
export async function lookupSecret(obj: ServiceObject): Promise<Handle<RemoteNonnullSecret>> {
  const conn = await obj.connect.connection();
  const uuid = uuidArg(uuidOfElement(obj.path), 'virSecretLookupByUUIDString');
  const { secret } = await conn.secretLookupByUuid({ uuid });
  return { conn, ref: secret };
}

/** virNWFilterLookupByUUIDString on the UUID in the path. */
export async function lookupNwfilter(obj: ServiceObject): Promise<Handle<RemoteNonnullNwfilter>> {
  const conn = await obj.connect.connection();
  const uuid = uuidArg(uuidOfElement(obj.path), 'virNWFilterLookupByUUIDString');
  const { nwfilter } = await conn.nwfilterLookupByUuid({ uuid });
  return { conn, ref: nwfilter };
}

/** virNodeDeviceLookupByName on the name encoded in the path. */
export async function lookupNodeDevice(obj: ServiceObject): Promise<Handle<RemoteNonnullNodeDevice>> {
  const conn = await obj.connect.connection();
  const { dev } = await conn.nodeDeviceLookupByName({ name: decodeString(lastElement(obj.path)) });
  return { conn, ref: dev };
}

/** virInterfaceLookupByMACString on the MAC encoded in the path. */
export async function lookupInterface(obj: ServiceObject): Promise<Handle<RemoteNonnullInterface>> {
  const conn = await obj.connect.connection();
  const { iface } = await conn.interfaceLookupByMacString({ mac: decodeString(lastElement(obj.path)) });
  return { conn, ref: iface };
}

/** virStorageVolLookupByKey on the key encoded in the path. */
export async function lookupStorageVol(obj: ServiceObject): Promise<Handle<RemoteNonnullStorageVol>> {
  const conn = await obj.connect.connection();
  const { vol } = await conn.storageVolLookupByKey({ key: decodeString(lastElement(obj.path)) });
  return { conn, ref: vol };
}

/** Object path of a network below `connect`. */
export function networkPath(connect: string, net: RemoteNonnullNetwork): string {
  return uuidObjectPath(connect, 'network', uuidToString(net.uuid));
}

/** Object path of a storage pool below `connect`. */
export function storagePoolPath(connect: string, pool: RemoteNonnullStoragePool): string {
  return uuidObjectPath(connect, 'storagePool', uuidToString(pool.uuid));
}

/** Object path of a secret below `connect`. */
export function secretPath(connect: string, secret: RemoteNonnullSecret): string {
  return uuidObjectPath(connect, 'secret', uuidToString(secret.uuid));
}

/** Object path of a network filter below `connect`. */
export function nwfilterPath(connect: string, nwfilter: RemoteNonnullNwfilter): string {
  return uuidObjectPath(connect, 'nwfilter', uuidToString(nwfilter.uuid));
}

/** Object path of a node device below `connect`. */
export function nodeDevicePath(connect: string, dev: RemoteNonnullNodeDevice): string {
  return stringObjectPath(connect, 'nodeDevice', dev.name);
}

/** Object path of a host interface below `connect`. */
export function interfacePath(connect: string, iface: RemoteNonnullInterface): string {
  return stringObjectPath(connect, 'interface', iface.mac);
}

/** Object path of a storage volume below `connect`. */
export function storageVolPath(connect: string, vol: RemoteNonnullStorageVol): string {
  return stringObjectPath(connect, 'storageVol', vol.key);
}
