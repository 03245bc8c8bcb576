// The service tests' way to the typed client (libvirt-dbus/client): a Connect proxy on the fixture's
// client connection, and typed signals recorded so that a test waits for one with a deadline.
import { type ConnectProxy, ORG_LIBVIRT, OrgLibvirt, type Unsubscribe } from '../../src/client/index.js';
import { type DBusConnection, Variant } from '../../src/dbus/index.js';

/** As the fixture's raw Client.call: a service call may wait for a slow libvirt this long. */
export const CALL_TIMEOUT_MS = 60_000;

/** The typed proxy of /org/libvirt/NAME on an open bus connection (the fixture's `client.conn`). */
export function connectOn(conn: DBusConnection, name = 'Test', timeout = CALL_TIMEOUT_MS): ConnectProxy {
  return OrgLibvirt.on(conn, name, ORG_LIBVIRT, { timeout });
}

/**
 * The value inside every variant layer of `v` — a typed parameter's value arrives in a second
 * variant, as from the reference (a{sv} whose values are variants again).
 */
export function unwrapped(v: unknown): unknown {
  let x = v;
  while (x instanceof Variant) x = x.value;
  return x;
}

/** The signals one typed subscription delivered, in order of arrival. */
export interface Recorded<A extends unknown[]> {
  readonly seen: A[];
  /** Resolves with the first signal so far or to come that `pred` accepts; fails after `ms`. */
  waitFor(pred: (args: A, index: number) => boolean, ms?: number): Promise<A>;
  /** Ends the subscription. */
  stop: Unsubscribe;
}

/**
 * Subscribes through `subscribe` (e.g. `conn.onNetworkEvent.bind(conn)`) and records every signal.
 * The match rule reaches the bus before any later call of the same connection, so a signal caused
 * by such a call is not missed.
 */
export function record<A extends unknown[]>(what: string, subscribe: (handler: (...args: A) => void) => Unsubscribe): Recorded<A> {
  const seen: A[] = [];
  const waiters = new Set<() => void>();
  const stop = subscribe((...args: A) => {
    seen.push(args);
    for (const wake of [...waiters]) wake();
  });
  return {
    seen,
    stop,
    waitFor(pred, ms = 20_000) {
      return new Promise<A>((resolve, reject) => {
        const check = () => {
          const index = seen.findIndex(pred);
          if (index < 0) return;
          done();
          resolve(seen[index] as A);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no matching ${what} signal within ${ms} ms; got ${seen.length}: ${summarize(seen)}`));
        }, ms);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** Signal arguments for a failure message: proxies by their object path. */
function summarize(seen: unknown[][]): string {
  return JSON.stringify(seen, (_, v: unknown) =>
    typeof v === 'bigint' ? String(v) : v !== null && typeof v === 'object' && 'objectPath' in v ? v.objectPath : v,
  );
}
