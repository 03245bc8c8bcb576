// Typed errors of the libvirt RPC client. Every error carries a libvirt error code (virErrorNumber),
// error domain (virErrorDomain) and level (virErrorLevel), whether it came from the daemon
// (a remote_error in a REPLY) or from this client (socket closed, bad packet, bad URI).
import { VirErrorDomain, VirErrorLevel, VirErrorNumber, virErrorDomainNames, virErrorNumberNames } from './virerror.gen.js';

/** virErrorLevel: VIR_ERR_ERROR. */
export const VIR_ERR_LEVEL_ERROR = VirErrorLevel.VIR_ERR_ERROR;

/** Fields of libvirt's virError (remote_error on the wire). */
export interface LibvirtErrorFields {
  code: number;
  domain: number;
  message: string;
  level?: number;
  str1?: string | null;
  str2?: string | null;
  str3?: string | null;
  int1?: number;
  int2?: number;
}

/** 'VIR_ERR_…' name of a virErrorNumber, or 'VIR_ERR_<n>' for a code newer than our virterror.h. */
export function errorCodeName(code: number): string {
  return virErrorNumberNames.get(code) ?? `VIR_ERR_${code}`;
}

/** 'VIR_FROM_…' name of a virErrorDomain, or 'VIR_FROM_<n>' if unknown. */
export function errorDomainName(domain: number): string {
  return virErrorDomainNames.get(domain) ?? `VIR_FROM_${domain}`;
}

/** An error reported by libvirt (or by this client in libvirt's terms). */
export class LibvirtError extends Error {
  /** virErrorNumber, e.g. 42 */
  readonly code: number;
  /** Name of the code from virterror.h, e.g. 'VIR_ERR_NO_DOMAIN' */
  readonly codeName: string;
  /** virErrorDomain, e.g. 12 */
  readonly domain: number;
  /** Name of the domain from virterror.h, e.g. 'VIR_FROM_TEST' */
  readonly domainName: string;
  /** virErrorLevel (1 warning, 2 error) */
  readonly level: number;
  readonly str1: string | null;
  readonly str2: string | null;
  readonly str3: string | null;
  readonly int1: number;
  readonly int2: number;

  constructor(fields: LibvirtErrorFields) {
    super(fields.message);
    this.name = 'LibvirtError';
    this.code = fields.code;
    this.codeName = errorCodeName(fields.code);
    this.domain = fields.domain;
    this.domainName = errorDomainName(fields.domain);
    this.level = fields.level ?? VIR_ERR_LEVEL_ERROR;
    this.str1 = fields.str1 ?? null;
    this.str2 = fields.str2 ?? null;
    this.str3 = fields.str3 ?? null;
    this.int1 = fields.int1 ?? 0;
    this.int2 = fields.int2 ?? 0;
  }
}

// Codes and domains used for client-side errors (from virterror.h, through the generator).
export const {
  VIR_ERR_INTERNAL_ERROR,
  VIR_ERR_NO_SUPPORT,
  VIR_ERR_NO_CONNECT,
  VIR_ERR_INVALID_ARG,
  VIR_ERR_SYSTEM_ERROR,
  VIR_ERR_RPC,
  VIR_ERR_AUTH_FAILED,
  VIR_ERR_OPERATION_ABORTED,
  VIR_ERR_OPERATION_UNSUPPORTED,
  VIR_ERR_AUTH_UNAVAILABLE,
} = VirErrorNumber;
export const { VIR_FROM_RPC, VIR_FROM_REMOTE, VIR_FROM_STREAMS } = VirErrorDomain;

/** Why a connection closed: the daemon went away, keepalive timed out, the peer broke the protocol, or we closed it. */
export type CloseReason = 'eof' | 'keepalive' | 'protocol' | 'closed' | 'error';

/** A call could not complete because the connection is (or became) closed. */
export class LibvirtConnectionClosedError extends LibvirtError {
  readonly reason: CloseReason;
  constructor(reason: CloseReason, detail?: string) {
    super({
      code: VIR_ERR_INTERNAL_ERROR,
      domain: VIR_FROM_RPC,
      message: `connection closed (${reason})${detail ? `: ${detail}` : ''}`,
    });
    this.name = 'LibvirtConnectionClosedError';
    this.reason = reason;
  }
}

/** The peer sent something that is not valid libvirt RPC (bad header, truncated payload, …). */
export class LibvirtProtocolError extends LibvirtError {
  constructor(message: string) {
    super({ code: VIR_ERR_RPC, domain: VIR_FROM_RPC, message });
    this.name = 'LibvirtProtocolError';
  }
}

/** A packet is larger than VIR_NET_MESSAGE_MAX (or its length word is impossible). */
export class LibvirtMessageSizeError extends LibvirtProtocolError {
  readonly length: number;
  constructor(message: string, length: number) {
    super(message);
    this.name = 'LibvirtMessageSizeError';
    this.length = length;
  }
}

/** The URI cannot be used (syntax, unknown transport, bad parameter). */
export class LibvirtUriError extends LibvirtError {
  constructor(message: string) {
    super({ code: VIR_ERR_INVALID_ARG, domain: VIR_FROM_REMOTE, message });
    this.name = 'LibvirtUriError';
  }
}

/** A feature this client does not implement (SASL or ssh transport, fd passing without src/unix). */
export class LibvirtUnsupportedError extends LibvirtError {
  /** What was asked for, e.g. 'sasl', 'ssh', 'fd-passing' */
  readonly feature: string;
  constructor(feature: string, message: string, code: number = VIR_ERR_NO_SUPPORT) {
    super({ code, domain: VIR_FROM_REMOTE, message });
    this.name = 'LibvirtUnsupportedError';
    this.feature = feature;
  }
}

/** Authentication with the daemon failed or was refused. */
export class LibvirtAuthError extends LibvirtError {
  constructor(message: string, code: number = VIR_ERR_AUTH_FAILED) {
    super({ code, domain: VIR_FROM_REMOTE, message });
    this.name = 'LibvirtAuthError';
  }
}

/** The socket could not be reached (connect failed, TLS failed). */
export class LibvirtConnectError extends LibvirtError {
  /** The Node.js system error code, e.g. 'ENOENT' */
  readonly errno: string | undefined;
  constructor(message: string, errno?: string) {
    super({ code: VIR_ERR_SYSTEM_ERROR, domain: VIR_FROM_RPC, message });
    this.name = 'LibvirtConnectError';
    this.errno = errno;
  }
}
