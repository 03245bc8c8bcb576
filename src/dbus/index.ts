// The D-Bus library: wire format, addresses, authentication, bus and peer-to-peer connections,
// a listening server, object export with subtrees, and introspection. Knows nothing of libvirt.

export {
  type AddressEntry,
  DBusAddressError,
  DEFAULT_SYSTEM_BUS_ADDRESS,
  escapeAddressValue,
  formatAddressEntry,
  parseAddress,
  sessionBusAddress,
  systemBusAddress,
  unescapeAddressValue,
} from './address.js';
export {
  type AuthMechanism,
  type AuthResult,
  type ClientAuthOptions,
  type Cookie,
  CookieKeyring,
  type ServerAuthOptions,
} from './auth.js';
export {
  type CallOptions,
  type ConnectOptions,
  DBusConnection,
  DEFAULT_CALL_TIMEOUT_MS,
  DEFAULT_MAX_WRITE_QUEUE,
  DEFAULT_WRITE_BUFFER_LIMIT,
  type MessageFilter,
  ReleaseNameReply,
  RequestNameFlags,
  RequestNameReply,
  type SignalCallback,
  type SignalSubscription,
} from './connection.js';
export {
  DBusAuthError,
  DBusCancelledError,
  DBusClosedError,
  DBusError,
  DBusInvalidArgsError,
  DBusProtocolError,
  DBusTimeoutError,
  StandardErrors,
} from './errors.js';
export {
  type ExporterOptions,
  type MethodHandler,
  MethodInvocation,
  ObjectExporter,
  type ObjectImplementation,
  ObjectPathInUseError,
  type PropertyAccessor,
  type PropertyContext,
  type Registration,
  type SubtreeContext,
  type SubtreeHandler,
  type SubtreeOptions,
} from './export.js';
export type {
  Annotations,
  ArgDeclaration,
  InterfaceDeclaration,
  MethodDeclaration,
  NodeDeclaration,
  PropertyAccess,
  PropertyDeclaration,
  SignalDeclaration,
} from './interface.js';
export {
  generateIntrospectionXml,
  IntrospectionParseError,
  interfaceToXml,
  parseInterfaceXml,
  parseIntrospectionXml,
} from './introspection.js';
export {
  checkValues,
  decodeBody,
  decodeMessage,
  encodeBody,
  encodeMessage,
  encodeMessageWithFds,
  MAX_MESSAGE_LENGTH,
  messageLength,
} from './marshal.js';
export { formatMatchRule, type MatchRule, matchesRule, parseMatchRule } from './match.js';
export { type Message, MessageFlags, MessageType } from './message.js';
export {
  assertBusName,
  assertErrorName,
  assertInterfaceName,
  assertMemberName,
  assertObjectPath,
  isValidBusName,
  isValidErrorName,
  isValidInterfaceName,
  isValidMemberName,
  isValidObjectPath,
} from './names.js';
export { DBusServer, type DBusServerOptions } from './server.js';
export { isValidSignature, parseSignature, splitSignature } from './signature.js';
export { StandardInterfaceNames } from './standard-interfaces.js';
export { type PeerCredentials, unixFdSupported } from './transport.js';
export { Variant } from './variant.js';
