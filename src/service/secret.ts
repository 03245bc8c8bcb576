// org.libvirt.Secret: one secret, named by UUID below its Connect object.

import { defineInterface } from './declare.js';
import { on, read } from './object-calls.js';
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
      get: read(Kinds.secret, async ({ ref }) => uuidToString(ref.uuid)),
    },
    UsageID: {
      type: 's',
      access: 'read',
      libvirt: 'virSecretGetUsageID',
      emitsChanged: 'const',
      get: read(Kinds.secret, async ({ ref }) => ref.usageID),
    },
    UsageType: {
      type: 'i',
      access: 'read',
      libvirt: 'virSecretGetUsageType',
      emitsChanged: 'const',
      get: read(Kinds.secret, async ({ ref }) => ref.usageType),
    },
  },
  methods: {
    GetValue: {
      in: 'flags:u',
      out: 'value:ay',
      libvirt: 'virSecretGetValue',
      call: on(Kinds.secret, async ({ conn, ref }, args) => {
        return [(await conn.secretGetValue({ secret: ref, flags: args.flags })).value];
      }),
    },
    GetXMLDesc: {
      in: 'flags:u',
      out: 'xml:s',
      libvirt: 'virSecretGetXMLDesc',
      call: on(Kinds.secret, async ({ conn, ref }, args) => {
        return [(await conn.secretGetXmlDesc({ secret: ref, flags: args.flags })).xml];
      }),
    },
    SetValue: {
      in: 'value:ay flags:u',
      libvirt: 'virSecretSetValue',
      call: on(Kinds.secret, async ({ conn, ref }, args) => {
        await conn.secretSetValue({ secret: ref, value: args.value, flags: args.flags });
        return [];
      }),
    },
    Undefine: {
      libvirt: 'virSecretUndefine',
      call: on(Kinds.secret, async ({ conn, ref }) => {
        await conn.secretUndefine({ secret: ref });
        return [];
      }),
    },
  },
  signals: {
    // Beyond the reference (issue 13): it never registers VIR_SECRET_EVENT_ID_VALUE_CHANGED.
    ValueChanged: { libvirt: 'virConnectSecretEventGenericCallback' },
  },
});
