// Typed errors: each carries the D-Bus error name it stands for.

/** An error with a D-Bus error name; thrown by handlers to answer with that name, and received from error replies. */
export class DBusError extends Error {
  constructor(
    readonly errorName: string,
    message: string,
    readonly body: unknown[] = [message],
  ) {
    super(message);
    this.name = 'DBusError';
  }
}

/** The peer or a local value broke the wire format or a limit of the specification. */
export class DBusProtocolError extends DBusError {
  constructor(message: string) {
    super('org.freedesktop.DBus.Error.InvalidArgs', message);
    this.name = 'DBusProtocolError';
  }
}

/** A value does not fit its signature, or a name does not follow the grammar. */
export class DBusInvalidArgsError extends DBusError {
  constructor(message: string) {
    super('org.freedesktop.DBus.Error.InvalidArgs', message);
    this.name = 'DBusInvalidArgsError';
  }
}

/** No reply arrived within the call's timeout. */
export class DBusTimeoutError extends DBusError {
  constructor(message = 'Timeout was reached') {
    super('org.freedesktop.DBus.Error.NoReply', message);
    this.name = 'DBusTimeoutError';
  }
}

/** The call was cancelled through its AbortSignal. */
export class DBusCancelledError extends DBusError {
  constructor(message = 'Operation was cancelled') {
    super('org.freedesktop.DBus.Error.Cancelled', message);
    this.name = 'DBusCancelledError';
  }
}

/** The connection is closed, or closed while the call was pending. */
export class DBusClosedError extends DBusError {
  constructor(message = 'The connection is closed') {
    super('org.freedesktop.DBus.Error.Disconnected', message);
    this.name = 'DBusClosedError';
  }
}

/** Authentication with the peer failed. */
export class DBusAuthError extends DBusError {
  constructor(message: string) {
    super('org.freedesktop.DBus.Error.AuthFailed', message);
    this.name = 'DBusAuthError';
  }
}

/** Names of the standard errors the library answers with. */
export const StandardErrors = {
  Failed: 'org.freedesktop.DBus.Error.Failed',
  InvalidArgs: 'org.freedesktop.DBus.Error.InvalidArgs',
  UnknownMethod: 'org.freedesktop.DBus.Error.UnknownMethod',
  UnknownObject: 'org.freedesktop.DBus.Error.UnknownObject',
  UnknownInterface: 'org.freedesktop.DBus.Error.UnknownInterface',
  UnknownProperty: 'org.freedesktop.DBus.Error.UnknownProperty',
  PropertyReadOnly: 'org.freedesktop.DBus.Error.PropertyReadOnly',
  AccessDenied: 'org.freedesktop.DBus.Error.AccessDenied',
  NotSupported: 'org.freedesktop.DBus.Error.NotSupported',
  NoReply: 'org.freedesktop.DBus.Error.NoReply',
  ServiceUnknown: 'org.freedesktop.DBus.Error.ServiceUnknown',
  Disconnected: 'org.freedesktop.DBus.Error.Disconnected',
  LimitsExceeded: 'org.freedesktop.DBus.Error.LimitsExceeded',
} as const;
