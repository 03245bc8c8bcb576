// bin/try's program (dist/tools/try.js): brings the service up on a private bus and libvirtd, shows
// it answering, and after Ctrl-C leaves nothing running and nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { runOk } from '../helpers/run.js';

const tryJs = new URL('../../tools/try.js', import.meta.url).pathname;

test('bin/try answers, prints commands that work, and cleans up on Ctrl-C', async () => {
  const child = spawn(process.execPath, [tryJs], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  for (let i = 0; i < 600 && !out.includes('Press Ctrl-C'); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(out, /Press Ctrl-C/, out);
  assert.match(out, /domains:\s+\(\[objectpath '\/org\/libvirt\/Test\/domain\/_6695eb01_f6a4_8304_79aa_97f2502e193f'\]/);
  assert.match(out, /networks:\s+\(\[objectpath '\/org\/libvirt\/Test\/network\//);
  const address = /^bus address: (\S+)$/m.exec(out)?.[1];
  assert.ok(address, 'prints the bus address');
  const dir = /unix:path=(\/[^,]+)\//.exec(address)?.[1] as string;
  assert.ok(existsSync(dir));

  // A command it suggests works as printed (here through --address instead of the exported variable).
  const stdout = await runOk('gdbus', ['introspect', '--address', address, '--dest', 'org.libvirt', '--object-path', '/org/libvirt/Test']);
  assert.match(stdout, /interface org\.libvirt\.Connect/);

  child.kill('SIGINT');
  assert.equal(await exited, 0);
  assert.match(out, /stopped:/);
  assert.equal(existsSync(dir), false, 'the bus folder is removed');
  await assert.rejects(
    runOk('gdbus', [
      'call',
      '--address',
      address,
      '--dest',
      'org.freedesktop.DBus',
      '--object-path',
      '/org/freedesktop/DBus',
      '--method',
      'org.freedesktop.DBus.GetId',
    ]),
    'the private bus is gone',
  );
});
