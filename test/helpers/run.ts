// The one way tests run a command to its end: spawn it, collect what it writes, resolve with how it
// ended. A non-zero exit is a result, not an error, so a test can assert on it.
import { spawn } from 'node:child_process';

/** How a command ended and what it wrote. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/** Options of run(). */
export interface RunOptions {
  /** The whole environment of the command (default: ours). */
  env?: NodeJS.ProcessEnv;
  /** Written to its standard input, which is then closed. */
  input?: string | Buffer;
  /** Killed with SIGKILL after this many milliseconds (default 60 s). */
  timeout?: number;
}

/** Runs `cmd args` to its end and resolves with its exit code, signal and output; rejects only if it cannot start. */
export async function run(cmd: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const r = await collect(cmd, args, options);
  return { ...r, out: r.out.trim(), err: r.err.trim() };
}

/** Runs `cmd args` and resolves with its standard output as written; rejects with its stderr unless it exits with 0. */
export async function runOk(cmd: string, args: string[], options: RunOptions = {}): Promise<string> {
  const r = await collect(cmd, args, options);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code ?? r.signal}): ${r.err.trim()}`);
  return r.out;
}

function collect(cmd: string, args: string[], options: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    let out = '';
    let err = '';
    p.stdout.on('data', (b) => {
      out += b;
    });
    p.stderr.on('data', (b) => {
      err += b;
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), options.timeout ?? 60_000);
    p.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err });
    });
    p.stdin.end(options.input);
  });
}
