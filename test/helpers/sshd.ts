// A private OpenSSH server on 127.0.0.1 for the ssh transport tests: its own host key, config,
// authorized key and known_hosts file in a temporary directory; only that key may log in, as the
// user running the tests. Needs openssh-server (sshd) and openssh-client.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForListener } from '../../tools/sandbox/net.js';

export interface PrivateSshd {
  dir: string;
  port: number;
  user: string;
  /** The private key that may log in. */
  keyFile: string;
  /** A key sshd does not accept. */
  strangerKeyFile: string;
  /** Where clients keep the server's host key (no_verify=1 fills it). */
  knownHostsFile: string;
  /** What sshd logged (to standard error). */
  log(): string;
  stop(): Promise<void>;
}

function keygen(path: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'libvirt-dbus-test', '-f', path]);
}

/**
 * Starts sshd -D on a free port of 127.0.0.1 and waits until it accepts connections. With
 * `runLibvirt`, sshd (and so every remote command) runs in a private mount namespace where that
 * folder is /run/libvirt: virt-ssh-helper, which only knows the standard sockets, then reaches a
 * private daemon.
 */
export async function startSshd(options: { runLibvirt?: string } = {}): Promise<PrivateSshd> {
  const dir = mkdtempSync(join(tmpdir(), 'sshd-'));
  chmodSync(dir, 0o700);
  const port = await freePort();
  const user = userInfo().username;
  keygen(join(dir, 'host_key'));
  keygen(join(dir, 'id'));
  keygen(join(dir, 'stranger'));
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'id.pub')));
  // sshd's privilege separation directory (created by its systemd unit normally).
  if (process.geteuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  let log = '';
  const sshd = ['/usr/sbin/sshd', '-D', '-e', '-f', config];
  const child: ChildProcess = options.runLibvirt
    ? spawn(
        'unshare',
        [
          '-m',
          '--propagation',
          'private',
          'sh',
          '-c',
          `mkdir -p /run/libvirt && mount --bind '${options.runLibvirt}' /run/libvirt && exec ${sshd.join(' ')}`,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      )
    : spawn(sshd[0] as string, sshd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (d) => {
    log += d;
  });
  await waitForListener(child, port, () => log);
  return {
    dir,
    port,
    user,
    keyFile: join(dir, 'id'),
    strangerKeyFile: join(dir, 'stranger'),
    knownHostsFile: join(dir, 'known_hosts'),
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
