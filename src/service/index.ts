// The org.libvirt service: its ten interfaces, the object kinds below each Connect object, the
// libvirt events behind its signals, and the service itself.

import { ConnectInterface } from './connect.js';
import type { DefinedInterface } from './declare.js';
import { DomainInterface } from './domain.js';
import { DomainSnapshotInterface } from './domain-snapshot.js';
import { InterfaceInterface } from './interface.js';
import { NetworkInterface } from './network.js';
import { NodeDeviceInterface } from './node-device.js';
import { NWFilterInterface } from './nwfilter.js';
import { SecretInterface } from './secret.js';
import { StoragePoolInterface } from './storage-pool.js';
import { StorageVolInterface } from './storage-vol.js';

export { ConnectObject, type ConnectObjectOptions, type EventBinding, type OpenHook } from './connect-object.js';
export { type DefinedInterface, defineInterface, type InterfaceSpec } from './declare.js';
export { LibvirtErrorName, OrgLibvirtError, toDBusError } from './errors.js';
export * from './paths.js';
export { defaultConnects, LibvirtDBusService, type ServiceOptions } from './service.js';
export { type ObjectKindSpec, objectKinds } from './subtrees.js';

/** All ten interfaces of org.libvirt, by name. */
export const interfaces: ReadonlyMap<string, DefinedInterface<never>> = new Map<string, DefinedInterface<never>>(
  [
    ConnectInterface,
    DomainInterface,
    DomainSnapshotInterface,
    InterfaceInterface,
    NetworkInterface,
    NodeDeviceInterface,
    NWFilterInterface,
    SecretInterface,
    StoragePoolInterface,
    StorageVolInterface,
  ].map((i) => [i.name, i as DefinedInterface<never>]),
);
