// org.libvirt.Interface: one host network interface, named by its encoded MAC below its Connect object.

import { defineInterface } from './declare.js';
import { on, read } from './object-calls.js';
import { Kinds } from './object-kinds.js';

/** org.libvirt.Interface. */
export const InterfaceInterface = defineInterface(Kinds.interface.interface, {
  emitsChanged: 'false',
  properties: {
    Active: {
      type: 'b',
      access: 'read',
      libvirt: 'virInterfaceIsActive',
      get: read(Kinds.interface, async ({ conn, ref }) => (await conn.interfaceIsActive({ iface: ref })).active !== 0),
    },
    MAC: {
      type: 's',
      access: 'read',
      libvirt: 'virInterfaceGetMACString',
      emitsChanged: 'const',
      get: read(Kinds.interface, async ({ ref }) => ref.mac),
    },
    Name: {
      type: 's',
      access: 'read',
      libvirt: 'virInterfaceGetName',
      emitsChanged: 'const',
      get: read(Kinds.interface, async ({ ref }) => ref.name),
    },
  },
  methods: {
    Create: {
      in: 'flags:u',
      libvirt: 'virInterfaceCreate',
      call: on(Kinds.interface, async ({ conn, ref }, args) => {
        await conn.interfaceCreate({ iface: ref, flags: args.flags });
        return [];
      }),
    },
    Destroy: {
      in: 'flags:u',
      libvirt: 'virInterfaceDestroy',
      call: on(Kinds.interface, async ({ conn, ref }, args) => {
        await conn.interfaceDestroy({ iface: ref, flags: args.flags });
        return [];
      }),
    },
    GetXMLDesc: {
      in: 'flags:u',
      out: 'xml:s',
      libvirt: 'virInterfaceGetXMLDesc',
      call: on(Kinds.interface, async ({ conn, ref }, args) => {
        return [(await conn.interfaceGetXmlDesc({ iface: ref, flags: args.flags })).xml];
      }),
    },
    Undefine: {
      libvirt: 'virInterfaceUndefine',
      call: on(Kinds.interface, async ({ conn, ref }) => {
        await conn.interfaceUndefine({ iface: ref });
        return [];
      }),
    },
  },
});
