// The eleven interfaces of org.libvirt: Connect, and one per object kind (object-kinds.ts names
// each kind's interface; its declaration is in its own file), with the EmitsChangedSignal
// annotations of change notification (emits-changed.ts) applied.

import { ConnectInterface } from './connect.js';
import { type DefinedInterface, withEmitsChanged } from './declare.js';
import { DomainInterface } from './domain.js';
import { DomainCheckpointInterface } from './domain-checkpoint.js';
import { DomainSnapshotInterface } from './domain-snapshot.js';
import { EMITS_CHANGED_OVERRIDES } from './emits-changed.js';
import { InterfaceInterface } from './interface.js';
import { NetworkInterface } from './network.js';
import { NodeDeviceInterface } from './node-device.js';
import { NWFilterInterface } from './nwfilter.js';
import type { ObjectKind, ServiceObject } from './object-kinds.js';
import { SecretInterface } from './secret.js';
import { StoragePoolInterface } from './storage-pool.js';
import { StorageVolInterface } from './storage-vol.js';

const kindInterfaces: readonly DefinedInterface<ServiceObject>[] = [
  DomainInterface,
  DomainCheckpointInterface,
  DomainSnapshotInterface,
  InterfaceInterface,
  NetworkInterface,
  NodeDeviceInterface,
  NWFilterInterface,
  SecretInterface,
  StoragePoolInterface,
  StorageVolInterface,
].map((i) => withEmitsChanged(i, EMITS_CHANGED_OVERRIDES[i.name] ?? {}));

/** All eleven interfaces of org.libvirt, by name. */
export const interfaces: ReadonlyMap<string, DefinedInterface<never>> = new Map<string, DefinedInterface<never>>(
  [ConnectInterface, ...kindInterfaces].map((i) => [i.name, i as DefinedInterface<never>]),
);

/** The interface the objects of `kind` implement; throws when it is not declared. */
export function interfaceOf(kind: ObjectKind<unknown, unknown>): DefinedInterface<ServiceObject> {
  const iface = kindInterfaces.find((i) => i.name === kind.interface);
  if (!iface) throw new Error(`no declaration of ${kind.interface}`);
  return iface;
}
