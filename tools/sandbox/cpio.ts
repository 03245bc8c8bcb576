// A writer of the "newc" cpio format (the one the Linux kernel unpacks as an initramfs), so the test
// guest's initramfs is built without root: owners, modes and device nodes are just header fields.

/** One entry of the archive. */
export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number; uid?: number; gid?: number }
  | { kind: 'file'; path: string; data: Uint8Array | string; mode?: number; uid?: number; gid?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

/** Pads `parts`' running length to a multiple of 4 bytes, as newc requires after headers and data. */
function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

/** Serialises `entries` (parents before children) as a newc archive with its trailer. */
export function newcArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let length = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    length += b.length;
  };
  const add = (name: string, mode: number, uid: number, gid: number, data: Buffer, rdev: [number, number], ino: number) => {
    const nameBytes = Buffer.from(`${name}\0`, 'utf8');
    // magic, then 13 fields of 8 hex digits: ino mode uid gid nlink mtime filesize devmajor devminor
    // rdevmajor rdevminor namesize check (0 for newc without checksums).
    const fields = [ino, mode, uid, gid, mode & S_IFDIR ? 2 : 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0];
    push(Buffer.from(`070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`, 'ascii'));
    push(nameBytes);
    push(pad4(length));
    push(data);
    push(pad4(length));
  };
  entries.forEach((e, i) => {
    const name = e.path.replace(/^\/+/, '');
    const ino = i + 1;
    switch (e.kind) {
      case 'dir':
        add(name, S_IFDIR | (e.mode ?? 0o755), e.uid ?? 0, e.gid ?? 0, Buffer.alloc(0), [0, 0], ino);
        break;
      case 'file':
        add(name, S_IFREG | (e.mode ?? 0o644), e.uid ?? 0, e.gid ?? 0, Buffer.from(e.data), [0, 0], ino);
        break;
      case 'symlink':
        add(name, S_IFLNK | 0o777, 0, 0, Buffer.from(e.target, 'utf8'), [0, 0], ino);
        break;
      case 'chardev':
        add(name, S_IFCHR | (e.mode ?? 0o600), 0, 0, Buffer.alloc(0), [e.major, e.minor], ino);
        break;
    }
  });
  add('TRAILER!!!', 0, 0, 0, Buffer.alloc(0), [0, 0], 0);
  return Buffer.concat(parts);
}
