// org.libvirt.Network: one virtual network, named by UUID below its Connect object.

import { defineInterface } from './declare.js';
import { on, read, write } from './object-calls.js';
import { Kinds } from './object-kinds.js';
import { uuidToString } from './paths.js';

/** org.libvirt.Network. */
export const NetworkInterface = defineInterface(Kinds.network.interface, {
  emitsChanged: 'false',
  properties: {
    Active: {
      type: 'b',
      access: 'read',
      libvirt: 'virNetworkIsActive',
      get: read(Kinds.network, async ({ conn, ref }) => (await conn.networkIsActive({ net: ref })).active !== 0),
    },
    Autostart: {
      type: 'b',
      access: 'readwrite',
      libvirt: 'virNetworkGetAutostart,virNetworkSetAutostart',
      get: read(Kinds.network, async ({ conn, ref }) => (await conn.networkGetAutostart({ net: ref })).autostart !== 0),
      set: write(Kinds.network, async ({ conn, ref }, value) => {
        await conn.networkSetAutostart({ net: ref, autostart: value ? 1 : 0 });
      }),
    },
    Name: {
      type: 's',
      access: 'read',
      libvirt: 'virNetworkGetName',
      emitsChanged: 'const',
      get: read(Kinds.network, async ({ ref }) => ref.name),
    },
    Persistent: {
      type: 'b',
      access: 'read',
      libvirt: 'virNetworkIsPersistent',
      get: read(Kinds.network, async ({ conn, ref }) => (await conn.networkIsPersistent({ net: ref })).persistent !== 0),
    },
    UUID: {
      type: 's',
      access: 'read',
      libvirt: 'virNetworkGetUUIDString',
      emitsChanged: 'const',
      get: read(Kinds.network, async ({ ref }) => uuidToString(ref.uuid)),
    },
  },
  methods: {
    Create: {
      libvirt: 'virNetworkCreate',
      call: on(Kinds.network, async ({ conn, ref }) => {
        await conn.networkCreate({ net: ref });
        return [];
      }),
    },
    Destroy: {
      libvirt: 'virNetworkDestroy',
      call: on(Kinds.network, async ({ conn, ref }) => {
        await conn.networkDestroy({ net: ref });
        return [];
      }),
    },
    GetDHCPLeases: {
      in: 'mac:s flags:u',
      out: 'leases:a(sxisssuss)',
      libvirt: 'virNetworkGetDHCPLeases',
      emptyIsNull: ['mac'],
      note: 'Empty string will be returned in output for NULL variables.',
      call: on(Kinds.network, async ({ conn, ref }, args) => {
        const { leases } = await conn.networkGetDhcpLeases({ net: ref, mac: args.mac, need_results: 1, flags: args.flags });
        return [
          leases.map(
            (l) =>
              [l.iface, l.expirytime, l.type, l.mac ?? '', l.iaid ?? '', l.ipaddr, l.prefix, l.hostname ?? '', l.clientid ?? ''] as const,
          ),
        ];
      }),
    },
    GetXMLDesc: {
      in: 'flags:u',
      out: 'xml:s',
      libvirt: 'virNetworkGetXMLDesc',
      call: on(Kinds.network, async ({ conn, ref }, args) => {
        return [(await conn.networkGetXmlDesc({ net: ref, flags: args.flags })).xml];
      }),
    },
    Undefine: {
      libvirt: 'virNetworkUndefine',
      call: on(Kinds.network, async ({ conn, ref }) => {
        await conn.networkUndefine({ net: ref });
        return [];
      }),
    },
    Update: {
      in: 'command:u section:u parentIndex:i xml:s flags:u',
      libvirt: 'virNetworkUpdate',
      call: on(Kinds.network, async ({ conn, ref }, args) => {
        await conn.networkUpdate({
          net: ref,
          command: args.command,
          section: args.section,
          parentIndex: args.parentIndex,
          xml: args.xml,
          flags: args.flags,
        });
        return [];
      }),
    },
  },
});
