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
export { DBusConnection } from './connection.js';
export {
  type CallOptions,
  type ConnectOptions,
  DEFAULT_CALL_TIMEOUT_MS,
  DEFAULT_MAX_WRITE_QUEUE,
  DEFAULT_WRITE_BUFFER_LIMIT,
  type MessageFilter,
  ReleaseNameReply,
  RequestNameFlags,
  RequestNameReply,
} from './connection-options.js';
export { decodeBody } from './decoder.js';
export { checkValues, encodeBody } from './encoder.js';
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
  buildSignal,
  type CallScope,
  compileInterface,
  type ExporterOptions,
  type ExportHost,
  type MethodHandler,
  MethodInvocation,
  ObjectExporter,
  type ObjectImplementation,
  ObjectPathInUseError,
  type PropertyAccessor,
  type PropertyContext,
  PropertyWriteOnlyError,
  type Registration,
  SignalQueue,
  type SubtreeContext,
  type SubtreeHandler,
  type SubtreeOptions,
} from './export.js';
export { decodeMessage, encodeMessage, encodeMessageWithFds, HeaderField, messageLength } from './framing.js';
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
  escapeXmlAttribute,
  generateIntrospectionXml,
  INTROSPECTION_DOCTYPE,
  IntrospectionParseError,
  interfaceToXml,
  parseInterfaceXml,
  parseIntrospectionXml,
} from './introspection.js';
export { formatMatchRule, type MatchRule, matchesRule, parseMatchRule } from './match.js';
export { type Message, MessageFlags, MessageType } from './message.js';
export {
  assertBusName,
  assertErrorName,
  assertInterfaceName,
  assertMemberName,
  assertObjectPath,
  type BusName,
  type ErrorName,
  type InterfaceName,
  isValidBusName,
  isValidErrorName,
  isValidInterfaceName,
  isValidMemberName,
  isValidObjectPath,
  isValidUniqueName,
  type MemberName,
  type ObjectPath,
} from './names.js';
export { changedProperties, managedProperties } from './properties.js';
export {
  DBusServer,
  type DBusServerOptions,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_INCOMPLETE_CONNECTIONS,
  DEFAULT_MAX_PENDING_CALLS,
} from './server.js';
export {
  isSingleCompleteType,
  isValidSignature,
  MAX_SIGNATURE_LENGTH,
  parseSignature,
  parseSingleType,
  splitSignature,
  type TypeNode,
} from './signature.js';
export {
  IntrospectableInterface,
  isStandardInterface,
  ObjectManagerInterface,
  PeerInterface,
  PropertiesInterface,
  StandardInterfaceNames,
} from './standard-interfaces.js';
export type { SignalCallback, SignalSubscription } from './subscriptions.js';
export { type PeerCredentials, unixFdSupported } from './transport.js';
export { Variant } from './variant.js';
export { type Endianness, MAX_ARRAY_LENGTH, MAX_MESSAGE_LENGTH } from './wire.js';
