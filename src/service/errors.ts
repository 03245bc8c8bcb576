// Errors of org.libvirt: every libvirt failure reaches the caller as org.libvirt.Error with
// libvirt's own message, as the reference does; D-Bus errors pass through unchanged.

import { DBusError } from '../dbus/index.js';

/** The one error name the reference uses for libvirt failures. */
export const LibvirtErrorName = 'org.libvirt.Error';

/** An org.libvirt.Error reply. */
export class OrgLibvirtError extends DBusError {
  constructor(message: string) {
    super(LibvirtErrorName, message);
    this.name = 'OrgLibvirtError';
  }
}

/** Converts anything a handler threw into the DBusError to answer with. */
export function toDBusError(err: unknown): DBusError {
  if (err instanceof DBusError) return err;
  if (err instanceof Error) return new OrgLibvirtError(err.message);
  return new OrgLibvirtError(String(err));
}
