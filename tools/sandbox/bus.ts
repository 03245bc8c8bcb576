// A private dbus-daemon (for tests and bin/try): session-like policy, no service directories (so nothing is
// auto-started behind our back, e.g. the installed reference libvirt-dbus), torn down afterwards.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Options for a private bus. */
export interface BusOptions {
  /** SASL mechanisms the daemon accepts (default: all it knows). */
  auth?: Array<'EXTERNAL' | 'DBUS_COOKIE_SHA1' | 'ANONYMOUS'>;
  /** Let anonymous clients in (needs ANONYMOUS in auth). */
  allowAnonymous?: boolean;
  /** Extra XML put inside <busconfig>. */
  extraConfig?: string;
  /** Listen address (default unix:dir=<tmp>). */
  listen?: string;
}

/** A running private bus. */
export interface PrivateBus {
  address: string;
  dir: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * The configuration of a private session-like bus: `listen` (default unix:dir=`dir`), the options'
 * auth and limits, and service directories only when `serviceDirs` names some (activation).
 */
export function busConfig(dir: string, options: BusOptions & { serviceDirs?: string[] } = {}): string {
  const auth = (options.auth ?? []).map((m) => `  <auth>${m}</auth>`).join('\n');
  const serviceDirs = (options.serviceDirs ?? []).map((d) => `  <servicedir>${d}</servicedir>`).join('\n');
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>${options.listen ?? `unix:dir=${dir}`}</listen>
${auth}
${serviceDirs}
${options.allowAnonymous ? '  <allow_anonymous/>' : ''}
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    <allow user="*"/>
  </policy>
  <limit name="max_incoming_bytes">1000000000</limit>
  <limit name="max_outgoing_bytes">1000000000</limit>
  <limit name="max_message_size">134217728</limit>
  <limit name="reply_timeout">300000</limit>
${options.extraConfig ?? ''}
</busconfig>
`;
}

/** Starts a private dbus-daemon and returns its address once it is listening. */
export async function startBus(options: BusOptions = {}): Promise<PrivateBus> {
  const dir = mkdtempSync(join(tmpdir(), 'bus-'));
  const config = join(dir, 'bus.conf');
  writeFileSync(config, busConfig(dir, options));
  const child = spawn('dbus-daemon', [`--config-file=${config}`, '--print-address=1', '--nofork'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`dbus-daemon did not start: ${stderr}`)), 15_000);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl).trim());
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dbus-daemon exited (${code}): ${stderr}`));
    });
  });
  return {
    address,
    dir,
    pid: child.pid ?? -1,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
