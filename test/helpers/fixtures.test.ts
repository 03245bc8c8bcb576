// The fixtures themselves: a private bus answers, a private libvirtd serves the test driver.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startBus } from './bus.js';
import { startLibvirtd } from './libvirtd.js';

const run = promisify(execFile);

test('a private bus answers gdbus', async () => {
  const bus = await startBus();
  try {
    const { stdout } = await run('gdbus', ['call', '--address', bus.address, '--dest', 'org.freedesktop.DBus',
      '--object-path', '/org/freedesktop/DBus', '--method', 'org.freedesktop.DBus.ListNames']);
    assert.match(stdout, /'org\.freedesktop\.DBus'/);
  } finally {
    await bus.stop();
  }
});

test('a private libvirtd serves the test driver and survives a restart', async () => {
  const lvd = await startLibvirtd();
  try {
    assert.match(await lvd.virsh(lvd.testUri, 'list', '--all', '--name'), /^test$/m);
    await lvd.restart();
    assert.match(await lvd.virsh(lvd.testUri, 'net-list', '--all', '--name'), /^default$/m);
  } finally {
    await lvd.stop();
  }
});
