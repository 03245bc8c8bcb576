// The SASL exchange that opens every D-Bus connection ("Authentication Protocol" in the
// specification): a NUL byte, then CRLF-terminated lines, until BEGIN. Client and server side,
// mechanisms EXTERNAL, DBUS_COOKIE_SHA1 and ANONYMOUS, and NEGOTIATE_UNIX_FD.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { closeFd } from '../unix/index.js';
import { DBusAuthError } from './errors.js';
import type { PeerCredentials, Transport } from './transport.js';

/** The mechanisms this library speaks. */
export type AuthMechanism = 'EXTERNAL' | 'DBUS_COOKIE_SHA1' | 'ANONYMOUS';

/** What a finished exchange established. */
export interface AuthResult {
  /** The server's GUID (from OK). */
  guid: string;
  /** The mechanism that succeeded. */
  mechanism: AuthMechanism;
  /** Both sides agreed to pass file descriptors. */
  unixFd: boolean;
  /** Server side: the uid the peer proved (EXTERNAL, DBUS_COOKIE_SHA1); undefined for ANONYMOUS. */
  uid?: number;
  /** Server side: the peer's SO_PEERCRED credentials, when readable. */
  credentials?: PeerCredentials;
}

const MAX_LINE = 16384;
const MAX_REJECTIONS = 8;
/** Authentication must finish within this time, or the connection is dropped. */
const AUTH_TIMEOUT_MS = 30_000;

const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');
function unhex(s: string): string {
  if (!/^([0-9a-fA-F]{2})*$/.test(s)) throw new DBusAuthError('bad hex data in authentication');
  return Buffer.from(s, 'hex').toString('utf8');
}

// --- Line I/O over a transport -----------------------------------------------------------------

/** Reads CRLF lines from a transport; gives back what follows the last line read. */
class LineChannel {
  private buf: Buffer = Buffer.alloc(0);
  private fds: number[] = [];
  private waiters: Array<{ resolve: (line: string) => void; reject: (e: Error) => void }> = [];
  private failure: Error | undefined;
  private prefix: { length: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;

  constructor(private readonly transport: Transport) {
    transport.setHandlers({
      data: (chunk, fds) => {
        // Descriptors can come with the first message, pipelined behind BEGIN.
        if (fds) this.fds.push(...fds);
        this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
        this.pump();
      },
      drain: () => {},
      close: (err) => this.fail(new DBusAuthError(`connection closed during authentication${err ? `: ${err.message}` : ''}`)),
    });
  }

  private pump(): void {
    if (this.prefix) {
      if (this.buf.length < this.prefix.length) return;
      const p = this.prefix;
      this.prefix = undefined;
      const head = this.buf.subarray(0, p.length);
      this.buf = this.buf.subarray(p.length);
      p.resolve(head);
    }
    while (this.waiters.length > 0) {
      const end = this.buf.indexOf('\r\n');
      if (end < 0) {
        if (this.buf.length > MAX_LINE) this.fail(new DBusAuthError('authentication line too long'));
        return;
      }
      const line = this.buf.subarray(0, end).toString('latin1');
      this.buf = this.buf.subarray(end + 2);
      (this.waiters.shift() as { resolve: (l: string) => void }).resolve(line);
    }
  }

  fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiters.splice(0)) w.reject(err);
    this.prefix?.reject(err);
    this.prefix = undefined;
  }

  /** Reads exactly `length` raw bytes (the NUL byte, a nonce). */
  readBytes(length: number): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.prefix = { length, resolve, reject };
      this.pump();
    });
  }

  readLine(): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.pump();
    });
  }

  writeLine(line: string): void {
    this.transport.write(Buffer.from(`${line}\r\n`, 'latin1'));
  }

  /** Closes descriptors that arrived during a failed exchange (nobody will own them). */
  dropFds(): void {
    for (const fd of this.fds.splice(0)) {
      try {
        closeFd(fd);
      } catch {}
    }
  }

  /** Stops reading and gives unread bytes back to the transport for the next reader. */
  release(): void {
    this.transport.setHandlers(null);
    this.transport.unshift(this.buf, this.fds.length > 0 ? this.fds : undefined);
    this.buf = Buffer.alloc(0);
    this.fds = [];
  }
}

function withTimeout<T>(promise: Promise<T>, channel: LineChannel, ms: number): Promise<T> {
  if (!Number.isFinite(ms)) return promise;
  const timer = setTimeout(() => channel.fail(new DBusAuthError('authentication timed out')), ms);
  return promise.finally(() => clearTimeout(timer));
}

// --- Cookie keyring (DBUS_COOKIE_SHA1) ---------------------------------------------------------

/** One secret of a keyring file: `<id> <creation time> <hex cookie>`. */
export interface Cookie {
  id: number;
  created: number;
  cookie: string;
}

// A cookie is handed out for new challenges for 5 minutes and kept 2 minutes longer for
// exchanges under way, the same lifetimes libdbus uses so both can share a keyring.
const NEW_COOKIE_AFTER_S = 300;
const EXPIRE_COOKIE_AFTER_S = 420;
const MAX_CLOCK_SKEW_S = 300;

/** The ~/.dbus-keyrings directory of one user, holding one file per cookie context. */
export class CookieKeyring {
  /** Directory of the keyring files (default: ~/.dbus-keyrings of the running user's passwd entry). */
  constructor(readonly dir: string = join(userInfo().homedir, '.dbus-keyrings')) {}

  private static checkContext(context: string): void {
    if (context === '' || /[/\\.\s]/.test(context) || !/^[\x21-\x7e]+$/.test(context)) {
      throw new DBusAuthError(`invalid cookie context "${context}"`);
    }
  }

  /** Reads the cookies of a context; a missing file is an empty keyring. */
  async read(context: string): Promise<Cookie[]> {
    CookieKeyring.checkContext(context);
    let text: string;
    try {
      text = await fsp.readFile(join(this.dir, context), 'latin1');
    } catch {
      return [];
    }
    const cookies: Cookie[] = [];
    for (const line of text.split('\n')) {
      const m = /^(\d+) (\d+) ([0-9a-fA-F]+)$/.exec(line.trim());
      if (m) cookies.push({ id: Number(m[1]), created: Number(m[2]), cookie: m[3] as string });
    }
    return cookies;
  }

  /** The cookie with this id, for the client side. */
  async find(context: string, id: number): Promise<Cookie | undefined> {
    return (await this.read(context)).find((c) => c.id === id);
  }

  /** A fresh cookie for a server challenge: reuses a recent one or adds one (under the lock file). */
  async current(context: string): Promise<Cookie> {
    CookieKeyring.checkContext(context);
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await fsp.chmod(this.dir, 0o700);
    return this.withLock(context, async () => {
      const now = Math.floor(Date.now() / 1000);
      const all = await this.read(context);
      const live = all.filter((c) => c.created <= now + MAX_CLOCK_SKEW_S && now - c.created < EXPIRE_COOKIE_AFTER_S);
      let fresh = live.find((c) => now - c.created < NEW_COOKIE_AFTER_S);
      let changed = live.length !== all.length;
      if (!fresh) {
        let id = 0;
        do id = randomBytes(4).readUInt32LE(0) & 0x7fffffff;
        while (live.some((c) => c.id === id));
        fresh = { id, created: now, cookie: randomBytes(24).toString('hex') };
        live.push(fresh);
        changed = true;
      }
      if (changed) {
        const file = join(this.dir, context);
        const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
        await fsp.writeFile(tmp, live.map((c) => `${c.id} ${c.created} ${c.cookie}\n`).join(''), { mode: 0o600 });
        await fsp.rename(tmp, file);
      }
      return fresh;
    });
  }

  // The lock file keeps two servers from adding cookies at the same time; a lock left by a dead
  // process is taken over after a few tries, as libdbus does.
  private async withLock<T>(context: string, fn: () => Promise<T>): Promise<T> {
    const lock = join(this.dir, `${context}.lock`);
    let handle: fsp.FileHandle | undefined;
    for (let attempt = 0; !handle; attempt++) {
      try {
        handle = await fsp.open(lock, 'wx', 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (attempt >= 16) await fsp.rm(lock, { force: true });
        else await new Promise((r) => setTimeout(r, 25));
      }
    }
    try {
      return await fn();
    } finally {
      await handle.close();
      await fsp.rm(lock, { force: true });
    }
  }
}

const sha1hex = (s: string) => createHash('sha1').update(s, 'latin1').digest('hex');

// --- Client side --------------------------------------------------------------------------------

/** Options of the client side of authentication. */
export interface ClientAuthOptions {
  /** Mechanisms to try, in order (default EXTERNAL, DBUS_COOKIE_SHA1, ANONYMOUS). */
  mechanisms?: AuthMechanism[];
  /** Ask for fd passing (only done when the transport can pass fds). */
  negotiateUnixFd?: boolean;
  /** The server's GUID must be this (from the address's guid= key). */
  expectedGuid?: string;
  /** Keyring for DBUS_COOKIE_SHA1 (default ~/.dbus-keyrings). */
  keyring?: CookieKeyring;
  timeout?: number;
}

/** Runs the client side on a fresh transport; on return the transport is ready for messages. */
export async function authenticateClient(transport: Transport, options: ClientAuthOptions = {}): Promise<AuthResult> {
  const channel = new LineChannel(transport);
  const run = async (): Promise<AuthResult> => {
    transport.write(Buffer.from([0]));
    let candidates = [...(options.mechanisms ?? ['EXTERNAL', 'DBUS_COOKIE_SHA1', 'ANONYMOUS'])];
    const uid = process.getuid?.() ?? 0;
    const tried: string[] = [];
    while (candidates.length > 0) {
      const mechanism = candidates.shift() as AuthMechanism;
      tried.push(mechanism);
      let reply: string;
      if (mechanism === 'EXTERNAL') {
        channel.writeLine(`AUTH EXTERNAL ${hex(String(uid))}`);
        reply = await channel.readLine();
        // A server may ask for the identity in a DATA round: an empty one means "the one you see".
        if (reply.startsWith('DATA')) {
          channel.writeLine('DATA');
          reply = await channel.readLine();
        }
      } else if (mechanism === 'ANONYMOUS') {
        channel.writeLine(`AUTH ANONYMOUS ${hex('libvirt-dbus')}`);
        reply = await channel.readLine();
      } else {
        channel.writeLine(`AUTH DBUS_COOKIE_SHA1 ${hex(String(uid))}`);
        reply = await channel.readLine();
        if (reply.startsWith('DATA ')) {
          const response = await cookieResponse(unhex(reply.slice(5)), options.keyring ?? new CookieKeyring());
          if (response === undefined) channel.writeLine('CANCEL');
          else channel.writeLine(`DATA ${hex(response)}`);
          reply = await channel.readLine();
        }
      }
      if (reply.startsWith('OK ') || reply === 'OK') {
        const guid = reply.slice(3).trim();
        if (!/^[0-9a-fA-F]{32}$/.test(guid)) throw new DBusAuthError(`server sent a bad GUID "${guid}"`);
        if (options.expectedGuid && options.expectedGuid.toLowerCase() !== guid.toLowerCase()) {
          throw new DBusAuthError(`server GUID ${guid} is not the expected ${options.expectedGuid}`);
        }
        let unixFd = false;
        if (options.negotiateUnixFd !== false && transport.canPassFds) {
          channel.writeLine('NEGOTIATE_UNIX_FD');
          const answer = await channel.readLine();
          unixFd = answer === 'AGREE_UNIX_FD';
        }
        channel.writeLine('BEGIN');
        return { guid, mechanism, unixFd };
      }
      if (reply.startsWith('REJECTED')) {
        const offered = reply.split(' ').slice(1);
        candidates = candidates.filter((m) => offered.length === 0 || offered.includes(m));
        continue;
      }
      if (reply.startsWith('ERROR') || reply.startsWith('DATA')) {
        channel.writeLine('CANCEL');
        const after = await channel.readLine();
        if (!after.startsWith('REJECTED')) throw new DBusAuthError(`unexpected answer to CANCEL: ${after}`);
        continue;
      }
      throw new DBusAuthError(`unexpected line from server: ${reply}`);
    }
    throw new DBusAuthError(`server accepted none of the mechanisms ${tried.join(', ')}`);
  };
  try {
    return await withTimeout(run(), channel, options.timeout ?? AUTH_TIMEOUT_MS);
  } catch (err) {
    channel.dropFds();
    throw err;
  } finally {
    channel.release();
  }
}

async function cookieResponse(data: string, keyring: CookieKeyring): Promise<string | undefined> {
  const [context, idText, serverChallenge] = data.split(' ');
  if (!context || !idText || !serverChallenge || !/^\d+$/.test(idText)) return undefined;
  let cookie: Cookie | undefined;
  try {
    cookie = await keyring.find(context, Number(idText));
  } catch {
    return undefined;
  }
  if (!cookie) return undefined;
  const clientChallenge = randomBytes(16).toString('hex');
  return `${clientChallenge} ${sha1hex(`${serverChallenge}:${clientChallenge}:${cookie.cookie}`)}`;
}

// --- Server side --------------------------------------------------------------------------------

/** Options of the server side of authentication. */
export interface ServerAuthOptions {
  guid: string;
  /** Accept ANONYMOUS (default false). */
  allowAnonymous?: boolean;
  /** Accept only peers proven to be the uid running this process (default true). */
  requireSameUser?: boolean;
  /** Mechanisms offered (default: EXTERNAL where credentials are readable, DBUS_COOKIE_SHA1, and ANONYMOUS when allowed). */
  mechanisms?: AuthMechanism[];
  keyring?: CookieKeyring;
  /** Cookie context (default org_freedesktop_general). */
  cookieContext?: string;
  /** A nonce-tcp listener's nonce, which the client sends before the NUL byte. */
  nonce?: Buffer;
  timeout?: number;
}

/** Runs the server side on an accepted transport; on return the transport is ready for messages. */
export async function authenticateServer(transport: Transport, options: ServerAuthOptions): Promise<AuthResult> {
  const channel = new LineChannel(transport);
  const credentials = transport.peerCredentials();
  const ownUid = process.getuid?.() ?? 0;
  const requireSameUser = options.requireSameUser ?? true;
  let mechanisms: AuthMechanism[] = options.mechanisms ?? [
    'EXTERNAL',
    'DBUS_COOKIE_SHA1',
    ...(options.allowAnonymous ? (['ANONYMOUS'] as const) : []),
  ];
  // Without SO_PEERCRED an EXTERNAL claim cannot be checked, so it is not offered at all.
  if (!credentials) mechanisms = mechanisms.filter((m) => m !== 'EXTERNAL');
  if (!options.allowAnonymous) mechanisms = mechanisms.filter((m) => m !== 'ANONYMOUS');
  const rejected = `REJECTED ${mechanisms.join(' ')}`;
  const keyring = options.keyring ?? new CookieKeyring();
  const context = options.cookieContext ?? 'org_freedesktop_general';

  const acceptUid = (uid: number) => !requireSameUser || uid === ownUid;
  const parseIdentity = (identity: string): number | undefined => {
    if (/^\d+$/.test(identity)) return Number(identity);
    const me = userInfo();
    return identity === me.username ? me.uid : undefined;
  };

  const run = async (): Promise<AuthResult> => {
    if (options.nonce) {
      const nonce = await channel.readBytes(options.nonce.length);
      if (!timingSafeEqual(nonce, options.nonce)) throw new DBusAuthError('wrong nonce');
    }
    const nul = await channel.readBytes(1);
    if (nul[0] !== 0) throw new DBusAuthError('authentication did not start with a NUL byte');
    let failures = 0;
    let accepted: { mechanism: AuthMechanism; uid?: number } | undefined;
    let unixFd = false;
    // A mechanism waiting for a DATA line, and what to do with it.
    let pending: ((data: string | undefined) => Promise<void>) | undefined;

    const reject = () => {
      pending = undefined;
      if (++failures > MAX_REJECTIONS) throw new DBusAuthError('too many failed authentication attempts');
      channel.writeLine(rejected);
    };
    const ok = (mechanism: AuthMechanism, uid?: number) => {
      pending = undefined;
      accepted = { mechanism, uid };
      channel.writeLine(`OK ${options.guid}`);
    };

    const external = async (identity: string | undefined) => {
      if (!credentials) return reject();
      const claimed = identity === undefined || identity === '' ? credentials.uid : parseIdentity(identity);
      if (claimed === undefined || claimed !== credentials.uid || !acceptUid(claimed)) return reject();
      ok('EXTERNAL', claimed);
    };
    const cookieStep1 = async (identity: string) => {
      const uid = parseIdentity(identity);
      // Only our own keyring can be checked, so only our own user can pass.
      if (uid === undefined || uid !== ownUid || !acceptUid(uid)) return reject();
      const cookie = await keyring.current(context);
      const serverChallenge = randomBytes(16).toString('hex');
      channel.writeLine(`DATA ${hex(`${context} ${cookie.id} ${serverChallenge}`)}`);
      pending = async (data) => {
        const [clientChallenge, digest] = (data ?? '').split(' ');
        if (!clientChallenge || !digest) return reject();
        const expected = sha1hex(`${serverChallenge}:${clientChallenge}:${cookie.cookie}`);
        if (expected.length === digest.length && timingSafeEqual(Buffer.from(expected), Buffer.from(digest.toLowerCase()))) {
          ok('DBUS_COOKIE_SHA1', uid);
        } else reject();
      };
    };

    for (;;) {
      const line = await channel.readLine();
      const space = line.indexOf(' ');
      const command = space < 0 ? line : line.slice(0, space);
      const args = space < 0 ? '' : line.slice(space + 1);
      if (accepted) {
        if (command === 'BEGIN') return { guid: options.guid, ...accepted, unixFd, credentials };
        if (command === 'NEGOTIATE_UNIX_FD') {
          if (transport.canPassFds) {
            unixFd = true;
            channel.writeLine('AGREE_UNIX_FD');
          } else channel.writeLine('ERROR "file descriptor passing is not supported on this transport"');
          continue;
        }
        if (command === 'CANCEL' || command === 'ERROR') {
          accepted = undefined;
          unixFd = false;
          reject();
          continue;
        }
        channel.writeLine('ERROR "expected BEGIN"');
        continue;
      }
      switch (command) {
        case 'AUTH': {
          const [mech, initial] = args.split(' ');
          if (!mech || !mechanisms.includes(mech as AuthMechanism)) {
            reject();
            break;
          }
          let identity: string | undefined;
          try {
            identity = initial === undefined ? undefined : unhex(initial);
          } catch {
            reject();
            break;
          }
          if (mech === 'ANONYMOUS') ok('ANONYMOUS');
          else if (mech === 'EXTERNAL') {
            if (identity === undefined) {
              channel.writeLine('DATA');
              pending = external;
            } else await external(identity);
          } else if (identity === undefined) {
            channel.writeLine('DATA');
            pending = async (data) => (data === undefined ? reject() : cookieStep1(data));
          } else await cookieStep1(identity);
          break;
        }
        case 'DATA': {
          if (!pending) {
            channel.writeLine('ERROR "no mechanism waits for data"');
            break;
          }
          let data: string | undefined;
          try {
            data = args === '' ? '' : unhex(args);
          } catch {
            reject();
            break;
          }
          const step = pending;
          pending = undefined;
          await step(data);
          break;
        }
        case 'CANCEL':
        case 'ERROR':
          reject();
          break;
        case 'BEGIN':
          throw new DBusAuthError('BEGIN before authentication succeeded');
        default:
          channel.writeLine('ERROR "unknown command"');
          if (++failures > MAX_REJECTIONS) throw new DBusAuthError('too many bad authentication lines');
      }
    }
  };
  try {
    return await withTimeout(run(), channel, options.timeout ?? AUTH_TIMEOUT_MS);
  } catch (err) {
    channel.dropFds();
    throw err;
  } finally {
    channel.release();
  }
}
