// libvirt domain events → D-Bus signals. Like the reference, one callback per event ID is
// registered on the connection when it opens (for all domains); the daemon then sends
// REMOTE_PROC_DOMAIN_EVENT_CALLBACK_* messages, each turned into one signal: the life-cycle
// event into org.libvirt.Connect.DomainEvent on the Connect object, every other one into a
// signal of org.libvirt.Domain on the domain's object.

import type {
  LibvirtConnection,
  RemoteCallbackEvent,
  RemoteNonnullDomain,
  RemoteTypedParam,
} from '../libvirt/index.js';
import type { SignalSink } from './connect-object.js';
import { Kinds } from './object-kinds.js';
import { DomainInterface } from './domain.js';
import { typedParamsToDict } from './typed-params.js';

/** virDomainEventID values (libvirt-domain.h) the reference registers, in its order. */
export const DomainEventId = {
  AGENT_LIFECYCLE: 18,
  BALLOON_CHANGE: 13,
  BLOCK_JOB_2: 16,
  CONTROL_ERROR: 7,
  LIFECYCLE: 0,
  DEVICE_ADDED: 19,
  DEVICE_REMOVAL_FAILED: 22,
  DEVICE_REMOVED: 15,
  DISK_CHANGE: 9,
  GRAPHICS: 5,
  IO_ERROR_REASON: 6,
  JOB_COMPLETED: 21,
  METADATA_CHANGE: 23,
  MIGRATION_ITERATION: 20,
  PMSUSPEND: 12,
  PMSUSPEND_DISK: 14,
  PMWAKEUP: 11,
  REBOOT: 1,
  RTC_CHANGE: 2,
  TRAY_CHANGE: 10,
  TUNABLE: 17,
  WATCHDOG: 3,
} as const;

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

// Shapes of the *_msg structs of remote_protocol.x (fields exactly as there).
type Dom = { dom: RemoteNonnullDomain };
type GraphicsAddress = { family: number; node: string | null; service: string | null };
interface EventBodies {
  LIFECYCLE: { msg: Dom & { event: number; detail: number } };
  REBOOT: { msg: Dom };
  RTC_CHANGE: { msg: Dom & { offset: bigint } };
  WATCHDOG: { msg: Dom & { action: number } };
  GRAPHICS: {
    msg: Dom & {
      phase: number;
      local: GraphicsAddress;
      remote: GraphicsAddress;
      authScheme: string;
      subject: { type: string; name: string }[];
    };
  };
  IO_ERROR_REASON: { msg: Dom & { srcPath: string; devAlias: string | null; action: number; reason: string } };
  CONTROL_ERROR: { msg: Dom };
  BLOCK_JOB: { msg: Dom & { path: string; type: number; status: number } };
  BLOCK_JOB_2: Dom & { dst: string; type: number; status: number };
  DISK_CHANGE: {
    msg: Dom & { oldSrcPath: string | null; newSrcPath: string | null; devAlias: string; reason: number };
  };
  TRAY_CHANGE: { msg: Dom & { devAlias: string; reason: number } };
  PMWAKEUP: { reason: number; msg: Dom };
  PMSUSPEND: { reason: number; msg: Dom };
  BALLOON_CHANGE: { msg: Dom & { actual: bigint } };
  PMSUSPEND_DISK: { reason: number; msg: Dom };
  DEVICE_REMOVED: { msg: Dom & { devAlias: string } };
  TUNABLE: Dom & { params: RemoteTypedParam[] };
  AGENT_LIFECYCLE: Dom & { state: number; reason: number };
  DEVICE_ADDED: Dom & { devAlias: string };
  MIGRATION_ITERATION: Dom & { iteration: number };
  JOB_COMPLETED: Dom & { params: RemoteTypedParam[] };
  DEVICE_REMOVAL_FAILED: Dom & { devAlias: string };
  METADATA_CHANGE: Dom & { type: number; nsuri: string | null };
}

/** A signal of org.libvirt.Domain, its signature taken from the one declaration. */
function domainSignal(connectPath: string, dom: RemoteNonnullDomain, member: string, values: unknown[]): SignalEmission {
  const { signature, body } = DomainInterface.signal(member, values);
  return { path: Kinds.domain.pathOf(connectPath, dom), interface: DOMAIN_IFACE, member, signature, body };
}

const address = (a: GraphicsAddress) => [a.family, a.node ?? '', a.service ?? ''];

/** Turns one event's *_msg body into its signal (keyed by the name after REMOTE_PROC_DOMAIN_EVENT_CALLBACK_). */
const converters: { [K in keyof EventBodies]: (connectPath: string, b: EventBodies[K]) => SignalEmission } = {
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
  IO_ERROR_REASON: (c, { msg }) =>
    domainSignal(c, msg.dom, 'IOError', [msg.srcPath, msg.devAlias ?? '', msg.action, msg.reason]),
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
};

/**
 * The event kind of a domain event callback, from either the procedure's .x name
 * ('REMOTE_PROC_DOMAIN_EVENT_CALLBACK_IO_ERROR_REASON') or its generated name
 * ('domainEventCallbackIoErrorReason'): 'IO_ERROR_REASON'. BLOCK_JOB_2 has no CALLBACK_ in its
 * name (REMOTE_PROC_DOMAIN_EVENT_BLOCK_JOB_2, 'domainEventBlockJob2'): 'BLOCK_JOB_2'.
 * Undefined for anything else.
 */
export function domainEventKind(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const upper = /[a-z]/.test(name) ? name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase() : name;
  if (/^(?:REMOTE_PROC_)?DOMAIN_EVENT_BLOCK_JOB_?2$/.test(upper)) return 'BLOCK_JOB_2';
  const m = /^(?:REMOTE_PROC_)?DOMAIN_EVENT_CALLBACK_(.+)$/.exec(upper);
  return m?.[1];
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
  const kind = domainEventKind(ev.name) as keyof EventBodies | undefined;
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
 * Registers the reference's 22 domain event callbacks (for all domains) on `conn` and emits a
 * signal for each event from then on, through `emit`. Its signature is that of an OpenHook of
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
    Object.values(DomainEventId).map((eventID) => conn.registerDomainEvent(eventID, null, listener)),
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
