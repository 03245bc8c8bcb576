// The members beyond libvirt-dbus 1.4.1 of issue 13 (items 1, 2, 3 and 6), each against a real private
// libvirtd: qemu:///system of the sandbox (tools/sandbox/system-bus.ts: private system bus, virtlogd,
// libvirtd and our bin/libvirt-dbus --system), because the test driver implements none of
// virDomainSetBlockThreshold, virDomainGetMessages, virDomainDetachDeviceAlias,
// virConnectGetStoragePoolCapabilities or secrets. The domain is a real QEMU guest under TCG (no guest
// OS: SeaBIOS only); what a guest would do is done through QEMU's human monitor: writes to its disk with
// `qemu-io` on the disk's qdev (the same BlockBackend the guest's writes go through), a machine check
// with `mce`. Each result is compared with virsh's view of the same daemon.
//
// Not triggered for real here, so tested as conversions of the daemon's event messages:
// - Domain.MemoryDeviceSizeChange: QEMU reports a virtio-mem device's new size only when the guest's
//   virtio-mem driver plugs or unplugs memory blocks; there is no guest OS (and no kernel image) here
//   to run that driver, and virsh update-memory-device only changes the requested size.
// - NodeDevice.Update: libvirt's node device driver emits it on a udev "change" event, which needs
//   udevd (none runs on this machine; the daemon's udev monitor never hears the kernel), or for mdev
//   devices defined through mdevctl (not installed, no mdev-capable parent).
// Needs root (the sandbox's mount namespace) and qemu-system-x86.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OrgLibvirt } from '../../src/client/index.js';
import type { DBusConnection, Message } from '../../src/dbus/index.js';
import type { LibvirtConnection } from '../../src/libvirt/index.js';
import type { DefinedInterface } from '../../src/service/declare.js';
import { signalForEvent } from '../../src/service/domain-events.js';
import { connectEventBindings } from '../../src/service/events.js';
import type { SystemSandbox } from '../../tools/sandbox/system-bus.js';
import { IFACE } from './iface.js';
import { type QemuSandbox, startQemuSandbox } from './qemu-sandbox.js';

const QEMU = '/org/libvirt/QEMU';
const VM = 'beyond-vm';
const UUID = '0c7e3b52-5d1a-4e0b-9f3e-2a6b8c1d4e5f';
const PATH = `${QEMU}/domain/_${UUID.replace(/-/g, '_')}`;
const SECRET_UUID = '7d1f6a2e-3b4c-4d5e-8f90-a1b2c3d4e5f6';
const SECRET_PATH = `${QEMU}/secret/_${SECRET_UUID.replace(/-/g, '_')}`;
// Real waits (QEMU start, events through libvirtd and our service) are slow on a busy machine.
const WAIT = 30_000;

describe('beyond libvirt-dbus 1.4.1: new members against a real libvirtd and QEMU (TCG)', { timeout: 300_000 }, () => {
  let qs: QemuSandbox | undefined;
  let sandbox: SystemSandbox | undefined;
  let bus: DBusConnection | undefined;
  let images = '';
  let disk = '';
  /** Every signal from org.libvirt seen so far, in order. */
  const seen: Message[] = [];

  const virsh = (...args: string[]): Promise<string> => {
    if (!sandbox) throw new Error('no sandbox');
    return sandbox.virsh(...args);
  };
  /** Runs a command of QEMU's human monitor on the domain (through libvirt). */
  const hmp = (command: string) => virsh('qemu-monitor-command', VM, '--hmp', command);

  function call(path: string, iface: string, member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    if (!bus) throw new Error('no bus');
    return bus.call({ destination: 'org.libvirt', path, interface: iface, member, signature, body, timeout: 60_000 });
  }

  /** Waits for signal `member` of `iface` on `path` (seen since index `from`, or arriving before the deadline). */
  async function waitSignal(path: string, iface: string, member: string, from: number): Promise<Message> {
    const deadline = Date.now() + WAIT;
    for (;;) {
      const hit = seen.slice(from).find((m) => m.path === path && m.interface === iface && m.member === member);
      if (hit) return hit;
      if (Date.now() > deadline) {
        const got = seen.map((m) => `${m.interface}.${m.member}@${m.path}`).join(', ') || '(none)';
        throw new Error(`no ${iface}.${member} on ${path} within ${WAIT / 1000} s; seen: ${got}\n${sandbox?.log('service').slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  // Two IDE disks on raw files: hda for the threshold, hdb with a user alias to detach by.
  function domainXml(extra: string): string {
    return `<domain type='qemu'><name>${VM}</name><uuid>${UUID}</uuid>
    <memory unit='MiB'>64</memory><vcpu>1</vcpu>
    <os><type arch='x86_64' machine='pc'>hvm</type></os>
    <on_crash>destroy</on_crash>
    <devices>
      <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='hda' bus='ide'/></disk>
      <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${extra}'/><target dev='hdb' bus='ide'/><alias name='ua-extra'/></disk>
    </devices></domain>`;
  }

  before(async () => {
    qs = await startQemuSandbox({ service: 'ours', signals: {}, onSignal: (m) => seen.push(m), prefix: 'beyond-images-' });
    ({ sandbox, bus, images } = qs);
    disk = join(images, 'disk.raw');
    const extra = join(images, 'extra.raw');
    writeFileSync(disk, Buffer.alloc(4 * 1024 * 1024));
    writeFileSync(extra, Buffer.alloc(1024 * 1024));
    const xml = join(images, `${VM}.xml`);
    writeFileSync(xml, domainXml(extra));
    await virsh('define', xml);
    await virsh('start', VM);
  });

  after(async () => {
    await qs?.stop();
  });

  it('Connect.GetStoragePoolCapabilities is what virsh pool-capabilities prints', async () => {
    const [caps] = await call(QEMU, IFACE.Connect, 'GetStoragePoolCapabilities', 'u', [0]);
    assert.match(String(caps), /^<storagepoolCapabilities>/);
    assert.equal(String(caps).trim(), (await virsh('pool-capabilities')).trim());
  });

  it('Secret.ValueChanged: virsh secret-set-value on the secret', async () => {
    const xml = join(images, 'secret.xml');
    writeFileSync(
      xml,
      `<secret ephemeral='no' private='no'><uuid>${SECRET_UUID}</uuid><usage type='volume'><volume>/beyond</volume></usage></secret>`,
    );
    await virsh('secret-define', xml);
    const from = seen.length;
    const value = join(images, 'secret.bin');
    writeFileSync(value, 'hush');
    await virsh('secret-set-value', '--secret', SECRET_UUID, '--file', value, '--plain');
    const m = await waitSignal(SECRET_PATH, IFACE.Secret, 'ValueChanged', from);
    assert.equal(m.signature ?? '', '');
    assert.deepEqual(m.body ?? [], []);
    // The value is the one the signal told about.
    const [got] = await call(SECRET_PATH, IFACE.Secret, 'GetValue', 'u', [0]);
    assert.equal(Buffer.from(got as Uint8Array).toString(), 'hush');
  });

  it('Domain.SetBlockThreshold, and BlockThreshold when a write goes past it', async () => {
    const threshold = 1024 * 1024;
    await call(PATH, IFACE.Domain, 'SetBlockThreshold', 'stu', ['hda', BigInt(threshold), 0]);
    // virsh sees the threshold set on the disk.
    const stats = await virsh('domstats', VM, '--block');
    assert.match(stats, new RegExp(`block\\.0\\.threshold=${threshold}\\b`));
    const from = seen.length;
    // 64 KiB at 2 MiB, written through the disk's device as the guest would.
    const offset = 2 * 1024 * 1024;
    const length = 64 * 1024;
    await hmp(`qemu-io -d ide0-0-0 "write ${offset} ${length}"`);
    const m = await waitSignal(PATH, IFACE.Domain, 'BlockThreshold', from);
    assert.equal(m.signature, 'sstt');
    const [device, devPath, got, excess] = m.body;
    assert.match(String(device), /^hda/);
    assert.equal(devPath, disk);
    assert.equal(got, BigInt(threshold));
    assert.equal(excess, BigInt(offset + length - threshold));
    // libvirt clears a threshold once it fired.
    assert.doesNotMatch(await virsh('domstats', VM, '--block'), /block\.0\.threshold=/);
  });

  it('Domain.GetMessages lists what virsh dominfo shows (the monitor commands tainted the domain)', async () => {
    const [messages] = (await call(PATH, IFACE.Domain, 'GetMessages', 'u', [0])) as [string[]];
    assert.ok(
      messages.some((m) => /custom monitor control commands issued/.test(m)),
      messages.join('\n'),
    );
    // virsh dominfo prints them under "Messages:", one per line, the first on that line.
    const info = await virsh('dominfo', VM);
    const lines = info.slice(info.indexOf('Messages:')).replace(/^Messages:/, '');
    const shown = lines
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    assert.deepEqual(messages, shown);
    // VIR_DOMAIN_MESSAGE_DEPRECATION only: none of them is a deprecation.
    const [deprecations] = (await call(PATH, IFACE.Domain, 'GetMessages', 'u', [1])) as [string[]];
    assert.deepEqual(
      deprecations,
      messages.filter((m) => m.startsWith('deprecated')),
    );
  });

  it('Domain.SetLifecycleAction changes the persistent on_crash as virsh sees it', async () => {
    // VIR_DOMAIN_LIFECYCLE_CRASH, VIR_DOMAIN_LIFECYCLE_ACTION_PRESERVE, VIR_DOMAIN_AFFECT_CONFIG.
    await call(PATH, IFACE.Domain, 'SetLifecycleAction', 'uuu', [2, 3, 2]);
    assert.match(await virsh('dumpxml', VM, '--inactive'), /<on_crash>preserve<\/on_crash>/);
    // An unknown action is libvirt's error.
    const e = await call(PATH, IFACE.Domain, 'SetLifecycleAction', 'uuu', [2, 99, 2]).then(
      () => assert.fail('accepted'),
      (err: { errorName?: string }) => err,
    );
    assert.equal(e.errorName, 'org.libvirt.Error');
  });

  it('Domain.DetachDeviceAlias removes the disk with that alias from the persistent definition', async () => {
    assert.match(await virsh('dumpxml', VM, '--inactive'), /ua-extra/);
    // VIR_DOMAIN_AFFECT_CONFIG: a live IDE disk cannot be unplugged.
    await call(PATH, IFACE.Domain, 'DetachDeviceAlias', 'su', ['ua-extra', 2]);
    const xml = await virsh('dumpxml', VM, '--inactive');
    assert.doesNotMatch(xml, /ua-extra/);
    assert.doesNotMatch(xml, /<target dev='hdb'/);
    assert.match(xml, /<target dev='hda'/);
  });

  it('the typed client (libvirt-dbus/client) has the additions, typed', async () => {
    if (!sandbox) throw new Error('no sandbox');
    const qemu = await OrgLibvirt.connect(sandbox.busAddress, 'QEMU', { bus: true });
    try {
      assert.equal((await qemu.getStoragePoolCapabilities(0)).trim(), (await virsh('pool-capabilities')).trim());
      const dom = await qemu.domainLookupByUUID(UUID);
      assert.deepEqual(await dom.getMessages(0), (await call(PATH, IFACE.Domain, 'GetMessages', 'u', [0]))[0]);
      const secret = await qemu.secretLookupByUUID(SECRET_UUID);
      let changed = 0;
      const stop = secret.onValueChanged(() => {
        changed++;
      });
      try {
        await secret.getXMLDesc(0); // a round trip: the match rule is in place before the event is caused
        const value = join(images, 'secret2.bin');
        writeFileSync(value, 'again');
        await virsh('secret-set-value', '--secret', SECRET_UUID, '--file', value, '--plain');
        const deadline = Date.now() + WAIT;
        while (changed === 0) {
          if (Date.now() > deadline) assert.fail(`no ValueChanged through the typed client within ${WAIT / 1000} s`);
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        stop();
      }
    } finally {
      qemu.connection.close();
    }
  });

  it('Domain.MemoryFailure: a machine check injected with HMP mce', async () => {
    const from = seen.length;
    // Bank 1, status VAL|UC|EN, MCG status MCIP, an address. SeaBIOS never enables CR4.MCE, so QEMU
    // resets the guest instead of delivering it, and says so in the event.
    await hmp('mce 0 1 0xb000000000000000 0x4 0x1000 0x0');
    const m = await waitSignal(PATH, IFACE.Domain, 'MemoryFailure', from);
    assert.equal(m.signature, 'iiu');
    // VIR_DOMAIN_EVENT_MEMORY_FAILURE_RECIPIENT_GUEST, VIR_DOMAIN_EVENT_MEMORY_FAILURE_ACTION_RESET, no flags.
    assert.deepEqual(m.body, [1, 3, 0]);
  });
});

describe('beyond libvirt-dbus 1.4.1: events not triggered here, converted from the daemon’s messages', () => {
  const dom = { name: 'vm', uuid: Buffer.from(UUID.replace(/-/g, ''), 'hex'), id: 3 };

  it('MEMORY_DEVICE_SIZE_CHANGE becomes Domain.MemoryDeviceSizeChange on the domain', () => {
    const s = signalForEvent(QEMU, {
      name: 'REMOTE_PROC_DOMAIN_EVENT_MEMORY_DEVICE_SIZE_CHANGE',
      body: { callbackID: 7, dom, alias: 'virtiomem0', size: 131072n },
    });
    assert.deepEqual(s, {
      path: PATH,
      interface: IFACE.Domain,
      member: 'MemoryDeviceSizeChange',
      signature: 'st',
      body: ['virtiomem0', 131072n],
    });
  });

  it('BLOCK_THRESHOLD of a disk without a local path gives an empty devPath', () => {
    const s = signalForEvent(QEMU, {
      name: 'REMOTE_PROC_DOMAIN_EVENT_BLOCK_THRESHOLD',
      body: { callbackID: 8, dom, dev: 'vdb', path: null, threshold: 10n, excess: 5n },
    });
    assert.deepEqual(s?.body, ['vdb', '', 10n, 5n]);
    assert.equal(s?.signature, 'sstt');
  });

  it('a NodeDevice UPDATE event becomes NodeDevice.Update on the device', async () => {
    const binding = connectEventBindings.find((b) => b.event === 'VIR_NODE_DEVICE_EVENT_ID_UPDATE');
    assert.ok(binding);
    let listener: ((ev: { msg: unknown }) => void) | undefined;
    const conn = {
      registerEvent: async (_event: string, _obj: unknown, cb: (ev: { msg: unknown }) => void) => {
        listener = cb;
      },
    } as unknown as LibvirtConnection;
    const emitted: [string, string, string, unknown[]][] = [];
    await binding.register(conn, {
      path: QEMU,
      emit: (path: string, iface: DefinedInterface<never>, member: string, values: unknown[]) => {
        emitted.push([path, iface.name, member, values]);
      },
    });
    listener?.({ msg: { callbackID: 9, dev: { name: 'net_lo_00_00_00_00_00_00' } } });
    assert.deepEqual(emitted, [[`${QEMU}/nodedev/net_5flo_5f00_5f00_5f00_5f00_5f00_5f00`, IFACE.NodeDevice, 'Update', []]]);
  });
});
