// src/unix: what Node has no API for on UNIX sockets, through a tiny optional native addon (native/unix.c):
// the peer's credentials (SO_PEERCRED), passing file descriptors (SCM_RIGHTS), and malloc_trim.
// Optional at run time: isUnixFdSupported() says whether it works; without it every call throws UnixSupportError.
// LIBVIRT_DBUS_NO_NATIVE=1 in the environment makes the loader act as if the addon were missing (for tests).
export { UnixSocketError, UnixSupportError } from './errors.js';
export { abstractSocket, closeFd, dupFd, getPeerCredentials, type PeerCredentials, socketFd } from './fd.js';
export { UnixFdSocket, type UnixFdSocketEvents, type UnixFdSocketOptions } from './fd-socket.js';
export { releaseFreeHeapMemory } from './memory.js';
export { isUnixFdSupported, unixSupportError } from './native.js';
