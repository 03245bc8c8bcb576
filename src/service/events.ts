// libvirt events behind the signals of org.libvirt.Connect and org.libvirt.StoragePool, as the
// reference registers them: network, node device, secret and storage pool lifecycle events
// become Connect.*Event on the Connect object; a pool refresh becomes StoragePool.Refresh on the
// pool's object; beyond the reference, a node device update and a secret's new value become
// NodeDevice.Update and Secret.ValueChanged on their objects. (Domain events, Connect.DomainEvent included, are bound in domain-events.ts.)

import type { RemoteEventMessages } from '../libvirt/index.js';
import { ConnectInterface } from './connect.js';
import type { EventBinding, EventContext } from './connect-object.js';
import { NodeDeviceInterface } from './node-device.js';
import { Kinds } from './object-kinds.js';
import { SecretInterface } from './secret.js';
import { StoragePoolInterface } from './storage-pool.js';

/** A binding of one event id (for every object) to what its message becomes; family, number and message type come from the generated tables. */
function bind<K extends keyof RemoteEventMessages>(
  event: K,
  onEvent: (m: RemoteEventMessages[K], ctx: EventContext) => void,
): EventBinding {
  return { event, register: (conn, ctx) => conn.registerEvent(event, null, (ev) => onEvent(ev.msg, ctx)) };
}

/** The lifecycle events behind Connect's non-domain signals, and the pool refresh event. */
export const connectEventBindings: readonly EventBinding[] = [
  bind('VIR_NETWORK_EVENT_ID_LIFECYCLE', (m, ctx) => {
    ctx.emit(ctx.path, ConnectInterface, 'NetworkEvent', [Kinds.network.pathOf(ctx.path, m.net), m.event]);
  }),
  bind('VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE', (m, ctx) => {
    ctx.emit(ctx.path, ConnectInterface, 'NodeDeviceEvent', [Kinds.nodeDevice.pathOf(ctx.path, m.dev), m.event, m.detail]);
  }),
  bind('VIR_SECRET_EVENT_ID_LIFECYCLE', (m, ctx) => {
    ctx.emit(ctx.path, ConnectInterface, 'SecretEvent', [Kinds.secret.pathOf(ctx.path, m.secret), m.event, m.detail]);
  }),
  bind('VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE', (m, ctx) => {
    ctx.emit(ctx.path, ConnectInterface, 'StoragePoolEvent', [Kinds.storagePool.pathOf(ctx.path, m.pool), m.event, m.detail]);
  }),
  bind('VIR_STORAGE_POOL_EVENT_ID_REFRESH', (m, ctx) => {
    ctx.emit(Kinds.storagePool.pathOf(ctx.path, m.pool), StoragePoolInterface, 'Refresh', []);
  }),
  // Beyond the reference (issue 13), which never registers these: signals on the object concerned.
  bind('VIR_NODE_DEVICE_EVENT_ID_UPDATE', (m, ctx) => {
    ctx.emit(Kinds.nodeDevice.pathOf(ctx.path, m.dev), NodeDeviceInterface, 'Update', []);
  }),
  bind('VIR_SECRET_EVENT_ID_VALUE_CHANGED', (m, ctx) => {
    ctx.emit(Kinds.secret.pathOf(ctx.path, m.secret), SecretInterface, 'ValueChanged', []);
  }),
];
