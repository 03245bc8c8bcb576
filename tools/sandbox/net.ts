// Small network helpers shared by the sandboxes and test servers: a free port, and waiting until a
// freshly started server accepts connections (or its process died trying).
import type { ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether a UNIX socket path, or a TCP host and port, accepts a connection now. */
export function canConnect(pathOrHost: string, port?: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = port === undefined ? connect(pathOrHost) : connect(port, pathOrHost);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Waits until `child` (a server just started) accepts connections on 127.0.0.1:`port`. Throws
 * with `log()` (what it said) when it exits first or the time is up.
 */
export async function waitForListener(child: ChildProcess, port: number, log: () => string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${child.spawnfile} exited (${child.exitCode ?? child.signalCode}): ${log()}`);
    }
    if (await canConnect('127.0.0.1', port)) return;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${child.spawnfile} did not listen on ${port}: ${log()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
