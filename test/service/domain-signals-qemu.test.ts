// org.libvirt.Domain signals from real libvirt events: a diskless-ish QEMU (TCG) domain on a private
// libvirtd (tools/sandbox/system-bus.ts: system bus, virtlogd, libvirtd and our bin/libvirt-dbus --system),
// each event triggered with virsh on that daemon and its signal observed on the bus through our service.
// Signals that need a guest OS (PMSuspend, PMWakeup, Watchdog, AgentEvent, IOError, RTCChange, ...),
// a balloon driver (BalloonChange) or a failing guest (DeviceRemovalFailed) are not here.
// MigrationIteration and JobCompleted come from virsh save (QEMU migrates the domain to a file).
// Needs root (mount namespace) and qemu-system-x86.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DBusConnection, type Message, Variant } from '../../src/dbus/index.js';
import { type ServiceChoice, startSystemSandbox, type SystemSandbox } from '../../tools/sandbox/system-bus.js';

// SIGNALS_SERVICE=reference runs the same test against the C reference (to validate the test itself).
const SERVICE = (process.env.SIGNALS_SERVICE ?? 'ours') as ServiceChoice;
// A NULL string argument: ours sends '', the reference hands GLib a NULL, which GDBus sends as this.
const NULL_STRING = SERVICE === 'reference' ? '[Invalid UTF-8]' : '';
const VM = 'sig-vm';
const UUID = '5b3c8e0e-7d55-4b8a-9c1e-0f2a3b4c5d6e';
const PATH = `/org/libvirt/QEMU/domain/_${UUID.replace(/-/g, '_')}`;
// Real waits (QEMU start, events through libvirtd and our service) are slow on a busy machine.
const WAIT = 30_000;

let sandbox: SystemSandbox | undefined;
let bus: DBusConnection | undefined;
let images: string;
/** Every org.libvirt.Domain signal seen so far, in order. */
const seen: Message[] = [];

function domainXml(disk: string, missingIso: string): string {
  return `<domain type='qemu'><name>${VM}</name><uuid>${UUID}</uuid><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='hda' bus='ide'/></disk>
    <disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='${missingIso}' startupPolicy='optional'/><target dev='hdc' bus='ide'/><readonly/></disk>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <graphics type='vnc' port='-1' listen='127.0.0.1'/>
  </devices></domain>`;
}

/** Waits for a signal `member` on our domain's path that satisfies `match` (seen already, or arriving before the deadline). */
async function waitSignal(member: string, match: (body: unknown[]) => boolean = () => true, from = 0): Promise<Message> {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const hit = seen.slice(from).find((m) => m.member === member && m.path === PATH && match(m.body));
    if (hit) return hit;
    if (Date.now() > deadline) {
      const got = seen.map((m) => `${m.member}${JSON.stringify(m.body, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Map ? [...v] : v))}`);
      throw new Error(`no ${member} signal on ${PATH} within ${WAIT / 1000} s; seen: ${got.join(', ') || '(none)'}\n${sandbox?.log('service').slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The value of one entry of a typed-parameter a{sv} argument. As the reference does, each value is a
 * variant inside the variant (`{'cputune.vcpupin0': <<'0'>>}`), so it is unwrapped twice.
 */
function entry(dict: unknown, key: string): unknown {
  assert.ok(dict instanceof Map, 'a{sv} argument');
  const outer = dict.get(key);
  assert.ok(outer instanceof Variant, `${key} in ${[...dict.keys()].join(', ')}`);
  assert.equal(outer.signature, 'v');
  const inner = outer.value;
  assert.ok(inner instanceof Variant, `${key} holds a variant`);
  return inner.value;
}

const virsh = (...args: string[]) => {
  if (!sandbox) throw new Error('no sandbox');
  return sandbox.virsh(...args);
};

describe('org.libvirt.Domain signals from a real QEMU domain', { timeout: 120_000 }, () => {
  before(async () => {
    sandbox = await startSystemSandbox({ service: SERVICE, cockpit: false });
    bus = await DBusConnection.connect(sandbox.busAddress, { bus: true });
    bus.signalSubscribe({ sender: 'org.libvirt', interface: 'org.libvirt.Domain' }, (m) => {
      seen.push(m);
    });
    // Like the reference, the service opens its libvirt connection (and registers the event
    // callbacks) on the first call that needs it; this one also orders the AddMatch before it.
    await bus.call({
      destination: 'org.libvirt',
      path: '/org/libvirt/QEMU',
      interface: 'org.libvirt.Connect',
      member: 'ListDomains',
      signature: 'u',
      body: [0],
    });
    // QEMU runs as another user: its files live in a world-readable directory of their own.
    images = mkdtempSync(join(tmpdir(), 'sig-images-'));
    chmodSync(images, 0o755);
    const disk = join(images, 'disk.raw');
    writeFileSync(disk, Buffer.alloc(1024 * 1024));
    writeFileSync(join(images, 'media.iso'), Buffer.alloc(64 * 1024));
    const xml = join(images, `${VM}.xml`);
    writeFileSync(xml, domainXml(disk, join(images, 'missing.iso')));
    // Transient, so blockcopy needs no --transient-job and teardown has nothing to undefine.
    await virsh('create', xml);
  });

  after(async () => {
    bus?.close();
    await sandbox?.stop();
    if (images) rmSync(images, { recursive: true, force: true });
  });

  it('DiskChange: an optional cdrom whose file is missing is dropped at start', async () => {
    const m = await waitSignal('DiskChange');
    assert.equal(m.signature, 'sssi');
    const [oldSrc, newSrc, device, reason] = m.body;
    assert.equal(oldSrc, join(images, 'missing.iso'));
    assert.equal(newSrc, NULL_STRING);
    assert.match(String(device), /^ide0-1-0$/);
    assert.equal(reason, 0); // VIR_DOMAIN_EVENT_DISK_CHANGE_MISSING_ON_START
  });

  it('AgentEvent: the guest agent channel is reported at start (no agent runs)', async () => {
    const m = await waitSignal('AgentEvent');
    assert.equal(m.signature, 'ii');
    assert.deepEqual(m.body, [2, 1]); // STATE_DISCONNECTED, REASON_DOMAIN_STARTED
  });

  it('MetadataChange: virsh metadata and desc --live', async () => {
    const from = seen.length;
    await virsh('metadata', VM, '--uri', 'http://example.org/sig', '--key', 'sig', '--set', '<probe>1</probe>', '--live');
    const m = await waitSignal('MetadataChange', (b) => b[0] === 2, from); // VIR_DOMAIN_METADATA_ELEMENT
    assert.equal(m.signature, 'is');
    assert.deepEqual(m.body, [2, 'http://example.org/sig']);
    await virsh('desc', VM, '--live', '--new-desc', 'signals');
    const d = await waitSignal('MetadataChange', (b) => b[0] === 0, from); // VIR_DOMAIN_METADATA_DESCRIPTION
    assert.deepEqual(d.body, [0, NULL_STRING]);
  });

  it('Tunable: virsh vcpupin --live', async () => {
    const from = seen.length;
    await virsh('vcpupin', VM, '0', '0', '--live');
    const m = await waitSignal('Tunable', undefined, from);
    assert.equal(m.signature, 'a{sv}');
    assert.equal(entry(m.body[0], 'cputune.vcpupin0'), '0');
  });

  it('Graphics: a TCP client connects to and leaves the VNC server', async () => {
    const display = (await virsh('vncdisplay', VM)).trim(); // e.g. 127.0.0.1:0
    const port = 5900 + Number(/:(\d+)$/.exec(display)?.[1]);
    assert.ok(Number.isInteger(port), `vncdisplay said ${display}`);
    const from = seen.length;
    const sock = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const localPort = String(sock.localPort);
    const isOurs = (b: unknown[]) => Array.isArray(b[2]) && b[2][2] === localPort;
    const connected = await waitSignal('Graphics', (b) => b[0] === 0 && isOurs(b), from); // VIR_DOMAIN_EVENT_GRAPHICS_CONNECT
    assert.equal(connected.signature, 'i(iss)(iss)sa(ss)');
    assert.deepEqual(connected.body[1], [0, '127.0.0.1', String(port)]); // IPv4 server address
    assert.deepEqual(connected.body[2], [0, '127.0.0.1', localPort]);
    assert.equal(connected.body[3], 'none'); // no VNC password configured
    assert.deepEqual(connected.body[4], []);
    sock.destroy();
    await waitSignal('Graphics', (b) => b[0] === 2 && isOurs(b), from); // VIR_DOMAIN_EVENT_GRAPHICS_DISCONNECT
  });

  it('TrayChange: virsh change-media --eject and --insert on the cdrom', async () => {
    const from = seen.length;
    await virsh('change-media', VM, 'hdc', join(images, 'media.iso'), '--insert', '--live');
    const closed = await waitSignal('TrayChange', (b) => b[1] === 1, from); // VIR_DOMAIN_EVENT_TRAY_CHANGE_CLOSE
    assert.equal(closed.signature, 'si');
    assert.deepEqual(closed.body, ['ide0-1-0', 1]);
    const from2 = seen.length;
    await virsh('change-media', VM, 'hdc', '--eject', '--force', '--live');
    const opened = await waitSignal('TrayChange', (b) => b[1] === 0, from2); // VIR_DOMAIN_EVENT_TRAY_CHANGE_OPEN
    assert.deepEqual(opened.body, ['ide0-1-0', 0]);
  });

  it('DeviceAdded and DeviceRemoved: hot (un)plug of a USB tablet', async () => {
    const from = seen.length;
    const xml = join(images, 'tablet.xml');
    writeFileSync(xml, `<input type='tablet' bus='usb'><alias name='ua-sigtablet'/></input>`);
    await virsh('attach-device', VM, xml, '--live');
    const added = await waitSignal('DeviceAdded', undefined, from);
    assert.equal(added.signature, 's');
    assert.deepEqual(added.body, ['ua-sigtablet']);
    await virsh('detach-device-alias', VM, 'ua-sigtablet', '--live');
    const removed = await waitSignal('DeviceRemoved', undefined, from);
    assert.equal(removed.signature, 's');
    assert.deepEqual(removed.body, ['ua-sigtablet']);
  });

  it('BlockJob: virsh blockcopy of the disk, ready then finished', async () => {
    const from = seen.length;
    await virsh('blockcopy', VM, 'hda', join(images, 'copy.raw'), '--format', 'raw', '--wait', '--finish');
    const ready = await waitSignal('BlockJob', (b) => b[2] === 3, from); // VIR_DOMAIN_BLOCK_JOB_READY
    assert.equal(ready.signature, 'sii');
    assert.deepEqual(ready.body, ['hda', 2, 3]); // VIR_DOMAIN_BLOCK_JOB_TYPE_COPY
    // --finish aborts the ready copy: the job ends as cancelled (the copy is kept but not pivoted to).
    const done = await waitSignal('BlockJob', (b) => b[2] !== 3, from);
    assert.deepEqual(done.body, ['hda', 2, 2]); // VIR_DOMAIN_BLOCK_JOB_CANCELED
  });

  it('Reboot: virsh reset', async () => {
    const from = seen.length;
    await virsh('reset', VM);
    const m = await waitSignal('Reboot', undefined, from);
    assert.equal(m.signature, '');
    assert.deepEqual(m.body, []);
  });

  it('MigrationIteration and JobCompleted: virsh save (then restore)', async () => {
    const from = seen.length;
    await virsh('save', VM, join(images, 'save.img'));
    const iteration = await waitSignal('MigrationIteration', undefined, from);
    assert.equal(iteration.signature, 'i');
    assert.equal(typeof iteration.body[0], 'number');
    assert.ok((iteration.body[0] as number) >= 1);
    const done = await waitSignal('JobCompleted', undefined, from);
    assert.equal(done.signature, 'a{sv}');
    assert.equal(entry(done.body[0], 'operation'), 2); // VIR_DOMAIN_JOB_OPERATION_SAVE
    assert.equal(typeof entry(done.body[0], 'time_elapsed'), 'bigint');
    assert.ok((entry(done.body[0], 'memory_total') as bigint) > 0n);
    // Running again, for the teardown's destroy like every other test's domain.
    await virsh('restore', join(images, 'save.img'));
  });
});
