// Declarations of the standard interfaces of the D-Bus specification that the exporter
// implements on every object (argument names as GDBus writes them in introspection data).
import type { InterfaceDeclaration } from './interface.js';

/** Interface names of the standard interfaces. */
export const StandardInterfaceNames = {
  Introspectable: 'org.freedesktop.DBus.Introspectable',
  Properties: 'org.freedesktop.DBus.Properties',
  Peer: 'org.freedesktop.DBus.Peer',
  ObjectManager: 'org.freedesktop.DBus.ObjectManager',
} as const;

/** org.freedesktop.DBus.Introspectable. */
export const IntrospectableInterface: InterfaceDeclaration = {
  name: StandardInterfaceNames.Introspectable,
  methods: [{ name: 'Introspect', in: [], out: [{ name: 'xml_data', signature: 's' }] }],
  signals: [],
  properties: [],
};

/** org.freedesktop.DBus.Properties. */
export const PropertiesInterface: InterfaceDeclaration = {
  name: StandardInterfaceNames.Properties,
  methods: [
    {
      name: 'Get',
      in: [
        { name: 'interface_name', signature: 's' },
        { name: 'property_name', signature: 's' },
      ],
      out: [{ name: 'value', signature: 'v' }],
    },
    {
      name: 'GetAll',
      in: [{ name: 'interface_name', signature: 's' }],
      out: [{ name: 'properties', signature: 'a{sv}' }],
    },
    {
      name: 'Set',
      in: [
        { name: 'interface_name', signature: 's' },
        { name: 'property_name', signature: 's' },
        { name: 'value', signature: 'v' },
      ],
      out: [],
    },
  ],
  signals: [
    {
      name: 'PropertiesChanged',
      args: [
        { name: 'interface_name', signature: 's' },
        { name: 'changed_properties', signature: 'a{sv}' },
        { name: 'invalidated_properties', signature: 'as' },
      ],
    },
  ],
  properties: [],
};

/** org.freedesktop.DBus.Peer. */
export const PeerInterface: InterfaceDeclaration = {
  name: StandardInterfaceNames.Peer,
  methods: [
    { name: 'Ping', in: [], out: [] },
    { name: 'GetMachineId', in: [], out: [{ name: 'machine_uuid', signature: 's' }] },
  ],
  signals: [],
  properties: [],
};

/** org.freedesktop.DBus.ObjectManager. */
export const ObjectManagerInterface: InterfaceDeclaration = {
  name: StandardInterfaceNames.ObjectManager,
  methods: [
    {
      name: 'GetManagedObjects',
      in: [],
      out: [{ name: 'object_paths_interfaces_and_properties', signature: 'a{oa{sa{sv}}}' }],
    },
  ],
  signals: [
    {
      name: 'InterfacesAdded',
      args: [
        { name: 'object_path', signature: 'o' },
        { name: 'interfaces_and_properties', signature: 'a{sa{sv}}' },
      ],
    },
    {
      name: 'InterfacesRemoved',
      args: [
        { name: 'object_path', signature: 'o' },
        { name: 'interfaces', signature: 'as' },
      ],
    },
  ],
  properties: [],
};

/** True for the interfaces the exporter implements itself (they cannot be registered). */
export function isStandardInterface(name: string): boolean {
  return (
    name === StandardInterfaceNames.Introspectable ||
    name === StandardInterfaceNames.Properties ||
    name === StandardInterfaceNames.Peer ||
    name === StandardInterfaceNames.ObjectManager
  );
}
