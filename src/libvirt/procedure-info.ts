// Shapes of the procedure and event tables that the generator emits for each RPC program.
import type { XdrReader, XdrWriter } from './xdr.js';

/** Annotations from the comment above a procedure in the .x file. */
export interface ProcedureAnnotations {
  /** `@generate: none|client|server|both`. */
  readonly generate: string | null;
  /** `@priority: low|high` (libvirt's default is low). */
  readonly priority: 'low' | 'high';
  /** Every `@acl:` line, in order. */
  readonly acl: readonly string[];
  /** Every `@aclfilter:` line, in order. */
  readonly aclfilter: readonly string[];
  /** `@readstream: n`: the call opens a stream from the daemon to the client. */
  readonly readstream: number | null;
  /** `@writestream: n`: the call opens a stream from the client to the daemon. */
  readonly writestream: number | null;
  /** `@sparseflag: FLAG`: the stream carries holes when the call has this flag. */
  readonly sparseflag: string | null;
}

/** One procedure of an RPC program: its number, names, codecs and traits. */
export interface ProcedureInfo {
  /** Program number (e.g. REMOTE_PROGRAM). */
  readonly program: number;
  /** Program version (e.g. REMOTE_PROTOCOL_VERSION). */
  readonly version: number;
  /** Procedure number within the program. */
  readonly procedure: number;
  /** The .x name, e.g. `REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS`. */
  readonly name: string;
  /** The generated method or event name, e.g. `connectListAllDomains`. */
  readonly method: string;
  readonly annotations: ProcedureAnnotations;
  /** Encoder of the `_args` struct, or null when the call has no arguments. */
  readonly encodeArgs: ((w: XdrWriter, v: never) => void) | null;
  /** Decoder of the `_ret` struct, or null when the reply has no body. */
  readonly decodeRet: ((r: XdrReader) => unknown) | null;
  /** Decoder of the `_msg` struct for an event sent by the daemon, else null. */
  readonly decodeMsg: ((r: XdrReader) => unknown) | null;
  /** Whether this is an event the daemon sends (type VIR_NET_MESSAGE), never called. */
  readonly isEvent: boolean;
  /** 'read' (daemon → client), 'write' (client → daemon) or null when the call opens no stream. */
  readonly stream: 'read' | 'write' | null;
  /** Whether the call sends file descriptors (VIR_NET_CALL_WITH_FDS). */
  readonly fdsIn: boolean;
  /** Whether the reply may carry file descriptors (VIR_NET_REPLY_WITH_FDS). */
  readonly fdsOut: boolean;
}
