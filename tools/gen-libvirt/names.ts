// The naming rules that relate libvirt's .x names to TypeScript names (one rule each).

/** Type names: PascalCase of the .x name (`remote_nonnull_domain` → `RemoteNonnullDomain`, `virNetMessageHeader` → `VirNetMessageHeader`). */
export function typeName(xName: string): string {
  return xName
    .split('_')
    .filter((p) => p !== '')
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
}

/** Method and event names: strip `<PREFIX>_PROC_` and camelCase (`REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS` → `connectListAllDomains`). */
export function methodName(procName: string, prefix: string): string {
  const stem = procName.startsWith(`${prefix}_PROC_`) ? procName.slice(prefix.length + 6) : procName;
  const parts = stem
    .toLowerCase()
    .split('_')
    .filter((p) => p !== '');
  return parts.map((p, i) => (i === 0 ? p : p[0]!.toUpperCase() + p.slice(1))).join('');
}

/** The struct names rpcgen conventions give a procedure: `REMOTE_PROC_DOMAIN_GET_INFO` → `remote_domain_get_info_{args,ret,msg}`. */
export function procedureStructStem(procName: string, prefix: string): string {
  const stem = procName.startsWith(`${prefix}_PROC_`) ? procName.slice(prefix.length + 6) : procName;
  return `${prefix.toLowerCase()}_${stem.toLowerCase()}`;
}

/** Names of the encoder and decoder generated for a type. */
export function encoderName(xName: string): string {
  return `encode${typeName(xName)}`;
}

export function decoderName(xName: string): string {
  return `decode${typeName(xName)}`;
}
