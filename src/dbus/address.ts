// D-Bus server addresses ("Server Addresses" in the specification): `transport:key=value,...`,
// several separated by ';' and tried in order, values escaped with %xx.

import { homedir } from 'node:os';
import { DBusError, StandardErrors } from './errors.js';

/** One entry of an address list: a transport name and its key/value parameters. */
export interface AddressEntry {
  transport: string;
  params: Map<string, string>;
}

/** An address that does not follow the grammar or names a transport we do not know. */
export class DBusAddressError extends DBusError {
  constructor(message: string) {
    super('org.freedesktop.DBus.Error.BadAddress', message);
    this.name = 'DBusAddressError';
  }
}

// Bytes a value may carry unescaped (the "optionally escaped" set of the specification).
const OPTIONALLY_ESCAPED = /^[-0-9A-Za-z_/.\\*]$/;

/** Escapes a value for use in an address: every byte outside [-0-9A-Za-z_/.\*] becomes %xx. */
export function escapeAddressValue(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && OPTIONALLY_ESCAPED.test(ch) ? ch : `%${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** Reverses %xx escaping; throws DBusAddressError on a bad escape. */
export function unescapeAddressValue(value: string): string {
  if (!value.includes('%')) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string;
    if (ch === '%') {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new DBusAddressError(`bad %-escape in address value "${value}"`);
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(ch, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Parses an address list (entries separated by ';'); empty entries are skipped. */
export function parseAddress(address: string): AddressEntry[] {
  const entries: AddressEntry[] = [];
  for (const part of address.split(';')) {
    if (part === '') continue;
    const colon = part.indexOf(':');
    if (colon <= 0) throw new DBusAddressError(`address entry "${part}" has no transport name`);
    const transport = part.slice(0, colon);
    const params = new Map<string, string>();
    const rest = part.slice(colon + 1);
    if (rest !== '') {
      for (const pair of rest.split(',')) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new DBusAddressError(`address parameter "${pair}" is not key=value`);
        const key = pair.slice(0, eq);
        if (params.has(key)) throw new DBusAddressError(`address parameter "${key}" given twice`);
        params.set(key, unescapeAddressValue(pair.slice(eq + 1)));
      }
    }
    entries.push({ transport, params });
  }
  if (entries.length === 0) throw new DBusAddressError('empty address');
  return entries;
}

/** Turns one entry back into its string form, escaping values. */
export function formatAddressEntry(entry: AddressEntry): string {
  const params = [...entry.params].map(([k, v]) => `${k}=${escapeAddressValue(v)}`).join(',');
  return `${entry.transport}:${params}`;
}

/** The session bus address from DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus when it exists. */
export function sessionBusAddress(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.DBUS_SESSION_BUS_ADDRESS;
  if (fromEnv) return fromEnv;
  if (env.XDG_RUNTIME_DIR) return `unix:path=${escapeAddressValue(`${env.XDG_RUNTIME_DIR}/bus`)}`;
  throw new DBusError(StandardErrors.Failed, 'no session bus: DBUS_SESSION_BUS_ADDRESS is not set');
}

/** The default system bus socket of the specification. */
export const DEFAULT_SYSTEM_BUS_ADDRESS = 'unix:path=/var/run/dbus/system_bus_socket';

/** The system bus address from DBUS_SYSTEM_BUS_ADDRESS, else the default socket. */
export function systemBusAddress(env: NodeJS.ProcessEnv = process.env): string {
  return env.DBUS_SYSTEM_BUS_ADDRESS || DEFAULT_SYSTEM_BUS_ADDRESS;
}

/** Expands a leading "~/" in a noncefile or path parameter (tools write such addresses by hand). */
export function expandHome(path: string): string {
  return path.startsWith('~/') ? `${homedir()}${path.slice(1)}` : path;
}
