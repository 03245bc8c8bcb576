// org.libvirt.Interface: one host network interface, named by its encoded MAC below its Connect object.

import { defineInterface } from './declare.js';
import { Kinds } from './object-kinds.js';

/** org.libvirt.Interface. */
export const InterfaceInterface = defineInterface(Kinds.interface.interface, {
  emitsChanged: 'false',
  properties: {
    Active: {
      type: 'b',
      access: 'read',
      libvirt: 'virInterfaceIsActive',
      get: async (obj) => {
        const { conn, ref } = await Kinds.interface.lookupFrom(obj);
        return (await conn.interfaceIsActive({ iface: ref })).active !== 0;
      },
    },
    MAC: {
      type: 's',
      access: 'read',
      libvirt: 'virInterfaceGetMACString',
      emitsChanged: 'const',
      get: async (obj) => (await Kinds.interface.lookupFrom(obj)).ref.mac,
    },
    Name: {
      type: 's',
      access: 'read',
      libvirt: 'virInterfaceGetName',
      emitsChanged: 'const',
      get: async (obj) => (await Kinds.interface.lookupFrom(obj)).ref.name,
    },
  },
  methods: {
    Create: {
      in: 'flags:u',
      libvirt: 'virInterfaceCreate',
      call: async (obj, args) => {
        const { conn, ref } = await Kinds.interface.lookupFrom(obj);
        await conn.interfaceCreate({ iface: ref, flags: args.flags });
        return [];
      },
    },
    Destroy: {
      in: 'flags:u',
      libvirt: 'virInterfaceDestroy',
      call: async (obj, args) => {
        const { conn, ref } = await Kinds.interface.lookupFrom(obj);
        await conn.interfaceDestroy({ iface: ref, flags: args.flags });
        return [];
      },
    },
    GetXMLDesc: {
      in: 'flags:u',
      out: 'xml:s',
      libvirt: 'virInterfaceGetXMLDesc',
      call: async (obj, args) => {
        const { conn, ref } = await Kinds.interface.lookupFrom(obj);
        return [(await conn.interfaceGetXmlDesc({ iface: ref, flags: args.flags })).xml];
      },
    },
    Undefine: {
      libvirt: 'virInterfaceUndefine',
      call: async (obj) => {
        const { conn, ref } = await Kinds.interface.lookupFrom(obj);
        await conn.interfaceUndefine({ iface: ref });
        return [];
      },
    },
  },
});
