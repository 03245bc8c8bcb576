// Without the addon (simulated with LIBVIRT_DBUS_NO_NATIVE=1, which the loader honours) every entry point
// reports a typed UnixSupportError instead of crashing. Runs in a child process so the loader starts fresh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const index = new URL('../../src/unix/index.js', import.meta.url).href;

const CHILD = `
import net from 'node:net';
const u = await import(${JSON.stringify(index)});
const out = { supported: u.isUnixFdSupported() };
const why = u.unixSupportError();
out.why = { isTyped: why instanceof u.UnixSupportError, code: why?.code, message: why?.message };
const attempt = (name, f) => {
  try { f(); out[name] = 'no error'; }
  catch (e) { out[name] = e instanceof u.UnixSupportError ? 'UnixSupportError' : String(e); }
};
attempt('getPeerCredentials', () => u.getPeerCredentials(new net.Socket()));
attempt('getPeerCredentialsFd', () => u.getPeerCredentials(0));
attempt('pair', () => u.UnixFdSocket.pair());
attempt('construct', () => new u.UnixFdSocket(0));
attempt('closeFd', () => u.closeFd(1000));
attempt('dupFd', () => u.dupFd(0));
try { await u.UnixFdSocket.connect('/nonexistent'); out.connect = 'no error'; }
catch (e) { out.connect = e instanceof u.UnixSupportError ? 'UnixSupportError' : String(e); }
console.log(JSON.stringify(out));
`;

test('LIBVIRT_DBUS_NO_NATIVE=1: unsupported, and every call throws UnixSupportError', async () => {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', CHILD], {
    env: { ...process.env, LIBVIRT_DBUS_NO_NATIVE: '1' },
  });
  const out = JSON.parse(stdout);
  assert.equal(out.supported, false);
  assert.equal(out.why.isTyped, true);
  assert.equal(out.why.code, 'ERR_UNIX_UNSUPPORTED');
  assert.match(out.why.message, /LIBVIRT_DBUS_NO_NATIVE/);
  for (const name of ['getPeerCredentials', 'getPeerCredentialsFd', 'pair', 'construct', 'closeFd', 'dupFd', 'connect']) {
    assert.equal(out[name], 'UnixSupportError', name);
  }
});

test('without the variable the same child finds the addon', async () => {
  const env = { ...process.env };
  delete env.LIBVIRT_DBUS_NO_NATIVE;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', CHILD], { env });
  const out = JSON.parse(stdout);
  assert.equal(out.supported, true);
  assert.equal(out.pair, 'no error');
});
