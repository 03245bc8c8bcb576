// The org.libvirt service: its ten interfaces, the object kinds below each Connect object, the
// libvirt events behind its signals, and the service itself.

export { ConnectObject, type ConnectObjectOptions, type EventBinding, type OpenHook } from './connect-object.js';
export { type DefinedInterface, defineInterface, type InterfaceSpec } from './declare.js';
export { LibvirtErrorName, OrgLibvirtError, toDBusError } from './errors.js';
export { interfaceOf, interfaces } from './interfaces.js';
export { Kinds, ObjectKind, type ObjectKindName, objectKinds } from './object-kinds.js';
export * from './paths.js';
export { defaultConnects, LibvirtDBusService, type ServiceOptions } from './service.js';
