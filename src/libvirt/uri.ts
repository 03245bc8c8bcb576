// Connection URIs, interpreted the way libvirt's remote driver does (remote_driver.c doRemoteOpen,
// remote_sockets.c): `driver[+transport]://[user@][host][:port]/path[?params][#fragment]`.
// Parameters the remote driver itself consumes (socket, no_verify, …) are stripped from the
// name sent to the daemon in REMOTE_PROC_CONNECT_OPEN; every other parameter passes through.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LibvirtUriError } from './errors.js';

/** Transports libvirt knows; ssh, libssh and libssh2 all run the OpenSSH client here. */
export type Transport = 'tls' | 'unix' | 'ssh' | 'libssh2' | 'ext' | 'tcp' | 'libssh';
const TRANSPORTS: readonly Transport[] = ['tls', 'unix', 'ssh', 'libssh2', 'ext', 'tcp', 'libssh'];

/** A URI split into libvirt's parts. */
export interface LibvirtUri {
  /** The whole scheme, e.g. 'qemu+tcp' */
  scheme: string;
  /** The driver part of the scheme, e.g. 'qemu' */
  driver: string;
  /** The explicit transport of the scheme (lowercased), if any */
  transport?: Transport;
  user?: string;
  host?: string;
  port?: number;
  /** The path, e.g. '/system'; '' when absent */
  path: string;
  /** Query parameters in order, values URI-decoded */
  params: [string, string][];
  fragment?: string;
}

/** Parameters consumed by the remote driver; never forwarded to the daemon. */
export const REMOTE_ONLY_PARAMS: readonly string[] = [
  'name',
  'command',
  'socket',
  'auth',
  'sshauth',
  'netcat',
  'keyfile',
  'pkipath',
  'known_hosts',
  'known_hosts_verify',
  'no_sanity',
  'no_verify',
  'no_tty',
  'authfile',
  'mode',
  'proxy',
  'tls_priority',
  'tls',
];

const URI_RE = /^([A-Za-z][A-Za-z0-9+.-]*):(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/;

/** Parses a libvirt connection URI; throws LibvirtUriError when it is not one. */
export function parseUri(text: string): LibvirtUri {
  const m = URI_RE.exec(text);
  if (!m) throw new LibvirtUriError(`cannot parse URI '${text}'`);
  const [, scheme, authority, rawPath, query, fragment] = m;
  const plus = scheme.indexOf('+');
  const driver = plus >= 0 ? scheme.slice(0, plus) : scheme;
  let transport: Transport | undefined;
  if (plus >= 0) {
    const t = scheme.slice(plus + 1).toLowerCase();
    if (!(TRANSPORTS as readonly string[]).includes(t)) {
      throw new LibvirtUriError(`transport in URL not recognised (should be tls|unix|ssh|ext|tcp|libssh2|libssh): '${t}'`);
    }
    transport = t as Transport;
  }
  const uri: LibvirtUri = { scheme, driver, path: pctDecode(rawPath), params: [] };
  if (transport) uri.transport = transport;
  if (authority) parseAuthority(authority, uri, text);
  if (query) uri.params = parseParams(query);
  if (fragment !== undefined) uri.fragment = pctDecode(fragment);
  if (uri.transport === 'unix' && uri.host) {
    throw new LibvirtUriError(`using unix socket and remote server '${uri.host}' is not supported`);
  }
  return uri;
}

function parseAuthority(auth: string, uri: LibvirtUri, text: string): void {
  let rest = auth;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    uri.user = pctDecode(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  let host = rest;
  let port: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw new LibvirtUriError(`unterminated IPv6 address in URI '${text}'`);
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after.startsWith(':')) port = after.slice(1);
    else if (after) throw new LibvirtUriError(`cannot parse URI '${text}'`);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon >= 0) {
      host = rest.slice(0, colon);
      port = rest.slice(colon + 1);
    }
  }
  if (host) uri.host = pctDecode(host);
  if (port) {
    if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535) {
      throw new LibvirtUriError(`invalid port '${port}' in URI '${text}'`);
    }
    uri.port = Number(port);
  }
}

/** Splits a query into name/value pairs the way libvirt does (& or ; separated, + is a space). */
export function parseParams(query: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of query.split(/[&;]/)) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = eq >= 0 ? part.slice(0, eq) : part;
    const value = eq >= 0 ? part.slice(eq + 1) : '';
    out.push([pctDecode(name.replace(/\+/g, ' ')), pctDecode(value.replace(/\+/g, ' '))]);
  }
  return out;
}

function pctDecode(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    throw new LibvirtUriError(`invalid percent-encoding in '${s}'`);
  }
}

function pctEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The last value of a parameter (libvirt keeps the last one), compared case-insensitively. */
export function getParam(uri: LibvirtUri, name: string): string | undefined {
  let v: string | undefined;
  for (const [k, val] of uri.params) if (k.toLowerCase() === name) v = val;
  return v;
}

/** The URI the daemon expects in REMOTE_PROC_CONNECT_OPEN: no transport, host, user, port or remote-only params. */
export function daemonUri(uri: LibvirtUri): string {
  const explicit = getParam(uri, 'name');
  if (explicit !== undefined) return explicit;
  if (uri.driver === 'remote') return ''; // let the daemon pick its default driver
  const kept = uri.params.filter(([k]) => !REMOTE_ONLY_PARAMS.includes(k.toLowerCase()));
  let s = `${uri.driver}://${uri.path.split('/').map(pctEncodePath).join('/')}`;
  if (kept.length) s += `?${kept.map(([k, v]) => `${pctEncode(k)}=${pctEncode(v)}`).join('&')}`;
  if (uri.fragment !== undefined) s += `#${pctEncode(uri.fragment)}`;
  return s;
}

function pctEncodePath(seg: string): string {
  return encodeURIComponent(seg).replace(/%3A/gi, ':').replace(/%40/g, '@');
}

/** Where and how to connect, worked out from a URI. */
export type ConnectTarget =
  /** autostart: the daemon to start (with --timeout=120) when nothing listens at path yet */
  | { transport: 'unix'; path: string; autostart?: string }
  | { transport: 'tcp'; host: string; port: number }
  /** A command whose standard input and output carry the protocol (ssh to a proxy, or ext's command=) */
  | { transport: 'ssh' | 'ext'; argv: string[] }
  | {
      transport: 'tls';
      host: string;
      port: number;
      caFile: string;
      certFile: string;
      keyFile: string;
      verify: boolean;
    };

/** Everything the connection needs from a URI. */
export interface ConnectPlan {
  uri: LibvirtUri;
  target: ConnectTarget;
  /** Name sent in REMOTE_PROC_CONNECT_OPEN */
  name: string;
  /** The auth= parameter: the one authentication type the user asks for */
  auth?: string;
}

/** Context of socket resolution (the process's by default; tests pass their own). */
export interface ResolveContext {
  readonly?: boolean;
  env?: Record<string, string | undefined>;
  euid?: number;
  exists?: (path: string) => boolean;
  home?: string;
}

/** Default TCP ports of libvirtd (LIBVIRTD_TLS_PORT, LIBVIRTD_TCP_PORT). */
export const LIBVIRTD_TLS_PORT = 16514;
export const LIBVIRTD_TCP_PORT = 16509;

/** Works out transport, address and daemon-side URI as libvirt's remote driver would. */
export function resolveUri(input: string | LibvirtUri, ctx: ResolveContext = {}): ConnectPlan {
  const uri = typeof input === 'string' ? parseUri(input) : input;
  const transport: Transport = uri.transport ?? (uri.host ? 'tls' : 'unix');
  const name = daemonUri(uri);
  const auth = getParam(uri, 'auth');
  const plan = (target: ConnectTarget): ConnectPlan => (auth !== undefined ? { uri, target, name, auth } : { uri, target, name });
  if (transport === 'ext') {
    const command = getParam(uri, 'command');
    if (!command) throw new LibvirtUriError(`the ext transport needs a command= parameter: '${uri.scheme}://…'`);
    return plan({ transport: 'ext', argv: [command] });
  }
  if (transport === 'ssh' || transport === 'libssh' || transport === 'libssh2') {
    return plan({ transport: 'ssh', argv: sshArgv(uri, name, ctx) });
  }
  if (transport === 'unix') {
    const socket = getParam(uri, 'socket');
    if (socket !== undefined) return plan({ transport: 'unix', path: socket });
    const { path, direct } = unixSocket(uri, ctx);
    const autostart = autostartDaemon(uri, direct, ctx);
    return plan(autostart ? { transport: 'unix', path, autostart } : { transport: 'unix', path });
  }
  const host = uri.host ?? 'localhost';
  if (transport === 'tcp') return plan({ transport: 'tcp', host, port: uri.port ?? LIBVIRTD_TCP_PORT });
  const pki = tlsPaths(getParam(uri, 'pkipath'), ctx);
  return plan({
    transport: 'tls',
    host,
    port: uri.port ?? LIBVIRTD_TLS_PORT,
    ...pki,
    verify: !flagParam(uri, 'no_verify'),
  });
}

/** A word for a POSIX shell, single-quoted. */
function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Whether a boolean URI parameter (no_verify=1, no_tty=1) is set. */
function flagParam(uri: LibvirtUri, name: string): boolean {
  const v = getParam(uri, name);
  return v !== undefined && v !== '0';
}

/**
 * The OpenSSH command line of an ssh URI, as libvirt's remote driver builds it: ssh to the host,
 * where a shell runs virt-ssh-helper for the daemon URI (proxy=native), or netcat on the daemon's
 * UNIX socket (proxy=netcat), or the helper when the host has it and netcat otherwise (auto).
 */
export function sshArgv(uri: LibvirtUri, name: string, ctx: ResolveContext = {}): string[] {
  const proxy = getParam(uri, 'proxy') ?? 'auto';
  if (proxy !== 'auto' && proxy !== 'netcat' && proxy !== 'native') {
    throw new LibvirtUriError(`unknown proxy mode '${proxy}' (should be auto|netcat|native)`);
  }
  const readonly = ctx.readonly === true;
  const helper = `virt-ssh-helper${readonly ? ' -r' : ''} ${shellQuote(name || 'qemu:///system')}`;
  // The remote daemon's socket: socket=, else the legacy libvirtd socket of a privileged daemon
  // (the client cannot look at the remote host; a session daemon's socket depends on its user).
  let socket = getParam(uri, 'socket');
  if (!socket && uri.path !== '/session') socket = `/var/run/libvirt/libvirt-sock${readonly ? '-ro' : ''}`;
  if (proxy === 'netcat' && !socket) throw new LibvirtUriError('proxy=netcat to a session daemon needs a socket= parameter');
  const netcat = shellQuote(getParam(uri, 'netcat') ?? 'nc');
  // OpenBSD netcat only exits at EOF of its input with -q0; other netcats have no -q.
  const nc = `if ${netcat} -q 2>&1 | grep 'requires an argument' >/dev/null 2>&1; then ARG=-q0; else ARG=; fi; exec ${netcat} $ARG -U ${shellQuote(socket ?? '')}`;
  const script =
    proxy === 'native' || !socket
      ? `exec ${helper}`
      : proxy === 'netcat'
        ? nc
        : `if command -v virt-ssh-helper >/dev/null 2>&1; then exec ${helper}; fi; ${nc}`;
  const argv = [getParam(uri, 'command') ?? 'ssh'];
  if (uri.port !== undefined) argv.push('-p', String(uri.port));
  if (uri.user) argv.push('-l', uri.user);
  const keyfile = getParam(uri, 'keyfile');
  if (keyfile) argv.push('-i', keyfile);
  argv.push('-T', '-e', 'none');
  if (flagParam(uri, 'no_tty')) argv.push('-o', 'BatchMode=yes');
  if (flagParam(uri, 'no_verify')) argv.push('-o', 'StrictHostKeyChecking=no');
  // libssh/libssh2 take their known_hosts file from the URI; OpenSSH takes it as an option.
  const knownHosts = getParam(uri, 'known_hosts');
  if (knownHosts) argv.push('-o', `UserKnownHostsFile=${knownHosts}`);
  // ssh joins the remote command into one line for the remote user's shell: quote the script.
  argv.push('--', uri.host ?? 'localhost', 'sh', '-c', shellQuote(script));
  return argv;
}

/** libvirt's client certificate locations: pkipath=, else ~/.pki/libvirt for non-root when present, else /etc/pki. */
export function tlsPaths(pkipath: string | undefined, ctx: ResolveContext = {}): { caFile: string; certFile: string; keyFile: string } {
  if (pkipath) {
    return {
      caFile: join(pkipath, 'cacert.pem'),
      certFile: join(pkipath, 'clientcert.pem'),
      keyFile: join(pkipath, 'clientkey.pem'),
    };
  }
  const euid = ctx.euid ?? process.geteuid?.() ?? 0;
  const exists = ctx.exists ?? existsSync;
  if (euid !== 0) {
    const user = join(ctx.home ?? homedir(), '.pki', 'libvirt');
    const u = {
      caFile: join(user, 'cacert.pem'),
      certFile: join(user, 'clientcert.pem'),
      keyFile: join(user, 'clientkey.pem'),
    };
    if (exists(u.certFile) && exists(u.keyFile)) {
      return { ...u, caFile: exists(u.caFile) ? u.caFile : '/etc/pki/CA/cacert.pem' };
    }
  }
  return {
    caFile: '/etc/pki/CA/cacert.pem',
    certFile: '/etc/pki/libvirt/clientcert.pem',
    keyFile: '/etc/pki/libvirt/private/clientkey.pem',
  };
}

/** virGetUserRuntimeDirectory(): $XDG_RUNTIME_DIR/libvirt, else ~/.cache/libvirt. */
export function userRuntimeDir(ctx: ResolveContext = {}): string {
  const env = ctx.env ?? process.env;
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg) return join(xdg, 'libvirt');
  return join(env.XDG_CACHE_HOME || join(ctx.home ?? homedir(), '.cache'), 'libvirt');
}

/**
 * The daemon socket of a local URI (remote_sockets.c): the per-driver daemon
 * (virtqemud-sock, …) when its socket exists, else libvirtd's libvirt-sock;
 * under $XDG_RUNTIME_DIR/libvirt for session URIs of unprivileged users.
 */
export function unixSocketPath(uri: LibvirtUri, ctx: ResolveContext = {}): string {
  return unixSocket(uri, ctx).path;
}

/**
 * Whether a local URI is served by the user's own daemon: session URIs, and (as libvirt's remote
 * driver does for test+unix) the test driver, of an unprivileged user. libvirt serves plain
 * test:///default inside the client; we always go through a daemon, so an unprivileged user's
 * test:///default uses that user's daemon too — private to the user, as the in-process driver is.
 */
export function isUserDaemonUri(uri: LibvirtUri, ctx: ResolveContext = {}): boolean {
  const euid = ctx.euid ?? process.geteuid?.() ?? 0;
  return euid > 0 && !uri.host && (uri.path === '/session' || uri.driver === 'test');
}

/** The daemon socket of a local URI, and whether it is the direct (per-driver) daemon's. */
function unixSocket(uri: LibvirtUri, ctx: ResolveContext): { path: string; direct: boolean } {
  const exists = ctx.exists ?? existsSync;
  const user = isUserDaemonUri(uri, ctx);
  const ro = ctx.readonly === true;
  const sock = (prefix: string) =>
    user ? join(userRuntimeDir(ctx), `${prefix}-sock`) : `/run/libvirt/${prefix}-${ro ? 'sock-ro' : 'sock'}`;
  const isRemote = uri.driver === 'remote';
  const direct = sock(isRemote ? 'libvirt' : `virt${uri.driver}d`);
  const legacy = sock('libvirt');
  const mode = getParam(uri, 'mode') ?? 'auto';
  if (mode === 'direct') return { path: direct, direct: true };
  if (mode === 'legacy') return { path: legacy, direct: false };
  if (mode !== 'auto') throw new LibvirtUriError(`unknown remote mode '${mode}' (should be auto|legacy|direct)`);
  if (exists(direct)) return { path: direct, direct: true };
  // Neither present: libvirt falls back to its build-time default mode, legacy on Debian.
  return { path: legacy, direct: false };
}

/**
 * The daemon to start when a user's daemon socket is not there (libvirt's autostart of the per-user
 * daemon): libvirtd, or virt<driver>d in direct mode, from $LIBVIRTD_PATH / $VIRTD_PATH or
 * /usr/sbin. None for the system daemon, for an explicit socket=, or with LIBVIRT_AUTOSTART=0.
 */
function autostartDaemon(uri: LibvirtUri, direct: boolean, ctx: ResolveContext): string | undefined {
  const env = ctx.env ?? process.env;
  if (!isUserDaemonUri(uri, ctx) || env.LIBVIRT_AUTOSTART === '0') return undefined;
  if (!direct || uri.driver === 'remote') return env.LIBVIRTD_PATH || '/usr/sbin/libvirtd';
  return join(env.VIRTD_PATH || '/usr/sbin', `virt${uri.driver}d`);
}
