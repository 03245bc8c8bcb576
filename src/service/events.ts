// libvirt events behind the signals of org.libvirt.Connect and org.libvirt.StoragePool, as the
// reference registers them: network, node device, secret and storage pool lifecycle events
// become Connect.*Event on the Connect object; a pool refresh becomes StoragePool.Refresh on the
// pool's object. (Domain events, Connect.DomainEvent included, are bound in domain-events.ts.)

import type {
  RemoteNetworkEventLifecycleMsg,
  RemoteNodeDeviceEventLifecycleMsg,
  RemoteSecretEventLifecycleMsg,
  RemoteStoragePoolEventLifecycleMsg,
  RemoteStoragePoolEventRefreshMsg,
} from '../libvirt/index.js';
import { ConnectInterface } from './connect.js';
import type { EventBinding } from './connect-object.js';
import { Kinds } from './object-kinds.js';
import { StoragePoolInterface } from './storage-pool.js';

/** VIR_*_EVENT_ID_LIFECYCLE of each object kind, and VIR_STORAGE_POOL_EVENT_ID_REFRESH. */
const LIFECYCLE = 0;
const POOL_REFRESH = 1;

/** The lifecycle events behind Connect's non-domain signals, and the pool refresh event. */
export const connectEventBindings: readonly EventBinding[] = [
  {
    event: 'VIR_NETWORK_EVENT_ID_LIFECYCLE',
    register: (conn, ctx) =>
      conn.registerNetworkEvent(LIFECYCLE, null, (ev) => {
        const m = ev.msg as RemoteNetworkEventLifecycleMsg;
        ctx.emit(ctx.path, ConnectInterface, 'NetworkEvent', [Kinds.network.pathOf(ctx.path, m.net), m.event]);
      }),
  },
  {
    event: 'VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE',
    register: (conn, ctx) =>
      conn.registerNodeDeviceEvent(LIFECYCLE, null, (ev) => {
        const m = ev.msg as RemoteNodeDeviceEventLifecycleMsg;
        ctx.emit(ctx.path, ConnectInterface, 'NodeDeviceEvent', [Kinds.nodeDevice.pathOf(ctx.path, m.dev), m.event, m.detail]);
      }),
  },
  {
    event: 'VIR_SECRET_EVENT_ID_LIFECYCLE',
    register: (conn, ctx) =>
      conn.registerSecretEvent(LIFECYCLE, null, (ev) => {
        const m = ev.msg as RemoteSecretEventLifecycleMsg;
        ctx.emit(ctx.path, ConnectInterface, 'SecretEvent', [Kinds.secret.pathOf(ctx.path, m.secret), m.event, m.detail]);
      }),
  },
  {
    event: 'VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE',
    register: (conn, ctx) =>
      conn.registerStoragePoolEvent(LIFECYCLE, null, (ev) => {
        const m = ev.msg as RemoteStoragePoolEventLifecycleMsg;
        ctx.emit(ctx.path, ConnectInterface, 'StoragePoolEvent', [Kinds.storagePool.pathOf(ctx.path, m.pool), m.event, m.detail]);
      }),
  },
  {
    event: 'VIR_STORAGE_POOL_EVENT_ID_REFRESH',
    register: (conn, ctx) =>
      conn.registerStoragePoolEvent(POOL_REFRESH, null, (ev) => {
        const m = ev.msg as RemoteStoragePoolEventRefreshMsg;
        ctx.emit(Kinds.storagePool.pathOf(ctx.path, m.pool), StoragePoolInterface, 'Refresh', []);
      }),
  },
];
