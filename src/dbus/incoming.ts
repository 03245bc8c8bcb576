// The incoming side of a connection's byte stream: chunks as the socket delivers them (and the
// file descriptors that came with them) assembled into whole messages and decoded.

import { closeFd } from '../unix/index.js';
import { decodeMessage, messageLength } from './framing.js';
import type { Message } from './message.js';

/** Where assembled messages go. */
export interface IncomingHandlers {
  /** A decoded message. */
  message(msg: Message): void;
  /** The stream is not valid D-Bus: nothing more is read from it. */
  error(reason: string): void;
  /** True once the connection is closed: stop handing out messages. */
  stopped(): boolean;
}

/** Assembles the messages of one connection from the chunks read. */
export class MessageAssembler {
  // Chunks of a message not complete yet.
  private chunks: Buffer[] = [];
  private length = 0;
  private needed = 0;
  // Descriptors received and not yet claimed by a message.
  private fds: number[] = [];

  constructor(
    /** Whether fd passing was negotiated. */
    private readonly unixFd: boolean,
    private readonly handlers: IncomingHandlers,
  ) {}

  /** Takes a chunk and the fds that came with it; hands out every message it completes. */
  push(chunk: Buffer, fds: number[] | undefined): void {
    if (fds) {
      if (this.unixFd) this.fds.push(...fds);
      else {
        this.handlers.error('peer sent file descriptors without negotiating them');
        return;
      }
    }
    let buf: Buffer;
    if (this.length === 0) buf = chunk;
    else {
      this.chunks.push(chunk);
      this.length += chunk.length;
      // Wait for the whole message before joining the pieces (one copy per message).
      if (this.needed > 0 && this.length < this.needed) return;
      buf = Buffer.concat(this.chunks, this.length);
      this.chunks = [];
      this.length = 0;
    }
    this.needed = 0;
    let offset = 0;
    const h = this.handlers;
    while (!h.stopped()) {
      const rest = buf.length - offset;
      if (rest < 16) break;
      const view = offset === 0 ? buf : buf.subarray(offset);
      let length: number | undefined;
      try {
        length = messageLength(view);
      } catch (err) {
        h.error((err as Error).message);
        return;
      }
      if (length === undefined) break;
      if (rest < length) {
        this.needed = length;
        break;
      }
      const bytes = view.subarray(0, length);
      offset += length;
      let msg: Message;
      try {
        msg = decodeMessage(bytes, this.unixFd ? this.fds : undefined);
      } catch (err) {
        h.error(`undecodable message: ${(err as Error).message}`);
        return;
      }
      // The codec may hand our array itself to the message; take the used fds off by copying.
      if (msg.fds && msg.fds.length > 0) this.fds = this.fds.slice(msg.fds.length);
      h.message(msg);
    }
    if (offset < buf.length && !h.stopped()) {
      this.chunks = [buf.subarray(offset)];
      this.length = buf.length - offset;
    }
  }

  /** Closes the descriptors received for a message that never completed: they belong to nobody. */
  closeUnclaimedFds(): void {
    for (const fd of this.fds) {
      try {
        closeFd(fd);
      } catch {}
    }
    this.fds = [];
  }
}
