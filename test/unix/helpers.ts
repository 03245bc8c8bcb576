// Small helpers shared by the src/unix tests: temporary socket paths, FIFOs, open-descriptor counts.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary directory; remove it with cleanup(). */
export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'unix-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A real pipe (a FIFO): both ends open non-blocking in this process. */
export function makePipe(dir: string, name = 'fifo'): { readFd: number; writeFd: number; close(): void } {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeFd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  return {
    readFd,
    writeFd,
    close() {
      closeSync(readFd);
      closeSync(writeFd);
    },
  };
}

/** The descriptors this process has open, each as `<number> <what it refers to>`. */
export function openFds(): Set<string> {
  const dir = '/proc/self/fd';
  const fds = new Set<string>();
  for (const fd of readdirSync(dir)) {
    let target: string;
    try {
      target = readlinkSync(`${dir}/${fd}`);
    } catch {
      continue; // closed meanwhile (the listing's own descriptor)
    }
    if (!target.endsWith('/fd')) fds.add(`${fd} ${target}`);
  }
  return fds;
}

/**
 * Descriptors open now that were not open at `before` (same number and same file), i.e. leaked since.
 * Descriptors that others in this process closed meanwhile do not count: comparing counts did.
 */
export function fdsOpenedSince(before: Set<string>): string[] {
  return [...openFds()].filter((fd) => !before.has(fd));
}

/** True when the descriptor has close-on-exec set (from /proc/self/fdinfo: O_CLOEXEC is 02000000 octal). */
export function isCloseOnExec(fd: number): boolean {
  const m = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  return m !== null && (Number.parseInt(m[1]!, 8) & 0o2000000) !== 0;
}
