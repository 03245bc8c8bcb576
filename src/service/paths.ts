// Object paths of org.libvirt, exactly as the reference forms them:
//   /org/libvirt/<Connect name>                         the hypervisor connection
//   <connect>/domain/_<uuid, '-' → '_'>                 domains (networks, pools, secrets, nwfilters alike)
//   <connect>/nodedev/<encoded name>                    node devices
//   <connect>/interface/<encoded MAC>                   host interfaces
//   <connect>/storagevol/<encoded key>                  storage volumes
//   <connect>/domainsnapshot/_<domain uuid>_<encoded snapshot name>
// "Encoded" keeps [A-Za-z0-9] and writes every other byte of the UTF-8 form as '_' + two
// lowercase hex digits.

/** Where all Connect objects live. */
export const ROOT_PATH = '/org/libvirt';

/** The kinds of objects below a Connect object and the path segment of each subtree. */
export const SubtreeSegments = {
  domain: 'domain',
  domainSnapshot: 'domainsnapshot',
  interface: 'interface',
  network: 'network',
  nodeDevice: 'nodedev',
  nwfilter: 'nwfilter',
  secret: 'secret',
  storagePool: 'storagepool',
  storageVol: 'storagevol',
} as const;

/** A kind of object below a Connect object. */
export type ObjectKind = keyof typeof SubtreeSegments;

/** Path of the Connect object named `name` (e.g. 'QEMU'). */
export function connectPath(name: string): string {
  return `${ROOT_PATH}/${name}`;
}

/** Path of the subtree holding objects of `kind` below `connect`. */
export function subtreePath(connect: string, kind: ObjectKind): string {
  return `${connect}/${SubtreeSegments[kind]}`;
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** Encodes any string as an object path element: [A-Za-z0-9] kept, other bytes as _xx. */
export function encodeString(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    out += isAlnum(byte) ? String.fromCharCode(byte) : `_${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/**
 * Decodes an element written by encodeString. Like the reference, an '_' within the last two
 * characters is kept as is; unlike it, an '_' not followed by two hex digits is kept too
 * (the reference would produce garbage bytes; either way no such object exists).
 */
export function decodeString(element: string): string {
  const src = Buffer.from(element, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < src.length; i++) {
    const c = src[i] as number;
    if (c === 0x5f && i + 2 < src.length) {
      const hi = hexValue(src[i + 1] as number);
      const lo = hexValue(src[i + 2] as number);
      if (hi >= 0 && lo >= 0) {
        out.push((hi << 4) | lo);
        i += 2;
        continue;
      }
    }
    out.push(c);
  }
  return Buffer.from(out).toString('utf8');
}

/** Path element for a UUID: '_' + the UUID with '-' replaced by '_'. */
export function encodeUuid(uuid: string): string {
  return `_${uuid.replaceAll('-', '_')}`;
}

const UUID_ELEMENT = /^_[0-9a-fA-F]{8}_[0-9a-fA-F]{4}_[0-9a-fA-F]{4}_[0-9a-fA-F]{4}_[0-9a-fA-F]{12}$/;

/** The UUID in a path element made by encodeUuid, or undefined if it is not one. */
export function decodeUuid(element: string): string | undefined {
  if (!UUID_ELEMENT.test(element)) return undefined;
  return element.slice(1).replaceAll('_', '-').toLowerCase();
}

/** Path element of a domain snapshot: `_<domain uuid>_<encoded name>`. */
export function encodeSnapshot(domainUuid: string, snapshotName: string): string {
  return `${encodeUuid(domainUuid)}_${encodeString(snapshotName)}`;
}

/** Domain UUID and snapshot name of a snapshot path element, or undefined. */
export function decodeSnapshot(element: string): { domainUuid: string; name: string } | undefined {
  // '_' + 36 characters of UUID, then '_' and the encoded name.
  const domainUuid = decodeUuid(element.slice(0, 37));
  if (domainUuid === undefined || element[37] !== '_') return undefined;
  return { domainUuid, name: decodeString(element.slice(38)) };
}

/** Path of an object of `kind`, keyed by UUID (domain, network, nwfilter, secret, storagePool). */
export function uuidObjectPath(connect: string, kind: ObjectKind, uuid: string): string {
  return `${subtreePath(connect, kind)}/${encodeUuid(uuid)}`;
}

/** Path of an object of `kind`, keyed by a string (nodeDevice name, interface MAC, storageVol key). */
export function stringObjectPath(connect: string, kind: ObjectKind, key: string): string {
  return `${subtreePath(connect, kind)}/${encodeString(key)}`;
}

/** Path of a domain snapshot. */
export function snapshotPath(connect: string, domainUuid: string, snapshotName: string): string {
  return `${subtreePath(connect, 'domainSnapshot')}/${encodeSnapshot(domainUuid, snapshotName)}`;
}

/** Formats 16 raw UUID bytes as libvirt's UUID string (lowercase, with dashes). */
export function uuidToString(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Parses a UUID string (with or without dashes) into 16 bytes, or undefined if malformed. */
export function uuidFromString(uuid: string): Uint8Array | undefined {
  const hex = uuid.replaceAll('-', '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) return undefined;
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
