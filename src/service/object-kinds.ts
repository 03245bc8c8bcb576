// The kinds of objects below a Connect object, one table entry each: the path segment of its
// subtree, the interface its objects implement, how a path element encodes its key (a UUID or a
// string), how libvirt finds an object by that key, the key of a libvirt object, and how to list
// them all. Path building, lookups, the subtrees and Connect's List*/Lookup*/Define*/Create*
// replies all read this table; a new kind is one entry here plus its interface declaration.
//
// Like the reference, every call looks the object up again from its path (by UUID, name, MAC or
// key), so a path never goes stale and a vanished object answers with libvirt's own error.

import {
  type LibvirtConnection,
  listAllDomainUuids,
  VIR_UUID_BUFLEN,
  type RemoteNonnullDomain,
  type RemoteNonnullDomainCheckpoint,
  type RemoteNonnullDomainSnapshot,
  type RemoteNonnullInterface,
  type RemoteNonnullNetwork,
  type RemoteNonnullNodeDevice,
  type RemoteNonnullNwfilter,
  type RemoteNonnullSecret,
  type RemoteNonnullStoragePool,
  type RemoteNonnullStorageVol,
} from '../libvirt/index.js';
import { OrgLibvirtError } from './errors.js';
import { type PathCache, StringPathCache, UuidPathCache } from './path-cache.js';
import { decodeString, encodeString, encodeUuid, lastElement, parseUuidLikeLibvirt, uuidArg, uuidTextOf, uuidToString } from './paths.js';

/** The part of a Connect object that objects below it need. */
export interface ConnectHandle {
  /** Object path of the Connect object, e.g. /org/libvirt/QEMU. */
  readonly path: string;
  /** The libvirt connection, opened on first use. */
  connection(): Promise<LibvirtConnection>;
}

/** An object of the service: its Connect object and its own path (for a Connect object, its own). */
export interface ServiceObject {
  readonly connect: ConnectHandle;
  readonly path: string;
}

/** A looked-up libvirt object together with the connection it came from. */
export interface Handle<R> {
  conn: LibvirtConnection;
  ref: R;
}

/** How a key is written as a path element and read back (reading fails with libvirt's error). */
export interface KeyCodec<K> {
  encode(key: K): string;
  decode(element: string): K;
  /** A cache of built paths by key (absent: paths are built every time). */
  newPathCache?(): PathCache<K>;
}

/** A UUID key, with the libvirt function whose parse errors a malformed one reports. */
export interface UuidCodec extends KeyCodec<Uint8Array> {
  /** Parses a UUID string as `lookupFunction` does (for Connect's *LookupByUUID). */
  parse(text: string): Uint8Array;
}

/** A UUID, as '_' + the UUID with '-' → '_' (`fn`: virXLookupByUUIDString, for its messages). */
export function uuidKey(fn: string): UuidCodec {
  return {
    encode: (uuid) => encodeUuid(uuidToString(uuid)),
    decode: (element) => uuidArg(uuidTextOf(element), fn),
    newPathCache: () => new UuidPathCache(),
    parse: (text) => uuidArg(text, fn),
  };
}

/** Any string, encoded ([A-Za-z0-9] kept, other bytes as _xx). */
export const stringKey: KeyCodec<string> = { encode: encodeString, decode: decodeString, newPathCache: () => new StringPathCache() };

/** The key of an object inside a domain (a snapshot or checkpoint): its domain's UUID (undefined when malformed) and its name. */
export interface DomainChildKey {
  domain: Uint8Array | undefined;
  name: string;
}

/** Length of '_' + a UUID with dashes. */
const UUID_ELEMENT_LENGTH = 37;

/** `_<domain uuid>_<encoded name>`, as the reference writes snapshot paths (checkpoints' are written alike). */
export const domainChildKey: KeyCodec<DomainChildKey> = {
  // A key made from a libvirt object always has its domain's UUID.
  encode: ({ domain, name }) => `${encodeUuid(uuidToString(domain as Uint8Array))}_${encodeString(name)}`,
  decode: (element) => ({
    domain:
      element.length > UUID_ELEMENT_LENGTH && element[UUID_ELEMENT_LENGTH] === '_'
        ? parseUuidLikeLibvirt(uuidTextOf(element.slice(0, UUID_ELEMENT_LENGTH)))
        : undefined,
    name: decodeString(element.slice(UUID_ELEMENT_LENGTH + 1)),
  }),
};

/** One kind of object below a Connect object: one entry of the table. */
export interface KindSpec<R, K> {
  /** Path segment of the subtree (`<connect>/<segment>/<element>`). */
  readonly segment: string;
  /** Name of the D-Bus interface its objects implement (declared in its own file). */
  readonly interface: string;
  readonly key: KeyCodec<K>;
  /** The key of a libvirt object. */
  keyOf(ref: R): K;
  /** Finds the object with `key` (failing with libvirt's error, or the reference's). */
  lookup(conn: LibvirtConnection, key: K): Promise<R>;
  /** Every object (virConnectListAll*, or over every parent for objects inside others). */
  list(conn: LibvirtConnection, flags: number): Promise<R[]>;
  /** For a UUID kind, a cheaper list answering only the UUIDs, packed 16 bytes each (domains: hosts have thousands). */
  listUuids?(conn: LibvirtConnection, flags: number): Promise<Buffer>;
}

/** A kind, with what every kind does built on its table entry. */
export class ObjectKind<R, K> implements KindSpec<R, K> {
  readonly segment: string;
  readonly interface: string;
  readonly key: KeyCodec<K>;
  readonly keyOf: (ref: R) => K;
  readonly lookup: (conn: LibvirtConnection, key: K) => Promise<R>;
  readonly list: (conn: LibvirtConnection, flags: number) => Promise<R[]>;
  readonly listUuids: ((conn: LibvirtConnection, flags: number) => Promise<Buffer>) | undefined;
  /** Lookups of the objects of calls in progress (see lookupFrom). */
  private readonly lookups = new WeakMap<ServiceObject, Promise<Handle<R>>>();
  /** Built paths by Connect path and key. */
  private readonly paths = new Map<string, PathCache<K>>();

  constructor(spec: KindSpec<R, K>) {
    this.segment = spec.segment;
    this.interface = spec.interface;
    this.key = spec.key;
    this.keyOf = spec.keyOf;
    this.lookup = spec.lookup;
    this.list = spec.list;
    this.listUuids = spec.listUuids;
  }

  /** Path of the subtree holding this kind's objects below `connectPath`. */
  subtreePath(connectPath: string): string {
    return `${connectPath}/${this.segment}`;
  }

  /** Object path of `ref` below `connectPath`. */
  pathOf(connectPath: string, ref: R): string {
    const key = this.keyOf(ref);
    const paths = this.pathCache(connectPath);
    let path = paths?.get(key);
    if (path === undefined) {
      path = this.build(connectPath, key);
      paths?.set(key, path);
    }
    return path;
  }

  /** Object paths of `refs` below `connectPath`. */
  pathsOf(connectPath: string, refs: readonly R[]): string[] {
    return refs.map((ref) => this.pathOf(connectPath, ref));
  }

  /** Object paths of every object below `connectPath` (list's, through listUuids where the kind has it). */
  async listPaths(conn: LibvirtConnection, connectPath: string, flags: number): Promise<string[]> {
    const paths = this.pathCache(connectPath);
    if (!this.listUuids || !(paths instanceof UuidPathCache)) return this.pathsOf(connectPath, await this.list(conn, flags));
    // Found from the packed bytes: nothing is allocated per object but for new paths.
    const packed = await this.listUuids(conn, flags);
    const out: string[] = new Array(packed.length / VIR_UUID_BUFLEN);
    for (let i = 0, at = 0; at < packed.length; i++, at += VIR_UUID_BUFLEN) {
      let path = paths.getAt(packed, at);
      if (path === undefined) {
        path = this.build(connectPath, packed.subarray(at, at + VIR_UUID_BUFLEN) as K);
        paths.setAt(packed, at, path);
      }
      out[i] = path;
    }
    return out;
  }

  private build(connectPath: string, key: K): string {
    return `${connectPath}/${this.segment}/${this.key.encode(key)}`;
  }

  private pathCache(connectPath: string): PathCache<K> | undefined {
    let paths = this.paths.get(connectPath);
    if (!paths) {
      paths = this.key.newPathCache?.();
      if (paths) this.paths.set(connectPath, paths);
    }
    return paths;
  }

  /** Looks up the object `obj`'s path names (after opening the connection, as the reference). */
  lookupFrom(obj: ServiceObject): Promise<Handle<R>> {
    // One lookup per call: a ServiceObject lives for one call, and Properties.GetAll runs every
    // getter on the same one (a domain's ten properties then cost one lookup, not ten).
    let handle = this.lookups.get(obj);
    if (!handle) {
      handle = this.lookupNow(obj);
      this.lookups.set(obj, handle);
    }
    return handle;
  }

  private async lookupNow(obj: ServiceObject): Promise<Handle<R>> {
    const conn = await obj.connect.connection();
    const ref = await this.lookup(conn, this.key.decode(lastElement(obj.path)));
    return { conn, ref };
  }

  /** Path elements of the objects that exist now. */
  async elements(conn: LibvirtConnection): Promise<string[]> {
    return (await this.list(conn, 0)).map((ref) => this.key.encode(this.keyOf(ref)));
  }
}

/** A kind keyed by UUID, with that codec reachable for Connect's *LookupByUUID. */
export type UuidKind<R> = ObjectKind<R, Uint8Array> & { readonly key: UuidCodec };

function uuidKind<R extends { uuid: Uint8Array }>(
  spec: Omit<KindSpec<R, Uint8Array>, 'key' | 'keyOf'> & { lookupFunction: string },
): UuidKind<R> {
  return new ObjectKind({ ...spec, key: uuidKey(spec.lookupFunction), keyOf: (ref) => ref.uuid }) as UuidKind<R>;
}

/**
 * A lookup of an object inside a domain by name (`fn`, e.g. virDomainSnapshotLookupByName), with
 * the reference's errors: when the domain cannot be found it passes NULL on and libvirt complains
 * about the domain pointer; when the object cannot be found, freeing the domain has already
 * cleared libvirt's error, leaving "unknown error".
 */
function lookupInDomain<R>(
  fn: string,
  byName: (conn: LibvirtConnection, dom: RemoteNonnullDomain, name: string) => Promise<R>,
): (conn: LibvirtConnection, key: DomainChildKey) => Promise<R> {
  return async (conn, { domain, name }) => {
    let dom: RemoteNonnullDomain;
    try {
      if (!domain) throw new Error();
      dom = (await conn.domainLookupByUuid({ uuid: domain })).dom;
    } catch {
      throw new OrgLibvirtError(`invalid domain pointer in ${fn}`);
    }
    try {
      return await byName(conn, dom, name);
    } catch {
      throw new OrgLibvirtError('unknown error');
    }
  };
}

/** The objects inside every domain (a domain that vanished meanwhile, or a driver without them, adds none). */
async function listInDomains<R>(conn: LibvirtConnection, listOf: (dom: RemoteNonnullDomain) => Promise<R[]>): Promise<R[]> {
  const { domains } = await conn.connectListAllDomains({ need_results: 1, flags: 0 });
  const out: R[] = [];
  for (const dom of domains) {
    try {
      out.push(...(await listOf(dom)));
    } catch {
      // nothing to list
    }
  }
  return out;
}

/** Every kind, by name. */
export const Kinds = {
  domain: uuidKind<RemoteNonnullDomain>({
    segment: 'domain',
    interface: 'org.libvirt.Domain',
    lookupFunction: 'virDomainLookupByUUIDString',
    lookup: async (conn, uuid) => (await conn.domainLookupByUuid({ uuid })).dom,
    list: async (conn, flags) => (await conn.connectListAllDomains({ need_results: 1, flags })).domains,
    listUuids: listAllDomainUuids,
  }),
  domainSnapshot: new ObjectKind<RemoteNonnullDomainSnapshot, DomainChildKey>({
    segment: 'domainsnapshot',
    interface: 'org.libvirt.DomainSnapshot',
    key: domainChildKey,
    keyOf: (snap) => ({ domain: snap.dom.uuid, name: snap.name }),
    lookup: lookupInDomain(
      'virDomainSnapshotLookupByName',
      async (conn, dom, name) => (await conn.domainSnapshotLookupByName({ dom, name, flags: 0 })).snap,
    ),
    list: (conn, flags) =>
      listInDomains(conn, async (dom) => (await conn.domainListAllSnapshots({ dom, need_results: 1, flags })).snapshots),
  }),
  domainCheckpoint: new ObjectKind<RemoteNonnullDomainCheckpoint, DomainChildKey>({
    segment: 'checkpoint',
    interface: 'org.libvirt.DomainCheckpoint',
    key: domainChildKey,
    keyOf: (checkpoint) => ({ domain: checkpoint.dom.uuid, name: checkpoint.name }),
    lookup: lookupInDomain(
      'virDomainCheckpointLookupByName',
      async (conn, dom, name) => (await conn.domainCheckpointLookupByName({ dom, name, flags: 0 })).checkpoint,
    ),
    list: (conn, flags) =>
      listInDomains(conn, async (dom) => (await conn.domainListAllCheckpoints({ dom, need_results: 1, flags })).checkpoints),
  }),
  interface: new ObjectKind<RemoteNonnullInterface, string>({
    segment: 'interface',
    interface: 'org.libvirt.Interface',
    key: stringKey,
    keyOf: (iface) => iface.mac,
    lookup: async (conn, mac) => (await conn.interfaceLookupByMacString({ mac })).iface,
    list: async (conn, flags) => (await conn.connectListAllInterfaces({ need_results: 1, flags })).ifaces,
  }),
  network: uuidKind<RemoteNonnullNetwork>({
    segment: 'network',
    interface: 'org.libvirt.Network',
    lookupFunction: 'virNetworkLookupByUUIDString',
    lookup: async (conn, uuid) => (await conn.networkLookupByUuid({ uuid })).net,
    list: async (conn, flags) => (await conn.connectListAllNetworks({ need_results: 1, flags })).nets,
  }),
  nodeDevice: new ObjectKind<RemoteNonnullNodeDevice, string>({
    segment: 'nodedev',
    interface: 'org.libvirt.NodeDevice',
    key: stringKey,
    keyOf: (dev) => dev.name,
    lookup: async (conn, name) => (await conn.nodeDeviceLookupByName({ name })).dev,
    list: async (conn, flags) => (await conn.connectListAllNodeDevices({ need_results: 1, flags })).devices,
  }),
  nwfilter: uuidKind<RemoteNonnullNwfilter>({
    segment: 'nwfilter',
    interface: 'org.libvirt.NWFilter',
    lookupFunction: 'virNWFilterLookupByUUIDString',
    lookup: async (conn, uuid) => (await conn.nwfilterLookupByUuid({ uuid })).nwfilter,
    list: async (conn, flags) => (await conn.connectListAllNwfilters({ need_results: 1, flags })).filters,
  }),
  secret: uuidKind<RemoteNonnullSecret>({
    segment: 'secret',
    interface: 'org.libvirt.Secret',
    lookupFunction: 'virSecretLookupByUUIDString',
    lookup: async (conn, uuid) => (await conn.secretLookupByUuid({ uuid })).secret,
    list: async (conn, flags) => (await conn.connectListAllSecrets({ need_results: 1, flags })).secrets,
  }),
  storagePool: uuidKind<RemoteNonnullStoragePool>({
    segment: 'storagepool',
    interface: 'org.libvirt.StoragePool',
    lookupFunction: 'virStoragePoolLookupByUUIDString',
    lookup: async (conn, uuid) => (await conn.storagePoolLookupByUuid({ uuid })).pool,
    list: async (conn, flags) => (await conn.connectListAllStoragePools({ need_results: 1, flags })).pools,
  }),
  storageVol: new ObjectKind<RemoteNonnullStorageVol, string>({
    segment: 'storagevol',
    interface: 'org.libvirt.StorageVol',
    key: stringKey,
    keyOf: (vol) => vol.key,
    lookup: async (conn, key) => (await conn.storageVolLookupByKey({ key })).vol,
    // Every volume of every pool (an inactive pool lists none).
    list: async (conn, flags) => {
      const { pools } = await conn.connectListAllStoragePools({ need_results: 1, flags: 0 });
      const out: RemoteNonnullStorageVol[] = [];
      for (const pool of pools) {
        try {
          out.push(...(await conn.storagePoolListAllVolumes({ pool, need_results: 1, flags })).vols);
        } catch {
          // an inactive pool lists no volumes
        }
      }
      return out;
    },
  }),
} as const;

/** The name of a kind in the table. */
export type ObjectKindName = keyof typeof Kinds;

/** Every kind, in the order the reference registers its subtrees. */
export const objectKinds: readonly ObjectKind<unknown, unknown>[] = Object.values(Kinds) as ObjectKind<unknown, unknown>[];
