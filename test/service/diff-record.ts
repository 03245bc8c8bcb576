// Shared machinery of the differential tests (diff-*.test.ts): a recorder that makes calls on one
// service and logs every reply or error under a label, the comparison of two such logs, and the
// collection of every signal org.libvirt emits on a bus.
import assert from 'node:assert/strict';
import { DBusError, type Message, Variant } from '../../src/dbus/index.js';
import { isChangeSignal } from './additions.js';
import type { Client } from './fixture.js';

/** What a call answered: its out arguments, or an error name and message. */
export type Outcome = { reply: unknown[] } | { error: string; message: string };
/** One logged call. */
export type Entry = Outcome & { label: string };

/** Makes calls on one service and logs each outcome. */
export class Recorder {
  readonly log: Entry[] = [];
  constructor(readonly client: Client) {}

  /**
   * Calls and logs; resolves with the reply, or undefined after an error. `normalise` rewrites
   * a reply before it is logged (e.g. to sort a list libvirt returns in hash-table order).
   */
  async call(
    label: string,
    path: string,
    iface: string,
    member: string,
    signature = '',
    body: unknown[] = [],
    normalise?: (reply: unknown[]) => unknown[],
  ): Promise<unknown[] | undefined> {
    try {
      const reply = await this.client.call(path, iface, member, signature, body);
      this.log.push({ label, reply: normalise ? normalise(reply) : reply });
      return reply;
    } catch (err) {
      if (!(err instanceof DBusError)) throw err;
      this.log.push({ label, error: err.errorName, message: err.message });
      return undefined;
    }
  }

  /** Properties.Get, logged; resolves with the unwrapped value or undefined. */
  async get(label: string, path: string, iface: string, name: string): Promise<unknown> {
    const r = await this.call(label, path, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [iface, name]);
    return r ? (r[0] as Variant).value : undefined;
  }

  /** Properties.GetAll, logged; resolves with name → plain value (both variant layers removed). */
  async getAll(label: string, path: string, iface: string): Promise<Map<string, unknown>> {
    const r = await this.call(label, path, 'org.freedesktop.DBus.Properties', 'GetAll', 's', [iface]);
    const out = new Map<string, unknown>();
    for (const [k, v] of (r?.[0] as Map<string, unknown> | undefined) ?? []) {
      let x = v;
      while (x instanceof Variant) x = x.value;
      out.set(k, x);
    }
    return out;
  }

  /** Properties.Set, logged. */
  async set(label: string, path: string, iface: string, name: string, value: Variant): Promise<void> {
    await this.call(label, path, 'org.freedesktop.DBus.Properties', 'Set', 'ssv', [iface, name, value]);
  }
}

/** Sorts the first out argument (a list) of a reply: for lists libvirt keeps in hash-table order. */
export const sortFirst = (reply: unknown[]): unknown[] => [[...(reply[0] as string[])].sort(), ...reply.slice(1)];

/**
 * Asserts that two logs are the same entry by entry, except where `deviations` says what ours
 * answers instead (by label, for a reason outside the service); the message lists every difference.
 */
export function compareLogs(ref: Entry[], ours: Entry[], deviations: Record<string, Outcome> = {}): void {
  const mismatches: string[] = [];
  const n = Math.max(ref.length, ours.length);
  for (let i = 0; i < n; i++) {
    const e = ref[i];
    const a = ours[i];
    const deviation = e ? deviations[e.label] : undefined;
    try {
      assert.deepEqual(a, deviation ? { label: e?.label, ...deviation } : e);
    } catch {
      mismatches.push(`#${i} ${e?.label ?? a?.label}:\n  ref:  ${show(e)}\n  ours: ${show(a)}`);
    }
  }
  assert.equal(mismatches.length, 0, `\n${mismatches.join('\n')}`);
}

/** A value shown compactly for a failure message. */
export function show(v: unknown, max = 700): string {
  const text = JSON.stringify(v, (_k, x) =>
    typeof x === 'bigint' ? `${x}n` : x instanceof Map ? Object.fromEntries(x) : x instanceof Variant ? { [x.signature]: x.value } : x,
  );
  return text === undefined ? 'undefined' : text.slice(0, max);
}

/** A signal as compared: path, interface, member and arguments. */
export type SignalTuple = [string, string, string, unknown[]];

/** Everything org.libvirt emits on a client's bus, from now on. */
export class SignalLog {
  private readonly collector: { signals: Message[]; stop(): void };

  constructor(private readonly client: Client) {
    this.collector = client.collect({ sender: 'org.libvirt' });
  }

  /** Resolves once the bus has the match rule (a round trip to the bus after AddMatch). */
  async ready(): Promise<void> {
    await this.client.conn.call({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'GetId',
      signature: '',
      body: [],
    });
  }

  /** Signals seen so far, but for those change notification adds (additions.ts). */
  get tuples(): SignalTuple[] {
    return this.collector.signals
      .filter((m) => !isChangeSignal(m.interface ?? '', m.member ?? ''))
      .map((m) => [m.path ?? '', m.interface ?? '', m.member ?? '', m.body]);
  }

  /** How many arrived. */
  get count(): number {
    return this.collector.signals.length;
  }

  stop(): void {
    this.collector.stop();
  }
}

/**
 * Waits until no log has grown for `quietMs` (events travel asynchronously through libvirtd to
 * ours, in-process to the reference), giving up after `maxMs`; the comparison then shows any gap.
 */
export async function settle(logs: SignalLog[], quietMs = 400, maxMs = 10_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = logs.map((l) => l.count).join();
  let since = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    const now = logs.map((l) => l.count).join();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
  }
}

/** Asserts that two signal sequences are the same, listing each position that differs. */
export function compareSignals(ref: SignalTuple[], ours: SignalTuple[]): void {
  const lines: string[] = [];
  const n = Math.max(ref.length, ours.length);
  for (let i = 0; i < n; i++) {
    try {
      assert.deepEqual(ours[i], ref[i]);
    } catch {
      lines.push(`#${i}\n  ref:  ${show(ref[i], 300)}\n  ours: ${show(ours[i], 300)}`);
    }
  }
  assert.equal(lines.length, 0, `signals differ (ref ${ref.length}, ours ${ours.length}):\n${lines.join('\n')}`);
}
