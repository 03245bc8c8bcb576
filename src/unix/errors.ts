// Typed errors of src/unix: "no native support here" versus "the system call failed".
import { getSystemErrorName } from 'node:util';

/** The native addon is missing (not built, failed to load, or disabled by LIBVIRT_DBUS_NO_NATIVE=1). */
export class UnixSupportError extends Error {
  readonly code = 'ERR_UNIX_UNSUPPORTED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnixSupportError';
  }
}

/** A UNIX socket system call failed; `code` is the errno name (EPIPE, EBADF, …), or ECTRUNC for lost descriptors. */
export class UnixSocketError extends Error {
  constructor(
    readonly code: string,
    readonly syscall: string,
    message: string,
    readonly errno?: number,
  ) {
    super(message);
    this.name = 'UnixSocketError';
  }

  /** Builds the error for a negative errno value as returned by the addon. */
  static fromErrno(negErrno: number, syscall: string): UnixSocketError {
    let code: string;
    try {
      code = getSystemErrorName(negErrno);
    } catch {
      code = `E${-negErrno}`;
    }
    return new UnixSocketError(code, syscall, `${syscall} failed: ${code}`, negErrno);
  }
}
