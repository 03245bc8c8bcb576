// Object paths already built, by the key of their object. A host's objects come back in every list
// and signal, so each path is built once (and, being the same string each time, checked once by the
// encoder's object path memo). Both caches are bounded: when full they start over (not an LRU).

import { VIR_UUID_BUFLEN } from '../libvirt/index.js';

/** Paths remembered per kind and Connect object. */
export const PATH_CACHE_SIZE = 65_536;

/** Built paths by key. */
export interface PathCache<K> {
  get(key: K): string | undefined;
  set(key: K, path: string): void;
}

/** Paths by a string key. */
export class StringPathCache implements PathCache<string> {
  private readonly paths = new Map<string, string>();

  get(key: string): string | undefined {
    return this.paths.get(key);
  }

  set(key: string, path: string): void {
    if (this.paths.size >= PATH_CACHE_SIZE) this.paths.clear();
    this.paths.set(key, path);
  }
}

/**
 * Paths by the 16 bytes of a UUID, found from the bytes where they lie (e.g. in a packed list of
 * UUIDs): no string or buffer is made per lookup. Open addressing over a hash of all 16 bytes
 * (UUIDs made by hand are often alike but for their last bytes).
 */
export class UuidPathCache implements PathCache<Uint8Array> {
  /** Slot → entry index + 1 (0: empty); kept at most half full. */
  private slots = new Int32Array(64);
  /** Entry i's UUID at i * 16. */
  private uuids = Buffer.alloc(32 * VIR_UUID_BUFLEN);
  private paths: string[] = [];

  get(uuid: Uint8Array): string | undefined {
    return this.getAt(uuid, 0);
  }

  set(uuid: Uint8Array, path: string): void {
    this.setAt(uuid, 0, path);
  }

  /** The path of the UUID at `bytes[at..at+16]`. */
  getAt(bytes: Uint8Array, at: number): string | undefined {
    const slots = this.slots;
    const mask = slots.length - 1;
    for (let s = hashUuid(bytes, at) & mask; ; s = (s + 1) & mask) {
      const e = slots[s] as number;
      if (e === 0) return undefined;
      if (sameUuid(this.uuids, (e - 1) * VIR_UUID_BUFLEN, bytes, at)) return this.paths[e - 1];
    }
  }

  /** Remembers the path of the UUID at `bytes[at..at+16]` (which must not be there yet). */
  setAt(bytes: Uint8Array, at: number, path: string): void {
    if (this.paths.length >= PATH_CACHE_SIZE) {
      this.slots = new Int32Array(64);
      this.paths = [];
    }
    const index = this.paths.length;
    if ((index + 1) * 2 > this.slots.length) this.resize(this.slots.length * 2);
    if ((index + 1) * VIR_UUID_BUFLEN > this.uuids.length) {
      const more = Buffer.alloc(this.uuids.length * 2);
      this.uuids.copy(more);
      this.uuids = more;
    }
    for (let i = 0; i < VIR_UUID_BUFLEN; i++) this.uuids[index * VIR_UUID_BUFLEN + i] = bytes[at + i] as number;
    this.paths.push(path);
    this.place(index);
  }

  private resize(size: number): void {
    this.slots = new Int32Array(size);
    for (let i = 0; i < this.paths.length; i++) this.place(i);
  }

  private place(index: number): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    let s = hashUuid(this.uuids, index * VIR_UUID_BUFLEN) & mask;
    while (slots[s] !== 0) s = (s + 1) & mask;
    slots[s] = index + 1;
  }
}

/** FNV-1a over the 16 bytes. */
function hashUuid(b: Uint8Array, at: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < VIR_UUID_BUFLEN; i++) h = Math.imul(h ^ (b[at + i] as number), 0x01000193);
  return h >>> 0;
}

function sameUuid(a: Uint8Array, ai: number, b: Uint8Array, bi: number): boolean {
  for (let i = 0; i < VIR_UUID_BUFLEN; i++) if (a[ai + i] !== b[bi + i]) return false;
  return true;
}
