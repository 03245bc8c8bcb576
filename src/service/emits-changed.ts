// Which properties change notification keeps current (changes.ts), in one table: for these the
// service emits org.freedesktop.DBus.Properties.PropertiesChanged with the new values whenever
// libvirt's lifecycle event for their object arrives, so their EmitsChangedSignal annotation
// becomes 'true' (interfaces.ts applies the table to the declarations). Every other property keeps
// the reference's annotation — 'const', or 'false' through its interface's annotation — except
// where the reference's interface has none (the default is 'true'): a property there that libvirt
// has no event for is marked 'false', so that the annotation tells the truth.

import type { EmitsChanged } from './declare.js';

/** Properties whose new value a lifecycle event of their object tells (read again when it arrives). */
export const NOTIFIED_PROPERTIES: Readonly<Record<string, readonly string[]>> = {
  // Started/stopped change Active and Id; defined/undefined change Persistent; a rename (the UUID
  // stays) comes as undefined and defined with the detail 'renamed'.
  'org.libvirt.Domain': ['Active', 'Id', 'Name', 'Persistent'],
  'org.libvirt.Network': ['Active', 'Persistent'],
  'org.libvirt.StoragePool': ['Active', 'Persistent'],
  'org.libvirt.NodeDevice': ['Active', 'Persistent'],
};

/** Properties of interfaces without the reference's 'false' whose changes libvirt announces nowhere. */
const UNNOTIFIED_PROPERTIES: Readonly<Record<string, readonly string[]>> = {
  // virNodeDeviceSetAutostart raises no event.
  'org.libvirt.NodeDevice': ['Autostart'],
};

/** The EmitsChangedSignal annotation each listed property gets, by interface name. */
export const EMITS_CHANGED_OVERRIDES: Readonly<Record<string, Readonly<Record<string, EmitsChanged>>>> = Object.fromEntries(
  [...new Set([...Object.keys(NOTIFIED_PROPERTIES), ...Object.keys(UNNOTIFIED_PROPERTIES)])].map((iface) => [
    iface,
    {
      ...Object.fromEntries((NOTIFIED_PROPERTIES[iface] ?? []).map((p) => [p, 'true' as const])),
      ...Object.fromEntries((UNNOTIFIED_PROPERTIES[iface] ?? []).map((p) => [p, 'false' as const])),
    },
  ]),
);
