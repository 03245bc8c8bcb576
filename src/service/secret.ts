// org.libvirt.Secret: one secret, named by UUID below its Connect object.

import { defineInterface } from './declare.js';
import { lookupSecret, type ServiceObject } from './lookup.js';
import { uuidToString } from './paths.js';

/** org.libvirt.Secret. */
export const SecretInterface = defineInterface<ServiceObject>('org.libvirt.Secret', {
  properties: {
    UUID: {
      type: 's',
      access: 'read',
      libvirt: 'virSecretGetUUIDString',
      emitsChanged: 'const',
      get: async (obj) => uuidToString((await lookupSecret(obj)).ref.uuid),
    },
    UsageID: {
      type: 's',
      access: 'read',
      libvirt: 'virSecretGetUsageID',
      emitsChanged: 'const',
      get: async (obj) => (await lookupSecret(obj)).ref.usageID,
    },
    UsageType: {
      type: 'i',
      access: 'read',
      libvirt: 'virSecretGetUsageType',
      emitsChanged: 'const',
      get: async (obj) => (await lookupSecret(obj)).ref.usageType,
    },
  },
  methods: {
    GetValue: {
      in: 'flags:u',
      out: 'value:ay',
      libvirt: 'virSecretGetValue',
      call: async (obj, args) => {
        const { conn, ref } = await lookupSecret(obj);
        return [(await conn.secretGetValue({ secret: ref, flags: args.flags })).value];
      },
    },
    GetXMLDesc: {
      in: 'flags:u',
      out: 'xml:s',
      libvirt: 'virSecretGetXMLDesc',
      call: async (obj, args) => {
        const { conn, ref } = await lookupSecret(obj);
        return [(await conn.secretGetXmlDesc({ secret: ref, flags: args.flags })).xml];
      },
    },
    SetValue: {
      in: 'value:ay flags:u',
      libvirt: 'virSecretSetValue',
      call: async (obj, args) => {
        const { conn, ref } = await lookupSecret(obj);
        await conn.secretSetValue({ secret: ref, value: args.value, flags: args.flags });
        return [];
      },
    },
    Undefine: {
      libvirt: 'virSecretUndefine',
      call: async (obj) => {
        const { conn, ref } = await lookupSecret(obj);
        await conn.secretUndefine({ secret: ref });
        return [];
      },
    },
  },
});
