// The typed client of org.libvirt: one proxy class per interface, generated from the interface
// descriptions; methods, properties and signals typed, object paths returned as proxies.
//
//   const qemu = await OrgLibvirt.connect('system', 'QEMU');
//   for (const d of await qemu.listDomains(0)) console.log(await d.name);
//
// Change notification: getManagedObjects()/onInterfacesAdded/onInterfacesRemoved on a
// ConnectProxy (the ObjectManager), onPropertiesChanged on every proxy.

import type { ConnectOptions, DBusConnection } from '../dbus/index.js';
import { ConnectProxy } from './org-libvirt.gen.js';
import { ORG_LIBVIRT, openConnection, type ProxyOptions } from './proxy.js';

export * from './org-libvirt.gen.js';
export {
  BASE_MEMBERS,
  type ManagedInterface,
  type NoProperties,
  ObjectProxy,
  ORG_LIBVIRT,
  type PropertiesChangedHandler,
  type PropertiesOf,
  type ProxyClass,
  type ProxyClassTable,
  type ProxyOptions,
  type Unsubscribe,
} from './proxy.js';

/** Entry points: the Connect object of one hypervisor connection of the service. */
export const OrgLibvirt = {
  /**
   * Connects to the bus ('system', 'session', or an address) and returns the proxy of
   * /org/libvirt/NAME. For the service's `--listen` address pass `{ bus: false }` (peer to peer);
   * for a bus given by its address pass `{ bus: true }`.
   */
  async connect(target: 'system' | 'session' | string, name = 'QEMU', options: ConnectOptions = {}): Promise<ConnectProxy> {
    const connection = await openConnection(target, options);
    const named = target === 'system' || target === 'session';
    return OrgLibvirt.on(connection, name, named || options.bus === true ? ORG_LIBVIRT : undefined);
  },

  /** The proxy of /org/libvirt/NAME on an open connection (destination undefined: peer to peer). */
  on(connection: DBusConnection, name = 'QEMU', destination: string | undefined = ORG_LIBVIRT, options: ProxyOptions = {}): ConnectProxy {
    return new ConnectProxy(connection, `/org/libvirt/${name}`, destination, options);
  },
};
