// libvirt domain events → D-Bus signals. Like the reference, one callback per event ID is
// registered on the connection when it opens (for all domains); the daemon then sends
// REMOTE_PROC_DOMAIN_EVENT_CALLBACK_* messages, each turned into one signal: the life-cycle
// event into org.libvirt.Connect.DomainEvent on the Connect object, every other one into a
// signal of org.libvirt.Domain on the domain's object.

import {
  type LibvirtConnection,
  type RemoteCallbackEvent,
  type RemoteDomainEventGraphicsAddress,
  type RemoteEventMessages,
  type RemoteNonnullDomain,
  remoteProcedureInfo,
  VirDomainEventID,
} from '../libvirt/index.js';
import type { SignalSink } from './connect-object.js';
import { DomainInterface } from './domain.js';
import { Kinds } from './object-kinds.js';
import { typedParamsToDict } from './typed-params.js';

/** The domain event ids the reference registers, in its order, by their names after VIR_DOMAIN_EVENT_ID_. */
const REGISTERED = [
  'AGENT_LIFECYCLE',
  'BALLOON_CHANGE',
  'BLOCK_JOB_2',
  'CONTROL_ERROR',
  'LIFECYCLE',
  'DEVICE_ADDED',
  'DEVICE_REMOVAL_FAILED',
  'DEVICE_REMOVED',
  'DISK_CHANGE',
  'GRAPHICS',
  'IO_ERROR_REASON',
  'JOB_COMPLETED',
  'METADATA_CHANGE',
  'MIGRATION_ITERATION',
  'PMSUSPEND',
  'PMSUSPEND_DISK',
  'PMWAKEUP',
  'REBOOT',
  'RTC_CHANGE',
  'TRAY_CHANGE',
  'TUNABLE',
  'WATCHDOG',
] as const;

/** The domain event ids registered beyond the reference's (issue 13), each behind a signal of its own. */
const BEYOND = ['BLOCK_THRESHOLD', 'MEMORY_FAILURE', 'MEMORY_DEVICE_SIZE_CHANGE'] as const;

/** virDomainEventID values of the events registered beyond the reference's. */
export const BeyondDomainEventId = Object.fromEntries(BEYOND.map((k) => [k, VirDomainEventID[`VIR_DOMAIN_EVENT_ID_${k}`]])) as {
  readonly [K in (typeof BEYOND)[number]]: (typeof VirDomainEventID)[`VIR_DOMAIN_EVENT_ID_${K}`];
};

/** virDomainEventID values (libvirt-domain.h, through the generator) the reference registers, in its order. */
export const DomainEventId = Object.fromEntries(REGISTERED.map((k) => [k, VirDomainEventID[`VIR_DOMAIN_EVENT_ID_${k}`]])) as {
  readonly [K in (typeof REGISTERED)[number]]: (typeof VirDomainEventID)[`VIR_DOMAIN_EVENT_ID_${K}`];
};

/** One signal to emit. */
export interface SignalEmission {
  path: string;
  interface: string;
  member: string;
  signature: string;
  body: unknown[];
}

const DOMAIN_IFACE = 'org.libvirt.Domain';
const CONNECT_IFACE = 'org.libvirt.Connect';
/** Signature of org.libvirt.Connect.DomainEvent (domain, event, detail). */
const DOMAIN_EVENT_SIGNATURE = 'oii';

/** The event kinds converted here (BLOCK_JOB too, though the reference registers BLOCK_JOB_2). */
type Kind = (typeof REGISTERED)[number] | (typeof BEYOND)[number] | 'BLOCK_JOB';
/** The generated *_msg struct of each kind's callback event. */
type Body<K extends Kind> = RemoteEventMessages[`VIR_DOMAIN_EVENT_ID_${K}`];

/** A signal of org.libvirt.Domain, its signature taken from the one declaration. */
function domainSignal(connectPath: string, dom: RemoteNonnullDomain, member: string, values: unknown[]): SignalEmission {
  const { signature, body } = DomainInterface.signal(member, values);
  return { path: Kinds.domain.pathOf(connectPath, dom), interface: DOMAIN_IFACE, member, signature, body };
}

const address = (a: RemoteDomainEventGraphicsAddress) => [a.family, a.node ?? '', a.service ?? ''];

/** Turns one event's *_msg body into its signal (keyed by its event id without VIR_DOMAIN_EVENT_ID_). */
const converters: { [K in Kind]: (connectPath: string, b: Body<K>) => SignalEmission } = {
  LIFECYCLE: (c, { msg }) => ({
    path: c,
    interface: CONNECT_IFACE,
    member: 'DomainEvent',
    signature: DOMAIN_EVENT_SIGNATURE,
    body: [Kinds.domain.pathOf(c, msg.dom), msg.event, msg.detail],
  }),
  REBOOT: (c, { msg }) => domainSignal(c, msg.dom, 'Reboot', []),
  RTC_CHANGE: (c, { msg }) => domainSignal(c, msg.dom, 'RTCChange', [BigInt(msg.offset)]),
  WATCHDOG: (c, { msg }) => domainSignal(c, msg.dom, 'Watchdog', [msg.action]),
  GRAPHICS: (c, { msg }) =>
    domainSignal(c, msg.dom, 'Graphics', [
      msg.phase,
      address(msg.local),
      address(msg.remote),
      msg.authScheme,
      msg.subject.map((s) => [s.type, s.name]),
    ]),
  IO_ERROR_REASON: (c, { msg }) => domainSignal(c, msg.dom, 'IOError', [msg.srcPath, msg.devAlias ?? '', msg.action, msg.reason]),
  CONTROL_ERROR: (c, { msg }) => domainSignal(c, msg.dom, 'ControlError', []),
  BLOCK_JOB: (c, { msg }) => domainSignal(c, msg.dom, 'BlockJob', [msg.path, msg.type, msg.status]),
  // What the daemon sends for the BLOCK_JOB_2 callback we register: the disk's target, not its path.
  BLOCK_JOB_2: (c, b) => domainSignal(c, b.dom, 'BlockJob', [b.dst, b.type, b.status]),
  DISK_CHANGE: (c, { msg }) =>
    domainSignal(c, msg.dom, 'DiskChange', [msg.oldSrcPath ?? '', msg.newSrcPath ?? '', msg.devAlias, msg.reason]),
  TRAY_CHANGE: (c, { msg }) => domainSignal(c, msg.dom, 'TrayChange', [msg.devAlias, msg.reason]),
  PMWAKEUP: (c, b) => domainSignal(c, b.msg.dom, 'PMWakeup', [b.reason]),
  PMSUSPEND: (c, b) => domainSignal(c, b.msg.dom, 'PMSuspend', [b.reason]),
  BALLOON_CHANGE: (c, { msg }) => domainSignal(c, msg.dom, 'BalloonChange', [BigInt(msg.actual)]),
  PMSUSPEND_DISK: (c, b) => domainSignal(c, b.msg.dom, 'PMSuspendDisk', [b.reason]),
  DEVICE_REMOVED: (c, { msg }) => domainSignal(c, msg.dom, 'DeviceRemoved', [msg.devAlias]),
  TUNABLE: (c, b) => domainSignal(c, b.dom, 'Tunable', [typedParamsToDict(b.params)]),
  AGENT_LIFECYCLE: (c, b) => domainSignal(c, b.dom, 'AgentEvent', [b.state, b.reason]),
  DEVICE_ADDED: (c, b) => domainSignal(c, b.dom, 'DeviceAdded', [b.devAlias]),
  MIGRATION_ITERATION: (c, b) => domainSignal(c, b.dom, 'MigrationIteration', [b.iteration]),
  JOB_COMPLETED: (c, b) => domainSignal(c, b.dom, 'JobCompleted', [typedParamsToDict(b.params)]),
  DEVICE_REMOVAL_FAILED: (c, b) => domainSignal(c, b.dom, 'DeviceRemovalFailed', [b.devAlias]),
  METADATA_CHANGE: (c, b) => domainSignal(c, b.dom, 'MetadataChange', [b.type, b.nsuri ?? '']),
  // A disk without a local path (network storage) has none: '' as for the reference's other NULL strings.
  BLOCK_THRESHOLD: (c, b) => domainSignal(c, b.dom, 'BlockThreshold', [b.dev, b.path ?? '', b.threshold, b.excess]),
  MEMORY_FAILURE: (c, b) => domainSignal(c, b.dom, 'MemoryFailure', [b.recipient, b.action, b.flags]),
  MEMORY_DEVICE_SIZE_CHANGE: (c, b) => domainSignal(c, b.dom, 'MemoryDeviceSizeChange', [b.alias, b.size]),
};

/** The kind of each domain callback event by its .x name and its generated name, from the event table. */
const KIND_OF_EVENT: ReadonlyMap<string, string> = new Map(
  Object.values(remoteProcedureInfo).flatMap((p) => {
    const ev = p.event;
    if (ev?.family !== 'domain' || !ev.callback || ev.eventIDName === null) return [];
    const kind = ev.eventIDName.slice('VIR_DOMAIN_EVENT_ID_'.length);
    return [
      [p.name, kind],
      [p.method, kind],
    ];
  }),
);

/**
 * The event kind of a domain event callback, from either the procedure's .x name
 * ('REMOTE_PROC_DOMAIN_EVENT_CALLBACK_IO_ERROR_REASON') or its generated name
 * ('domainEventCallbackIoErrorReason'): 'IO_ERROR_REASON', its event id without VIR_DOMAIN_EVENT_ID_
 * (REMOTE_PROC_DOMAIN_EVENT_BLOCK_JOB_2 → 'BLOCK_JOB_2'). Undefined for anything else.
 */
export function domainEventKind(name: string | undefined): string | undefined {
  return name === undefined ? undefined : KIND_OF_EVENT.get(name);
}

/**
 * The signal for one event from the daemon, or undefined when it is not a domain event callback
 * this module handles. `callbackIds`, when given, limits it to callbacks we registered.
 */
export function signalForEvent(
  connectPath: string,
  ev: { name: string | undefined; body: unknown },
  callbackIds?: ReadonlySet<number>,
): SignalEmission | undefined {
  const kind = domainEventKind(ev.name) as Kind | undefined;
  const convert = kind && Object.hasOwn(converters, kind) ? (converters[kind] as (c: string, b: unknown) => SignalEmission) : undefined;
  if (!convert) return undefined;
  const body = ev.body as { callbackID?: number };
  if (callbackIds && (body.callbackID === undefined || !callbackIds.has(body.callbackID))) return undefined;
  return convert(connectPath, body);
}

/** The domain event callbacks registered on one connection. */
export interface DomainEventRegistration {
  /** callbackID the daemon gave each registered event ID. */
  readonly callbackIds: ReadonlySet<number>;
  /** Deregisters the callbacks (errors of a closed connection are ignored). */
  dispose(): Promise<void>;
}

/**
 * Registers the reference's 22 domain event callbacks and the 3 beyond it (for all domains) on
 * `conn` and emits a signal for each event from then on, through `emit`. Its signature is that of an OpenHook of
 * connect-object.ts, to run on every opened connection.
 */
export async function registerDomainEvents(
  conn: LibvirtConnection,
  connectPath: string,
  emit: SignalSink,
): Promise<DomainEventRegistration> {
  const listener = (ev: RemoteCallbackEvent) => {
    let signal: SignalEmission | undefined;
    try {
      signal = signalForEvent(connectPath, { name: ev.name, body: ev.msg });
    } catch {
      return; // a malformed event is dropped, never fatal for the service
    }
    if (signal) emit(signal.path, signal.interface, signal.member, signal.signature, signal.body);
  };
  // Registered all at once (the daemon queues what it does not serve at once). Like the
  // reference, an event ID the driver refuses is skipped; the others still work.
  const settled = await Promise.allSettled(
    [...Object.values(DomainEventId), ...Object.values(BeyondDomainEventId)].map((eventID) =>
      conn.registerDomainEvent(eventID, null, listener),
    ),
  );
  const regs = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  return {
    callbackIds: new Set(regs.map((r) => r.callbackID)),
    async dispose() {
      // The connection may be closed already; nothing is left to deregister then.
      await Promise.all(regs.map((r) => r.deregister().catch(() => undefined)));
    },
  };
}
