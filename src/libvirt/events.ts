// Event callbacks, registered the way libvirt's remote driver does: one
// REMOTE_PROC_CONNECT_*_EVENT_*REGISTER_ANY call per (event ID, optional object) returns a
// callbackID, and every VIR_NET_MESSAGE the daemon sends for it carries that callbackID.
// The router delivers each decoded event to the listener of its callbackID. Which families there
// are, and which procedures register them, is the generated remoteEventFamilies table.
import type { ProcedureInfo } from './procedure-info.js';
import { remoteEventFamilies, remoteProcedureInfo } from './remote-protocol.gen.js';

/** The object families whose event callbacks are registered per event id (from the generated table). */
export type EventFamily = keyof typeof remoteEventFamilies;

/** A decoded event as delivered to a listener. */
export interface CallbackEvent<M = unknown> {
  family: EventFamily;
  /** Generated event name, e.g. 'domainEventCallbackLifecycle' */
  name: string;
  procedure: number;
  callbackID: number;
  /** The decoded *_msg struct (with callbackID, and for domain CALLBACK_* events the inner `msg`) */
  msg: M;
}

/** A listener for the events of one registration. */
export type EventListener<M = unknown> = (event: CallbackEvent<M>) => void;

/** A registered event callback. */
export interface EventRegistration {
  readonly family: EventFamily;
  readonly eventID: number;
  readonly callbackID: number;
  /** Deregisters on the daemon (…_DEREGISTER_ANY) and stops delivery; idempotent. */
  deregister(): Promise<void>;
}

/** The calls the router needs, implemented with the generated procedures. */
export interface EventCalls {
  register(family: EventFamily, eventID: number, object: unknown): Promise<number>;
  deregister(family: EventFamily, callbackID: number): Promise<void>;
}

/**
 * EventCalls made with the generated procedures that remoteEventFamilies names for each family;
 * `call` makes one call, and deregistering is skipped once the connection is no longer open (the
 * daemon dropped every callback with it).
 */
export function tableEventCalls(call: (info: ProcedureInfo, args: object) => Promise<unknown>, isOpen: () => boolean): EventCalls {
  return {
    async register(family, eventID, object) {
      const f = remoteEventFamilies[family];
      const ret = (await call(remoteProcedureInfo[f.register]!, { eventID, [f.object]: object })) as { callbackID: number };
      return ret.callbackID;
    },
    async deregister(family, callbackID) {
      if (isOpen()) await call(remoteProcedureInfo[remoteEventFamilies[family].deregister]!, { callbackID });
    },
  };
}

/** An incoming event before routing: its generated name, procedure and decoded body. */
export interface IncomingEvent {
  name: string;
  procedure: number;
  body: unknown;
}

/** Each registrable family's callback events by generated event name, read once from the procedure table. */
const FAMILY_OF_EVENT: ReadonlyMap<string, EventFamily> = new Map(
  Object.values(remoteProcedureInfo).flatMap((p) => {
    const family = p.event?.family;
    return family !== undefined && Object.hasOwn(remoteEventFamilies, family) ? [[p.method, family as EventFamily] as const] : [];
  }),
);

/** The family and number of each event id that callbacks are registered for, by its name. */
const CALLBACK_EVENT_IDS: ReadonlyMap<string, { family: EventFamily; eventID: number }> = new Map(
  Object.values(remoteProcedureInfo).flatMap((p) => {
    const ev = p.event;
    if (!ev?.callback || ev.eventID === null || !Object.hasOwn(remoteEventFamilies, ev.family)) return [];
    return [[ev.eventIDName!, { family: ev.family as EventFamily, eventID: ev.eventID }] as const];
  }),
);

/** The family and number of an event id by its name ('VIR_NETWORK_EVENT_ID_LIFECYCLE' → network, 0), if callbacks take it. */
export function callbackEventID(name: string): { family: EventFamily; eventID: number } | undefined {
  return CALLBACK_EVENT_IDS.get(name);
}

/** The family of a generated event name ('domainEventCallbackReboot' → 'domain'), if any. */
export function eventFamily(name: string): EventFamily | undefined {
  return FAMILY_OF_EVENT.get(name);
}

/** Routes callback events to listeners; holds events that arrive before their registration's reply. */
export class EventRouter {
  private readonly listeners = new Map<string, EventListener>();
  private readonly registering = new Map<EventFamily, number>();
  private readonly early: CallbackEvent[] = [];

  constructor(private readonly calls: EventCalls) {}

  /** Number of active registrations. */
  get size(): number {
    return this.listeners.size;
  }

  /** Registers a callback for `eventID` on one object (or all, when `object` is null). */
  async register<M = unknown>(
    family: EventFamily,
    eventID: number,
    object: unknown,
    listener: EventListener<M>,
  ): Promise<EventRegistration> {
    this.registering.set(family, (this.registering.get(family) ?? 0) + 1);
    let callbackID: number;
    try {
      callbackID = await this.calls.register(family, eventID, object);
      this.listeners.set(key(family, callbackID), listener as EventListener);
    } finally {
      const n = (this.registering.get(family) ?? 1) - 1;
      if (n > 0) this.registering.set(family, n);
      else this.registering.delete(family);
      this.flushEarly();
    }
    let active = true;
    return {
      family,
      eventID,
      callbackID,
      deregister: async () => {
        if (!active) return;
        active = false;
        this.listeners.delete(key(family, callbackID));
        await this.calls.deregister(family, callbackID);
      },
    };
  }

  /** Feeds one decoded event; returns true when a listener took it. */
  dispatch(ev: IncomingEvent): boolean {
    const family = eventFamily(ev.name);
    const body = ev.body as { callbackID?: unknown } | null;
    if (!family || typeof body?.callbackID !== 'number') return false;
    const cev: CallbackEvent = { family, name: ev.name, procedure: ev.procedure, callbackID: body.callbackID, msg: body };
    const l = this.listeners.get(key(family, cev.callbackID));
    if (l) {
      l(cev);
      return true;
    }
    // The daemon may send an event before the reply that tells us its callbackID.
    if (this.registering.has(family)) this.early.push(cev);
    return false;
  }

  /** Forgets every registration (the connection closed; the daemon dropped them). */
  clear(): void {
    this.listeners.clear();
    this.early.length = 0;
  }

  private flushEarly(): void {
    if (this.early.length === 0) return;
    const held = this.early.splice(0);
    for (const ev of held) {
      const l = this.listeners.get(key(ev.family, ev.callbackID));
      if (l) l(ev);
      else if (this.registering.has(ev.family)) this.early.push(ev);
    }
  }
}

function key(family: EventFamily, callbackID: number): string {
  return `${family}:${callbackID}`;
}
