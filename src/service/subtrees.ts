// The object kinds below each Connect object, one dynamic subtree each: children are listed
// from libvirt when someone introspects, and calls are dispatched on demand to whatever path
// they name (nothing is registered per object, so nothing goes stale).

import type { DefinedInterface } from './declare.js';
import { DomainInterface } from './domain.js';
import { DomainSnapshotInterface } from './domain-snapshot.js';
import { InterfaceInterface } from './interface.js';
import type { ConnectHandle, ServiceObject } from './lookup.js';
import { NetworkInterface } from './network.js';
import { NodeDeviceInterface } from './node-device.js';
import { NWFilterInterface } from './nwfilter.js';
import { encodeSnapshot, encodeString, encodeUuid, type ObjectKind, uuidToString } from './paths.js';
import { SecretInterface } from './secret.js';
import { StoragePoolInterface } from './storage-pool.js';
import { StorageVolInterface } from './storage-vol.js';

/** One kind of object below a Connect object. */
export interface ObjectKindSpec {
  readonly kind: ObjectKind;
  readonly iface: DefinedInterface<ServiceObject>;
  /** Path elements of the objects that exist now. */
  enumerate(connect: ConnectHandle): Promise<string[]>;
}

/** Every kind, in the order the reference registers its subtrees. */
export const objectKinds: readonly ObjectKindSpec[] = [
  {
    kind: 'domain',
    iface: DomainInterface,
    async enumerate(c) {
      const { domains } = await (await c.connection()).connectListAllDomains({ need_results: 1, flags: 0 });
      return domains.map((d) => encodeUuid(uuidToString(d.uuid)));
    },
  },
  {
    kind: 'domainSnapshot',
    iface: DomainSnapshotInterface,
    async enumerate(c) {
      const conn = await c.connection();
      const { domains } = await conn.connectListAllDomains({ need_results: 1, flags: 0 });
      const out: string[] = [];
      for (const dom of domains) {
        try {
          const { snapshots } = await conn.domainListAllSnapshots({ dom, need_results: 1, flags: 0 });
          for (const s of snapshots) out.push(encodeSnapshot(uuidToString(dom.uuid), s.name));
        } catch {
          // a domain that vanished meanwhile, or a driver without snapshots: nothing to list
        }
      }
      return out;
    },
  },
  {
    kind: 'interface',
    iface: InterfaceInterface,
    async enumerate(c) {
      const { ifaces } = await (await c.connection()).connectListAllInterfaces({ need_results: 1, flags: 0 });
      return ifaces.map((i) => encodeString(i.mac));
    },
  },
  {
    kind: 'network',
    iface: NetworkInterface,
    async enumerate(c) {
      const { nets } = await (await c.connection()).connectListAllNetworks({ need_results: 1, flags: 0 });
      return nets.map((n) => encodeUuid(uuidToString(n.uuid)));
    },
  },
  {
    kind: 'nodeDevice',
    iface: NodeDeviceInterface,
    async enumerate(c) {
      const { devices } = await (await c.connection()).connectListAllNodeDevices({ need_results: 1, flags: 0 });
      return devices.map((d) => encodeString(d.name));
    },
  },
  {
    kind: 'nwfilter',
    iface: NWFilterInterface,
    async enumerate(c) {
      const { filters } = await (await c.connection()).connectListAllNwfilters({ need_results: 1, flags: 0 });
      return filters.map((f) => encodeUuid(uuidToString(f.uuid)));
    },
  },
  {
    kind: 'secret',
    iface: SecretInterface,
    async enumerate(c) {
      const { secrets } = await (await c.connection()).connectListAllSecrets({ need_results: 1, flags: 0 });
      return secrets.map((s) => encodeUuid(uuidToString(s.uuid)));
    },
  },
  {
    kind: 'storagePool',
    iface: StoragePoolInterface,
    async enumerate(c) {
      const { pools } = await (await c.connection()).connectListAllStoragePools({ need_results: 1, flags: 0 });
      return pools.map((p) => encodeUuid(uuidToString(p.uuid)));
    },
  },
  {
    kind: 'storageVol',
    iface: StorageVolInterface,
    async enumerate(c) {
      const conn = await c.connection();
      const { pools } = await conn.connectListAllStoragePools({ need_results: 1, flags: 0 });
      const out: string[] = [];
      for (const pool of pools) {
        try {
          const { vols } = await conn.storagePoolListAllVolumes({ pool, need_results: 1, flags: 0 });
          for (const v of vols) out.push(encodeString(v.key));
        } catch {
          // an inactive pool lists no volumes
        }
      }
      return out;
    },
  },
];
