// SASL client mechanisms for REMOTE_AUTH_SASL: SCRAM-SHA-256 and SCRAM-SHA-1 (RFC 5802, 7677) and
// PLAIN (RFC 4616). None of them has a security layer, so libvirt only accepts them where the
// transport already protects the connection (UNIX socket, TLS, ssh); GSSAPI (Kerberos) and
// DIGEST-MD5's encryption layer are not implemented.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

/** What a mechanism needs to know of the user. */
export interface SaslCredentials {
  /** The name to authenticate as (libvirt's VIR_CRED_AUTHNAME) */
  authname: string;
  /** Its password (VIR_CRED_PASSPHRASE) */
  password: string;
}

/** A mechanism's client side: the initial response, then one answer per server challenge. */
export interface SaslClientMechanism {
  readonly name: string;
  /** The initial response (sent with AUTH_SASL_START). */
  start(): Buffer;
  /** Answers a challenge; throws SaslError when the server's message is wrong. */
  step(challenge: Buffer): Buffer;
  /** Whether our side is done (the server proved itself, for SCRAM). */
  readonly complete: boolean;
}

/** The server's messages do not follow the mechanism, or the server failed to prove itself. */
export class SaslError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SaslError';
  }
}

/** Mechanisms this client has, best first. */
export const SASL_MECHANISMS: readonly string[] = ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'];

/** The best mechanism of the server's list (comma- or space-separated) that we have, or that `wanted` names. */
export function chooseMechanism(offered: string, wanted?: string): string | undefined {
  const list = offered
    .split(/[,\s]+/)
    .filter(Boolean)
    .map((m) => m.toUpperCase());
  if (wanted !== undefined) {
    const w = wanted.toUpperCase();
    return list.includes(w) && SASL_MECHANISMS.includes(w) ? w : undefined;
  }
  return SASL_MECHANISMS.find((m) => list.includes(m));
}

/** The client side of mechanism `name` (one of SASL_MECHANISMS). */
export function createMechanism(name: string, creds: SaslCredentials, nonce?: string): SaslClientMechanism {
  switch (name.toUpperCase()) {
    case 'SCRAM-SHA-256':
      return new Scram('SCRAM-SHA-256', 'sha256', 32, creds, nonce);
    case 'SCRAM-SHA-1':
      return new Scram('SCRAM-SHA-1', 'sha1', 20, creds, nonce);
    case 'PLAIN':
      return new Plain(creds);
    default:
      throw new SaslError(`SASL mechanism ${name} is not supported (have ${SASL_MECHANISMS.join(', ')})`);
  }
}

class Plain implements SaslClientMechanism {
  readonly name = 'PLAIN';
  complete = false;
  constructor(private readonly creds: SaslCredentials) {}
  start(): Buffer {
    this.complete = true;
    // authzid (empty: act as ourselves) NUL authcid NUL password
    return Buffer.from(`\0${this.creds.authname}\0${this.creds.password}`, 'utf8');
  }
  step(): Buffer {
    throw new SaslError('PLAIN has no challenges');
  }
}

/** RFC 5802 saslname: ',' and '=' escaped. */
function saslName(s: string): string {
  return s.normalize('NFKC').replace(/=/g, '=3D').replace(/,/g, '=2C');
}

/** The attributes of a SCRAM message (`a=value,b=value`). */
function attributes(msg: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of msg.split(',')) {
    const eq = part.indexOf('=');
    if (eq !== 1) throw new SaslError(`malformed SCRAM attribute '${part}'`);
    out.set(part[0] as string, part.slice(2));
  }
  return out;
}

class Scram implements SaslClientMechanism {
  complete = false;
  private readonly nonce: string;
  private clientFirstBare = '';
  private serverSignature: Buffer | undefined;
  constructor(
    readonly name: string,
    private readonly hash: 'sha256' | 'sha1',
    private readonly keyLength: number,
    private readonly creds: SaslCredentials,
    nonce?: string,
  ) {
    this.nonce = nonce ?? randomBytes(24).toString('base64');
  }

  private hmac(key: Buffer, data: string | Buffer): Buffer {
    return createHmac(this.hash, key).update(data).digest();
  }

  start(): Buffer {
    this.clientFirstBare = `n=${saslName(this.creds.authname)},r=${this.nonce}`;
    return Buffer.from(`n,,${this.clientFirstBare}`, 'utf8');
  }

  step(challenge: Buffer): Buffer {
    const msg = challenge.toString('utf8');
    if (this.serverSignature === undefined) return this.clientFinal(msg);
    const attrs = attributes(msg);
    const error = attrs.get('e');
    if (error !== undefined) throw new SaslError(`the server refused: ${error}`);
    const v = Buffer.from(attrs.get('v') ?? '', 'base64');
    if (v.length !== this.serverSignature.length || !timingSafeEqual(v, this.serverSignature)) {
      throw new SaslError('the server did not prove it knows the password (bad SCRAM server signature)');
    }
    this.complete = true;
    return Buffer.alloc(0);
  }

  private clientFinal(serverFirst: string): Buffer {
    const attrs = attributes(serverFirst);
    if (attrs.has('m')) throw new SaslError('SCRAM extension required by the server is not supported');
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (!nonce?.startsWith(this.nonce) || nonce.length === this.nonce.length)
      throw new SaslError('SCRAM server nonce does not extend ours');
    if (!salt || !Number.isInteger(iterations) || iterations < 1)
      throw new SaslError('SCRAM server-first message lacks salt or iteration count');
    const salted = pbkdf2Sync(this.creds.password.normalize('NFKC'), Buffer.from(salt, 'base64'), iterations, this.keyLength, this.hash);
    const clientKey = this.hmac(salted, 'Client Key');
    const storedKey = createHash(this.hash).update(clientKey).digest();
    // c= is the base64 of the GS2 header we sent ("n,,": no channel binding, no authzid).
    const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = this.hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = (clientKey[i] as number) ^ (signature[i] as number);
    this.serverSignature = this.hmac(this.hmac(salted, 'Server Key'), authMessage);
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
  }
}
