// Signals of exported objects: building a SIGNAL message checked against its declaration, and a
// queue that keeps signals in order when building one has to wait (asynchronous property getters).

import { checkValues } from './encoder.js';
import { DBusInvalidArgsError } from './errors.js';
import { compileInterface } from './export-model.js';
import { errorText, isPromiseLike, type MaybePromise } from './export-util.js';
import type { InterfaceDeclaration } from './interface.js';
import { type Message, MessageFlags, MessageType } from './message.js';
import { assertObjectPath } from './names.js';

/** Builds a SIGNAL message for signal `member` of `iface`, checking `args` against the declaration (DBusInvalidArgsError). */
export function buildSignal(
  path: string,
  iface: InterfaceDeclaration,
  member: string,
  args: unknown[],
  destination?: string,
): Omit<Message, 'serial'> {
  assertObjectPath(path);
  const signature = compileInterface(iface).signals.get(member);
  if (signature === undefined) throw new DBusInvalidArgsError(`${iface.name} declares no signal ${member}`);
  try {
    checkValues(signature, args);
  } catch (e) {
    throw new DBusInvalidArgsError(`Arguments of signal ${iface.name}.${member} do not fit “(${signature})”: ${errorText(e)}`);
  }
  const msg: Omit<Message, 'serial'> = {
    type: MessageType.Signal,
    flags: MessageFlags.NoReplyExpected,
    path,
    interface: iface.name,
    member,
    signature,
    body: args,
  };
  if (destination !== undefined) msg.destination = destination;
  return msg;
}

/** Runs signal jobs in order: a job waits for the ones before it; a job that fails is dropped. */
export class SignalQueue {
  private tail: Promise<void> | undefined;

  /** Runs `job` now if nothing is pending, else after the pending jobs. */
  enqueue(job: () => MaybePromise<void>): void {
    const prev = this.tail;
    if (prev !== undefined) {
      this.track(prev.then(job));
      return;
    }
    let r: MaybePromise<void>;
    try {
      r = job();
    } catch {
      return; // a signal that cannot be built is dropped; nothing is waiting for it
    }
    if (isPromiseLike(r)) this.track(Promise.resolve(r));
  }

  private track(p: Promise<void>): void {
    const noop = (): void => {};
    const q: Promise<void> = p.then(noop, noop).then(() => {
      if (this.tail === q) this.tail = undefined;
    });
    this.tail = q;
  }
}
