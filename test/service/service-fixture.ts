// Runs our bin/libvirt-dbus as a child process on a private bus, as a client would meet it.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DBusPeer } from './peer.js';

/** Path of bin/libvirt-dbus. */
export const BIN = fileURLToPath(new URL('../../../bin/libvirt-dbus', import.meta.url));

/** A running service. */
export interface RunningService {
  child: ChildProcess;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** First line it wrote to stdout (the --listen address), once there. */
  stdoutLine(): Promise<string>;
  /** Stops it with SIGTERM and resolves with its exit code. */
  stop(): Promise<number | null>;
}

/** Starts bin/libvirt-dbus with `args` and DBUS_SESSION_BUS_ADDRESS=`busAddress`; waits until org.libvirt is owned. */
export async function startService(busAddress: string | undefined, args: string[], waitForName = true): Promise<RunningService> {
  const env = { ...process.env };
  if (busAddress) env.DBUS_SESSION_BUS_ADDRESS = busAddress;
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (b: Buffer) => {
      stdout += b.toString();
      const nl = stdout.indexOf('\n');
      if (nl >= 0) resolve(stdout.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`service exited (${code}): ${stderr}`)));
  });
  firstLine.catch(() => {});
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const svc: RunningService = {
    child,
    stderr: () => stderr,
    stdoutLine: () => firstLine,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
  if (waitForName && busAddress) {
    const peer = new DBusPeer(busAddress);
    try {
      const deadline = Date.now() + 20_000;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`service exited (${child.exitCode}): ${stderr}`);
        const [has] = await peer.call(
          '/org/freedesktop/DBus',
          'org.freedesktop.DBus',
          'NameHasOwner',
          's',
          ['org.libvirt'],
          'org.freedesktop.DBus',
        );
        if (has === true) break;
        if (Date.now() > deadline) throw new Error(`service did not take org.libvirt: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } catch (err) {
      await svc.stop();
      throw err;
    } finally {
      await peer.close();
    }
  }
  return svc;
}
