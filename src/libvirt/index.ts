// libvirt-dbus/libvirt: a pure TypeScript client of libvirt's RPC protocol.
// LibvirtConnection speaks to libvirtd (or virtqemud & co.) over UNIX, TCP, TLS, ssh or ext with the
// typed procedures generated from remote_protocol.x; errors are LibvirtError with libvirt's codes.

export { authConfigPath, credentialsFor, lookupCredentials, parseKeyFile } from './auth-config.js';
export {
  type CallInfo,
  type ClosedEvent,
  type ConnectionEvent,
  LibvirtConnection,
  type OpenOptions,
  type RemoteCallbackEvent,
} from './connection.js';
export * from './errors.js';
export {
  type CallbackEvent,
  type EventFamily,
  type EventListener,
  type EventRegistration,
  eventFamily,
} from './events.js';
export { DEFAULT_KEEPALIVE_COUNT, DEFAULT_KEEPALIVE_INTERVAL_MS } from './keepalive.js';
export * from './libvirt-enums.gen.js';
export * from './lxc-protocol.gen.js';
export { type Packet, type PacketHeader, PacketStatus, PacketType } from './packet.js';
export type { EventTraits, ProcedureAnnotations, ProcedureInfo, ProcedureTable } from './procedure-info.js';
export * from './qemu-protocol.gen.js';
export * from './remote-protocol.gen.js';
export { chooseMechanism, createMechanism, SASL_MECHANISMS, type SaslClientMechanism, type SaslCredentials, SaslError } from './sasl.js';
export { decodeListAllDomainsUuids, listAllDomainUuids } from './uuid-lists.js';
export { LibvirtStream, STREAM_CHUNK_MAX, StreamHole } from './stream.js';
export {
  type ConnectPlan,
  type ConnectTarget,
  daemonUri,
  type LibvirtUri,
  parseUri,
  type ResolveContext,
  resolveUri,
  type Transport,
} from './uri.js';
export * from './virerror.gen.js';
export { XdrError, XdrReader, XdrWriter } from './xdr.js';
