// The facts change notification (changes.ts) works from, one table each: which kinds libvirt
// announces with lifecycle events, which kinds live inside objects of another kind (listed again
// on their parent's events), which are only listed, and which D-Bus methods create or delete
// objects that no libvirt event announces (after such a call the kind is listed again).

import type { LibvirtConnection, RemoteNonnullDomain, RemoteNonnullStoragePool } from '../libvirt/index.js';
import { Kinds, type ObjectKind } from './object-kinds.js';
import { lastElement } from './paths.js';

/** A kind as change notification handles it (its reference and key types do not matter there). */
export type AnyKind = ObjectKind<unknown, unknown>;

/** The Connect signal of each lifecycle event and the kind of object its first argument names. */
export const LIFECYCLE_SIGNALS: ReadonlyMap<string, AnyKind> = new Map<string, AnyKind>([
  ['DomainEvent', Kinds.domain as AnyKind],
  ['NetworkEvent', Kinds.network as AnyKind],
  ['NodeDeviceEvent', Kinds.nodeDevice as AnyKind],
  ['SecretEvent', Kinds.secret as AnyKind],
  ['StoragePoolEvent', Kinds.storagePool as AnyKind],
]);

/** Kinds below the Connect object without events: listed on open and after the calls that change them. */
export const UNEVENTED_KINDS: readonly AnyKind[] = [Kinds.interface as AnyKind, Kinds.nwfilter as AnyKind];

/** Every kind known by a set of paths of its own (the others are known per parent object). */
export const TOP_LEVEL_KINDS: readonly AnyKind[] = [...LIFECYCLE_SIGNALS.values(), ...UNEVENTED_KINDS];

/** A kind whose objects live inside objects of another kind, listed per parent. */
export interface ChildKind {
  readonly kind: AnyKind;
  readonly parent: AnyKind;
  /** The children of the parent `ref` (fails with libvirt's error). */
  listIn(conn: LibvirtConnection, ref: unknown): Promise<unknown[]>;
  /** Path of the parent of the child at `path` below `connectPath` (undefined: its key names none). */
  parentPathOf(connectPath: string, path: string): string | undefined;
}

/** The parent path of a snapshot or checkpoint: the domain whose UUID its key starts with. */
function domainOfChild(kind: AnyKind): ChildKind['parentPathOf'] {
  return (connectPath, path) => {
    const { domain } = (kind as ObjectKind<unknown, { domain: Uint8Array | undefined }>).key.decode(lastElement(path));
    return domain ? `${Kinds.domain.subtreePath(connectPath)}/${Kinds.domain.key.encode(domain)}` : undefined;
  };
}

/** Volumes in pools (listed again on the pool's events), snapshots and checkpoints in domains (on the domain's). */
export const CHILD_KINDS: readonly ChildKind[] = [
  {
    kind: Kinds.storageVol as AnyKind,
    parent: Kinds.storagePool as AnyKind,
    listIn: async (conn, pool) =>
      (await conn.storagePoolListAllVolumes({ pool: pool as RemoteNonnullStoragePool, need_results: 1, flags: 0 })).vols,
    // A volume's key does not name its pool (calls on volumes change nothing here).
    parentPathOf: () => undefined,
  },
  {
    kind: Kinds.domainSnapshot as AnyKind,
    parent: Kinds.domain as AnyKind,
    listIn: async (conn, dom) =>
      (await conn.domainListAllSnapshots({ dom: dom as RemoteNonnullDomain, need_results: 1, flags: 0 })).snapshots,
    parentPathOf: domainOfChild(Kinds.domainSnapshot as AnyKind),
  },
  {
    kind: Kinds.domainCheckpoint as AnyKind,
    parent: Kinds.domain as AnyKind,
    listIn: async (conn, dom) =>
      (await conn.domainListAllCheckpoints({ dom: dom as RemoteNonnullDomain, need_results: 1, flags: 0 })).checkpoints,
    parentPathOf: domainOfChild(Kinds.domainCheckpoint as AnyKind),
  },
];

/**
 * What a successful call changes: every object of a top-level `kind` (listed again), or the
 * children of kind `kind` of one parent — the called object itself (`in: 'self'`) or the parent of
 * the called child (`in: 'parent'`, e.g. a snapshot's domain, as deleting one may delete its children).
 */
export type CallEffect = { readonly kind: AnyKind; readonly in?: 'self' | 'parent' };

/** The methods that create or delete objects libvirt has no event for, by interface and member. */
export const CALL_EFFECTS: ReadonlyMap<string, ReadonlyMap<string, CallEffect>> = new Map([
  [
    'org.libvirt.Connect',
    new Map<string, CallEffect>([
      ['InterfaceDefineXML', { kind: Kinds.interface as AnyKind }],
      // A rollback restores the interfaces' configuration of InterfaceChangeBegin, defined ones included.
      ['InterfaceChangeRollback', { kind: Kinds.interface as AnyKind }],
      ['NWFilterDefineXML', { kind: Kinds.nwfilter as AnyKind }],
    ]),
  ],
  [Kinds.interface.interface, new Map<string, CallEffect>([['Undefine', { kind: Kinds.interface as AnyKind }]])],
  [Kinds.nwfilter.interface, new Map<string, CallEffect>([['Undefine', { kind: Kinds.nwfilter as AnyKind }]])],
  [
    Kinds.domain.interface,
    new Map<string, CallEffect>([
      ['SnapshotCreateXML', { kind: Kinds.domainSnapshot as AnyKind, in: 'self' }],
      ['CheckpointCreateXML', { kind: Kinds.domainCheckpoint as AnyKind, in: 'self' }],
    ]),
  ],
  [Kinds.domainSnapshot.interface, new Map<string, CallEffect>([['Delete', { kind: Kinds.domainSnapshot as AnyKind, in: 'parent' }]])],
  [Kinds.domainCheckpoint.interface, new Map<string, CallEffect>([['Delete', { kind: Kinds.domainCheckpoint as AnyKind, in: 'parent' }]])],
]);

/** The child kind entry of `kind` (throws for a kind that is not inside another). */
export function childKind(kind: AnyKind): ChildKind {
  const child = CHILD_KINDS.find((c) => c.kind === kind);
  if (!child) throw new Error(`${kind.segment} is not a kind inside another`);
  return child;
}
