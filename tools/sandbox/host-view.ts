// What a private libvirtd sees of the host. Its /etc/libvirt starts from the packages' defaults, never
// from the host's own definitions (domains, networks, pools, secrets, filters, hooks), so a test sees
// the same objects on any host; and /dev/kvm is a device node of its own, so opening it up for QEMU
// never changes the host's node.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

const ETC = '/etc/libvirt';
/** Definitions the packages ship outside /etc (libvirt-daemon-config-nwfilter, -config-network). */
const SHIPPED_NWFILTERS = '/usr/share/libvirt/nwfilter';
const SHIPPED_DEFAULT_NETWORK = '/usr/share/libvirt/networks/default.xml';

/**
 * The conffiles of /etc/libvirt the installed packages record (path → md5), from dpkg's database;
 * empty where there is no dpkg.
 */
function packagedConffiles(): Map<string, string> {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Conffiles}\n'], { encoding: 'utf8' });
  const files = new Map<string, string>();
  if (r.status !== 0) return files;
  for (const line of r.stdout.split('\n')) {
    const [path, md5, obsolete] = line.trim().split(/\s+/);
    if (path?.startsWith(`${ETC}/`) && md5 && !obsolete) files.set(path, md5);
  }
  return files;
}

/**
 * Writes into `into` the /etc/libvirt a freshly installed libvirt has: each packaged configuration
 * file the host has left as shipped (one the host edited is left out: libvirt's built-in default is
 * the package's, whose files only hold comments), the packages' network filters and their `default`
 * network (not autostarted) — and nothing the host defined.
 */
export function packageLibvirtConfig(into: string): void {
  mkdirSync(into, { recursive: true });
  for (const [path, md5] of packagedConffiles()) {
    if (!existsSync(path)) continue;
    const body = readFileSync(path);
    if (createHash('md5').update(body).digest('hex') !== md5) continue;
    const target = join(into, path.slice(ETC.length + 1));
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(path, target);
  }
  if (existsSync(SHIPPED_NWFILTERS)) {
    mkdirSync(join(into, 'nwfilter'), { recursive: true });
    for (const f of readdirSync(SHIPPED_NWFILTERS)) {
      if (f.endsWith('.xml')) copyFileSync(join(SHIPPED_NWFILTERS, f), join(into, 'nwfilter', f));
    }
  }
  if (existsSync(SHIPPED_DEFAULT_NETWORK)) {
    mkdirSync(join(into, 'qemu', 'networks', 'autostart'), { recursive: true });
    copyFileSync(SHIPPED_DEFAULT_NETWORK, join(into, 'qemu', 'networks', 'default.xml'));
  }
}

/**
 * Shell lines for a private mount namespace that put a /dev/kvm node of its own (same device, mode
 * 0666, at `dir`/kvm) over the host's: QEMU may open it, so libvirtd does not re-probe QEMU for every
 * definition as it does when /dev/kvm is root-only, and the host's node keeps its mode. Empty
 * without /dev/kvm.
 */
export function privateKvmMounts(dir: string): string[] {
  if (!existsSync('/dev/kvm')) return [];
  const rdev = statSync('/dev/kvm').rdev;
  // Linux's dev_t (glibc's gnu_dev_major/minor, for numbers below 2^32).
  const major = (rdev >>> 8) & 0xfff;
  const minor = (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
  const node = join(dir, 'kvm');
  return [`[ -e ${node} ] || mknod -m 0666 ${node} c ${major} ${minor}`, `mount --bind ${node} /dev/kvm`];
}
