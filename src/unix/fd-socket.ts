// A connected UNIX stream socket that carries file descriptors (SCM_RIGHTS) along with its bytes.
// Node's net.Socket reads with read(2), which drops received descriptors, so this class owns the fd
// itself: every read is a recvmsg(2), every write a sendmsg(2), readiness comes from a libuv poll handle.
import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { constants } from 'node:os';
import { UnixSocketError } from './errors.js';
import { getPeerCredentials, type PeerCredentials, socketFd } from './fd.js';
import { type NativePoller, type NativeUnix, requireNative } from './native.js';

/** Options of a UnixFdSocket. */
export interface UnixFdSocketOptions {
  /** Keep our writing side open after the peer ends (default false: end() follows the peer's end, as in net). */
  allowHalfOpen?: boolean;
  /** write() returns false once this many bytes wait in the queue (default 64 KiB). */
  highWaterMark?: number;
}

/** Events: `data` hands over ownership of the received fds (close them with closeFd); `close(hadError)` comes last. */
export interface UnixFdSocketEvents {
  data: [data: Buffer, fds: number[]];
  end: [];
  drain: [];
  finish: [];
  error: [error: Error];
  close: [hadError: boolean];
}

interface Pending {
  buf: Buffer;
  fds: number[]; // our own duplicates, closed once sent
}

const READ_SIZE = 64 * 1024;
const COPY_BELOW = 16 * 1024; // smaller reads are copied out so the 64 KiB read buffer can be reused
const READS_PER_EVENT = 16; // bound the work per readiness event so one busy socket cannot starve the loop
const SHUT_WR = 1;
const EAGAIN = -constants.errno.EAGAIN;
const EBADF = -constants.errno.EBADF;
const ENOTCONN = -constants.errno.ENOTCONN;

function closeAll(native: NativeUnix, fds: readonly number[]): void {
  for (const fd of fds) native.closeFd(fd);
}

/** A connected UNIX stream socket with fd passing (see the class comment at the top of fd-socket.ts). */
export class UnixFdSocket extends EventEmitter<UnixFdSocketEvents> {
  /** Bytes received and sent so far. */
  bytesRead = 0;
  bytesWritten = 0;

  private readonly native: NativeUnix;
  private readonly poller: NativePoller;
  private readonly allowHalfOpen: boolean;
  private readonly highWaterMark: number;
  private _fd: number;
  private pool = Buffer.allocUnsafe(READ_SIZE);
  private readonly flags = new Int32Array(1);
  private queue: (Pending | undefined)[] = [];
  private head = 0;
  private queuedBytes = 0;
  private watching = 0;
  private reading = false;
  private userPaused = false;
  private readEnded = false;
  private ending = false;
  private writeShut = false;
  private needDrain = false;
  private _destroyed = false;
  private leftover: Buffer | undefined;

  /**
   * Takes ownership of `fd`, a connected UNIX stream socket; it is made non-blocking and closed by destroy().
   * Throws UnixSocketError (ENOTSOCK, EAFNOSUPPORT, EBADF) if `fd` is not a UNIX socket; the caller then keeps it.
   */
  constructor(fd: number, options: UnixFdSocketOptions = {}) {
    super();
    this.native = requireNative();
    const check = this.native.getPeerCred(fd);
    if (typeof check === 'number') throw UnixSocketError.fromErrno(check, 'UnixFdSocket');
    this._fd = fd;
    this.allowHalfOpen = options.allowHalfOpen ?? false;
    this.highWaterMark = options.highWaterMark ?? 64 * 1024;
    this.poller = new this.native.Poller(fd, (status, events) => this.onPoll(status, events));
    // Like a net.Socket, reading starts with the first 'data' listener, so nothing is read before anyone listens.
    (this as unknown as EventEmitter).on('newListener', (event: string | symbol) => {
      if (event === 'data' && !this.userPaused) this.startReading();
    });
  }

  /** A connected pair of sockets in this process (socketpair(2)). */
  static pair(options?: UnixFdSocketOptions): [UnixFdSocket, UnixFdSocket] {
    const r = requireNative().socketPair();
    if (typeof r === 'number') throw UnixSocketError.fromErrno(r, 'socketpair');
    return [new UnixFdSocket(r[0], options), new UnixFdSocket(r[1], options)];
  }

  /**
   * Takes over a connected net.Socket: its descriptor is duplicated into the new object and the net.Socket is
   * destroyed (which does not shut the connection down). Call it before Node has read anything with descriptors:
   * in the 'connect' handler, or for servers in the 'connection' handler of a `net.createServer({ pauseOnConnect: true })`.
   * Bytes Node had already read are delivered as the first 'data' event (without fds).
   */
  static from(socket: Socket, options?: UnixFdSocketOptions): UnixFdSocket {
    const native = requireNative();
    if (socket.connecting) throw new UnixSocketError('ENOTCONN', 'from', 'the socket is still connecting');
    const fd = socketFd(socket);
    const check = native.getPeerCred(fd); // a UNIX socket? Asked before the net.Socket is given up
    if (typeof check === 'number') throw UnixSocketError.fromErrno(check, 'UnixFdSocket.from');
    if (socket.writableLength > 0) {
      throw new UnixSocketError('EBUSY', 'from', 'the socket still has unwritten data; take it over after it drains');
    }
    const handle = (socket as unknown as { _handle: { readStop?: () => number } })._handle;
    socket.pause();
    handle.readStop?.();
    const copy = native.dupFd(fd);
    if (copy < 0) throw UnixSocketError.fromErrno(copy, 'fcntl(F_DUPFD_CLOEXEC)');
    const chunks: Buffer[] = [];
    while (socket.readableLength > 0) {
      const c: Buffer | null = socket.read();
      if (c === null) break;
      chunks.push(c);
    }
    // Destroy synchronously: the read() above may have re-armed libuv reading, which only acts on a later tick.
    socket.destroy();
    let s: UnixFdSocket;
    try {
      s = new UnixFdSocket(copy, options);
    } catch (e) {
      native.closeFd(copy);
      throw e;
    }
    if (chunks.length > 0) s.leftover = Buffer.concat(chunks);
    return s;
  }

  /** Connects to a UNIX socket path and returns the connected socket. */
  static connect(path: string, options?: UnixFdSocketOptions): Promise<UnixFdSocket> {
    requireNative();
    return new Promise((resolve, reject) => {
      const socket = createConnection(path);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        try {
          resolve(UnixFdSocket.from(socket, options));
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  /** The descriptor, or -1 once destroyed. */
  get fd(): number {
    return this._fd;
  }

  /** True once destroy() ran (explicitly, on error, or after both directions ended). */
  get destroyed(): boolean {
    return this._destroyed;
  }

  /** Bytes queued by write() and not yet accepted by the kernel. */
  get writableLength(): number {
    return this.queuedBytes;
  }

  /** Credentials of the peer process (SO_PEERCRED). */
  getPeerCredentials(): PeerCredentials {
    if (this._destroyed) throw new UnixSocketError('EBADF', 'getsockopt(SO_PEERCRED)', 'the socket is destroyed');
    return getPeerCredentials(this._fd);
  }

  /**
   * Queues `data` and sends `fds` (at most 253) attached to its first byte. The caller keeps ownership of
   * `fds` and may close them as soon as write() returns. Returns false when the queue is above the high water
   * mark: wait for 'drain'. Throws UnixSocketError (EBADF) when an fd is not open; writing to a destroyed
   * socket is ignored (its 'close' event tells why).
   */
  write(data: Uint8Array, fds: readonly number[] = []): boolean {
    if (this.ending) throw new UnixSocketError('EPIPE', 'write', 'write after end()');
    if (fds.length > this.native.MAX_FDS) throw new RangeError(`at most ${this.native.MAX_FDS} fds per write`);
    if (data.byteLength === 0 && fds.length > 0) throw new RangeError('fds must travel with at least one byte');
    if (this._destroyed) return false;
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (buf.length === 0) return this.queuedBytes < this.highWaterMark;
    if (this.head === this.queue.length) {
      const n = this.native.sendMsg(this._fd, buf, fds.length > 0 ? fds : undefined);
      if (n === buf.length) {
        this.bytesWritten += n;
        return true;
      }
      if (n >= 0) {
        this.bytesWritten += n;
        this.enqueue(buf.subarray(n), []);
      } else if (n === EAGAIN) {
        this.enqueue(buf, this.dupAll(fds));
      } else if (n === EBADF && fds.length > 0) {
        throw UnixSocketError.fromErrno(n, 'sendmsg');
      } else {
        this.destroy(UnixSocketError.fromErrno(n, 'sendmsg'));
        return false;
      }
    } else {
      this.enqueue(buf, this.dupAll(fds));
    }
    this.updatePoll();
    if (this.queuedBytes < this.highWaterMark) return true;
    this.needDrain = true;
    return false;
  }

  /** Writes optional last data, then shuts down our sending side once the queue is flushed ('finish'). */
  end(data?: Uint8Array, fds?: readonly number[]): this {
    if (this.ending || this._destroyed) return this;
    if (data) this.write(data, fds);
    this.ending = true;
    if (this.head === this.queue.length) this.shutdownWrite();
    return this;
  }

  /** Closes the descriptor at once, dropping queued data; emits 'error' (if given) and then 'close'. */
  destroy(error?: Error): void {
    if (this._destroyed) return;
    this._destroyed = true;
    this.reading = false;
    this.poller.close(); // removes the fd from epoll before it is closed
    for (let i = this.head; i < this.queue.length; i++) closeAll(this.native, this.queue[i]!.fds);
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
    this.native.closeFd(this._fd);
    this._fd = -1;
    // Like net.Socket, 'error' and 'close' come on a later turn of the loop, so a caller that just saw 'end'
    // can still subscribe to them.
    setImmediate(() => {
      if (error) this.emit('error', error);
      this.emit('close', error !== undefined);
    });
  }

  /** Stops reading until resume(). */
  pause(): this {
    this.userPaused = true;
    this.reading = false;
    this.updatePoll();
    return this;
  }

  /** Starts or continues reading. */
  resume(): this {
    this.userPaused = false;
    this.startReading();
    return this;
  }

  /** Lets the process exit while this socket is open (like net.Socket.unref). */
  unref(): this {
    if (!this._destroyed) this.poller.unref();
    return this;
  }

  /** Undoes unref(). */
  ref(): this {
    if (!this._destroyed) this.poller.ref();
    return this;
  }

  private startReading(): void {
    if (this._destroyed || this.reading) return;
    this.reading = true;
    if (this.leftover) {
      // Bytes taken over from a net.Socket go first; the poll callback cannot run before this tick ends.
      const chunk = this.leftover;
      this.leftover = undefined;
      this.bytesRead += chunk.length;
      process.nextTick(() => this.emit('data', chunk, []));
    }
    this.updatePoll();
  }

  private dupAll(fds: readonly number[]): number[] {
    const copies: number[] = [];
    for (const fd of fds) {
      const r = this.native.dupFd(fd);
      if (r < 0) {
        closeAll(this.native, copies);
        throw UnixSocketError.fromErrno(r, 'fcntl(F_DUPFD_CLOEXEC)');
      }
      copies.push(r);
    }
    return copies;
  }

  private enqueue(buf: Buffer, fds: number[]): void {
    this.queue.push({ buf, fds });
    this.queuedBytes += buf.length;
  }

  private updatePoll(): void {
    if (this._destroyed) return;
    const { UV_READABLE, UV_WRITABLE } = this.native;
    const want = (this.reading && !this.readEnded ? UV_READABLE : 0) | (this.head < this.queue.length ? UV_WRITABLE : 0);
    if (want === this.watching) return;
    this.watching = want;
    const r = want === 0 ? this.poller.stop() : this.poller.start(want);
    if (r < 0) this.destroy(UnixSocketError.fromErrno(r, 'uv_poll_start'));
  }

  private onPoll(status: number, events: number): void {
    if (this._destroyed) return;
    if (status < 0) {
      this.destroy(UnixSocketError.fromErrno(status, 'poll'));
      return;
    }
    if (events & this.native.UV_WRITABLE) this.flush();
    if (events & (this.native.UV_READABLE | this.native.UV_DISCONNECT)) this.readSome();
    this.updatePoll();
  }

  private readSome(): void {
    const native = this.native;
    for (let i = 0; i < READS_PER_EVENT && this.reading && !this._destroyed && !this.readEnded; i++) {
      const fds: number[] = [];
      const n = native.recvMsg(this._fd, this.pool, fds, this.flags);
      if (n === EAGAIN) return;
      if (n < 0) {
        this.destroy(UnixSocketError.fromErrno(n, 'recvmsg'));
        return;
      }
      if (this.flags[0] & native.FLAG_CTRUNC) {
        // Some descriptors never arrived: the byte stream no longer matches its fds, so give up on it.
        closeAll(native, fds);
        this.destroy(new UnixSocketError('ECTRUNC', 'recvmsg', 'received control data was truncated; descriptors were lost'));
        return;
      }
      if (n === 0) {
        closeAll(native, fds);
        this.onEnd();
        return;
      }
      // A short read emptied the socket: asking again would only answer EAGAIN (the poll is level-triggered).
      const drained = n < this.pool.length;
      let chunk: Buffer;
      if (n < COPY_BELOW) {
        chunk = Buffer.allocUnsafe(n);
        this.pool.copy(chunk, 0, 0, n);
      } else {
        chunk = this.pool.subarray(0, n);
        this.pool = Buffer.allocUnsafe(READ_SIZE);
      }
      this.bytesRead += n;
      if (this.listenerCount('data') === 0) closeAll(native, fds); // nobody to own them
      this.emit('data', chunk, fds);
      if (drained) return;
    }
  }

  private onEnd(): void {
    this.readEnded = true;
    this.emit('end');
    if (!this.allowHalfOpen) this.end();
    this.maybeClose();
  }

  private flush(): void {
    const native = this.native;
    while (this.head < this.queue.length) {
      const item = this.queue[this.head]!;
      const n = native.sendMsg(this._fd, item.buf, item.fds.length > 0 ? item.fds : undefined);
      if (n === EAGAIN) return;
      if (n < 0) {
        this.destroy(UnixSocketError.fromErrno(n, 'sendmsg'));
        return;
      }
      this.bytesWritten += n;
      this.queuedBytes -= n;
      if (item.fds.length > 0) {
        closeAll(native, item.fds);
        item.fds = [];
      }
      if (n < item.buf.length) {
        item.buf = item.buf.subarray(n);
        continue;
      }
      this.queue[this.head++] = undefined;
    }
    this.queue = [];
    this.head = 0;
    if (this.ending) this.shutdownWrite();
    if (this.needDrain && !this._destroyed) {
      this.needDrain = false;
      this.emit('drain');
    }
  }

  private shutdownWrite(): void {
    if (this.writeShut || this._destroyed) return;
    const r = this.native.shutdownFd(this._fd, SHUT_WR);
    if (r < 0 && r !== ENOTCONN) {
      this.destroy(UnixSocketError.fromErrno(r, 'shutdown'));
      return;
    }
    this.writeShut = true;
    process.nextTick(() => this.emit('finish'));
    this.maybeClose();
  }

  private maybeClose(): void {
    if (this.readEnded && this.writeShut) this.destroy();
  }
}
