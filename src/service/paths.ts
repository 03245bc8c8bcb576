// The encodings of org.libvirt object path elements, exactly as the reference forms them
// (which kind uses which, and the path segments, are in object-kinds.ts):
//   a UUID      '_' + the UUID with '-' replaced by '_'
//   a string    [A-Za-z0-9] kept, every other byte of the UTF-8 form as '_' + two lowercase hex digits
// and how libvirt parses a UUID string, whose errors the reference passes on.

import { OrgLibvirtError } from './errors.js';

/** Where all Connect objects live. */
export const ROOT_PATH = '/org/libvirt';

/** Path of the Connect object named `name` (e.g. 'QEMU'). */
export function connectPath(name: string): string {
  return `${ROOT_PATH}/${name}`;
}

/** The last element of an object path. */
export function lastElement(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
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

/** The UUID text of a path element made by encodeUuid, as the reference decodes it (unchecked). */
export function uuidTextOf(element: string): string {
  return element.slice(1).replaceAll('_', '-');
}

/** Formats 16 raw UUID bytes as libvirt's UUID string (lowercase, with dashes). */
export function uuidToString(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Parses a UUID the way virUUIDParse does: leading blanks, then 32 hex digits that may be
 * separated by '-' or ' ', then only blanks. Returns undefined when malformed.
 */
export function parseUuidLikeLibvirt(text: string): Uint8Array | undefined {
  let i = 0;
  while (text[i] === ' ') i++;
  const out = new Uint8Array(16);
  for (let n = 0; n < 16; n++) {
    while (text[i] === '-' || text[i] === ' ') i++;
    const hi = hexDigit(text.charCodeAt(i));
    const lo = hexDigit(text.charCodeAt(i + 1));
    if (hi < 0 || lo < 0) return undefined;
    out[n] = hi * 16 + lo;
    i += 2;
  }
  while (i < text.length) {
    if (text[i] !== ' ') return undefined;
    i++;
  }
  return out;
}

/** The value of a hex digit's character code, or -1 (also for NaN, past the end of a string). */
function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

/**
 * UUID bytes of a UUID string as virXLookupByUUIDString (`fn`) parses it; an invalid one fails
 * with the message libvirt gives (`uuidstr in virNetworkLookupByUUIDString must be a valid UUID`,
 * but plain `Invalid UUID` from virDomainLookupByUUIDString — seen in test/service/diff-objects).
 */
export function uuidArg(uuid: string, fn: string): Uint8Array {
  const bytes = parseUuidLikeLibvirt(uuid);
  if (!bytes) {
    throw new OrgLibvirtError(fn === 'virDomainLookupByUUIDString' ? 'Invalid UUID' : `uuidstr in ${fn} must be a valid UUID`);
  }
  return bytes;
}
