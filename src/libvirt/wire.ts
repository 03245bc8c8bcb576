// The byte pipe under a connection: a net.Socket / tls.TLSSocket, or — to pass file descriptors —
// src/unix's UnixFdSocket, which reads with recvmsg(2) so that SCM_RIGHTS descriptors survive, or
// the standard input and output of a command (ssh, ext). All batch the packets written in one tick
// into one system call.
import type { ChildProcessByStdio } from 'node:child_process';
import type * as net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { closeFd, isUnixFdSupported, UnixFdSocket, unixSupportError } from '../unix/index.js';

/** What a connection needs from its socket. */
export interface Wire {
  /** Whether descriptors can travel (UNIX socket with the native addon). */
  readonly canPassFds: boolean;
  /** Queues bytes (with descriptors on their first byte); false when the queue is above its high-water mark. */
  send(buf: Buffer, fds?: readonly number[]): boolean;
  /** Resolves when the queue has drained (or the wire closed). */
  drained(): Promise<void>;
  /** Incoming bytes, with the descriptors that came with them. */
  onData(cb: (chunk: Buffer, fds: number[] | undefined) => void): void;
  /** Called once when the wire is gone (EOF, error or destroy). */
  onClose(cb: (err?: Error) => void): void;
  /** Half-closes our side after pending writes. */
  end(): void;
  /** Closes at once. */
  destroy(): void;
}

/** Whether src/unix's addon is there to pass descriptors. */
export function isFdPassingAvailable(): boolean {
  return isUnixFdSupported();
}

/** Why descriptors cannot be passed here (the addon's load error). */
export function unixSupportMessage(): string {
  return unixSupportError()?.message ?? 'available';
}

/** Closes descriptors we received but nobody will use. */
export function closeFds(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      closeFd(fd);
    } catch {
      // already closed
    }
  }
}

function onceCloser(): { fire: (err?: Error) => void; set: (cb: (err?: Error) => void) => void } {
  let cb: ((err?: Error) => void) | undefined;
  let fired = false;
  let early: { err?: Error } | undefined;
  return {
    fire(err) {
      if (fired) return;
      fired = true;
      if (cb) cb(err);
      else early = { err };
    },
    set(c) {
      cb = c;
      if (early) c(early.err);
    },
  };
}

/** What drainedOf() needs of a stream (Writable, net.Socket, UnixFdSocket). */
interface Drainable {
  readonly destroyed: boolean;
  readonly writableLength: number;
  on(event: 'drain' | 'close', cb: () => void): unknown;
  off(event: 'drain' | 'close', cb: () => void): unknown;
}

/** Resolves when a stream's write queue is empty or the stream is gone. */
function drainedOf(w: Drainable): Promise<void> {
  if (w.destroyed || w.writableLength === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      w.off('drain', done);
      w.off('close', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
  });
}

/** A send() for `w`: writes corked until the next tick, so that the packets of one tick leave in one system call. */
function tickCorkedSend(w: Writable): (buf: Buffer) => boolean {
  let corked = false;
  return (buf) => {
    if (w.destroyed) return true;
    if (!corked) {
      corked = true;
      w.cork();
      process.nextTick(() => {
        corked = false;
        w.uncork();
      });
    }
    return w.write(buf);
  };
}

/** A wire over a net.Socket (UNIX or TCP) or TLS socket; no descriptor passing. */
export function netWire(s: net.Socket): Wire {
  s.setNoDelay?.(true);
  const closer = onceCloser();
  s.on('end', () => closer.fire());
  s.on('close', () => closer.fire());
  s.on('error', (err) => closer.fire(err));
  return {
    canPassFds: false,
    send: tickCorkedSend(s),
    drained: () => drainedOf(s),
    onData(cb) {
      s.on('data', (chunk: Buffer) => cb(chunk, undefined));
      s.resume(); // a TLS socket comes paused after libvirt's verification byte
    },
    onClose: closer.set,
    end() {
      if (!s.destroyed) s.end();
    },
    destroy() {
      s.destroy();
    },
  };
}

/** A wire over src/unix's UnixFdSocket, taking over a connected UNIX net.Socket. */
export async function fdWire(socket: net.Socket): Promise<Wire> {
  const s = UnixFdSocket.from(socket);
  const closer = onceCloser();
  s.on('end', () => closer.fire());
  s.on('close', () => closer.fire());
  s.on('error', (err) => closer.fire(err));
  let batch: Buffer[] = [];
  let scheduled = false;
  let ok = true;
  const flush = () => {
    scheduled = false;
    if (batch.length === 0) return;
    const buf = batch.length === 1 ? batch[0] : Buffer.concat(batch);
    batch = [];
    if (!s.destroyed) ok = s.write(buf);
  };
  return {
    canPassFds: true,
    send(buf, fds) {
      if (s.destroyed) return true;
      if (fds && fds.length > 0) {
        // Descriptors go out on their own write, after everything queued before them.
        flush();
        ok = s.write(buf, fds);
        return ok;
      }
      batch.push(buf);
      if (!scheduled) {
        scheduled = true;
        process.nextTick(flush);
      }
      return ok && s.writableLength < 64 * 1024;
    },
    drained() {
      flush();
      return drainedOf(s);
    },
    onData(cb) {
      s.on('data', (chunk, fds) => cb(chunk, fds.length > 0 ? fds : undefined));
    },
    onClose: closer.set,
    end() {
      flush();
      if (!s.destroyed) s.end();
    },
    destroy() {
      batch = [];
      s.destroy();
    },
  };
}

/** The last bytes of a command's standard error, for the error that says why it ended. */
const STDERR_KEEP = 4096;

/**
 * A wire over a command's standard input and output (libvirt's ssh and ext transports). It closes
 * when the command's output ends; then the error carries what the command wrote to standard error
 * (ssh's "Permission denied", netcat's "No such file"), as libvirt reports it.
 */
export function commandWire(child: ChildProcessByStdio<Writable, Readable, Readable>, what: string): Wire {
  const closer = onceCloser();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-STDERR_KEEP);
  });
  const ended = (err?: Error) => {
    // Wait for the exit (and the rest of standard error) before saying why.
    const report = (code: number | null, signal: NodeJS.Signals | null) => {
      const said = stderr.trim();
      if (err) closer.fire(err);
      else if (said || (code !== 0 && code !== null) || signal) {
        closer.fire(new Error(`End of file while reading data: ${said || `${what} exited (${signal ?? code})`}`));
      } else closer.fire();
    };
    if (child.exitCode !== null || child.signalCode !== null) report(child.exitCode, child.signalCode);
    else child.once('close', report);
  };
  child.stdout.on('end', () => ended());
  child.stdout.on('error', (e) => ended(e));
  child.once('error', (e) => ended(e));
  // A command gone mid-write: the EPIPE is reported by the end of its output.
  child.stdin.on('error', () => undefined);
  return {
    canPassFds: false,
    send: tickCorkedSend(child.stdin),
    drained: () => drainedOf(child.stdin),
    onData(cb) {
      child.stdout.on('data', (chunk: Buffer) => cb(chunk, undefined));
    },
    onClose: closer.set,
    end() {
      child.stdin.end();
    },
    destroy() {
      child.stdin.destroy();
      child.stdout.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      closer.fire();
    },
  };
}
