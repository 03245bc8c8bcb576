// Replies carrying file descriptors, on a bus. dbus-daemon will not forward descriptors to a client
// that did not negotiate fd passing: it drops the reply and sends *us* an error about it, so the
// caller would wait for its timeout. Remembering where such replies went lets the connection pass
// the bus's error on to the caller as the answer to its call.

import { type Message, MessageType } from './message.js';

/** At most this many fd-carrying replies are remembered (the oldest is forgotten first). */
const REMEMBERED = 256;

/** The fd-carrying replies sent recently: our serial → the caller and the serial of its call. */
export class FdReplies {
  private readonly sent = new Map<number, { destination: string; replySerial: number }>();

  /** Notes a reply just sent (only those with descriptors and a destination are kept). */
  note(msg: Message, fdCount: number): void {
    if (fdCount === 0 || msg.destination === undefined || msg.replySerial === undefined) return;
    if (msg.type !== MessageType.MethodReturn) return;
    if (this.sent.size >= REMEMBERED) this.sent.delete(this.sent.keys().next().value as number);
    this.sent.set(msg.serial, { destination: msg.destination, replySerial: msg.replySerial });
  }

  /**
   * For an error from the bus (`busName`) about one of those replies: the error message that tells
   * the caller instead; otherwise undefined.
   */
  errorForCaller(msg: Message, busName: string | undefined): Omit<Message, 'serial'> | undefined {
    if (msg.type !== MessageType.Error || msg.replySerial === undefined || busName === undefined || msg.sender !== busName)
      return undefined;
    const to = this.sent.get(msg.replySerial);
    if (!to) return undefined;
    this.sent.delete(msg.replySerial);
    return {
      type: MessageType.Error,
      flags: 0,
      destination: to.destination,
      replySerial: to.replySerial,
      errorName: msg.errorName,
      signature: msg.signature,
      body: msg.body,
    };
  }
}
