// org.libvirt.StorageVol: one storage volume, named by its key below its Connect object.

import { defineInterface } from './declare.js';
import { on, read } from './object-calls.js';
import { Kinds } from './object-kinds.js';

/** org.libvirt.StorageVol. */
export const StorageVolInterface = defineInterface(Kinds.storageVol.interface, {
  properties: {
    Name: {
      type: 's',
      access: 'read',
      libvirt: 'virStorageVolGetName',
      emitsChanged: 'const',
      get: read(Kinds.storageVol, async ({ ref }) => ref.name),
    },
    Key: {
      type: 's',
      access: 'read',
      libvirt: 'virStorageVolGetKey',
      emitsChanged: 'const',
      get: read(Kinds.storageVol, async ({ ref }) => ref.key),
    },
    Path: {
      type: 's',
      access: 'read',
      libvirt: 'virStorageVolGetPath',
      emitsChanged: 'const',
      get: read(Kinds.storageVol, async ({ conn, ref }) => (await conn.storageVolGetPath({ vol: ref })).name),
    },
  },
  methods: {
    Delete: {
      in: 'flags:u',
      libvirt: 'virStorageVolDelete',
      call: on(Kinds.storageVol, async ({ conn, ref }, args) => {
        await conn.storageVolDelete({ vol: ref, flags: args.flags });
        return [];
      }),
    },
    GetInfo: {
      in: 'flags:u',
      out: 'info:(itt)',
      libvirt: 'virStorageVolGetInfoFlags',
      call: on(Kinds.storageVol, async ({ conn, ref }, args) => {
        const info = await conn.storageVolGetInfoFlags({ vol: ref, flags: args.flags });
        return [[info.type, info.capacity, info.allocation] as const];
      }),
    },
    GetXMLDesc: {
      in: 'flags:u',
      out: 'xml:s',
      libvirt: 'virStorageVolGetXMLDesc',
      call: on(Kinds.storageVol, async ({ conn, ref }, args) => {
        return [(await conn.storageVolGetXmlDesc({ vol: ref, flags: args.flags })).xml];
      }),
    },
    Resize: {
      in: 'capacity:t flags:u',
      libvirt: 'virStorageVolResize',
      call: on(Kinds.storageVol, async ({ conn, ref }, args) => {
        await conn.storageVolResize({ vol: ref, capacity: args.capacity, flags: args.flags });
        return [];
      }),
    },
    Wipe: {
      in: 'pattern:u flags:u',
      libvirt: 'virStorageVolWipePattern',
      call: on(Kinds.storageVol, async ({ conn, ref }, args) => {
        await conn.storageVolWipePattern({ vol: ref, algorithm: args.pattern, flags: args.flags });
        return [];
      }),
    },
  },
});
