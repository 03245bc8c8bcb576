// org.freedesktop.DBus.Peer, answered on every path: Ping, and GetMachineId from the machine id.

import { readFileSync } from 'node:fs';
import { DBusError, StandardErrors } from './errors.js';

/** The methods of Peer, which a call without an interface field may mean. */
export const PEER_METHODS = new Set(['Ping', 'GetMachineId']);

/** The out values of Peer method `member`; `machineId` overrides the system's. */
export function peerReply(member: string, machineId: string | undefined): unknown[] {
  return member === 'Ping' ? [] : [machineId ?? readMachineId()];
}

let machineIdCache: string | undefined;

function readMachineId(): string {
  if (machineIdCache !== undefined) return machineIdCache;
  for (const file of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const id = readFileSync(file, 'utf8').trim();
      if (/^[0-9a-f]{32}$/.test(id)) {
        machineIdCache = id;
        return id;
      }
    } catch {
      // try the next file
    }
  }
  throw new DBusError(StandardErrors.Failed, 'Unable to load /etc/machine-id or /var/lib/dbus/machine-id');
}
