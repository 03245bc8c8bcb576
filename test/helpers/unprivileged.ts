// An unprivileged user's world for tests run as root: nobody (uid 65534) through setpriv, with its
// own HOME and XDG_RUNTIME_DIR, and a copy of the compiled code (dist/src, bin) it can read — the
// checkout itself may sit where nobody cannot.
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NOBODY = 65534;

export interface Unprivileged {
  /** A temporary directory anyone may enter. */
  dir: string;
  home: string;
  runtime: string;
  /** The copy of the code: dist/src, bin, and a package.json saying ES modules. */
  code: string;
  /** setpriv's arguments to run `argv` as nobody. */
  setpriv(...argv: string[]): string[];
  /** The environment of the user: PATH, HOME, XDG_RUNTIME_DIR, and `extra`. */
  env(extra?: Record<string, string>): Record<string, string>;
  /** The pid of the user's libvirtd (from its pid file), if it runs. */
  daemonPid(): number | undefined;
  /** Stops the user's libvirtd, if it runs, and waits until its pid file is gone. */
  stopDaemon(): Promise<void>;
  /** Stops the daemon and removes everything. */
  cleanup(): Promise<void>;
}

/** Prepares nobody's HOME, XDG_RUNTIME_DIR and a readable copy of the code. */
export function prepareUnprivileged(): Unprivileged {
  const dir = mkdtempSync(join(tmpdir(), 'nobody-'));
  chmodSync(dir, 0o755);
  const code = join(dir, 'code');
  cpSync(fileURLToPath(new URL('../../src', import.meta.url)), join(code, 'dist', 'src'), { recursive: true });
  cpSync(fileURLToPath(new URL('../../../bin', import.meta.url)), join(code, 'bin'), { recursive: true });
  // The start-up snapshot, copied after dist/src so that it is the newer (bin/libvirt-dbus checks).
  const dist = fileURLToPath(new URL('../../../dist', import.meta.url));
  for (const f of readdirSync(dist).filter((f) => f.endsWith('.blob'))) cpSync(join(dist, f), join(code, 'dist', f));
  writeFileSync(join(code, 'package.json'), '{"type":"module"}\n');
  const home = join(dir, 'home');
  const runtime = join(dir, 'run');
  for (const d of [home, runtime]) {
    mkdirSync(d, { mode: 0o700 });
    chownSync(d, NOBODY, NOBODY);
  }
  const daemonPid = () => {
    try {
      const pid = Number(readFileSync(join(runtime, 'libvirt', 'libvirtd.pid'), 'utf8').trim());
      readFileSync(`/proc/${pid}/status`);
      return pid;
    } catch {
      return undefined;
    }
  };
  const stopDaemon = async () => {
    const pid = daemonPid();
    if (!pid) return;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && daemonPid(); i++) await new Promise((r) => setTimeout(r, 100));
  };
  return {
    dir,
    home,
    runtime,
    code,
    setpriv: (...argv) => [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...argv],
    env: (extra = {}) => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, XDG_RUNTIME_DIR: runtime, ...extra }),
    daemonPid,
    stopDaemon,
    async cleanup() {
      await stopDaemon();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
