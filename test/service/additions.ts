// Our members beyond libvirt-dbus 1.4.1 (issue 13), listed once for the tests that hold us to the
// reference: the conformance test requires exactly these on top of the reference's members, and the
// differential and introspection tests compare with the reference after taking exactly these away
// (so any other difference still fails them).
import type { InterfaceDeclaration } from '../../src/dbus/index.js';

/** Per interface, each addition as `method|signal|property Name` → its arguments (as interfaces.test.ts summarises them). */
export const ADDITIONS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'org.libvirt.Connect': { 'method GetStoragePoolCapabilities': 'in flags:u, out capabilities:s' },
  'org.libvirt.Domain': {
    'method SetBlockThreshold': 'in dev:s, in threshold:t, in flags:u',
    'method GetMessages': 'in flags:u, out messages:as',
    'method DetachDeviceAlias': 'in alias:s, in flags:u',
    'method SetLifecycleAction': 'in type:u, in action:u, in flags:u',
    'signal BlockThreshold': 'device:s, devPath:s, threshold:t, excess:t',
    'signal MemoryFailure': 'recipient:i, action:i, flags:u',
    'signal MemoryDeviceSizeChange': 'alias:s, size:t',
  },
  'org.libvirt.NodeDevice': { 'signal Update': '' },
  'org.libvirt.Secret': { 'signal ValueChanged': '' },
};

/** The names of interface `name`'s additions of one kind. */
export function addedNames(name: string, kind: 'method' | 'signal' | 'property'): Set<string> {
  return new Set(
    Object.keys(ADDITIONS[name] ?? {})
      .filter((k) => k.startsWith(`${kind} `))
      .map((k) => k.slice(kind.length + 1)),
  );
}

/** The interface as the reference would describe it: the same declaration without our listed additions. */
export function withoutAdditions<I extends InterfaceDeclaration>(iface: I): I {
  const [methods, signals, properties] = (['method', 'signal', 'property'] as const).map((k) => addedNames(iface.name, k));
  return {
    ...iface,
    methods: iface.methods.filter((m) => !methods?.has(m.name)),
    signals: iface.signals.filter((s) => !signals?.has(s.name)),
    properties: iface.properties.filter((p) => !properties?.has(p.name)),
  };
}
