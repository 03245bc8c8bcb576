// org.libvirt.Secret: one secret, named by UUID below its Connect object.

import { defineInterface } from './declare.js';
import { Kinds } from './object-kinds.js';
import { uuidToString } from './paths.js';

/** org.libvirt.Secret. */
export const SecretInterface = defineInterface(Kinds.secret.interface, {
  properties: {
    UUID: {
      type: 's',
      access: 'read',
      libvirt: 'virSecretGetUUIDString',
      emitsChanged: 'const',
      get: async (obj) => uuidToString((await Kinds.secret.lookupFrom(obj)).ref.uuid),
    },
    UsageID: {
      type: 's',
      access: 'read',
      libvirt: 'virSecretGetUsageID',
      emitsChanged: 'const',
      get: async (obj) => (await Kinds.secret.lookupFrom(obj)).ref.usageID,
    },
    UsageType: {
      type: 'i',
      access: 'read',
      libvirt: 'virSecretGetUsageType',
      emitsChanged: 'const',
      get: async (obj) => (await Kinds.secret.lookupFrom(obj)).ref.usageType,
    },
  },
  methods: {
    GetValue: {
      in: 'flags:u',
      out: 'value:ay',
      libvirt: 'virSecretGetValue',
      call: async (obj, args) => {
        const { conn, ref } = await Kinds.secret.lookupFrom(obj);
        return [(await conn.secretGetValue({ secret: ref, flags: args.flags })).value];
      },
    },
    GetXMLDesc: {
      in: 'flags:u',
      out: 'xml:s',
      libvirt: 'virSecretGetXMLDesc',
      call: async (obj, args) => {
        const { conn, ref } = await Kinds.secret.lookupFrom(obj);
        return [(await conn.secretGetXmlDesc({ secret: ref, flags: args.flags })).xml];
      },
    },
    SetValue: {
      in: 'value:ay flags:u',
      libvirt: 'virSecretSetValue',
      call: async (obj, args) => {
        const { conn, ref } = await Kinds.secret.lookupFrom(obj);
        await conn.secretSetValue({ secret: ref, value: args.value, flags: args.flags });
        return [];
      },
    },
    Undefine: {
      libvirt: 'virSecretUndefine',
      call: async (obj) => {
        const { conn, ref } = await Kinds.secret.lookupFrom(obj);
        await conn.secretUndefine({ secret: ref });
        return [];
      },
    },
  },
});
