#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with Node's own test runner.
// A path filter may be given: `npm test -- dbus` runs only files whose path contains "dbus".
//
// The run leaves the host as it found it, and checks that it did:
// - the tests get an empty home: as root, in a private mount namespace where a temporary directory
//   is bind-mounted over the user's home (libdbus and our CookieKeyring find ~/.dbus-keyrings through
//   the passwd entry, not $HOME, so a HOME variable alone would not do); otherwise HOME points there;
// - before and after, it records the host's own qemu:///system objects (domains, networks, pools,
//   secrets, network filters), /dev/kvm's mode and owner, and the home's entries and keyring files;
//   any difference fails the run (and /dev/kvm is put back as it was).
import { readFileSync, readdirSync, statSync, existsSync, mkdtempSync, rmSync, chmodSync, chownSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { basename, join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'dist', 'test');
if (!existsSync(dir)) {
  console.error('dist/test is missing: run `npm run build` first.');
  process.exit(1);
}
const files = [];
(function walk(d) {
  for (const name of readdirSync(d).sort()) {
    const p = join(d, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
})(dir);
const filters = process.argv.slice(2);
const chosen = filters.length ? files.filter((f) => filters.some((x) => relative(root, f).includes(x))) : files;
if (chosen.length === 0) {
  console.error('no test files match');
  process.exit(1);
}

const home = userInfo().homedir;

/** What the suite must not change: the host's libvirt objects, /dev/kvm, the user's home. */
function hostState() {
  const state = {};
  const lists = [
    ['list', '--all', '--name'],
    ['net-list', '--all', '--name'],
    ['pool-list', '--all', '--name'],
    ['secret-list'],
    ['nwfilter-list'],
  ];
  for (const args of lists) {
    const r = spawnSync('virsh', ['-q', '-c', 'qemu:///system', ...args], { encoding: 'utf8', timeout: 60_000 });
    const out = r.status === 0 ? r.stdout : `(virsh failed: ${(r.stderr || String(r.error ?? '')).trim()})`;
    state[`virsh ${args.join(' ')}`] = out
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .sort()
      .join('\n');
  }
  if (existsSync('/dev/kvm')) {
    const st = statSync('/dev/kvm');
    state['/dev/kvm'] = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } else state['/dev/kvm'] = 'absent';
  state[home] = existsSync(home) ? readdirSync(home).sort().join(' ') : 'absent';
  const keyrings = join(home, '.dbus-keyrings');
  state[keyrings] = existsSync(keyrings)
    ? readdirSync(keyrings)
        .sort()
        .map((f) => `${f} ${statSync(join(keyrings, f)).mtimeMs}`)
        .join('\n')
    : 'absent';
  return state;
}

// Daemons the tests start (in sandboxes they must stop): any of these that belongs to this run and is
// still running after it was left behind. The run has a temporary folder of its own (TMPDIR, where
// every sandbox lives), so its daemons name that folder in their command line, environment or, for
// QEMU (which libvirt starts with a clean environment in a mount namespace of its own), mounts —
// and suites running beside this one on the same machine are never mistaken for it.
const DAEMONS = /^(qemu-system-\S+|libvirtd|virtlogd|virtqemud|dbus-daemon|polkitd|nbdkit|cockpit-ws|cockpit-bridge)$/;
/** Live daemon processes that mention `marker`: pid and name. */
function daemonsOf(marker) {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const exe = cmdline.split('\0')[0].split('/').pop();
      if (!DAEMONS.test(exe)) continue;
      const mentions = [`/proc/${entry}/cmdline`, `/proc/${entry}/environ`, `/proc/${entry}/mountinfo`].some((f) => {
        try {
          return readFileSync(f, 'utf8').includes(marker);
        } catch {
          return false;
        }
      });
      if (mentions) found.push({ pid: Number(entry), name: exe });
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

const asRoot = process.getuid?.() === 0;
const namespaces = asRoot && spawnSync('unshare', ['-m', '--propagation', 'private', 'true'], { stdio: 'ignore' }).status === 0;
const before = hostState();
const runTmp = mkdtempSync(join(tmpdir(), 'test-run-'));
chmodSync(runTmp, 0o1777); // as /tmp: tests run some commands as other users
const testHome = mkdtempSync(join(tmpdir(), 'test-home-'));
chmodSync(testHome, 0o700);
const env = { ...process.env, HOME: namespaces ? home : testHome, TMPDIR: runTmp };
// Per-user folders default to the (now temporary) home.
for (const v of ['XDG_CONFIG_HOME', 'XDG_CACHE_HOME', 'XDG_DATA_HOME', 'XDG_STATE_HOME']) delete env[v];
const nodeArgs = ['--test', '--test-concurrency=2', ...chosen];
const r = namespaces
  ? spawnSync(
      'unshare',
      [
        '-m',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount --bind "$1" "$2" && shift 2 && exec "$@"',
        'sh',
        testHome,
        home,
        process.execPath,
        ...nodeArgs,
      ],
      {
        stdio: 'inherit',
        cwd: root,
        env,
      },
    )
  : spawnSync(process.execPath, nodeArgs, { stdio: 'inherit', cwd: root, env });
rmSync(testHome, { recursive: true, force: true });

const after = hostState();
const changed = Object.keys(before).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
for (const k of changed) {
  console.error(`the test run changed the host: ${k}\n  before: ${JSON.stringify(before[k])}\n  after:  ${JSON.stringify(after[k])}`);
}
const kvm = before['/dev/kvm'];
if (changed.includes('/dev/kvm') && typeof kvm === 'object') {
  chownSync('/dev/kvm', kvm.uid, kvm.gid);
  chmodSync('/dev/kvm', kvm.mode);
  console.error('/dev/kvm: mode and owner put back');
}
// Left running: reported, then ended so that the machine is as found.
const leftBehind = daemonsOf(basename(runTmp));
for (const d of leftBehind) {
  console.error(`the test run left a process running: ${d.name} (pid ${d.pid}); killing it`);
  try {
    process.kill(d.pid, 'SIGKILL');
  } catch {}
}
rmSync(runTmp, { recursive: true, force: true });
if (changed.length === 0 && leftBehind.length === 0)
  console.log(`host unchanged: ${Object.keys(before).join(', ')}; no process left running`);
process.exit(changed.length || leftBehind.length ? 1 : (r.status ?? 1));
