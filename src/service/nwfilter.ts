// org.libvirt.NWFilter: one network filter, named by UUID below its Connect object.

import { defineInterface } from './declare.js';
import { Kinds } from './object-kinds.js';
import { uuidToString } from './paths.js';

/** org.libvirt.NWFilter. */
export const NWFilterInterface = defineInterface(Kinds.nwfilter.interface, {
  properties: {
    Name: {
      type: 's',
      access: 'read',
      libvirt: 'virNWFilterGetName',
      emitsChanged: 'const',
      get: async (obj) => (await Kinds.nwfilter.lookupFrom(obj)).ref.name,
    },
    UUID: {
      type: 's',
      access: 'read',
      libvirt: 'virNWFilterGetUUIDString',
      emitsChanged: 'const',
      get: async (obj) => uuidToString((await Kinds.nwfilter.lookupFrom(obj)).ref.uuid),
    },
  },
  methods: {
    GetXMLDesc: {
      in: 'flags:u',
      out: 'xml:s',
      libvirt: 'virNWFilterGetXMLDesc',
      call: async (obj, args) => {
        const { conn, ref } = await Kinds.nwfilter.lookupFrom(obj);
        return [(await conn.nwfilterGetXmlDesc({ nwfilter: ref, flags: args.flags })).xml];
      },
    },
    Undefine: {
      libvirt: 'virNWFilterUndefine',
      call: async (obj) => {
        const { conn, ref } = await Kinds.nwfilter.lookupFrom(obj);
        await conn.nwfilterUndefine({ nwfilter: ref });
        return [];
      },
    },
  },
});
