// org.libvirt.Domain methods for a domain's consoles, channels and screens (issue 13 item 8), none
// of them in libvirt-dbus 1.4.1. libvirt hands a console or channel out as a data stream of our
// libvirt connection; a D-Bus client cannot take part in that, so the service joins the stream to
// one end of a socket pair and gives the caller the other end as a unix fd (`h`), the way
// OpenGraphicsFD passes on the daemon's descriptor. A screenshot is read from its stream whole.

import type { LibvirtConnection, LibvirtStream } from '../libvirt/index.js';
import { closeFd, UnixFdSocket } from '../unix/index.js';
import { defineMethods } from './declare.js';
import { onDomain } from './domain-call.js';

/** The order of these methods after the other additions to org.libvirt.Domain. */
export const DOMAIN_CONSOLE_ORDER = ['OpenConsole', 'OpenChannel', 'Screenshot'] as const;

/** Methods of org.libvirt.Domain that open consoles and channels and take screenshots. */
export const consoleMethods = defineMethods({
  OpenConsole: {
    in: 'devName:s flags:u',
    out: 'fd:h',
    libvirt: 'virDomainOpenConsole',
    emptyIsNull: ['devName'],
    note: 'The console comes as a unix socket: bytes written to it go to the console, and the console’s output can be read from it; closing it closes the console.',
    call: onDomain(async ({ conn, ref: dom }, a) => [
      await handOut(conn, () => conn.domainOpenConsole({ dom, dev_name: a.devName, flags: a.flags })),
    ]),
  },
  OpenChannel: {
    in: 'name:s flags:u',
    out: 'fd:h',
    libvirt: 'virDomainOpenChannel',
    emptyIsNull: ['name'],
    note: 'The channel comes as a unix socket, as with OpenConsole.',
    call: onDomain(async ({ conn, ref: dom }, a) => [
      await handOut(conn, () => conn.domainOpenChannel({ dom, name: a.name, flags: a.flags })),
    ]),
  },
  Screenshot: {
    in: 'screen:u flags:u',
    out: 'mimeType:s image:ay',
    libvirt: 'virDomainScreenshot',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const { result, stream } = await conn.withStream(() => conn.domainScreenshot({ dom, screen: a.screen, flags: a.flags }));
      // The protocol lets the daemon leave the type out (NULL in C); D-Bus has no NULL string.
      return [result.mime ?? '', await stream.readAll()];
    }),
  },
});

/**
 * Opens a stream with `open` and returns the descriptor of a socket joined to it. Our copy of that
 * descriptor is closed on the next turn of the loop: the reply is written in the turn the handler
 * resolves in, and the transport either sends the descriptor at once (the kernel then holds it) or
 * queues a duplicate. If no reply could carry it (a peer that did not negotiate fd passing; on a
 * bus, dbus-daemon refusing to forward it), the pair then ends, and with it the stream, so the
 * console is not left held.
 */
async function handOut(conn: LibvirtConnection, open: () => Promise<void>): Promise<number> {
  // The pair comes first: without fd passing in this process nothing is opened in libvirt.
  const [ours, theirs] = UnixFdSocket.pair();
  let stream: LibvirtStream;
  try {
    ({ stream } = await conn.withStream(open));
  } catch (err) {
    ours.destroy();
    theirs.destroy();
    throw err;
  }
  splice(stream, ours);
  setImmediate(() => theirs.destroy());
  return theirs.fd;
}

/**
 * Joins a libvirt stream and a socket both ways, each direction waiting for the other side to take
 * its bytes. The daemon ending the stream ends the socket (the caller reads the end after the last
 * byte); the caller closing the socket finishes the stream; an error on either side, or the loss of
 * the libvirt connection (which fails the stream), ends both at once.
 */
function splice(stream: LibvirtStream, sock: UnixFdSocket): void {
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    sock.destroy();
    // Nothing to do if the stream already ended; otherwise the daemon gives the device up.
    stream.abort().catch(() => undefined);
  };
  // Errors are followed by 'close', where both ends are stopped.
  sock.on('error', () => undefined);
  sock.on('close', stop);

  sock.on('data', (chunk, fds) => {
    for (const fd of fds) closeFd(fd); // a console carries bytes only
    sock.pause();
    stream.write(chunk).then(() => {
      if (!sock.destroyed) sock.resume();
    }, stop);
  });
  // The caller closed (or shut down writing): a console has no half-closed state, so finish it.
  sock.on('end', () => {
    stream.finish().catch(stop);
  });

  const toCaller = async (): Promise<void> => {
    for (;;) {
      const item = await stream.read();
      if (item === null || sock.destroyed) break;
      // Holes only come from sparse volume streams, never from a character device.
      if (Buffer.isBuffer(item) && !sock.write(item)) await drainedOrClosed(sock);
    }
    if (stream.eof) await stream.finish().catch(() => undefined);
    if (!sock.destroyed) sock.end();
  };
  toCaller().catch(stop);
}

/** Resolves when `sock` has room again or is gone. */
function drainedOrClosed(sock: UnixFdSocket): Promise<void> {
  if (sock.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      sock.off('drain', done);
      sock.off('close', done);
      resolve();
    };
    sock.on('drain', done);
    sock.on('close', done);
  });
}
