// Shapes of the procedure and event tables that the generator emits for each RPC program, the
// small builders that expand its compact rows (one row per procedure, defaults left out) into them,
// and the glue from a table entry to a connection's call.
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

/** What an event procedure (one with a `_msg` struct) is sent for. */
export interface EventTraits {
  /**
   * The family of objects it reports on, from its .x name: `domain`, `network`, `storagePool`,
   * `nodeDevice`, `secret`, `connect`; other programs' families carry their prefix (`qemuDomainMonitor`).
   */
  readonly family: string;
  /** The libvirt event id it is sent for (`VIR_DOMAIN_EVENT_ID_LIFECYCLE` …), or null when its family has none. */
  readonly eventID: number | null;
  /** The name of that event id, or null. */
  readonly eventIDName: string | null;
  /** Whether its message carries the callbackID of a registration (the legacy domain events do not). */
  readonly callback: boolean;
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
  /** For an event: its family, event id and whether it carries a callbackID; else null. */
  readonly event: EventTraits | null;
  /** 'read' (daemon → client), 'write' (client → daemon) or null when the call opens no stream. */
  readonly stream: 'read' | 'write' | null;
  /** Whether the call sends file descriptors (VIR_NET_CALL_WITH_FDS). */
  readonly fdsIn: boolean;
  /** Whether the reply may carry file descriptors (VIR_NET_REPLY_WITH_FDS). */
  readonly fdsOut: boolean;
}

/** The traits of a procedure that differ from the defaults (no annotation, low priority, no stream, no descriptors). */
export interface ProcedureTraits {
  readonly generate?: string;
  readonly priority?: 'high';
  readonly acl?: readonly string[];
  readonly aclfilter?: readonly string[];
  readonly readstream?: number;
  readonly writestream?: number;
  readonly sparseflag?: string;
  readonly fdsIn?: true;
  readonly fdsOut?: true;
  /** For an event: [family, name of its event id or null, carries a callbackID]. */
  readonly event?: readonly [family: string, eventIDName: string | null, callback: boolean];
}

/** A generated row: method name, the three codecs (null where the struct does not exist), traits. */
export type ProcedureRow = readonly [
  method: string,
  encodeArgs: ((w: XdrWriter, v: never) => void) | null,
  decodeRet: ((r: XdrReader) => unknown) | null,
  decodeMsg: ((r: XdrReader) => unknown) | null,
  traits?: ProcedureTraits,
];

/** A program's procedures by number. */
export type ProcedureTable = { readonly [procedure: number]: ProcedureInfo };

/**
 * Expands a program's rows (keyed by .x name) into its procedure table. The numbers come from the
 * program's procedure enum and event ids from libvirt's event id enums, so neither is written twice.
 */
export function procedureTable(
  program: number,
  version: number,
  numbers: Readonly<Record<string, number>>,
  rows: Readonly<Record<string, ProcedureRow>>,
  eventIDs: Readonly<Record<string, number>> = {},
): ProcedureTable {
  const table: { [procedure: number]: ProcedureInfo } = {};
  for (const [name, [method, encodeArgs, decodeRet, decodeMsg, t = {}]] of Object.entries(rows)) {
    const procedure = numbers[name]!;
    const ev = t.event;
    table[procedure] = {
      program,
      version,
      procedure,
      name,
      method,
      annotations: {
        generate: t.generate ?? null,
        priority: t.priority ?? 'low',
        acl: t.acl ?? [],
        aclfilter: t.aclfilter ?? [],
        readstream: t.readstream ?? null,
        writestream: t.writestream ?? null,
        sparseflag: t.sparseflag ?? null,
      },
      encodeArgs,
      decodeRet,
      decodeMsg,
      isEvent: decodeMsg !== null,
      event: ev ? { family: ev[0], eventIDName: ev[1], eventID: ev[1] === null ? null : eventIDs[ev[1]]!, callback: ev[2] } : null,
      stream: t.readstream !== undefined ? 'read' : t.writestream !== undefined ? 'write' : null,
      fdsIn: t.fdsIn ?? false,
      fdsOut: t.fdsOut ?? false,
    };
  }
  return table;
}

/** A program's event decoders by procedure number, taken from its procedure table. */
export function eventDecoders<E>(
  table: ProcedureTable,
): ReadonlyMap<number, { readonly name: keyof E; readonly decode: (r: XdrReader) => E[keyof E] }> {
  const out = new Map<number, { readonly name: keyof E; readonly decode: (r: XdrReader) => E[keyof E] }>();
  for (const p of Object.values(table)) {
    if (p.decodeMsg !== null) out.set(p.procedure, { name: p.method as keyof E, decode: p.decodeMsg as (r: XdrReader) => E[keyof E] });
  }
  return out;
}

/** What a call needs to know about its procedure (from the generated tables). */
export type CallInfo = Pick<ProcedureInfo, 'stream' | 'fdsIn' | 'fdsOut'> | null;

/** A connection's call of any procedure of any program, with explicit codecs (LibvirtConnection.call). */
export type RawCall = <A, R>(
  program: number,
  version: number,
  procedure: number,
  args: A,
  encode: ((w: XdrWriter, v: A) => void) | null,
  decode: ((r: XdrReader) => R) | null,
  info: CallInfo,
) => Promise<R>;

/** Calls the procedure `info` through `call`, with the codecs of its table entry. */
export function callWithInfo<A, R>(call: RawCall, info: ProcedureInfo, args: A): Promise<R> {
  const encode = info.encodeArgs as ((w: XdrWriter, v: A) => void) | null;
  return call(info.program, info.version, info.procedure, args, encode, info.decodeRet as ((r: XdrReader) => R) | null, info);
}

/** An instance of a generated procedures class (QEMU, LXC) whose calls go through `call`. */
export function bindProgram<T extends object>(call: RawCall, base: abstract new () => T): T {
  const Base = base as unknown as abstract new () => object;
  class Bound extends Base {
    protected callProcedure<A, R>(info: ProcedureInfo, args: A): Promise<R> {
      return callWithInfo(call, info, args);
    }
  }
  return new Bound() as T;
}
