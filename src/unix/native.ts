// Loads the optional addon (src/unix/native/unix.c) once, remembering why it is unavailable if it is.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UnixSupportError } from './errors.js';

/** The addon's surface; failures come back as negative errno values (see unix.c). */
export interface NativeUnix {
  getPeerCred(fd: number): [number, number, number] | number;
  recvMsg(fd: number, buf: Buffer, fdsOut: number[], flagsOut: Int32Array): number;
  sendMsg(fd: number, buf: Buffer, fds?: readonly number[]): number;
  socketPair(): [number, number] | number;
  dupFd(fd: number): number;
  closeFd(fd: number): number;
  shutdownFd(fd: number, how: number): number;
  abstractSocket(name: Buffer, listen: boolean): number;
  trimHeap(): number;
  Poller: new (fd: number, callback: (status: number, events: number) => void) => NativePoller;
  UV_READABLE: number;
  UV_WRITABLE: number;
  UV_DISCONNECT: number;
  FLAG_CTRUNC: number;
  MAX_FDS: number;
}

/** A libuv uv_poll_t watching one fd; `close()` must be called before the fd is closed. */
export interface NativePoller {
  start(events: number): number;
  stop(): number;
  close(): void;
  ref(): void;
  unref(): void;
}

// Relative to dist/src/unix/ (compiled) and to src/unix/ (run from source).
const candidates = ['../../../src/unix/native/build/Release/unix_fd.node', './native/build/Release/unix_fd.node'];

let addon: NativeUnix | undefined;
let loadError: UnixSupportError | undefined;
let loaded = false;

function load(): void {
  loaded = true;
  if (process.env.LIBVIRT_DBUS_NO_NATIVE === '1') {
    loadError = new UnixSupportError('native UNIX socket support is disabled by LIBVIRT_DBUS_NO_NATIVE=1');
    return;
  }
  if (process.platform === 'win32') {
    loadError = new UnixSupportError('UNIX socket credentials and fd passing are not available on Windows');
    return;
  }
  const path = candidates.map((c) => fileURLToPath(new URL(c, import.meta.url))).find((p) => existsSync(p));
  if (!path) {
    loadError = new UnixSupportError(
      'native UNIX socket addon is not built (run `npm run build:native`; needs python3, make and a C compiler)',
    );
    return;
  }
  try {
    // process.dlopen, not require(): it skips the CommonJS loader's path and package.json lookups.
    const module = { exports: {} as NativeUnix };
    process.dlopen(module, path);
    addon = module.exports;
  } catch (cause) {
    loadError = new UnixSupportError(`native UNIX socket addon failed to load: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/** The addon, or undefined when unavailable. */
export function nativeUnix(): NativeUnix | undefined {
  if (!loaded) load();
  return addon;
}

/** The addon, or throws UnixSupportError saying why it is unavailable. */
export function requireNative(): NativeUnix {
  const n = nativeUnix();
  if (!n) throw loadError!;
  return n;
}

/** True when peer credentials and fd passing work in this process. */
export function isUnixFdSupported(): boolean {
  return nativeUnix() !== undefined;
}

/** Why isUnixFdSupported() is false, or undefined when it is true. */
export function unixSupportError(): UnixSupportError | undefined {
  nativeUnix();
  return loadError;
}
