// The hand-written half of the typed org.libvirt client: what every generated proxy class does
// with the D-Bus library (calls, properties, signals). The classes themselves are generated from
// the interface descriptions into org-libvirt.gen.ts.

import {
  compileInterface,
  type ConnectOptions,
  DBusConnection,
  type Message,
  ObjectManagerInterface,
  PropertiesInterface,
  Variant,
} from '../dbus/index.js';

/** The well-known bus name of the service. */
export const ORG_LIBVIRT = 'org.libvirt';

const PROPERTIES = PropertiesInterface.name;
const OBJECT_MANAGER = ObjectManagerInterface.name;

// Signatures from the D-Bus library's declarations of the standard interfaces. Signals are checked
// against them before their bodies are trusted: a peer that sends a signal of the same name with
// other arguments must not reach a typed handler.
const properties = compileInterface(PropertiesInterface);
const objectManager = compileInterface(ObjectManagerInterface);
const PROPERTIES_CHANGED = properties.signals.get('PropertiesChanged') as string;
const INTERFACES_ADDED = objectManager.signals.get('InterfacesAdded') as string;
const INTERFACES_REMOVED = objectManager.signals.get('InterfacesRemoved') as string;
const MANAGED_OBJECTS = objectManager.methods.get('GetManagedObjects')?.outSignature as string;

/** Stops a signal subscription. */
export type Unsubscribe = () => void;

/** How a proxy calls; the proxies it returns (object paths in replies and signals) inherit it. */
export interface ProxyOptions {
  /** How long a call waits for its reply, in ms (default: the connection's default call timeout). */
  timeout?: number;
}

/** The properties type of a proxy without properties. */
export type NoProperties = Record<string, never>;

/**
 * A PropertiesChanged handler: the interface, the changed properties with their values as the
 * typed getters return them, and the names of properties that changed without a value sent.
 */
export type PropertiesChangedHandler<Props extends object> = (
  interfaceName: string,
  changed: Partial<Props>,
  invalidated: string[],
) => void;

/** The properties type of a proxy class's instances (DomainProxy → DomainProperties). */
export type PropertiesOf<P> = P extends ObjectProxy<infer Props> ? Props : never;

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
  'onPropertiesChanged',
  'managedObjects',
  'subscribeInterfacesAdded',
  'subscribeInterfacesRemoved',
  'subscribeManager',
  'managed',
];

/** Proxy classes by interface name (the generated `proxyClasses`), for the ObjectManager's objects. */
export type ProxyClassTable = Readonly<Record<string, ProxyClass<ObjectProxy>>>;

/**
 * One interface of one object the ObjectManager reports: `proxy` of the class of `interfaceName`
 * from `classes`, and its properties (those whose getter failed are absent). A union over the
 * table, so testing `interfaceName` narrows `proxy` and `properties` together.
 */
export type ManagedInterface<T extends ProxyClassTable> = {
  [K in keyof T & string]: {
    interfaceName: K;
    proxy: InstanceType<T[K]>;
    properties: Partial<PropertiesOf<InstanceType<T[K]>>>;
  };
}[keyof T & string];

/**
 * One object of the service seen through one of its interfaces; `Props` is the interface's
 * properties type (the generated DomainProperties, …), which types PropertiesChanged.
 */
export abstract class ObjectProxy<Props extends object = object> {
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
    return unwrapAll(all as Map<string, unknown>);
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

  /**
   * Calls `handler` for each PropertiesChanged of this object and this proxy's interface, with
   * the changed values unwrapped as the typed getters return them.
   */
  onPropertiesChanged(handler: PropertiesChangedHandler<Props>): Unsubscribe {
    const id = this.connection.signalSubscribe(
      { sender: this.destination, path: this.objectPath, interface: PROPERTIES, member: 'PropertiesChanged', arg0: this.interfaceName },
      (signal: Message) => {
        if (signal.signature !== PROPERTIES_CHANGED) return;
        const [iface, changed, invalidated] = signal.body as [string, Map<string, unknown>, string[]];
        handler(iface, unwrapAll(changed) as Partial<Props>, invalidated);
      },
    );
    return () => this.connection.signalUnsubscribe(id);
  }

  /** GetManagedObjects of this object (an ObjectManager), each interface in `classes` as a proxy. */
  protected async managedObjects<T extends ProxyClassTable>(classes: T): Promise<Array<ManagedInterface<T>>> {
    const [objects] = await this.connection.call({
      destination: this.destination,
      path: this.objectPath,
      interface: OBJECT_MANAGER,
      member: 'GetManagedObjects',
      replySignature: MANAGED_OBJECTS,
      timeout: this.options.timeout,
    });
    const out: Array<ManagedInterface<T>> = [];
    for (const [path, ifaces] of objects as Map<string, Map<string, Map<string, unknown>>>) {
      out.push(...this.managed(classes, path, ifaces));
    }
    return out;
  }

  /** Calls `handler` once per interface in `classes` of each InterfacesAdded of this ObjectManager. */
  protected subscribeInterfacesAdded<T extends ProxyClassTable>(classes: T, handler: (added: ManagedInterface<T>) => void): Unsubscribe {
    return this.subscribeManager('InterfacesAdded', INTERFACES_ADDED, (body) => {
      for (const added of this.managed(classes, body[0] as string, body[1] as Map<string, Map<string, unknown>>)) handler(added);
    });
  }

  /** Calls `handler` with the object path and interface names of each InterfacesRemoved of this ObjectManager. */
  protected subscribeInterfacesRemoved(handler: (objectPath: string, interfaces: string[]) => void): Unsubscribe {
    return this.subscribeManager('InterfacesRemoved', INTERFACES_REMOVED, (body) => handler(body[0] as string, body[1] as string[]));
  }

  private subscribeManager(member: string, signature: string, handler: (body: unknown[]) => void): Unsubscribe {
    const id = this.connection.signalSubscribe(
      { sender: this.destination, path: this.objectPath, interface: OBJECT_MANAGER, member },
      (signal: Message) => {
        if (signal.signature === signature) handler(signal.body);
      },
    );
    return () => this.connection.signalUnsubscribe(id);
  }

  /** The interfaces of object `path` that `classes` has a proxy class for; others (the standard ones) are left out. */
  private managed<T extends ProxyClassTable>(
    classes: T,
    path: string,
    ifaces: Map<string, Map<string, unknown>>,
  ): Array<ManagedInterface<T>> {
    const out: Array<ManagedInterface<T>> = [];
    for (const [interfaceName, props] of ifaces) {
      const cls = classes[interfaceName];
      if (!cls) continue;
      out.push({ interfaceName, proxy: this.proxy(cls, path), properties: unwrapAll(props) } as ManagedInterface<T>);
    }
    return out;
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

/** Property values by name, each unwrapped. */
function unwrapAll(values: Map<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of values) out[name] = unwrap(value);
  return out;
}

/** Opens a connection to `target` ('system', 'session', or an address) for the client. */
export function openConnection(target: string, options: ConnectOptions = {}): Promise<DBusConnection> {
  return DBusConnection.connect(target, options);
}
