// org.libvirt.NWFilter: one network filter, named by UUID below its Connect object.

import { defineInterface } from './declare.js';
import { lookupNwfilter, type ServiceObject } from './lookup.js';
import { uuidToString } from './paths.js';

/** org.libvirt.NWFilter. */
export const NWFilterInterface = defineInterface<ServiceObject>('org.libvirt.NWFilter', {
  properties: {
    Name: {
      type: 's',
      access: 'read',
      libvirt: 'virNWFilterGetName',
      emitsChanged: 'const',
      get: async (obj) => (await lookupNwfilter(obj)).ref.name,
    },
    UUID: {
      type: 's',
      access: 'read',
      libvirt: 'virNWFilterGetUUIDString',
      emitsChanged: 'const',
      get: async (obj) => uuidToString((await lookupNwfilter(obj)).ref.uuid),
    },
  },
  methods: {
    GetXMLDesc: {
      in: 'flags:u',
      out: 'xml:s',
      libvirt: 'virNWFilterGetXMLDesc',
      call: async (obj, args) => {
        const { conn, ref } = await lookupNwfilter(obj);
        return [(await conn.nwfilterGetXmlDesc({ nwfilter: ref, flags: args.flags })).xml];
      },
    },
    Undefine: {
      libvirt: 'virNWFilterUndefine',
      call: async (obj) => {
        const { conn, ref } = await lookupNwfilter(obj);
        await conn.nwfilterUndefine({ nwfilter: ref });
        return [];
      },
    },
  },
});
