// A private libvirtd (for tests and bin/try): its own config, socket directory and state, torn down afterwards.
// As root it runs in a private mount namespace (unshare -m) where /run/libvirt, /var/lib/libvirt,
// /var/cache/libvirt and /var/log/libvirt are bind mounts of folders in its temporary directory, so
// several private daemons (and the host's own) never share driver state or lock files. Its /etc/libvirt
// is the packages' defaults (never the host's definitions) and its /dev/kvm a node of its own
// (tools/sandbox/host-view.ts).
import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageLibvirtConfig, privateKvmMounts } from './host-view.js';
import { canConnect } from './net.js';

const execFileAsync = promisify(execFile);

/** A running private libvirtd. */
export interface PrivateLibvirtd {
  /** Its temporary directory (config, sockets, state, log). */
  dir: string;
  /** The read-write socket (libvirt-sock). */
  socketPath: string;
  /** The test driver through this daemon. */
  testUri: string;
  /** qemu:///system of this daemon (secrets, network filters). */
  qemuUri: string;
  /** Runs virsh against `uri` and returns its standard output. */
  virsh(uri: string, ...args: string[]): Promise<string>;
  /** The daemon's process id. */
  readonly pid: number;
  /** Stops it with SIGTERM and removes its directory. */
  stop(): Promise<void>;
  /** Kills it with SIGKILL (the directory stays, for restart()). */
  kill(): Promise<void>;
  /** Starts it again on the same sockets and state. */
  restart(): Promise<void>;
  /** What the daemon wrote to its log so far. */
  log(): string;
}

let unshareWorks: boolean | undefined;
function canUnshare(): boolean {
  if (unshareWorks === undefined) {
    unshareWorks = false;
    if (process.getuid?.() === 0) {
      unshareWorks = spawnSync('unshare', ['-m', '--propagation', 'private', 'true'], { stdio: 'ignore' }).status === 0;
    }
  }
  return unshareWorks;
}

const STATE_DIRS = ['/run/libvirt', '/var/lib/libvirt', '/var/cache/libvirt', '/var/log/libvirt'];
// Persistent definitions (secrets, network filters, pools, networks) live under /etc/libvirt: the
// daemon gets its own, from the packages' defaults, so it neither sees the host's nor writes there.
const CONFIG_DIR = '/etc/libvirt';

/** What a private libvirtd may be asked for. */
export interface LibvirtdOptions {
  /**
   * SASL (root only: the daemon gets a private /etc/sasl2) with these mechanisms (Cyrus names, e.g.
   * 'scram-sha-256 plain') and users (name → password) in a sasldb, on the read-write UNIX socket
   * (default) or on the TLS port.
   */
  sasl?: { mechanisms: string; users: Record<string, string>; on?: 'unix' | 'tls' };
  /**
   * Also listen for TLS on 127.0.0.1:`port` (libvirtd --listen) with the server certificate
   * server.pem / server.key and the CA cacert.pem of the folder `pki`.
   */
  tls?: { port: number; pki: string };
  /** Also listen for plain TCP on 127.0.0.1:`port`, without authentication (libvirtd --listen). */
  tcp?: { port: number };
}

/** Starts a private libvirtd serving the test driver (and, as root, qemu:///system). */
export async function startLibvirtd(options: LibvirtdOptions = {}): Promise<PrivateLibvirtd> {
  const dir = mkdtempSync(join(tmpdir(), 'lvd-'));
  const sockDir = join(dir, 'sock');
  mkdirSync(sockDir);
  const conf = join(dir, 'libvirtd.conf');
  writeFileSync(
    conf,
    [
      `unix_sock_dir = "${sockDir}"`,
      'unix_sock_group = "root"',
      'unix_sock_ro_perms = "0777"',
      'unix_sock_rw_perms = "0770"',
      `auth_unix_rw = "${options.sasl && options.sasl.on !== 'tls' ? 'sasl' : 'none'}"`,
      'auth_unix_ro = "none"',
      ...(options.tls
        ? [
            'listen_tls = 1',
            `tls_port = "${options.tls.port}"`,
            `key_file = "${join(options.tls.pki, 'server.key')}"`,
            `cert_file = "${join(options.tls.pki, 'server.pem')}"`,
            `ca_file = "${join(options.tls.pki, 'cacert.pem')}"`,
            `auth_tls = "${options.sasl?.on === 'tls' ? 'sasl' : 'none'}"`,
          ]
        : ['listen_tls = 0']),
      ...(options.tcp ? ['listen_tcp = 1', `tcp_port = "${options.tcp.port}"`, 'auth_tcp = "none"'] : ['listen_tcp = 0']),
      ...(options.tls || options.tcp ? ['listen_addr = "127.0.0.1"'] : []),
      'max_client_requests = 5',
      `log_outputs = "3:file:${join(dir, 'libvirtd.log')}"`,
      '',
    ].join('\n'),
  );
  const isolated = canUnshare();
  const script: string[] = ['set -e'];
  if (isolated) {
    for (const d of STATE_DIRS) {
      const mirror = join(dir, 'state', d.replace(/\//g, '_'));
      mkdirSync(mirror, { recursive: true });
      script.push(`mkdir -p ${d}`, `mount --bind ${mirror} ${d}`);
    }
    const config = join(dir, 'state', 'etc_libvirt');
    packageLibvirtConfig(config);
    script.push(`mount --bind ${config} ${CONFIG_DIR}`, ...privateKvmMounts(dir));
  }
  if (options.sasl) {
    if (!isolated) throw new Error('a private libvirtd with SASL needs root (a mount namespace for /etc/sasl2)');
    const sasl = join(dir, 'sasl2');
    mkdirSync(sasl);
    const db = join(sasl, 'passwd.db');
    writeFileSync(join(sasl, 'libvirt.conf'), `mech_list: ${options.sasl.mechanisms}\nsasldb_path: ${db}\n`);
    for (const [user, password] of Object.entries(options.sasl.users)) {
      const r = spawnSync('saslpasswd2', ['-a', 'libvirt', '-f', db, '-p', '-c', user], { input: password });
      if (r.status !== 0) throw new Error(`saslpasswd2 failed (${r.status ?? r.error}): ${r.stderr}`);
    }
    script.push(`mkdir -p /etc/sasl2`, `mount --bind ${sasl} /etc/sasl2`);
  }
  script.push(`exec libvirtd -f ${conf} -p ${join(dir, 'libvirtd.pid')}${options.tls || options.tcp ? ' --listen' : ''}`);
  const socketPath = join(sockDir, 'libvirt-sock');
  let child: ChildProcess | undefined;

  const launch = async () => {
    const args = isolated ? ['-m', '--propagation', 'private', 'sh', '-c', script.join('\n')] : ['-c', script.join('\n')];
    child = spawn(isolated ? 'unshare' : 'sh', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`libvirtd exited (${child.exitCode}): ${stderr}`);
      // Ready once every listener answers: the UNIX socket comes first, TCP/TLS ports a moment later.
      const ports = [options.tls?.port, options.tcp?.port].filter((p): p is number => p !== undefined);
      if (existsSync(socketPath) && (await canConnect(socketPath))) {
        const listening = await Promise.all(ports.map((p) => canConnect('127.0.0.1', p)));
        if (listening.every(Boolean)) return;
      }
      if (Date.now() > deadline) throw new Error(`libvirtd did not start within 30 s: ${stderr}`);
      await sleep(50);
    }
  };
  await launch();

  const waitExit = (signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill(signal);
    });

  const testUri = `test+unix:///default?socket=${socketPath}`;
  const qemuUri = `qemu+unix:///system?socket=${socketPath}`;
  return {
    dir,
    socketPath,
    testUri,
    qemuUri,
    get pid() {
      return child?.pid ?? -1;
    },
    async virsh(uri: string, ...args: string[]) {
      const { stdout } = await execFileAsync('virsh', ['-q', '-c', uri, ...args], { timeout: 60_000 });
      return stdout;
    },
    async stop() {
      await waitExit('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    async kill() {
      await waitExit('SIGKILL');
      rmSync(socketPath, { force: true });
    },
    async restart() {
      await waitExit('SIGTERM');
      rmSync(socketPath, { force: true });
      await launch();
    },
    log() {
      try {
        return readFileSync(join(dir, 'libvirtd.log'), 'utf8');
      } catch {
        return '';
      }
    },
  };
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}
