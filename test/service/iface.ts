// The org.libvirt interface names, taken from the service's own declarations (one module per
// interface), so no test retypes them.
import { ConnectInterface } from '../../src/service/connect.js';
import { DomainInterface } from '../../src/service/domain.js';
import { DomainCheckpointInterface } from '../../src/service/domain-checkpoint.js';
import { DomainSnapshotInterface } from '../../src/service/domain-snapshot.js';
import { InterfaceInterface } from '../../src/service/interface.js';
import { NetworkInterface } from '../../src/service/network.js';
import { NodeDeviceInterface } from '../../src/service/node-device.js';
import { NWFilterInterface } from '../../src/service/nwfilter.js';
import { SecretInterface } from '../../src/service/secret.js';
import { StoragePoolInterface } from '../../src/service/storage-pool.js';
import { StorageVolInterface } from '../../src/service/storage-vol.js';

/** Each interface's D-Bus name, by the last part of that name (IFACE.Domain = 'org.libvirt.Domain'). */
export const IFACE = {
  Connect: ConnectInterface.name,
  Domain: DomainInterface.name,
  DomainCheckpoint: DomainCheckpointInterface.name,
  DomainSnapshot: DomainSnapshotInterface.name,
  Interface: InterfaceInterface.name,
  Network: NetworkInterface.name,
  NodeDevice: NodeDeviceInterface.name,
  NWFilter: NWFilterInterface.name,
  Secret: SecretInterface.name,
  StoragePool: StoragePoolInterface.name,
  StorageVol: StorageVolInterface.name,
} as const;
