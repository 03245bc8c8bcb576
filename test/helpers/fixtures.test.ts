// The fixtures themselves: a private bus answers, a private libvirtd serves the test driver and sees
// only what the packages define.
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBus } from './bus.js';
import { lines, startLibvirtd } from './libvirtd.js';
import { runOk } from './run.js';

test('a private bus answers gdbus', async () => {
  const bus = await startBus();
  try {
    const stdout = await runOk('gdbus', [
      'call',
      '--address',
      bus.address,
      '--dest',
      'org.freedesktop.DBus',
      '--object-path',
      '/org/freedesktop/DBus',
      '--method',
      'org.freedesktop.DBus.ListNames',
    ]);
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

test('a private libvirtd sees none of the host definitions: its qemu:///system starts as packaged', async () => {
  const lvd = await startLibvirtd();
  try {
    assert.deepEqual(lines(await lvd.virsh(lvd.qemuUri, 'list', '--all', '--name')), []);
    assert.deepEqual(lines(await lvd.virsh(lvd.qemuUri, 'pool-list', '--all', '--name')), []);
    assert.deepEqual(lines(await lvd.virsh(lvd.qemuUri, 'secret-list')), []);
    // At most the packaged `default` network, inactive.
    const nets = lines(await lvd.virsh(lvd.qemuUri, 'net-list', '--all', '--name'));
    assert.ok(
      nets.every((n) => n === 'default'),
      nets.join(' '),
    );
    assert.deepEqual(lines(await lvd.virsh(lvd.qemuUri, 'net-list', '--name')), []);
    // Exactly the filters the package ships.
    let shipped: string[] = [];
    try {
      shipped = readdirSync('/usr/share/libvirt/nwfilter')
        .filter((f) => f.endsWith('.xml'))
        .map((f) => f.slice(0, -4));
    } catch {
      // libvirt-daemon-config-nwfilter is not installed
    }
    const filters = lines(await lvd.virsh(lvd.qemuUri, 'nwfilter-list')).map((l) => l.split(/\s+/)[1] as string);
    assert.deepEqual(filters.sort(), shipped.sort());
  } finally {
    await lvd.stop();
  }
});
