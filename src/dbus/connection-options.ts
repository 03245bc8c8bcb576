// Options and limits of a connection, and the names and codes of the bus driver
// (org.freedesktop.DBus) it talks to.

import type { AuthMechanism, CookieKeyring } from './auth.js';
import type { ExporterOptions } from './export-model.js';
import { type Message, MessageFlags, MessageType } from './message.js';

/** The bus driver's name (also its interface) and object path. */
export const BUS_NAME = 'org.freedesktop.DBus';
export const BUS_PATH = '/org/freedesktop/DBus';

/** Default time a call waits for its reply (GDBus's 25 s). */
export const DEFAULT_CALL_TIMEOUT_MS = 25_000;

/**
 * Default bound on bytes queued for the socket. While more than this waits to be written,
 * `call()` waits (in its promise, unencoded) before writing, so callers cannot pile up data
 * faster than the peer reads it. `send()`, `emitSignal()` and replies to incoming calls never
 * wait; they return false past the bound (the caller may `await flush()`). Reading never pauses
 * because of our own output, which would let two peers deadlock.
 */
export const DEFAULT_WRITE_BUFFER_LIMIT = 4 * 1024 * 1024;

/**
 * Default hard cap on bytes queued for the socket: past it the peer is taken as not reading and
 * the connection is closed with org.freedesktop.DBus.Error.LimitsExceeded.
 */
export const DEFAULT_MAX_WRITE_QUEUE = 128 * 1024 * 1024;

/** Flags of RequestName (org.freedesktop.DBus). */
export const RequestNameFlags = { AllowReplacement: 0x1, ReplaceExisting: 0x2, DoNotQueue: 0x4 } as const;
/** Replies of RequestName. */
export const RequestNameReply = { PrimaryOwner: 1, InQueue: 2, Exists: 3, AlreadyOwner: 4 } as const;
/** Replies of ReleaseName. */
export const ReleaseNameReply = { Released: 1, NonExistent: 2, NotOwner: 3 } as const;

/** Options for connecting. */
export interface ConnectOptions {
  /** SASL mechanisms to try, in order. */
  mechanisms?: AuthMechanism[];
  /** Keyring for DBUS_COOKIE_SHA1. */
  keyring?: CookieKeyring;
  /** Ask for fd passing where the transport can (default true). */
  negotiateUnixFd?: boolean;
  /** Say Hello and take a unique name (default: true for 'session'/'system', false for a plain address). */
  bus?: boolean;
  /** See DEFAULT_WRITE_BUFFER_LIMIT. */
  writeBufferLimit?: number;
  /** See DEFAULT_MAX_WRITE_QUEUE. */
  maxWriteQueue?: number;
  /** Time allowed for authentication and Hello. */
  timeout?: number;
  /** Options of the object exporter behind registerObject/registerSubtree. */
  exporter?: ExporterOptions;
}

/** Arguments of `call()`. */
export interface CallOptions {
  destination?: string;
  path: string;
  interface?: string;
  member: string;
  signature?: string;
  body?: unknown[];
  /** Milliseconds to wait for the reply; default 25000, Infinity waits forever. */
  timeout?: number;
  signal?: AbortSignal;
  /** The reply must have exactly this signature (else DBusInvalidArgsError). */
  replySignature?: string;
  noAutoStart?: boolean;
  /** Send and resolve at once with [] (no reply is asked for). */
  noReplyExpected?: boolean;
  allowInteractiveAuthorization?: boolean;
  fds?: number[];
}

/** A filter sees every incoming (`incoming` true) and outgoing message; returns it (maybe rewritten) or null to drop it. */
export type MessageFilter = (msg: Message, incoming: boolean) => Message | null;

/** The method call message of `call()`'s options, with serial `serial`. */
export function methodCall(options: CallOptions, serial: number): Message {
  let flags = 0;
  if (options.noAutoStart) flags |= MessageFlags.NoAutoStart;
  if (options.noReplyExpected) flags |= MessageFlags.NoReplyExpected;
  if (options.allowInteractiveAuthorization) flags |= MessageFlags.AllowInteractiveAuthorization;
  const msg: Message = {
    type: MessageType.MethodCall,
    flags,
    serial,
    path: options.path,
    interface: options.interface,
    member: options.member,
    destination: options.destination,
    signature: options.signature ?? '',
    body: options.body ?? [],
  };
  if (options.fds) msg.fds = options.fds;
  return msg;
}

/**
 * How a peer-to-peer connection that plays the bus driver (for clients that insist on saying
 * Hello) answers `call`: the reply to send, null when the call wants none, undefined when it is
 * not one of Hello, AddMatch, RemoveMatch on the driver's object.
 */
export function busDriverAnswer(call: Message, busDriverName: string): Message | null | undefined {
  if (call.path !== BUS_PATH || (call.interface !== undefined && call.interface !== BUS_NAME)) return undefined;
  if (call.member !== 'Hello' && call.member !== 'AddMatch' && call.member !== 'RemoveMatch') return undefined;
  if (call.flags & MessageFlags.NoReplyExpected) return null;
  const hello = call.member === 'Hello';
  return {
    type: MessageType.MethodReturn,
    flags: MessageFlags.NoReplyExpected,
    serial: 0,
    replySerial: call.serial,
    sender: BUS_NAME,
    signature: hello ? 's' : '',
    body: hello ? [busDriverName] : [],
  };
}
