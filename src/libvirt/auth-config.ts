// libvirt's client authentication file (auth.conf, docs/auth.rst "Client configuration"): where it is
// ($LIBVIRT_AUTH_FILE, the URI's authfile=, $XDG_CONFIG_HOME/libvirt/auth.conf, /etc/libvirt/auth.conf)
// and what it says for a service on a host:
//
//   [credentials-admin]          [auth-libvirt-myhost]      [auth-libvirt-default]
//   authname=admin               credentials=admin          credentials=admin
//   password=secret
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LibvirtAuthError } from './errors.js';
import { getParam, type LibvirtUri } from './uri.js';

/** Where the auth file is, as virAuthGetConfigFilePathURI looks; undefined when there is none. */
export function authConfigPath(
  uri: LibvirtUri | undefined,
  ctx: { env?: Record<string, string | undefined>; home?: string; exists?: (p: string) => boolean } = {},
): string | undefined {
  const env = ctx.env ?? process.env;
  const exists = ctx.exists ?? existsSync;
  if (env.LIBVIRT_AUTH_FILE) return env.LIBVIRT_AUTH_FILE;
  const param = uri && getParam(uri, 'authfile');
  if (param) return param;
  const user = join(env.XDG_CONFIG_HOME || join(ctx.home ?? homedir(), '.config'), 'libvirt', 'auth.conf');
  if (exists(user)) return user;
  if (exists('/etc/libvirt/auth.conf')) return '/etc/libvirt/auth.conf';
  return undefined;
}

/** A GLib-style key file: groups of key=value lines; '#' and ';' start comments. */
export function parseKeyFile(text: string, path = 'auth.conf'): Map<string, Map<string, string>> {
  const groups = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const group = /^\[([^\]]+)\]$/.exec(line);
    if (group) {
      const name = group[1] as string;
      current = groups.get(name) ?? new Map();
      groups.set(name, current);
      return;
    }
    const eq = line.indexOf('=');
    if (eq <= 0 || !current) throw new LibvirtAuthError(`${path}:${i + 1}: not a group header or key=value line`);
    current.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  });
  return groups;
}

/**
 * The credentials group that applies to `service` on `host` (`auth-SERVICE-HOST`, else
 * `auth-SERVICE-default`), as a map of its keys (authname, username, password, realm).
 */
export function lookupCredentials(
  file: Map<string, Map<string, string>>,
  service: string,
  host: string,
  path = 'auth.conf',
): Map<string, string> | undefined {
  const auth = file.get(`auth-${service}-${host}`) ?? file.get(`auth-${service}-default`);
  const name = auth?.get('credentials');
  if (!name) return undefined;
  const creds = file.get(`credentials-${name}`);
  if (!creds) throw new LibvirtAuthError(`${path}: missing group credentials-${name}`);
  return creds;
}

/** The credentials for `service` on `host` from the auth file that applies to `uri`, if any. */
export function credentialsFor(uri: LibvirtUri | undefined, service: string, host: string): Map<string, string> | undefined {
  const path = authConfigPath(uri);
  if (!path) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new LibvirtAuthError(`cannot read ${path}: ${(e as Error).message}`);
  }
  return lookupCredentials(parseKeyFile(text, path), service, host, path);
}
