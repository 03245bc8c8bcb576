// Options and limits of a connection, and the names and codes of the bus driver
// (org.freedesktop.DBus) it talks to.

import type { AuthMechanism, CookieKeyring } from './auth.js';
import type { ExporterOptions } from './export-model.js';
import type { Message } from './message.js';

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
