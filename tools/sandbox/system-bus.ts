// A private *system* bus in a private mount namespace (root only), for end-to-end runs of real system-bus
// clients such as Cockpit. One `unshare -m` holder process owns the namespace; inside it, bind mounts put
// folders of a temporary directory at /run/dbus, /run/libvirt, /var/lib/libvirt, /var/cache/libvirt,
// /var/log/libvirt and /etc/libvirt (the packages' defaults, not the host's definitions) and a /dev/kvm
// node of its own (tools/sandbox/host-view.ts), so every daemon started there with `nsenter` finds the bus and
// qemu:///system at their default paths while the host's own files stay untouched. The bus has no service
// activation, so the installed reference libvirt-dbus never starts behind our back.
// stop() kills every process group we started and then anything still living in the namespace (QEMU).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { packageLibvirtConfig, privateKvmMounts } from './host-view.js';
import { canConnect, freePort } from './net.js';

export { freePort };

const execFileAsync = promisify(execFile);

/** What owns org.libvirt on the private bus. */
export type ServiceChoice = 'ours' | 'reference' | 'none';

/** Options for startSystemSandbox(). */
export interface SystemSandboxOptions {
  /** Which org.libvirt service to start (default 'ours': bin/libvirt-dbus --system). */
  service?: ServiceChoice;
  /** Also start cockpit-ws (no TLS, local session as root) on a free port of 127.0.0.1. */
  cockpit?: boolean;
  /** Record all bus traffic with dbus-monitor (see monitorLog()). */
  monitor?: boolean;
  /** Further lines of libvirtd.conf (e.g. `access_drivers = [ "polkit" ]`). */
  libvirtdConfig?: string[];
  /** Further arguments of our service (e.g. --caller-identity). */
  serviceArgs?: string[];
  /** Start a private polkitd with these rules and users (see PolkitOptions). */
  polkit?: PolkitOptions;
}

/**
 * A private polkitd on the sandbox's bus. Inside the namespace /etc/polkit-1/rules.d holds only
 * `rules` (the packages' rules in /usr/share/polkit-1/rules.d still apply), and /etc/passwd and
 * /etc/group are the host's plus `users` (each in its own group and in group libvirt, which the
 * installed bus policy lets call org.libvirt), so polkit rules can name them.
 */
export interface PolkitOptions {
  rules: string;
  users?: readonly SandboxUser[];
}

/** A user that exists only inside a sandbox. */
export interface SandboxUser {
  name: string;
  uid: number;
}

/** How startService starts the service this time. */
export interface ServiceStart {
  /** Replaces the sandbox's serviceArgs. */
  serviceArgs?: string[];
  /**
   * Run our service as this user (e.g. 'libvirtdbus', as installed) with group root for libvirtd's
   * socket, from the repository bind-mounted at /mnt inside the namespace (so that its own
   * folders' modes do not matter).
   */
  user?: string;
}

/** What a command run inside the sandbox did. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A running sandbox. */
export interface SystemSandbox {
  /** Its temporary directory. */
  dir: string;
  /** Host path of the private system bus socket (/run/dbus/system_bus_socket inside). */
  busSocket: string;
  /** D-Bus address of the bus, usable from outside the namespace. */
  busAddress: string;
  /** Host path of the private libvirtd's read-write socket. */
  libvirtSocket: string;
  /** qemu:///system of the private libvirtd, usable from outside. */
  qemuUri: string;
  /** Cockpit's base URL (http://127.0.0.1:port), when started with cockpit. */
  cockpitUrl?: string;
  /** Runs virsh against the private qemu:///system and returns its standard output. */
  virsh(...args: string[]): Promise<string>;
  /** Runs `argv` inside the namespace as sandbox user `user` (its groups: its own and libvirt); never throws for an exit code. */
  runAs(user: SandboxUser, argv: string[]): Promise<RunResult>;
  /** What a daemon wrote so far: 'dbus', 'virtlogd', 'libvirtd', 'service', 'cockpit', 'monitor'; 'sandbox': daemon exits. */
  log(name: string): string;
  /** Starts (or restarts) the org.libvirt service and waits until it owns the name (`serviceArgs` replaces the sandbox's). */
  startService(choice: ServiceChoice, o?: ServiceStart): Promise<void>;
  /** Stops the org.libvirt service, if running. */
  stopService(): Promise<void>;
  /** Stops everything and removes the directory. */
  stop(): Promise<void>;
}

const STATE_DIRS = ['/run/libvirt', '/var/lib/libvirt', '/var/cache/libvirt', '/var/log/libvirt'];
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * A system bus on /run/dbus/system_bus_socket with the stock system policy and the installed policy
 * files. Without `activation` (the sandbox): no service activation, so nothing starts by itself, and
 * root may own org.libvirt (our service runs as root here) and monitor the bus. With `activation`:
 * D-Bus activation through the real dbus-daemon-launch-helper from the standard service folders, and
 * no extra rules, so the installed policy is what decides.
 */
export function systemBusConfig(options: { activation?: boolean; pidfile?: string } = {}): string {
  const activation = options.activation
    ? `  <servicehelper>/usr/lib/dbus-1.0/dbus-daemon-launch-helper</servicehelper>
  <standard_system_servicedirs/>
`
    : '';
  const sandboxRules = options.activation
    ? ''
    : `  <policy user="root">
    <allow own="org.libvirt"/>
    <allow own="org.freedesktop.PolicyKit1"/>
    <allow send_destination="org.libvirt"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
    <allow eavesdrop="true"/>
    <allow eavesdrop="true" send_destination="*"/>
  </policy>
  <limit name="reply_timeout">300000</limit>
`;
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <keep_umask/>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
${
  options.pidfile
    ? `  <pidfile>${options.pidfile}</pidfile>
`
    : ''
}${activation}  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <includedir>/usr/share/dbus-1/system.d</includedir>
  <includedir>/etc/dbus-1/system.d</includedir>
${sandboxRules}</busconfig>
`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The id of group `name` in the host's /etc/group. */
function groupId(name: string): number | undefined {
  const line = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  return line ? Number(line.split(':')[2]) : undefined;
}

/** Files of the private polkit set-up in `dir` and the mounts that put them in place. */
function polkitMounts(dir: string, polkit: PolkitOptions): string[] {
  const rules = join(dir, 'polkit-rules.d');
  mkdirSync(rules, { mode: 0o755 });
  writeFileSync(join(rules, '50-sandbox.rules'), polkit.rules, { mode: 0o644 });
  const users = polkit.users ?? [];
  const passwd =
    readFileSync('/etc/passwd', 'utf8').replace(/\n?$/, '\n') +
    users.map((u) => `${u.name}:x:${u.uid}:${u.uid}::/nonexistent:/usr/sbin/nologin\n`).join('');
  const names = users.map((u) => u.name).join(',');
  const group =
    readFileSync('/etc/group', 'utf8')
      .replace(/\n?$/, '\n')
      .replace(/^(libvirt:[^:]*:\d+:)(.*)$/m, (_m, head: string, members: string) => `${head}${members ? `${members},` : ''}${names}`) +
    users.map((u) => `${u.name}:x:${u.uid}:\n`).join('');
  writeFileSync(join(dir, 'passwd'), passwd, { mode: 0o644 });
  writeFileSync(join(dir, 'group'), group, { mode: 0o644 });
  return [
    `mount --bind ${rules} /etc/polkit-1/rules.d`,
    `mount --bind ${join(dir, 'passwd')} /etc/passwd`,
    `mount --bind ${join(dir, 'group')} /etc/group`,
  ];
}

/** SIGKILLs the QEMU processes named by the `*.pid` files in `dir` (checking each pid is still a QEMU). */
function killQemuByPidFiles(dir: string): void {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.pid'));
  } catch {
    return; // no QEMU ever ran
  }
  for (const f of files) {
    const pid = Number(readFileSync(join(dir, f), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 1) continue;
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('qemu-system')) continue;
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** The mount namespace identity of a process, or undefined if it is gone. */
function mountNamespace(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

/** Starts a private system bus, virtlogd, libvirtd (qemu:///system) and optionally org.libvirt and Cockpit. */
export async function startSystemSandbox(options: SystemSandboxOptions = {}): Promise<SystemSandbox> {
  if (process.getuid?.() !== 0) throw new Error('the system-bus sandbox needs root (mount namespaces)');
  const dir = mkdtempSync(join(tmpdir(), 'sysbus-'));
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  const runDbus = join(dir, 'run-dbus');
  mkdirSync(runDbus);
  writeFileSync(join(dir, 'system.conf'), systemBusConfig());
  // The packages' libvirt configuration, so defined domains land in our directory and none of the host's show.
  const etc = join(dir, 'etc-libvirt');
  packageLibvirtConfig(etc);
  writeFileSync(
    join(dir, 'libvirtd.conf'),
    [
      'unix_sock_group = "root"',
      'unix_sock_ro_perms = "0777"',
      'unix_sock_rw_perms = "0770"',
      'auth_unix_rw = "none"',
      'auth_unix_ro = "none"',
      'listen_tls = 0',
      'listen_tcp = 0',
      `log_outputs = "3:file:${join(logs, 'libvirtd.file.log')}"`,
      ...(options.libvirtdConfig ?? []),
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'virtlogd.conf'), `log_outputs = "3:file:${join(logs, 'virtlogd.file.log')}"\n`);

  const mounts = [
    `mkdir -p /run/dbus`,
    `mount --bind ${runDbus} /run/dbus`,
    `mount --bind ${REPO_ROOT} /mnt`,
    `mount --bind ${etc} /etc/libvirt`,
    ...privateKvmMounts(dir),
  ];
  if (options.polkit) mounts.push(...polkitMounts(dir, options.polkit));
  const libvirtState = (d: string) => join(dir, 'state', d.replace(/\//g, '_'));
  for (const d of STATE_DIRS) {
    mkdirSync(libvirtState(d), { recursive: true });
    mounts.push(`mkdir -p ${d}`, `mount --bind ${libvirtState(d)} ${d}`);
  }
  // The holder: sets up the mounts, says so, then just keeps the namespace alive.
  const holder = spawn(
    'unshare',
    ['-m', '--propagation', 'private', 'sh', '-c', `set -e\n${mounts.join('\n')}\necho ready\nexec sleep infinity`],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  const holderPid = holder.pid ?? -1;
  await new Promise<void>((resolve, reject) => {
    let err = '';
    holder.stderr?.on('data', (b: Buffer) => {
      err += b.toString();
    });
    holder.stdout?.once('data', () => resolve());
    holder.once('exit', (code) => reject(new Error(`unshare failed (${code}): ${err}`)));
  });
  const ns = mountNamespace(holderPid);

  const children = new Map<string, ChildProcess>();
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DBUS_SYSTEM_BUS_ADDRESS;
  delete env.DBUS_SESSION_BUS_ADDRESS;
  delete env.DBUS_STARTER_ADDRESS;
  delete env.DBUS_STARTER_BUS_TYPE;

  /** Runs a command inside the namespace, in its own process group, logging to logs/<name>.log. */
  const launch = (name: string, argv: string[], extraEnv: NodeJS.ProcessEnv = {}): ChildProcess => {
    const out = join(logs, `${name}.log`);
    writeFileSync(out, '');
    const child = spawn('nsenter', ['-t', String(holderPid), '-m', '--', ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...env, ...extraEnv },
      cwd: REPO_ROOT,
    });
    const append = (b: Buffer) => writeFileSync(out, b, { flag: 'a' });
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    // Who died when, and how: a daemon dying mid-test otherwise only shows up as odd client errors.
    child.once('exit', (code, signal) => {
      const planned = children.get(name) !== child ? ' (stopped by the sandbox)' : '';
      writeFileSync(
        join(logs, 'sandbox.log'),
        `${new Date().toISOString()} ${name} (pid ${child.pid}) exited: code ${code} signal ${signal}${planned}\n`,
        {
          flag: 'a',
        },
      );
    });
    children.set(name, child);
    return child;
  };
  // A daemon's output, then what it wrote to its own log file (libvirtd and virtlogd log there).
  const readLog = (name: string) => {
    let text = '';
    for (const file of [`${name}.log`, `${name}.file.log`]) {
      try {
        text += readFileSync(join(logs, file), 'utf8');
      } catch {
        // no such log
      }
    }
    return text;
  };
  const waitFor = async (what: string, name: string, ready: () => Promise<boolean>, ms = 60_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      if (await ready()) return;
      const c = children.get(name);
      if (c && (c.exitCode !== null || c.signalCode !== null)) {
        throw new Error(`${what} exited (${c.exitCode ?? c.signalCode}): ${readLog(name).slice(-2000)}`);
      }
      if (Date.now() > deadline) throw new Error(`${what} not ready within ${ms / 1000} s: ${readLog(name).slice(-2000)}`);
      await sleep(100);
    }
  };
  const killGroup = async (name: string, graceMs = 5000) => {
    const c = children.get(name);
    children.delete(name);
    const pid = c?.pid;
    if (!c || pid === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      return;
    }
    const t = setTimeout(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, graceMs);
    await gone;
    clearTimeout(t);
    // Whatever else is left in that group (e.g. cockpit-bridge) goes too.
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // none left
    }
  };

  const busSocket = join(runDbus, 'system_bus_socket');
  const busAddress = `unix:path=${busSocket}`;
  const libvirtSocket = join(libvirtState('/run/libvirt'), 'libvirt-sock');
  const qemuUri = `qemu+unix:///system?socket=${libvirtSocket}`;
  const nameHasOwner = () => busNameHasOwner('org.libvirt');
  const busNameHasOwner = async (name: string): Promise<boolean> => {
    try {
      const { stdout } = await execFileAsync('busctl', [
        `--address=${busAddress}`,
        'call',
        'org.freedesktop.DBus',
        '/org/freedesktop/DBus',
        'org.freedesktop.DBus',
        'NameHasOwner',
        's',
        name,
      ]);
      return stdout.trim() === 'b true';
    } catch {
      return false;
    }
  };

  let currentService: ServiceChoice = 'none';
  const sandbox: SystemSandbox = {
    dir,
    busSocket,
    busAddress,
    libvirtSocket,
    qemuUri,
    async virsh(...args: string[]) {
      const { stdout } = await execFileAsync('virsh', ['-q', '-c', qemuUri, ...args], { timeout: 60_000 });
      return stdout;
    },
    log: readLog,
    runAs(user, argv) {
      const libvirtGid = groupId('libvirt');
      const groups = libvirtGid === undefined ? String(user.uid) : `${user.uid},${libvirtGid}`;
      return new Promise((resolve) => {
        execFile(
          'nsenter',
          [
            '-t',
            String(holderPid),
            '-m',
            '--',
            'setpriv',
            `--reuid=${user.uid}`,
            `--regid=${user.uid}`,
            `--groups=${groups}`,
            '--',
            ...argv,
          ],
          { env: { ...env, HOME: '/nonexistent' }, timeout: 60_000 },
          (err, stdout, stderr) => {
            const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
            resolve({ code, stdout, stderr });
          },
        );
      });
    },
    async startService(choice: ServiceChoice, o?: ServiceStart) {
      await sandbox.stopService();
      currentService = choice;
      if (choice === 'none') return;
      const argv =
        choice === 'reference'
          ? ['/usr/sbin/libvirt-dbus', '--system']
          : [join(o?.user ? '/mnt' : REPO_ROOT, 'bin/libvirt-dbus'), '--system', ...(o?.serviceArgs ?? options.serviceArgs ?? [])];
      launch('service', o?.user ? ['setpriv', `--reuid=${o.user}`, `--regid=${o.user}`, '--groups=0', '--', ...argv] : argv);
      await waitFor(`org.libvirt service (${choice})`, 'service', nameHasOwner, 30_000);
    },
    async stopService() {
      if (currentService !== 'none') await killGroup('service');
      currentService = 'none';
    },
    async stop() {
      // Running domains first, so QEMU does not outlive libvirtd.
      try {
        const names = (await sandbox.virsh('list', '--name')).split('\n').filter((n) => n.trim());
        for (const n of names) await sandbox.virsh('destroy', n.trim()).catch(() => undefined);
      } catch {
        // libvirtd is not answering: the namespace sweep below still ends QEMU
      }
      for (const name of ['cockpit', 'service', 'monitor', 'libvirtd', 'virtlogd', 'polkitd', 'dbus']) await killGroup(name);
      // QEMU runs in a mount namespace of its own (libvirt's qemu.conf `namespaces`), so the sweep
      // below misses it when libvirtd could not destroy it (a test stopped libvirtd): its pid files
      // in our /run/libvirt/qemu name it.
      killQemuByPidFiles(join(libvirtState('/run/libvirt'), 'qemu'));
      // Anything still in our namespace is ours (helpers); the holder goes last.
      if (ns) {
        for (const entry of readdirSync('/proc')) {
          const pid = Number(entry);
          if (!Number.isInteger(pid) || pid === holderPid || pid === process.pid) continue;
          if (mountNamespace(pid) === ns) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              // raced with its exit
            }
          }
        }
      }
      if (holder.exitCode === null && holder.signalCode === null) {
        const gone = new Promise<void>((r) => holder.once('exit', () => r()));
        try {
          process.kill(-holderPid, 'SIGKILL');
        } catch {
          // gone
        }
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    launch('dbus', ['dbus-daemon', `--config-file=${join(dir, 'system.conf')}`, '--nofork', '--nosyslog']);
    await waitFor('dbus-daemon', 'dbus', () => canConnect(busSocket), 15_000);
    if (options.monitor) {
      launch('monitor', ['dbus-monitor', '--system']);
      await sleep(300);
    }
    if (options.polkit) {
      launch('polkitd', ['/usr/lib/polkit-1/polkitd', '--no-debug']);
      await waitFor('polkitd', 'polkitd', () => busNameHasOwner('org.freedesktop.PolicyKit1'), 30_000);
    }
    // Its own pid file: the default /run/virtlogd.pid is outside the private mounts and would clash with another sandbox's.
    launch('virtlogd', ['virtlogd', '-f', join(dir, 'virtlogd.conf'), '-p', join(dir, 'virtlogd.pid')]);
    await waitFor('virtlogd', 'virtlogd', async () => existsSync(join(libvirtState('/run/libvirt'), 'virtlogd-sock')), 15_000);
    // Likewise its own pid file (the default /run/libvirtd.pid would clash with other private daemons).
    launch('libvirtd', ['libvirtd', '-f', join(dir, 'libvirtd.conf'), '-p', join(dir, 'libvirtd.pid')]);
    await waitFor('libvirtd', 'libvirtd', () => canConnect(libvirtSocket), 60_000);
    await sandbox.startService(options.service ?? 'ours');
    if (options.cockpit) {
      const port = await freePort();
      launch('cockpit', [
        '/usr/lib/cockpit/cockpit-ws',
        '--no-tls',
        '--local-session=cockpit-bridge',
        '--port',
        String(port),
        '--address',
        '127.0.0.1',
      ]);
      await waitFor('cockpit-ws', 'cockpit', () => canConnect('127.0.0.1', port), 30_000);
      sandbox.cockpitUrl = `http://127.0.0.1:${port}`;
    }
  } catch (e) {
    await sandbox.stop();
    throw e;
  }
  return sandbox;
}

// `node dist/tools/sandbox/system-bus.js [ours|reference|none]`: keeps a sandbox with Cockpit up until Ctrl-C.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const choice = (process.argv[2] ?? 'ours') as ServiceChoice;
  const sb = await startSystemSandbox({ service: choice, cockpit: true, monitor: true });
  process.stdout.write(
    `bus: ${sb.busAddress}\nvirsh: virsh -c '${sb.qemuUri}'\ncockpit: ${sb.cockpitUrl}/machines\nlogs: ${sb.dir}/logs\n`,
  );
  const shutdown = () => {
    void sb.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
