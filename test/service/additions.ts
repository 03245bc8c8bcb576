// The members and interfaces of ours that libvirt-dbus 1.4.1 does not have (the README's "Beyond
// libvirt-dbus 1.4.1"): the conformance test checks that nothing else differs, and the tests that
// compare ours with the running reference leave these out of the comparison.
import { objectKinds } from '../../src/service/object-kinds.js';

/** Interfaces the reference does not have (the ObjectManager is on each Connect object). */
export const NEW_INTERFACES: readonly string[] = ['org.libvirt.DomainCheckpoint', 'org.freedesktop.DBus.ObjectManager'];

/** The annotation whose values change notification changes. */
const EMITS_CHANGED = 'org.freedesktop.DBus.Property.EmitsChangedSignal';

/**
 * EmitsChangedSignal annotations of ours that differ from the reference's (which has none on these
 * properties): 'true' where PropertiesChanged is now emitted, 'false' where the interface's default
 * would otherwise claim it is.
 */
export const ANNOTATION_CHANGES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'org.libvirt.Domain': { Active: 'true', Id: 'true', Name: 'true', Persistent: 'true' },
  'org.libvirt.Network': { Active: 'true', Persistent: 'true' },
  'org.libvirt.StoragePool': { Active: 'true', Persistent: 'true' },
  'org.libvirt.NodeDevice': { Active: 'true', Persistent: 'true', Autostart: 'false' },
};

/** Members added to the reference's interfaces, as 'method Name' / 'property Name' / 'signal Name'. */
export const ADDITIONS: Readonly<Record<string, readonly string[]>> = {
  'org.libvirt.Connect': ['method NodeDeviceDefineXML', 'method GetStoragePoolCapabilities'],
  'org.libvirt.Domain': [
    'method BackupBegin',
    'method BackupGetXMLDesc',
    'method CheckpointCreateXML',
    'method CheckpointLookupByName',
    'method ListDomainCheckpoints',
    'method SetBlockThreshold',
    'method GetMessages',
    'method DetachDeviceAlias',
    'method SetLifecycleAction',
    'method GetGuestInfo',
    'method AuthorizedSSHKeysGet',
    'method AuthorizedSSHKeysSet',
    'method AgentSetResponseTimeout',
    'method OpenConsole',
    'method OpenChannel',
    'method Screenshot',
    'signal BlockThreshold',
    'signal MemoryFailure',
    'signal MemoryDeviceSizeChange',
  ],
  'org.libvirt.NodeDevice': [
    'method Create',
    'method Undefine',
    'property Active',
    'property Autostart',
    'property Persistent',
    'signal Update',
  ],
  'org.libvirt.Secret': ['signal ValueChanged'],
};

/** Signals of the standard interfaces that change notification adds (the reference emits none of them). */
export const CHANGE_SIGNALS: readonly string[] = [
  'org.freedesktop.DBus.Properties.PropertiesChanged',
  'org.freedesktop.DBus.ObjectManager.InterfacesAdded',
  'org.freedesktop.DBus.ObjectManager.InterfacesRemoved',
];

/** Whether a signal is one change notification adds. */
export function isChangeSignal(iface: string, member: string): boolean {
  return CHANGE_SIGNALS.includes(`${iface}.${member}`);
}

/** Whether `member` (e.g. 'method Create') of interface `iface` is an addition. */
export function isAddition(iface: string, member: string): boolean {
  return ADDITIONS[iface]?.includes(member) ?? false;
}

/** Path segments below a Connect object of the object kinds the reference does not have. */
export const NEW_SEGMENTS: readonly string[] = objectKinds.filter((k) => NEW_INTERFACES.includes(k.interface)).map((k) => k.segment);

/** An introspected interface without the additions, annotation changes included (undefined for a new interface). */
export function withoutAdditions<
  I extends {
    name: string;
    methods: { name: string }[];
    properties: { name: string; annotations?: Record<string, string> }[];
    signals: { name: string }[];
  },
>(i: I): I | undefined {
  if (NEW_INTERFACES.includes(i.name)) return undefined;
  return {
    ...i,
    methods: i.methods.filter((m) => !isAddition(i.name, `method ${m.name}`)),
    properties: i.properties
      .filter((p) => !isAddition(i.name, `property ${p.name}`))
      .map((p) => {
        if (ANNOTATION_CHANGES[i.name]?.[p.name] === undefined || !p.annotations) return p;
        const { [EMITS_CHANGED]: _, ...rest } = p.annotations as Record<string, string>;
        return { ...p, annotations: rest };
      }),
    signals: i.signals.filter((s) => !isAddition(i.name, `signal ${s.name}`)),
  };
}
