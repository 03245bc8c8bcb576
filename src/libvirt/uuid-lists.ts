// virConnectListAllDomains for a caller that needs only the domains' UUIDs (the service's object
// paths are made of them): the reply is read straight into one buffer of 16 bytes per domain,
// without the object, name string and UUID buffer per domain the generated decoder builds. The
// reply is checked as the generated decoder checks it: remote_connect_list_all_domains_ret is
// `remote_nonnull_domain domains<REMOTE_DOMAIN_LIST_MAX>; unsigned int ret;` and
// remote_nonnull_domain is `remote_nonnull_string name; remote_uuid uuid; int id;`.
import type { LibvirtConnection } from './connection.js';
import { VIR_UUID_BUFLEN } from './libvirt-enums.gen.js';
import {
  REMOTE_DOMAIN_LIST_MAX,
  REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS,
  REMOTE_STRING_MAX,
  type RemoteConnectListAllDomainsArgs,
  remoteProcedureInfo,
} from './remote-protocol.gen.js';
import type { XdrReader, XdrWriter } from './xdr.js';

/** The UUIDs of a remote_connect_list_all_domains_ret, packed (domain i at i * VIR_UUID_BUFLEN). */
export function decodeListAllDomainsUuids(r: XdrReader): Buffer {
  const n = r.readArrayLength(REMOTE_DOMAIN_LIST_MAX);
  const out = Buffer.allocUnsafe(n * VIR_UUID_BUFLEN);
  for (let i = 0; i < n; i++) {
    r.skipString(REMOTE_STRING_MAX);
    r.readFixedOpaqueInto(VIR_UUID_BUFLEN, out, i * VIR_UUID_BUFLEN);
    r.readInt();
  }
  r.readUint();
  return out;
}

/** virConnectListAllDomains(flags), answering the domains' UUIDs packed 16 bytes each. */
export function listAllDomainUuids(conn: LibvirtConnection, flags: number): Promise<Buffer> {
  const info = remoteProcedureInfo[REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS]!;
  const args: RemoteConnectListAllDomainsArgs = { need_results: 1, flags };
  const encode = info.encodeArgs as (w: XdrWriter, v: RemoteConnectListAllDomainsArgs) => void;
  return conn.call(info.program, info.version, info.procedure, args, encode, decodeListAllDomainsUuids, info);
}
