// One incoming method call being answered (GDBusMethodInvocation): the handler answers through it
// once — with out values checked against the method's out signature, or with an error.

import { checkValues } from './encoder.js';
import { DBusError, DBusInvalidArgsError, StandardErrors } from './errors.js';
import { errorText, isPromiseLike } from './export-util.js';
import type { MethodDeclaration } from './interface.js';
import { type Message, MessageFlags, MessageType } from './message.js';
import { isValidErrorName } from './names.js';

/** What the exporter needs from a connection: a way to send; the connection assigns serial and sender. */
export interface ExportHost {
  send(msg: Omit<Message, 'serial'>): void;
  /**
   * True if send() encodes the message at once and, when a body value does not fit its signature,
   * throws the encoder's DBusInvalidArgsError having sent nothing: replies are then checked by
   * that one encoding instead of a separate check first.
   */
  readonly checksValues?: boolean;
}

/** Sends an ERROR reply to `call` unless the caller expects no reply; a failing send is dropped (e.g. connection closed). */
export function sendErrorReply(host: ExportHost, call: Message, name: string, text: string): void {
  if (call.flags & MessageFlags.NoReplyExpected) return;
  const reply: Omit<Message, 'serial'> = {
    type: MessageType.Error,
    flags: MessageFlags.NoReplyExpected,
    errorName: name,
    replySerial: call.serial,
    signature: 's',
    body: [text],
  };
  if (call.sender !== undefined) reply.destination = call.sender;
  try {
    host.send(reply);
  } catch {
    // Nobody to tell: the connection is gone or refuses to send.
  }
}

/** One incoming method call being answered; handlers may answer through it, once. */
export class MethodInvocation {
  private done = false;
  private deferred = false;

  constructor(
    /** The METHOD_CALL message. */
    readonly message: Message,
    private readonly host: ExportHost,
    /** Declaration of the method called. */
    readonly method: MethodDeclaration,
    private readonly outSignature: string,
    /** Interface the method belongs to (also when the call had no interface field). */
    readonly interfaceName: string,
  ) {}

  /** Unique name of the caller (undefined on a peer-to-peer connection). */
  get sender(): string | undefined {
    return this.message.sender;
  }
  /** Object path called. */
  get path(): string {
    return this.message.path ?? '/';
  }
  /** Method name called. */
  get member(): string {
    return this.message.member ?? '';
  }
  /** True once an answer was sent (or dropped because the caller expects none). */
  get answered(): boolean {
    return this.done;
  }
  /** True if the caller set NO_REPLY_EXPECTED: answers are dropped. */
  get noReplyExpected(): boolean {
    return (this.message.flags & MessageFlags.NoReplyExpected) !== 0;
  }

  /** Promises an answer through returnValue/returnError later: what the handler returns is then ignored. */
  defer(): void {
    this.deferred = true;
  }

  /** Sends the method return with the out arguments; a value not fitting the out signature answers Failed and throws. */
  returnValue(values: unknown[] = []): void {
    this.claim();
    const host = this.host;
    if (this.noReplyExpected || !host.checksValues) {
      try {
        checkValues(this.outSignature, values);
      } catch (e) {
        this.refuseValues(e);
      }
      if (this.noReplyExpected) return;
    }
    const reply: Omit<Message, 'serial'> = {
      type: MessageType.MethodReturn,
      flags: MessageFlags.NoReplyExpected,
      replySerial: this.message.serial,
      signature: this.outSignature,
      body: values,
    };
    if (this.message.sender !== undefined) reply.destination = this.message.sender;
    try {
      host.send(reply);
    } catch (e) {
      if (host.checksValues && e instanceof DBusInvalidArgsError) this.refuseValues(e);
      // The connection could not send the reply (closed, or it refused the values): try to say so.
      this.sendError(StandardErrors.Failed, `Reply of ${this.interfaceName}.${this.member} could not be sent: ${errorText(e)}`);
    }
  }

  /** Answers Failed for out values that do not fit the out signature, and throws. */
  private refuseValues(e: unknown): never {
    const text = `Handler of ${this.interfaceName}.${this.member} returned values not of type “(${this.outSignature})”: ${errorText(e)}`;
    this.sendError(StandardErrors.Failed, text);
    throw new DBusInvalidArgsError(text);
  }

  /** Answers with an error: a DBusError keeps its name, anything else becomes org.freedesktop.DBus.Error.Failed. */
  returnError(error: unknown): void {
    this.claim();
    if (error instanceof DBusError && isValidErrorName(error.errorName)) this.sendError(error.errorName, error.message);
    else this.sendError(StandardErrors.Failed, errorText(error));
  }

  /** Answers with the error `name` and `message`. */
  returnDBusError(name: string, message: string): void {
    this.claim();
    this.sendError(isValidErrorName(name) ? name : StandardErrors.Failed, message);
  }

  private claim(): void {
    if (this.done) throw new Error(`${this.interfaceName}.${this.member} was already answered`);
    this.done = true;
  }

  private sendError(name: string, message: string): void {
    sendErrorReply(this.host, this.message, name, message);
  }

  /** Internal: turns what a handler returned into the answer, unless it answered itself. */
  complete(result: unknown): void {
    if (this.done || this.deferred) return;
    if (result === undefined) {
      if (this.outSignature === '') this.returnValue([]);
      else
        this.returnDBusError(
          StandardErrors.Failed,
          `Handler of ${this.interfaceName}.${this.member} returned no out arguments (expected “(${this.outSignature})”)`,
        );
      return;
    }
    if (!Array.isArray(result)) {
      this.returnDBusError(
        StandardErrors.Failed,
        `Handler of ${this.interfaceName}.${this.member} must return its out arguments as an array`,
      );
      return;
    }
    try {
      this.returnValue(result);
    } catch {
      // returnValue already answered Failed
    }
  }

  /** Internal: answers a thrown error unless already answered. */
  fail(error: unknown): void {
    if (!this.done) this.returnError(error);
  }

  /** Internal: runs a step whose result or error becomes the answer. */
  run(step: () => unknown): void {
    let r: unknown;
    try {
      r = step();
    } catch (e) {
      this.fail(e);
      return;
    }
    if (isPromiseLike(r)) {
      r.then(
        (v) => this.complete(v),
        (e) => this.fail(e),
      );
    } else this.complete(r);
  }
}
