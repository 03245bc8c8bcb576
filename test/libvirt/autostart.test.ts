// libvirt's autostart of the per-user daemon, for real: an unprivileged user (nobody, through
// setpriv) opens test:///default with nothing listening at $XDG_RUNTIME_DIR/libvirt/libvirt-sock;
// the client starts `libvirtd --timeout=120` as that user and connects to it, as libvirt's own client
// does for session URIs. (The service as that user: test/service/user-session.test.ts.) Needs root
// (setpriv) and libvirtd.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { promisify } from 'node:util';
import { NOBODY, prepareUnprivileged, type Unprivileged } from '../helpers/unprivileged.js';

let user: Unprivileged;
let script: string;

before(() => {
  user = prepareUnprivileged();
  script = join(user.code, 'open.js');
  writeFileSync(
    script,
    `import { LibvirtConnection } from './dist/src/libvirt/connection.js';
const c = await LibvirtConnection.open(process.argv[2]);
const { domains } = await c.connectListAllDomains({ need_results: 1, flags: 0 });
console.log(JSON.stringify(domains.map((d) => d.name)));
await c.close();
`,
  );
});

after(async () => {
  await user?.cleanup();
});

/** Runs the script as nobody with its own HOME and XDG_RUNTIME_DIR. */
function asNobody(uri: string, env: Record<string, string> = {}) {
  return promisify(execFile)('setpriv', user.setpriv(process.execPath, script, uri), { env: user.env(env), timeout: 90_000 });
}

it("an unprivileged user's test:///default starts that user's libvirtd, once", { timeout: 120_000 }, async () => {
  assert.equal(user.daemonPid(), undefined);
  const { stdout } = await asNobody('test:///default');
  assert.deepEqual(JSON.parse(stdout), ['test']);
  const pid = user.daemonPid();
  assert.ok(pid, 'a user daemon runs');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  assert.match(status, new RegExp(`^Uid:\\s+${NOBODY}\\s`, 'm'));
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  assert.ok(argv[0]?.endsWith('libvirtd') && argv.includes('--timeout=120'), argv.join(' '));
  // A second client finds it listening and starts nothing.
  assert.deepEqual(JSON.parse((await asNobody('test:///default')).stdout), ['test']);
  assert.equal(user.daemonPid(), pid);
});

it('LIBVIRT_AUTOSTART=0 starts nothing: the open fails naming the socket', { timeout: 60_000 }, async () => {
  await user.stopDaemon();
  assert.equal(user.daemonPid(), undefined);
  await assert.rejects(asNobody('test:///default', { LIBVIRT_AUTOSTART: '0' }), /libvirt-sock/);
  assert.equal(user.daemonPid(), undefined);
});
