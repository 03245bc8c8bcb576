// The hand-written half of the typed org.libvirt client: what every generated proxy class does
// with the D-Bus library (calls, properties, signals). The classes themselves are generated from
// the interface descriptions into org-libvirt.gen.ts.

import { type ConnectOptions, DBusConnection, type Message, Variant } from '../dbus/index.js';

/** The well-known bus name of the service. */
export const ORG_LIBVIRT = 'org.libvirt';

const PROPERTIES = 'org.freedesktop.DBus.Properties';

/** Stops a signal subscription. */
export type Unsubscribe = () => void;

/** How a proxy calls; the proxies it returns (object paths in replies and signals) inherit it. */
export interface ProxyOptions {
  /** How long a call waits for its reply, in ms (default: the connection's default call timeout). */
  timeout?: number;
}

/** A proxy class of one org.libvirt interface, as the generated code declares them. */
export type ProxyClass<P extends ObjectProxy> = new (
  connection: DBusConnection,
  objectPath: string,
  destination?: string,
  options?: ProxyOptions,
) => P;

/** Names every proxy has from ObjectProxy, which no generated member may take. */
export const BASE_MEMBERS: readonly string[] = [
  'interfaceName',
  'connection',
  'objectPath',
  'destination',
  'options',
  'callMethod',
  'getProperty',
  'setProperty',
  'getAllProperties',
  'subscribe',
  'proxy',
];

/** One object of the service seen through one of its interfaces. */
export abstract class ObjectProxy {
  /** The interface this proxy speaks, e.g. org.libvirt.Domain. */
  abstract readonly interfaceName: string;

  /**
   * `destination` is the bus name to call (org.libvirt by default); undefined on a peer-to-peer
   * connection to the service's `--listen` address.
   */
  constructor(
    readonly connection: DBusConnection,
    readonly objectPath: string,
    readonly destination: string | undefined = ORG_LIBVIRT,
    readonly options: ProxyOptions = {},
  ) {}

  /** Calls a method of this proxy's interface and returns the reply's values. */
  protected callMethod(member: string, signature: string, body: unknown[], replySignature: string): Promise<unknown[]> {
    return this.connection.call({
      destination: this.destination,
      path: this.objectPath,
      interface: this.interfaceName,
      member,
      signature,
      body,
      replySignature,
      timeout: this.options.timeout,
    });
  }

  /** The value of one property (Properties.Get). */
  protected async getProperty(name: string): Promise<unknown> {
    const [value] = await this.connection.call({
      destination: this.destination,
      path: this.objectPath,
      interface: PROPERTIES,
      member: 'Get',
      signature: 'ss',
      body: [this.interfaceName, name],
      replySignature: 'v',
      timeout: this.options.timeout,
    });
    return unwrap(value);
  }

  /** Sets one property (Properties.Set) to a value of its declared type. */
  protected async setProperty(name: string, signature: string, value: unknown): Promise<void> {
    await this.connection.call({
      destination: this.destination,
      path: this.objectPath,
      interface: PROPERTIES,
      member: 'Set',
      signature: 'ssv',
      body: [this.interfaceName, name, new Variant(signature, value)],
      replySignature: '',
      timeout: this.options.timeout,
    });
  }

  /** Every readable property (Properties.GetAll) by name; properties whose getter failed are absent. */
  protected async getAllProperties(): Promise<Record<string, unknown>> {
    const [all] = await this.connection.call({
      destination: this.destination,
      path: this.objectPath,
      interface: PROPERTIES,
      member: 'GetAll',
      signature: 's',
      body: [this.interfaceName],
      replySignature: 'a{sv}',
      timeout: this.options.timeout,
    });
    const out: Record<string, unknown> = {};
    for (const [name, value] of all as Map<string, unknown>) out[name] = unwrap(value);
    return out;
  }

  /** Calls `handler` with the arguments of each `member` signal this object emits. */
  protected subscribe(member: string, handler: (args: unknown[]) => void): Unsubscribe {
    const id = this.connection.signalSubscribe(
      { sender: this.destination, path: this.objectPath, interface: this.interfaceName, member },
      (signal: Message) => handler(signal.body),
    );
    return () => this.connection.signalUnsubscribe(id);
  }

  /** A proxy of another object of the same service. */
  protected proxy<P extends ObjectProxy>(cls: ProxyClass<P>, path: unknown): P {
    return new cls(this.connection, path as string, this.destination, this.options);
  }
}

/**
 * A property's value. The reference wraps GetAll's values in a second variant and our service
 * answers the same; properties of type `v` do not exist in org.libvirt, so every variant layer
 * is unwrapped.
 */
function unwrap(value: unknown): unknown {
  let v = value;
  while (v instanceof Variant) v = v.value;
  return v;
}

/** Opens a connection to `target` ('system', 'session', or an address) for the client. */
export function openConnection(target: string, options: ConnectOptions = {}): Promise<DBusConnection> {
  return DBusConnection.connect(target, options);
}
