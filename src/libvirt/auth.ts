// Authentication after connecting, as libvirt's remoteAuthenticate does: REMOTE_PROC_AUTH_LIST for
// what the daemon offers, then none, polkit, or SASL (our mechanisms: SCRAM-SHA-256, SCRAM-SHA-1,
// PLAIN, with names and passwords from the open options or libvirt's auth.conf).
import { credentialsFor } from './auth-config.js';
import { LibvirtAuthError, LibvirtError, LibvirtUnsupportedError, VIR_ERR_AUTH_UNAVAILABLE, VIR_ERR_NO_SUPPORT } from './errors.js';
import { REMOTE_AUTH_NONE, REMOTE_AUTH_POLKIT, REMOTE_AUTH_SASL, RemoteAuthType, type RemoteProcedures } from './remote-protocol.gen.js';
import { chooseMechanism, createMechanism, SASL_MECHANISMS, type SaslCredentials } from './sasl.js';
import type { ConnectPlan } from './uri.js';

/** The calls authentication makes (a connection's generated procedures). */
export type AuthCalls = Pick<RemoteProcedures, 'authList' | 'authPolkit' | 'authSaslInit' | 'authSaslStart' | 'authSaslStep'>;

/** remote_auth_type values by the name a URI's `auth=` gives them: REMOTE_AUTH_SASL → 'sasl'. */
const AUTH_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(RemoteAuthType).map(([name, v]) => [v, name.slice('REMOTE_AUTH_'.length).toLowerCase()]),
);

/** REMOTE_PROC_AUTH_LIST, then the chosen method (none or polkit), as remoteAuthenticate does. */
export async function authenticate(calls: AuthCalls, plan: ConnectPlan, credentials?: Partial<SaslCredentials>): Promise<void> {
  let types: number[];
  try {
    types = (await calls.authList()).types;
  } catch (e) {
    // Very old daemons lack AUTH_LIST: they need no authentication.
    if (e instanceof LibvirtError && e.code === VIR_ERR_NO_SUPPORT) return;
    throw e;
  }
  if (types.length === 0) return;
  let chosen = types[0];
  const wanted = plan.auth;
  if (wanted !== undefined) {
    const want = Object.entries(AUTH_NAMES).find(([, n]) => n === wanted.toLowerCase() || wanted.toLowerCase().startsWith(`${n}.`));
    const code = want ? Number(want[0]) : -1;
    if (!types.includes(code)) {
      throw new LibvirtAuthError(
        `requested authentication type '${wanted}' is not offered by the server (offered: ${types.map((t) => AUTH_NAMES[t] ?? t).join(', ')})`,
        VIR_ERR_AUTH_UNAVAILABLE,
      );
    }
    chosen = code;
  }
  switch (chosen) {
    case REMOTE_AUTH_NONE:
      return;
    case REMOTE_AUTH_POLKIT: {
      const { complete } = await calls.authPolkit();
      if (!complete) throw new LibvirtAuthError('polkit authentication did not complete');
      return;
    }
    case REMOTE_AUTH_SASL:
      return authenticateSasl(calls, plan, credentials, wanted?.toLowerCase().startsWith('sasl.') ? wanted.slice(5) : undefined);
    default:
      throw new LibvirtAuthError(`unknown authentication type ${chosen} offered by the server`, VIR_ERR_AUTH_UNAVAILABLE);
  }
}

/**
 * REMOTE_AUTH_SASL as remoteAuthSASL does: AUTH_SASL_INIT for the server's mechanisms, START with
 * our initial response, STEP until both sides are complete (the client always takes the last step,
 * so that the server proves itself too).
 */
async function authenticateSasl(
  calls: AuthCalls,
  plan: ConnectPlan,
  credentials: Partial<SaslCredentials> | undefined,
  wantedMechanism: string | undefined,
): Promise<void> {
  // Our mechanisms have no security layer: libvirt accepts them only where the transport protects
  // the connection, and so do we.
  if (plan.target.transport === 'tcp') {
    throw new LibvirtUnsupportedError(
      'sasl',
      'SASL over plain TCP needs a security layer (GSSAPI, DIGEST-MD5), which this client does not have: use tls or ssh',
      VIR_ERR_AUTH_UNAVAILABLE,
    );
  }
  const { mechlist } = await calls.authSaslInit();
  const mechanism = chooseMechanism(mechlist, wantedMechanism);
  if (!mechanism) {
    throw new LibvirtAuthError(
      `no SASL mechanism in common with the server (it offers ${mechlist || 'none'}, this client has ${SASL_MECHANISMS.join(', ')})`,
      VIR_ERR_AUTH_UNAVAILABLE,
    );
  }
  const host = plan.uri.host ?? 'localhost';
  const fromFile = credentials ? undefined : credentialsFor(plan.uri, 'libvirt', host);
  const authname = credentials?.authname ?? fromFile?.get('authname') ?? fromFile?.get('username');
  const password = credentials?.password ?? fromFile?.get('password');
  if (authname === undefined || password === undefined) {
    throw new LibvirtAuthError(
      `SASL ${mechanism} needs a name and a password for libvirt on ${host}: none in the open options or an auth.conf ($LIBVIRT_AUTH_FILE, authfile=, ~/.config/libvirt/auth.conf, /etc/libvirt/auth.conf)`,
    );
  }
  const client = createMechanism(mechanism, { authname, password });
  const toWire = (b: Buffer) => [...b];
  let reply = await calls.authSaslStart({ mech: mechanism, nil: 0, data: toWire(client.start()) });
  for (let round = 0; !(reply.complete && client.complete); round++) {
    if (round > 16) throw new LibvirtAuthError('SASL negotiation did not finish');
    let answer: Buffer;
    try {
      answer = client.step(Buffer.from(reply.data));
    } catch (e) {
      throw new LibvirtAuthError(`SASL ${mechanism}: ${(e as Error).message}`);
    }
    if (reply.complete) {
      if (client.complete) return;
      throw new LibvirtAuthError(`SASL ${mechanism}: the server finished before we did`);
    }
    reply = await calls.authSaslStep({ nil: 0, data: toWire(answer) });
  }
}
