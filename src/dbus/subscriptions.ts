// Signal subscriptions of one connection (GDBus's signal_subscribe): the match rules they add on
// a bus, shared between subscriptions with the same rule; delivery of incoming signals; the owners
// of well-known names that signals are subscribed from (a signal carries its sender's unique
// name); and name watching built on NameOwnerChanged.

import { BUS_NAME, BUS_PATH } from './connection-options.js';
import { DBusClosedError } from './errors.js';
import { formatMatchRule, type MatchRule, matchesRule } from './match.js';
import type { Message } from './message.js';

/** What a signal subscription matches; unset keys match anything. */
export interface SignalSubscription {
  sender?: string;
  interface?: string;
  member?: string;
  path?: string;
  pathNamespace?: string;
  /** String argument 0 equals this. */
  arg0?: string;
  /** String argument 0 is this name or below it (`org.foo` → `org.foo.Bar`). */
  arg0namespace?: string;
  /** Argument 0 (string or object path) equals this, or one is a '/'-ended prefix of the other. */
  arg0path?: string;
}

/** Called with each matching signal. */
export type SignalCallback = (signal: Message) => void;

/** What the subscriptions need from their connection. */
export interface SubscriptionHost {
  /** Whether the connection talks to a message bus (match rules, name owners). */
  isBus(): boolean;
  closed(): boolean;
  /** Calls a method of the bus driver. */
  busCall(member: string, signature: string, body: unknown[]): Promise<unknown[]>;
  /** The unique name owning `name`, or undefined when nobody does. */
  getNameOwner(name: string): Promise<string | undefined>;
}

interface Subscription {
  rule: MatchRule;
  ruleText: string | undefined;
  callback: SignalCallback;
}

/** A well-known name signals are subscribed from, and what is known of its owner. */
interface TrackedName {
  owner: string | undefined;
  /** Whether `owner` is known (GetNameOwner answered, or NameOwnerChanged came first). */
  known: boolean;
  /** Signals that came while the owner was not known, with the subscription they may be for. */
  held: Array<{ id: number; msg: Message }>;
  refs: number;
  subscription: number;
}

// Bounds the signals held for one name while its owner is looked up (a flood cannot grow it).
const MAX_HELD_SIGNALS = 1024;
const anySender = (): boolean => true;

const NAME_OWNER_CHANGED = { sender: BUS_NAME, interface: BUS_NAME, member: 'NameOwnerChanged', path: BUS_PATH };

/** The signal subscriptions of one connection. */
export class SignalSubscriptions {
  private readonly subscriptions = new Map<number, Subscription>();
  private lastId = 0;
  private readonly matchRefs = new Map<string, number>();
  private readonly nameOwners = new Map<string, TrackedName>();

  constructor(private readonly host: SubscriptionHost) {}

  /**
   * Subscribes to signals; on a bus this adds the match rule (AddMatch, in order with later
   * messages, so a call made afterwards returns only once the rule is in place). Returns an id, never 0.
   */
  subscribe(match: SignalSubscription, callback: SignalCallback): number {
    if (this.host.closed()) throw new DBusClosedError();
    const rule: MatchRule = {
      type: 'signal',
      sender: match.sender,
      interface: match.interface,
      member: match.member,
      path: match.path,
      pathNamespace: match.pathNamespace,
      arg0namespace: match.arg0namespace,
    };
    if (match.arg0 !== undefined) rule.args = new Map([[0, match.arg0]]);
    if (match.arg0path !== undefined) rule.argPaths = new Map([[0, match.arg0path]]);
    const id = ++this.lastId;
    let ruleText: string | undefined;
    if (this.host.isBus()) {
      ruleText = formatMatchRule(rule);
      const refs = this.matchRefs.get(ruleText) ?? 0;
      this.matchRefs.set(ruleText, refs + 1);
      if (refs === 0) this.busCallQuiet('AddMatch', 's', [ruleText]);
      const sender = match.sender;
      if (sender && !sender.startsWith(':') && sender !== BUS_NAME) this.trackOwner(sender);
    }
    this.subscriptions.set(id, { rule, ruleText, callback });
    return id;
  }

  /** Removes a subscription (and its match rule once no other subscription uses it). */
  unsubscribe(id: number): void {
    const sub = this.subscriptions.get(id);
    if (!sub) return;
    this.subscriptions.delete(id);
    if (sub.ruleText !== undefined) {
      const refs = (this.matchRefs.get(sub.ruleText) ?? 1) - 1;
      if (refs <= 0) {
        this.matchRefs.delete(sub.ruleText);
        if (!this.host.closed()) this.busCallQuiet('RemoveMatch', 's', [sub.ruleText]);
      } else this.matchRefs.set(sub.ruleText, refs);
    }
    const sender = sub.rule.sender;
    if (sender && this.nameOwners.has(sender)) this.untrackOwner(sender);
  }

  /** Hands an incoming signal to every subscription it matches (and follows name owners). */
  deliver(msg: Message): void {
    if (this.host.isBus() && msg.sender === BUS_NAME && msg.member === 'NameOwnerChanged' && msg.interface === BUS_NAME) {
      const [name, , newOwner] = msg.body as [string, string, string];
      const tracked = this.nameOwners.get(name);
      if (tracked) {
        tracked.owner = newOwner || undefined;
        this.ownerKnown(tracked);
      }
    }
    for (const [id, sub] of [...this.subscriptions]) {
      const waiting = this.ownerPending(sub.rule.sender);
      if (waiting) {
        // The owner's GetNameOwner reply came in the same read as this signal and its promise has
        // not settled yet: hold the signal until it has, rather than drop it.
        if (waiting.held.length < MAX_HELD_SIGNALS && matchesRule(sub.rule, msg, anySender)) waiting.held.push({ id, msg });
        continue;
      }
      if (matchesRule(sub.rule, msg, this.senderMatches)) this.call(sub, msg);
    }
  }

  private call(sub: Subscription, msg: Message): void {
    try {
      sub.callback(msg);
    } catch (err) {
      process.emitWarning(`D-Bus signal callback threw: ${(err as Error).message}`);
    }
  }

  /** The tracked well-known name `sender` whose owner is not known yet, if it is one. */
  private ownerPending(sender: string | undefined): TrackedName | undefined {
    if (!sender || sender.startsWith(':') || sender === BUS_NAME || !this.host.isBus()) return undefined;
    const tracked = this.nameOwners.get(sender);
    return tracked && !tracked.known ? tracked : undefined;
  }

  /** The owner of a tracked name is now known: hand it the signals held meanwhile, in order. */
  private ownerKnown(tracked: TrackedName): void {
    if (tracked.known) return;
    tracked.known = true;
    for (const { id, msg } of tracked.held.splice(0)) {
      const sub = this.subscriptions.get(id);
      if (sub && matchesRule(sub.rule, msg, this.senderMatches)) this.call(sub, msg);
    }
  }

  /**
   * Watches a name: `onAppeared(name, owner)` when it gets an owner (and at once if it has one),
   * `onVanished(name)` when it loses it (and at once if it has none). Returns an id for unsubscribe.
   */
  watchName(name: string, onAppeared?: (name: string, owner: string) => void, onVanished?: (name: string) => void): number {
    let known: string | null | undefined; // undefined: not yet known; null: no owner
    const report = (owner: string | undefined) => {
      const next = owner ?? null;
      if (next === known) return;
      const hadOwner = typeof known === 'string';
      known = next;
      if (next === null) onVanished?.(name);
      else {
        if (hadOwner) onVanished?.(name);
        onAppeared?.(name, next);
      }
    };
    let settled = false;
    const id = this.subscribe({ ...NAME_OWNER_CHANGED, arg0: name }, (msg) => {
      settled = true;
      report((msg.body[2] as string) || undefined);
    });
    this.host.getNameOwner(name).then(
      (owner) => {
        if (!settled && this.subscriptions.has(id)) report(owner);
      },
      () => {},
    );
    return id;
  }

  private readonly senderMatches = (ruleSender: string, msgSender: string | undefined): boolean => {
    if (!this.host.isBus()) return true; // peer to peer: there is only one sender
    if (ruleSender === msgSender) return true;
    if (ruleSender.startsWith(':') || ruleSender === BUS_NAME) return false;
    return msgSender !== undefined && this.nameOwners.get(ruleSender)?.owner === msgSender;
  };

  // The bus driver call whose failure only deserves a warning (AddMatch, RemoveMatch).
  private busCallQuiet(member: string, signature: string, body: unknown[]): void {
    this.host.busCall(member, signature, body).catch((err) => {
      if (!(err instanceof DBusClosedError)) process.emitWarning(`D-Bus ${member} failed: ${(err as Error).message}`);
    });
  }

  // Signals from a well-known name arrive with the owner's unique name as sender; follow the owner.
  private trackOwner(name: string): void {
    const tracked = this.nameOwners.get(name);
    if (tracked) {
      tracked.refs++;
      return;
    }
    const entry: TrackedName = { owner: undefined, known: false, held: [], refs: 1, subscription: 0 };
    this.nameOwners.set(name, entry);
    entry.subscription = this.subscribe(
      { ...NAME_OWNER_CHANGED, arg0: name },
      () => {}, // deliver() updates the owner table itself
    );
    this.host.getNameOwner(name).then(
      (owner) => {
        if (this.nameOwners.get(name) !== entry || entry.known) return;
        entry.owner = owner;
        this.ownerKnown(entry);
      },
      () => this.ownerKnown(entry), // no owner known: what was held cannot match and is dropped
    );
  }

  private untrackOwner(name: string): void {
    const tracked = this.nameOwners.get(name);
    if (!tracked) return;
    if (--tracked.refs > 0) return;
    this.nameOwners.delete(name);
    this.unsubscribe(tracked.subscription);
  }
}
