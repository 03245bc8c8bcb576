// A client's view of one Connect object's objects for the change notification tests: one
// GetManagedObjects, then only the ObjectManager's and Properties' signals (no polling of the
// service); waits for signals with deadlines and compares itself with a fresh GetManagedObjects.
// Raw D-Bus throughout, on purpose, although the typed client now has both (getManagedObjects,
// onInterfacesAdded/Removed, onPropertiesChanged; test/client/changes.test.ts): the comparison
// here is of the a{oa{sa{sv}}} itself, variant signatures included (the typed values drop them:
// an `i` and a `u` are both numbers), and one PropertiesChanged subscription below the manager
// sees every object's changes, also of an object announced a moment earlier (the typed client's
// is per object, subscribed only once the object is known, and could miss that one).
import assert from 'node:assert/strict';
import { type Message, Variant } from '../../src/dbus/index.js';
import { type Client, DEST, waitFor } from './fixture.js';

const OM = 'org.freedesktop.DBus.ObjectManager';
const PROPS = 'org.freedesktop.DBus.Properties';
/** How long one step may take to be announced. */
export const DEADLINE = 20_000;

/** A value made comparable: a Variant as its signature and value, Maps as sorted objects, bigints as text. */
export function plain(v: unknown): unknown {
  if (v instanceof Variant) return { [v.signature]: plain(v.value) };
  if (v instanceof Map) {
    const entries: Array<[string, unknown]> = [...v.entries()].map(([k, x]) => [String(k), plain(x)]);
    return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : 1)));
  }
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return [...v];
  return v;
}

/** Properties of one interface of one object. */
export type Props = Map<string, unknown>;

/** A client's view of one Connect object's objects, kept by the ObjectManager's signals alone. */
export class View {
  readonly objects = new Map<string, Map<string, Props>>();
  /** Every signal applied, in order: "member path". */
  readonly log: string[] = [];
  /** PropertiesChanged as received: path, interface, changed values. */
  readonly changes: Array<{ path: string; iface: string; changed: Map<string, Variant> }> = [];
  private readonly ids: number[] = [];

  constructor(
    private readonly client: Client,
    readonly manager: string,
  ) {}

  /** Subscribes first, then reads GetManagedObjects once. */
  async start(): Promise<void> {
    const conn = this.client.conn;
    this.ids.push(
      conn.signalSubscribe({ sender: DEST, interface: OM, path: this.manager }, (m) => this.onManager(m)),
      conn.signalSubscribe({ sender: DEST, interface: PROPS, member: 'PropertiesChanged', pathNamespace: this.manager }, (m) =>
        this.onChanged(m),
      ),
    );
    for (const [path, ifaces] of await managedObjects(this.client, this.manager)) this.objects.set(path, ifaces);
  }

  private onManager(m: Message): void {
    const path = m.body[0] as string;
    this.log.push(`${m.member} ${path}`);
    if (m.member === 'InterfacesAdded') {
      const ifaces = this.objects.get(path) ?? new Map<string, Props>();
      for (const [iface, props] of m.body[1] as Map<string, Map<string, Variant>>) ifaces.set(iface, new Map(props));
      this.objects.set(path, ifaces);
    } else if (m.member === 'InterfacesRemoved') {
      const ifaces = this.objects.get(path);
      for (const iface of m.body[1] as string[]) ifaces?.delete(iface);
      if (ifaces?.size === 0) this.objects.delete(path);
    }
  }

  private onChanged(m: Message): void {
    const path = m.path as string;
    const [iface, changed] = m.body as [string, Map<string, Variant>, string[]];
    this.log.push(`PropertiesChanged ${path}`);
    this.changes.push({ path, iface, changed });
    const props = this.objects.get(path)?.get(iface);
    if (props) for (const [name, v] of changed) props.set(name, v);
  }

  /** Waits (with a deadline) until a signal `member path` arrives after the first `from` log entries. */
  async waitSignal(member: string, path: string, from: number): Promise<void> {
    await waitFor(() => this.log.slice(from).includes(`${member} ${path}`), DEADLINE);
  }

  /** The last PropertiesChanged of `path` after the first `from` entries of `changes`, waited for. */
  async waitChange(path: string, from: number, holds: (changed: Map<string, Variant>) => boolean): Promise<Map<string, Variant>> {
    let found: Map<string, Variant> | undefined;
    await waitFor(() => {
      found = this.changes
        .slice(from)
        .filter((c) => c.path === path)
        .map((c) => c.changed)
        .find(holds);
      return found !== undefined;
    }, DEADLINE);
    return found as Map<string, Variant>;
  }

  /** The value of property `name` of interface `iface` at `path` in the view (fails when it is not there). */
  value(path: string, iface: string, name: string): unknown {
    const v = this.objects.get(path)?.get(iface)?.get(name);
    assert.ok(v instanceof Variant, `${path} ${iface}.${name} in the view`);
    return v.value;
  }

  /** Asserts the view equals a fresh GetManagedObjects. */
  async assertCurrent(step: string): Promise<void> {
    const fresh = await managedObjects(this.client, this.manager);
    assert.deepEqual(plain(this.objects), plain(fresh), `${this.manager} after ${step}`);
  }

  stop(): void {
    for (const id of this.ids) this.client.conn.signalUnsubscribe(id);
  }
}

/** GetManagedObjects at `manager`. */
export async function managedObjects(client: Client, manager: string): Promise<Map<string, Map<string, Props>>> {
  const [objects] = (await client.call(manager, OM, 'GetManagedObjects')) as [Map<string, Map<string, Props>>];
  return objects;
}
