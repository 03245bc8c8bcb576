// org.libvirt.StoragePool: one storage pool, named by UUID below its Connect object.

import { defineInterface } from './declare.js';
import { on, read, write } from './object-calls.js';
import { Kinds } from './object-kinds.js';
import { uuidToString } from './paths.js';

/** org.libvirt.StoragePool. */
export const StoragePoolInterface = defineInterface(Kinds.storagePool.interface, {
  emitsChanged: 'false',
  properties: {
    Active: {
      type: 'b',
      access: 'read',
      libvirt: 'virStoragePoolIsActive',
      get: read(Kinds.storagePool, async ({ conn, ref }) => (await conn.storagePoolIsActive({ pool: ref })).active !== 0),
    },
    Autostart: {
      type: 'b',
      access: 'readwrite',
      libvirt: 'virStoragePoolGetAutostart,virStoragePoolSetAutostart',
      get: read(Kinds.storagePool, async ({ conn, ref }) => (await conn.storagePoolGetAutostart({ pool: ref })).autostart !== 0),
      set: write(Kinds.storagePool, async ({ conn, ref }, value) => {
        await conn.storagePoolSetAutostart({ pool: ref, autostart: value ? 1 : 0 });
      }),
    },
    Name: {
      type: 's',
      access: 'read',
      libvirt: 'virStoragePoolGetName',
      emitsChanged: 'const',
      get: read(Kinds.storagePool, async ({ ref }) => ref.name),
    },
    Persistent: {
      type: 'b',
      access: 'read',
      libvirt: 'virStoragePoolIsPersistent',
      get: read(Kinds.storagePool, async ({ conn, ref }) => (await conn.storagePoolIsPersistent({ pool: ref })).persistent !== 0),
    },
    UUID: {
      type: 's',
      access: 'read',
      libvirt: 'virStoragePoolGetUUIDString',
      emitsChanged: 'const',
      get: read(Kinds.storagePool, async ({ ref }) => uuidToString(ref.uuid)),
    },
  },
  methods: {
    Build: {
      in: 'flags:u',
      libvirt: 'virStoragePoolBuild',
      call: on(Kinds.storagePool, async ({ conn, ref }, args) => {
        await conn.storagePoolBuild({ pool: ref, flags: args.flags });
        return [];
      }),
    },
    Create: {
      in: 'flags:u',
      libvirt: 'virStoragePoolCreate',
      call: on(Kinds.storagePool, async ({ conn, ref }, args) => {
        await conn.storagePoolCreate({ pool: ref, flags: args.flags });
        return [];
      }),
    },
    Delete: {
      in: 'flags:u',
      libvirt: 'virStoragePoolDelete',
      call: on(Kinds.storagePool, async ({ conn, ref }, args) => {
        await conn.storagePoolDelete({ pool: ref, flags: args.flags });
        return [];
      }),
    },
    Destroy: {
      libvirt: 'virStoragePoolDestroy',
      call: on(Kinds.storagePool, async ({ conn, ref }) => {
        await conn.storagePoolDestroy({ pool: ref });
        return [];
      }),
    },
    GetInfo: {
      out: 'info:(ittt)',
      libvirt: 'virStoragePoolGetInfo',
      call: on(Kinds.storagePool, async ({ conn, ref }) => {
        const info = await conn.storagePoolGetInfo({ pool: ref });
        return [[info.state, info.capacity, info.allocation, info.available] as const];
      }),
    },
    GetXMLDesc: {
      in: 'flags:u',
      out: 'xml:s',
      libvirt: 'virStoragePoolGetXMLDesc',
      call: on(Kinds.storagePool, async ({ conn, ref }, args) => {
        return [(await conn.storagePoolGetXmlDesc({ pool: ref, flags: args.flags })).xml];
      }),
    },
    ListStorageVolumes: {
      in: 'flags:u',
      out: 'storageVols:ao',
      libvirt: 'virStoragePoolListAllVolumes',
      call: on(Kinds.storagePool, async ({ conn, ref }, args, _inv, obj) => {
        const { vols } = await conn.storagePoolListAllVolumes({ pool: ref, need_results: 1, flags: args.flags });
        return [vols.map((v) => Kinds.storageVol.pathOf(obj.connect.path, v))];
      }),
    },
    Refresh: {
      in: 'flags:u',
      libvirt: 'virStoragePoolRefresh',
      call: on(Kinds.storagePool, async ({ conn, ref }, args) => {
        await conn.storagePoolRefresh({ pool: ref, flags: args.flags });
        return [];
      }),
    },
    StorageVolCreateXML: {
      in: 'xml:s flags:u',
      out: 'storageVol:o',
      libvirt: 'virStorageVolCreateXML',
      call: on(Kinds.storagePool, async ({ conn, ref }, args, _inv, obj) => {
        const { vol } = await conn.storageVolCreateXml({ pool: ref, xml: args.xml, flags: args.flags });
        return [Kinds.storageVol.pathOf(obj.connect.path, vol)];
      }),
    },
    StorageVolCreateXMLFrom: {
      in: 'xml:s key:s flags:u',
      out: 'storageVol:o',
      libvirt: 'virStorageVolCreateXMLFrom',
      note: 'Call with @key argument set to the key of the storage volume to be cloned.',
      call: on(Kinds.storagePool, async ({ conn, ref }, args, _inv, obj) => {
        // The reference names the source volume by its key (virStorageVolLookupByKey).
        const { vol: clonevol } = await conn.storageVolLookupByKey({ key: args.key });
        const { vol } = await conn.storageVolCreateXmlFrom({ pool: ref, xml: args.xml, clonevol, flags: args.flags });
        return [Kinds.storageVol.pathOf(obj.connect.path, vol)];
      }),
    },
    StorageVolLookupByName: {
      in: 'name:s',
      out: 'storageVol:o',
      libvirt: 'virStorageVolLookupByName',
      call: on(Kinds.storagePool, async ({ conn, ref }, args, _inv, obj) => {
        const { vol } = await conn.storageVolLookupByName({ pool: ref, name: args.name });
        return [Kinds.storageVol.pathOf(obj.connect.path, vol)];
      }),
    },
    Undefine: {
      libvirt: 'virStoragePoolUndefine',
      call: on(Kinds.storagePool, async ({ conn, ref }) => {
        await conn.storagePoolUndefine({ pool: ref });
        return [];
      }),
    },
  },
  signals: {
    Refresh: { libvirt: 'virConnectStoragePoolEventGenericCallback' },
  },
});
