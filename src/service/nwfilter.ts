// org.libvirt.NWFilter: one network filter, named by UUID below its Connect object.

import { defineInterface } from './declare.js';
import { on, read } from './object-calls.js';
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
      get: read(Kinds.nwfilter, async ({ ref }) => ref.name),
    },
    UUID: {
      type: 's',
      access: 'read',
      libvirt: 'virNWFilterGetUUIDString',
      emitsChanged: 'const',
      get: read(Kinds.nwfilter, async ({ ref }) => uuidToString(ref.uuid)),
    },
  },
  methods: {
    GetXMLDesc: {
      in: 'flags:u',
      out: 'xml:s',
      libvirt: 'virNWFilterGetXMLDesc',
      call: on(Kinds.nwfilter, async ({ conn, ref }, args) => {
        return [(await conn.nwfilterGetXmlDesc({ nwfilter: ref, flags: args.flags })).xml];
      }),
    },
    Undefine: {
      libvirt: 'virNWFilterUndefine',
      call: on(Kinds.nwfilter, async ({ conn, ref }) => {
        await conn.nwfilterUndefine({ nwfilter: ref });
        return [];
      }),
    },
  },
});
