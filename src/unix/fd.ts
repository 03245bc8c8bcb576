// Plain descriptor helpers: peer credentials (SO_PEERCRED), dup and close.
import type { Socket } from 'node:net';
import { UnixSocketError } from './errors.js';
import { requireNative } from './native.js';

/** The peer process of a connected UNIX socket, as the kernel recorded it at connect time. */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** The OS descriptor behind a connected net.Socket (Node keeps it in the internal `_handle.fd`). */
export function socketFd(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new UnixSocketError('EBADF', 'socketFd', 'the socket has no open descriptor (not connected, or closed)');
  }
  return fd;
}

/**
 * Credentials of the peer of a connected UNIX socket (SO_PEERCRED), given a net.Socket or a raw fd.
 * Throws UnixSupportError without the addon, UnixSocketError (ENOTSOCK, ENOTCONN, EBADF…) otherwise.
 */
export function getPeerCredentials(socket: Socket | number): PeerCredentials {
  const native = requireNative();
  const fd = typeof socket === 'number' ? socket : socketFd(socket);
  const r = native.getPeerCred(fd);
  if (typeof r === 'number') throw UnixSocketError.fromErrno(r, 'getsockopt(SO_PEERCRED)');
  return { pid: r[0], uid: r[1], gid: r[2] };
}

/** Closes a descriptor, e.g. one received with fd passing. Throws UnixSocketError (EBADF) if it was not open. */
export function closeFd(fd: number): void {
  const r = requireNative().closeFd(fd);
  if (r < 0) throw UnixSocketError.fromErrno(r, 'close');
}

/** Duplicates a descriptor (close-on-exec); the copy must be closed with closeFd. */
export function dupFd(fd: number): number {
  const r = requireNative().dupFd(fd);
  if (r < 0) throw UnixSocketError.fromErrno(r, 'fcntl(F_DUPFD_CLOEXEC)');
  return r;
}

/**
 * A UNIX stream socket in Linux's abstract namespace, named with the name's exact length (Node pads
 * the name to the whole sun_path, so other programs' abstract sockets are unreachable through it):
 * connected to `name`, or bound to it and listening. The caller owns the descriptor.
 */
export function abstractSocket(name: string, mode: 'connect' | 'listen'): number {
  const r = requireNative().abstractSocket(Buffer.from(name), mode === 'listen');
  if (r < 0) throw UnixSocketError.fromErrno(r, mode === 'listen' ? 'bind' : 'connect');
  return r;
}
