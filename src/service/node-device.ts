// org.libvirt.NodeDevice: one host device, named by its encoded name below its Connect object.

import { defineInterface } from './declare.js';
import { OrgLibvirtError } from './errors.js';
import { on, read, write } from './object-calls.js';
import { Kinds } from './object-kinds.js';

/** org.libvirt.NodeDevice. */
export const NodeDeviceInterface = defineInterface(Kinds.nodeDevice.interface, {
  properties: {
    Active: {
      type: 'b',
      access: 'read',
      libvirt: 'virNodeDeviceIsActive',
      get: read(Kinds.nodeDevice, async ({ conn, ref }) => (await conn.nodeDeviceIsActive({ name: ref.name })).active !== 0),
    },
    Autostart: {
      type: 'b',
      access: 'readwrite',
      libvirt: 'virNodeDeviceGetAutostart,virNodeDeviceSetAutostart',
      get: read(Kinds.nodeDevice, async ({ conn, ref }) => (await conn.nodeDeviceGetAutostart({ name: ref.name })).autostart !== 0),
      set: write(Kinds.nodeDevice, async ({ conn, ref }, value) => {
        await conn.nodeDeviceSetAutostart({ name: ref.name, autostart: value ? 1 : 0 });
      }),
    },
    Name: {
      type: 's',
      access: 'read',
      libvirt: 'virNodeDeviceGetName',
      emitsChanged: 'const',
      get: read(Kinds.nodeDevice, async ({ ref }) => ref.name),
    },
    Parent: {
      type: 's',
      access: 'read',
      libvirt: 'virNodeDeviceGetParent',
      emitsChanged: 'const',
      get: read(Kinds.nodeDevice, async ({ conn, ref }) => {
        const { parentName } = await conn.nodeDeviceGetParent({ name: ref.name });
        // A device without a parent makes virNodeDeviceGetParent return NULL with no error set.
        if (parentName === null || parentName === undefined) throw new OrgLibvirtError('An error occurred, but the cause is unknown');
        return parentName;
      }),
    },
    Persistent: {
      type: 'b',
      access: 'read',
      libvirt: 'virNodeDeviceIsPersistent',
      get: read(Kinds.nodeDevice, async ({ conn, ref }) => (await conn.nodeDeviceIsPersistent({ name: ref.name })).persistent !== 0),
    },
  },
  methods: {
    Create: {
      in: 'flags:u',
      libvirt: 'virNodeDeviceCreate',
      call: on(Kinds.nodeDevice, async ({ conn, ref }, args) => {
        await conn.nodeDeviceCreate({ name: ref.name, flags: args.flags });
        return [];
      }),
    },
    Destroy: {
      libvirt: 'virNodeDeviceDestroy',
      call: on(Kinds.nodeDevice, async ({ conn, ref }) => {
        await conn.nodeDeviceDestroy({ name: ref.name });
        return [];
      }),
    },
    Detach: {
      in: 'driverName:s flags:u',
      libvirt: 'virNodeDeviceDetachFlags',
      call: on(Kinds.nodeDevice, async ({ conn, ref }, args) => {
        await conn.nodeDeviceDetachFlags({ name: ref.name, driverName: args.driverName, flags: args.flags });
        return [];
      }),
    },
    GetXMLDesc: {
      in: 'flags:u',
      out: 'xml:s',
      libvirt: 'virNodeDeviceGetXMLDesc',
      call: on(Kinds.nodeDevice, async ({ conn, ref }, args) => {
        return [(await conn.nodeDeviceGetXmlDesc({ name: ref.name, flags: args.flags })).xml];
      }),
    },
    ListCaps: {
      out: 'names:as',
      libvirt: 'virNodeDeviceListCaps',
      call: on(Kinds.nodeDevice, async ({ conn, ref }) => {
        const { num } = await conn.nodeDeviceNumOfCaps({ name: ref.name });
        const { names } = await conn.nodeDeviceListCaps({ name: ref.name, maxnames: num });
        return [names];
      }),
    },
    ReAttach: {
      libvirt: 'virNodeDeviceReAttach',
      call: on(Kinds.nodeDevice, async ({ conn, ref }) => {
        await conn.nodeDeviceReAttach({ name: ref.name });
        return [];
      }),
    },
    Reset: {
      libvirt: 'virNodeDeviceReset',
      call: on(Kinds.nodeDevice, async ({ conn, ref }) => {
        await conn.nodeDeviceReset({ name: ref.name });
        return [];
      }),
    },
    Undefine: {
      in: 'flags:u',
      libvirt: 'virNodeDeviceUndefine',
      call: on(Kinds.nodeDevice, async ({ conn, ref }, args) => {
        await conn.nodeDeviceUndefine({ name: ref.name, flags: args.flags });
        return [];
      }),
    },
  },
  signals: { Update: { libvirt: 'virConnectNodeDeviceEventGenericCallback' } }, // beyond the reference (issue 13)
});
