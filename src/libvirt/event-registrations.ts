// The typed event registration API of a connection: one method per event family of the reference's
// time, and registerEvent for any event id by name, each one call of the connection's event router.
// Apart from the RPC core (connection.ts), which supplies the router.

import type { RemoteCallbackEvent } from './connection-types.js';
import { LibvirtProtocolError } from './errors.js';
import { type CallbackEvent, callbackEventID, type EventRegistration, type EventRouter } from './events.js';
import {
  type RemoteEventMessages,
  type RemoteNonnullDomain,
  type RemoteNonnullNetwork,
  type RemoteNonnullNodeDevice,
  type RemoteNonnullSecret,
  type RemoteNonnullStoragePool,
  RemoteProcedures,
} from './remote-protocol.gen.js';

/** The generated procedures plus event registration through `router`. */
export abstract class EventRegistrations extends RemoteProcedures {
  /** Routes registrations to the daemon and its events to the listeners. */
  protected abstract readonly router: EventRouter;

  /**
   * Registers a callback for one event id by its libvirt name (e.g. 'VIR_NETWORK_EVENT_ID_LIFECYCLE')
   * on one object or all (null); the family, number and message type come from the generated tables.
   */
  registerEvent<K extends keyof RemoteEventMessages>(
    event: K,
    object: unknown,
    listener: (ev: CallbackEvent<RemoteEventMessages[K]>) => void,
  ): Promise<EventRegistration> {
    const id = callbackEventID(event);
    if (id === undefined) return Promise.reject(new LibvirtProtocolError(`${event} is not an event id callbacks are registered for`));
    return this.router.register(id.family, id.eventID, object, listener as (ev: unknown) => void);
  }

  /** Registers a domain event callback (REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY) for one domain or all (null). */
  registerDomainEvent(
    eventID: number,
    dom: RemoteNonnullDomain | null,
    listener: (ev: RemoteCallbackEvent) => void,
  ): Promise<EventRegistration> {
    return this.router.register('domain', eventID, dom, listener as (ev: unknown) => void);
  }

  /** Registers a network event callback (REMOTE_PROC_CONNECT_NETWORK_EVENT_REGISTER_ANY). */
  registerNetworkEvent(
    eventID: number,
    net: RemoteNonnullNetwork | null,
    listener: (ev: RemoteCallbackEvent) => void,
  ): Promise<EventRegistration> {
    return this.router.register('network', eventID, net, listener as (ev: unknown) => void);
  }

  /** Registers a storage pool event callback (REMOTE_PROC_CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY). */
  registerStoragePoolEvent(
    eventID: number,
    pool: RemoteNonnullStoragePool | null,
    listener: (ev: RemoteCallbackEvent) => void,
  ): Promise<EventRegistration> {
    return this.router.register('storagePool', eventID, pool, listener as (ev: unknown) => void);
  }

  /** Registers a node device event callback (REMOTE_PROC_CONNECT_NODE_DEVICE_EVENT_REGISTER_ANY). */
  registerNodeDeviceEvent(
    eventID: number,
    dev: RemoteNonnullNodeDevice | null,
    listener: (ev: RemoteCallbackEvent) => void,
  ): Promise<EventRegistration> {
    return this.router.register('nodeDevice', eventID, dev, listener as (ev: unknown) => void);
  }

  /** Registers a secret event callback (REMOTE_PROC_CONNECT_SECRET_EVENT_REGISTER_ANY). */
  registerSecretEvent(
    eventID: number,
    secret: RemoteNonnullSecret | null,
    listener: (ev: RemoteCallbackEvent) => void,
  ): Promise<EventRegistration> {
    return this.router.register('secret', eventID, secret, listener as (ev: unknown) => void);
  }
}
