// Dialing a libvirt daemon, as libvirt's remote driver does for each transport: a UNIX socket
// (starting a user's own daemon when nothing listens there yet), TCP, TLS (with the daemon's
// verification byte after the handshake), and the ssh/ext transports' command, whose standard
// input and output are the wire. The result is a Wire, ready for the RPC core.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { LibvirtConnectError, LibvirtError, LibvirtProtocolError, LibvirtUnsupportedError } from './errors.js';
import type { ConnectPlan, ConnectTarget } from './uri.js';
import { commandWire, fdWire, isFdPassingAvailable, netWire, unixSupportMessage, type Wire } from './wire.js';

/** How long connecting may take by default (OpenOptions.connectTimeout). */
const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

/** The open options about dialing (part of OpenOptions). */
export interface DialOptions {
  /** Give up connecting after this many milliseconds. Default 30000. */
  connectTimeout?: number;
  /**
   * Pass file descriptors (CALL_WITH_FDS / REPLY_WITH_FDS) over a UNIX socket, through src/unix's
   * native addon. 'auto' (default): when the addon is available and the transport is unix.
   */
  fdPassing?: boolean | 'auto';
}

/** Opens the wire to the daemon of `plan`. Throws LibvirtConnectError, or LibvirtUnsupportedError for fd passing. */
export async function dial(plan: ConnectPlan, options: DialOptions): Promise<Wire> {
  const target = plan.target;
  if ('argv' in target) return spawnWire(target.argv);
  const withFds = wantFds(target.transport, options.fdPassing ?? 'auto');
  const timeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const socket =
    target.transport === 'unix' && target.autostart
      ? await connectAutostarting(target.path, target.autostart, timeout)
      : await connectSocket(target, timeout);
  try {
    return withFds ? await fdWire(socket) : netWire(socket);
  } catch (e) {
    socket.destroy();
    throw asProtocolError(e);
  }
}

/** Whether to pass descriptors on this transport; throws when they are demanded where they cannot be. */
function wantFds(transport: string, want: boolean | 'auto'): boolean {
  if (transport !== 'unix') {
    if (want === true) throw fdPassingError(transport);
    return false;
  }
  if (want === 'auto') return isFdPassingAvailable();
  if (want === true && !isFdPassingAvailable()) throw fdPassingError('unix');
  return want;
}

/** The error for descriptors that cannot travel on this transport (or without src/unix's addon). */
export function fdPassingError(transport: string): LibvirtUnsupportedError {
  const why =
    transport !== 'unix'
      ? `file descriptors cannot be passed over the ${transport} transport`
      : `file descriptor passing needs src/unix's native addon: ${unixSupportMessage()}`;
  return new LibvirtUnsupportedError('fd-passing', why);
}

/** A LibvirtError as it is, anything else as a LibvirtProtocolError (with the original as its cause). */
export function asProtocolError(e: unknown): LibvirtError {
  if (e instanceof LibvirtError) return e;
  const err = new LibvirtProtocolError(e instanceof Error ? e.message : String(e));
  if (e instanceof Error) err.cause = e;
  return err;
}

/**
 * Connects to a user's daemon socket, starting the daemon when nothing listens there yet, as
 * libvirt's client does: `daemon --timeout=120`, detached (it outlives us and exits by itself when
 * idle), then connecting again until it is up. A second daemon started by a racing client finds the
 * first one's pid file locked and exits.
 */
async function connectAutostarting(path: string, daemon: string, timeoutMs: number): Promise<net.Socket> {
  const deadline = Date.now() + timeoutMs;
  let child: ChildProcess | undefined;
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    try {
      return await connectSocket({ transport: 'unix', path }, Math.max(1, deadline - Date.now()));
    } catch (e) {
      const errno = e instanceof LibvirtConnectError ? e.errno : undefined;
      if (errno !== 'ENOENT' && errno !== 'ECONNREFUSED') throw e;
      if (child && child.exitCode !== null) {
        throw new LibvirtConnectError(`${daemon} exited (${child.exitCode}) without listening at ${path}`, errno);
      }
      if (Date.now() >= deadline) {
        throw new LibvirtConnectError(`${daemon} did not come up at ${path} within ${timeoutMs / 1000} s`, errno);
      }
    }
    child ??= await startDaemon(daemon);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Spawns a command and resolves once it runs; a command that cannot start is a LibvirtConnectError. */
function spawnStarted<P extends ChildProcess>(start: () => P, command: string): Promise<P> {
  return new Promise((resolve, reject) => {
    const child = start();
    const onError = (err: NodeJS.ErrnoException) => {
      reject(new LibvirtConnectError(`cannot run ${command}: ${err.message}`, err.code));
    };
    child.once('error', onError);
    child.once('spawn', () => {
      child.off('error', onError);
      resolve(child);
    });
  });
}

/** Starts `daemon --timeout=120` in its own session, not tied to us. */
async function startDaemon(daemon: string): Promise<ChildProcess> {
  const child = await spawnStarted(() => spawn(daemon, ['--timeout=120'], { detached: true, stdio: 'ignore' }), daemon);
  child.unref();
  return child;
}

/** Starts the command of an ssh or ext target; its standard input and output are the wire. */
async function spawnWire(argv: string[]): Promise<Wire> {
  const [command, ...args] = argv as [string, ...string[]];
  const child = await spawnStarted(() => spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] }), command);
  return commandWire(child, command);
}

/** Opens the socket of a connect target (unix, tcp or tls). */
function connectSocket(target: Exclude<ConnectTarget, { argv: string[] }>, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    let s: net.Socket;
    let readyEvent = 'connect';
    const where = target.transport === 'unix' ? target.path : `${target.host}:${target.port}`;
    try {
      if (target.transport === 'unix') s = net.connect(target.path);
      else if (target.transport === 'tcp') s = net.connect(target.port, target.host);
      else {
        let ca: Buffer;
        let cert: Buffer;
        let key: Buffer;
        try {
          ca = readFileSync(target.caFile);
          cert = readFileSync(target.certFile);
          key = readFileSync(target.keyFile);
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          reject(new LibvirtConnectError(`cannot read TLS certificates: ${err.message}`, err.code));
          return;
        }
        readyEvent = 'secureConnect';
        s = tls.connect({
          host: target.host,
          port: target.port,
          ca,
          cert,
          key,
          rejectUnauthorized: target.verify,
          servername: net.isIP(target.host) ? undefined : target.host,
        });
      }
    } catch (e) {
      reject(new LibvirtConnectError(`cannot connect to ${where}: ${(e as Error).message}`));
      return;
    }
    const timer = setTimeout(() => {
      s.destroy();
      reject(new LibvirtConnectError(`timed out connecting to ${where}`, 'ETIMEDOUT'));
    }, timeoutMs);
    const onError = (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new LibvirtConnectError(`cannot connect to ${where}: ${err.message}`, err.code));
    };
    s.once('error', onError);
    const settle = (refusal?: string) => {
      clearTimeout(timer);
      s.off('error', onError);
      if (refusal === undefined) return resolve(s);
      s.destroy();
      reject(new LibvirtConnectError(`server verification (of our certificate or IP address) failed at ${where}: ${refusal}`, 'EACCES'));
    };
    s.once(readyEvent, () => {
      if (target.transport !== 'tls') return settle();
      // After the handshake libvirtd checks our certificate (and address, and its allowed DN list)
      // and says so with one byte: 1 when we pass. Anything else, or the socket closing, is a refusal.
      const onEnd = () => settle('the server closed the connection');
      s.once('end', onEnd);
      s.once('data', (chunk: Buffer) => {
        s.off('end', onEnd);
        s.pause();
        if (chunk[0] !== 1) return settle(`it answered ${chunk[0]}`);
        if (chunk.length > 1) s.unshift(chunk.subarray(1));
        settle();
      });
    });
  });
}
