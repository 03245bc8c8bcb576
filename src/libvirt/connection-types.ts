// The public shapes around LibvirtConnection: its open options and its events.
import type { DialOptions } from './dial.js';
import type { CloseReason } from './errors.js';
import type { EventFamily } from './events.js';
import type { QEMU_PROGRAM, QemuEvent } from './qemu-protocol.gen.js';
import type { REMOTE_PROGRAM, RemoteEvent } from './remote-protocol.gen.js';
import type { SaslCredentials } from './sasl.js';
import type { ResolveContext } from './uri.js';

/** Options of LibvirtConnection.open(). */
export interface OpenOptions extends DialOptions {
  /** Open read-only (VIR_CONNECT_RO, and the -sock-ro socket of a local daemon). */
  readonly?: boolean;
  /** Milliseconds of silence before we ping; 0 disables our pings (we still answer the daemon's). Default 5000. */
  keepaliveInterval?: number;
  /** Unanswered pings before the connection is declared dead. Default 5. */
  keepaliveCount?: number;
  /**
   * Give up when authentication and REMOTE_PROC_CONNECT_OPEN have not finished this many
   * milliseconds after connecting. Default 120000 (a daemon probing its hypervisor can be slow).
   */
  openTimeout?: number;
  /** How local sockets are found (environment, euid); the process's own by default. */
  resolve?: ResolveContext;
  /** Name and password for SASL; by default they come from libvirt's auth.conf. */
  credentials?: Partial<SaslCredentials>;
}

/** Payload of the `closed` event. */
export interface ClosedEvent {
  reason: CloseReason;
  error?: Error;
}

/** An event sent by the daemon (a VIR_NET_MESSAGE of REMOTE_PROGRAM or QEMU_PROGRAM), decoded. */
export type ConnectionEvent = (RemoteEvent & { program: typeof REMOTE_PROGRAM }) | (QemuEvent & { program: typeof QEMU_PROGRAM });

/** An event delivered to a callback registered with register*Event: a RemoteEvent with its callbackID. */
export type RemoteCallbackEvent = RemoteEvent & { family: EventFamily; callbackID: number };
