// org.libvirt.Domain signals from real libvirt events: a diskless-ish QEMU (TCG) domain on a private
// libvirtd (tools/sandbox/system-bus.ts: system bus, virtlogd, libvirtd and our bin/libvirt-dbus --system),
// each event triggered with virsh on that daemon and its signal observed on the bus through our service.
// MigrationIteration and JobCompleted come from virsh save (QEMU migrates the domain to a file).
//
// Signals a guest OS would cause (RTCChange, BalloonChange, Watchdog, PMSuspend, PMSuspendDisk,
// DeviceRemovalFailed, IOError) come from the same port I/O a guest's drivers do, issued through QEMU's
// human monitor (`o /fmt port value`): there is no guest OS on this machine, but QEMU's device models
// (mc146818 RTC, virtio-balloon, ib700 watchdog, PIIX4 ACPI PM, ACPI memory hotplug, IDE) and libvirt
// handle it exactly as a guest's. IOError reads from an NBD disk served by nbdkit's error filter;
// ControlError is QEMU dying while libvirt waits on its monitor.
// Needs root (mount namespace), qemu-system-x86 and nbdkit.
// A factory: domain-signals-qemu.test.ts runs it against ours, domain-signals-qemu-reference.test.ts
// against the C reference (which validates the test itself).
// The signals are collected raw on purpose: their exact signatures and bodies on the wire are what is
// checked. Calls to the service go through the typed client, which works against the reference too.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DomainProxy } from '../../src/client/index.js';
import { type DBusConnection, type Message, Variant } from '../../src/dbus/index.js';
import { freePort } from '../../tools/sandbox/net.js';
import type { ServiceChoice, SystemSandbox } from '../../tools/sandbox/system-bus.js';
import { waitFor } from './fixture.js';
import { IFACE } from './iface.js';
import { type QemuSandbox, startQemuSandbox } from './qemu-sandbox.js';

/** Defines the suite against `target`'s org.libvirt (bin/libvirt-dbus or the C reference). */
export function domainSignalsSuite(target: 'ours' | 'reference'): void {
  const SERVICE: ServiceChoice = target;
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
  let qs: QemuSandbox | undefined;
  let nbdPort = 0;
  // Our own free port rather than libvirt's autoport: the reference's run of this file may have its
  // own daemon allocating 5900 at the same moment.
  let vncPort = 0;
  /** Every org.libvirt.Domain signal seen so far, in order. */
  const seen: Message[] = [];

  // ACPI (S3/S4 and memory hotplug ports), one NUMA cell and DIMM slots, an ib700 watchdog that only
  // reports, a virtio balloon, and a second IDE disk on nbdkit whose every read fails. The NBD export
  // has a name: libvirt reports it as the disk's source, and without one libvirtd cannot even encode
  // the I/O error event (a NULL source path).
  function domainXml(disk: string, missingIso: string): string {
    return `<domain type='qemu'><name>${VM}</name><uuid>${UUID}</uuid>
    <maxMemory slots='2' unit='MiB'>512</maxMemory><memory unit='MiB'>64</memory><currentMemory unit='MiB'>64</currentMemory><vcpu>1</vcpu>
    <os><type arch='x86_64' machine='pc'>hvm</type></os>
    <features><acpi/></features>
    <cpu><numa><cell id='0' cpus='0' memory='64' unit='MiB'/></numa></cpu>
    <pm><suspend-to-mem enabled='yes'/><suspend-to-disk enabled='yes'/></pm>
    <devices>
      <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='hda' bus='ide'/></disk>
      <disk type='network' device='disk'><driver name='qemu' type='raw'/><source protocol='nbd' name='errdisk'><host name='127.0.0.1' port='${nbdPort}'/></source><target dev='hdb' bus='ide'/></disk>
      <disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='${missingIso}' startupPolicy='optional'/><target dev='hdc' bus='ide'/><readonly/></disk>
      <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
      <graphics type='vnc' port='${vncPort}' autoport='no' listen='127.0.0.1'/>
      <watchdog model='ib700' action='none'/>
      <memballoon model='virtio'/>
    </devices></domain>`;
  }

  /** Waits for a signal `member` on our domain's path that satisfies `match` (seen already, or arriving before the deadline). */
  async function waitSignal(member: string, match: (body: unknown[]) => boolean = () => true, from = 0, wait = WAIT): Promise<Message> {
    const deadline = Date.now() + wait;
    for (;;) {
      const hit = seen.slice(from).find((m) => m.member === member && m.path === PATH && match(m.body));
      if (hit) return hit;
      if (Date.now() > deadline) {
        const got = seen.map(
          (m) => `${m.member}${JSON.stringify(m.body, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Map ? [...v] : v))}`,
        );
        throw new Error(
          `no ${member} signal on ${PATH} within ${wait / 1000} s; seen: ${got.join(', ') || '(none)'}\n${sandbox?.log('service').slice(-2000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Runs `trigger` (port I/O a guest would do, harmless to repeat) until signal `member` comes: a
   * first write can race the booting firmware on a loaded machine, so it is repeated every 5 s.
   */
  async function triggerUntil(member: string, trigger: () => Promise<unknown>, from: number): Promise<Message> {
    const deadline = Date.now() + 2 * WAIT;
    for (;;) {
      await trigger();
      try {
        return await waitSignal(member, undefined, from, 5000);
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
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

  /** Runs a command of QEMU's human monitor on the domain (through libvirt) and returns its output. */
  const hmp = (command: string) => virsh('qemu-monitor-command', VM, '--hmp', command);

  /** What a guest driver's `out` instruction does: `size` is b (8 bits), h (16) or w (32). */
  async function portWrite(size: 'b' | 'h' | 'w', port: number, value: number): Promise<void> {
    await hmp(`o /${size} 0x${port.toString(16)} 0x${value.toString(16)}`);
  }

  /** The first I/O port of the region `name` in QEMU's I/O address space (`info mtree`). */
  async function ioRegion(name: string): Promise<number> {
    // The firmware maps some regions (ACPI PM) while it boots: wait for them.
    const deadline = Date.now() + WAIT;
    for (;;) {
      const tree = await hmp('info mtree');
      const io = tree.slice(tree.indexOf('address-space: I/O'));
      const line = new RegExp(`^\\s*([0-9a-f]+)-[0-9a-f]+ \\(prio -?\\d+, i/o\\): ${name}$`, 'm').exec(io);
      // Before the firmware sets the PM base, the region sits at its default (legacy ISA ports): not yet.
      const at = line ? Number.parseInt(line[1] as string, 16) : 0;
      if (at >= 0x100) return at;
      if (Date.now() > deadline) throw new Error(`no ${name} region in the I/O address space`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** The I/O BAR of the PCI device with QOM id `id`, once the firmware has assigned it. */
  async function ioBar(id: string): Promise<number> {
    const deadline = Date.now() + WAIT;
    for (;;) {
      const devices = (await hmp('info pci')).split(/(?=^\s*Bus\s)/m);
      const device = devices.find((d) => d.includes(`id "${id}"`));
      const bar = device && /BAR0: I\/O at 0x([0-9a-f]+)/.exec(device);
      const base = bar ? Number.parseInt(bar[1] as string, 16) : 0;
      if (base > 0 && base < 0xffff) return base;
      if (Date.now() > deadline) throw new Error(`${id} has no I/O BAR: ${device ?? '(no such device)'}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Runs a sequence of port writes with the vCPU paused: the firmware (SeaBIOS, retrying its boot) also
   * selects CMOS registers and drives the IDE channel, and must not interleave with ours.
   */
  async function withGuestPaused(writes: () => Promise<void>): Promise<void> {
    await virsh('suspend', VM);
    try {
      await writes();
    } finally {
      await virsh('resume', VM);
    }
  }

  /** Sets the CMOS clock (BCD, 24 h) to midnight of 1 January 2000 the way a guest's hwclock does. */
  async function setRtcTo2000(): Promise<void> {
    const cmos = async (register: number, value: number) => {
      await portWrite('b', 0x70, register);
      await portWrite('b', 0x71, value);
    };
    await cmos(0x0b, 0x82); // register B: SET (halt updates) | 24-hour mode, BCD
    for (const [register, value] of [
      [0x00, 0],
      [0x02, 0],
      [0x04, 0],
      [0x07, 0x01],
      [0x08, 0x01],
      [0x09, 0x00],
      [0x32, 0x20],
    ] as const) {
      await cmos(register, value); // seconds, minutes, hours, day, month, year, century
    }
    await cmos(0x0b, 0x02); // SET cleared: the new time takes effect and QEMU reports RTC_CHANGE
  }

  /** QEMU's pid for the domain, from this sandbox's libvirtd (another sandbox may run a namesake). */
  function qemuPid(): number {
    if (!sandbox) throw new Error('no sandbox');
    const pid = Number(readFileSync(join(sandbox.dir, 'state', '_run_libvirt', 'qemu', `${VM}.pid`), 'utf8').trim());
    assert.ok(pid > 0, 'QEMU runs');
    return pid;
  }

  describe('org.libvirt.Domain signals from a real QEMU domain', { timeout: 300_000 }, () => {
    before(async () => {
      qs = await startQemuSandbox({
        service: SERVICE,
        signals: { interface: IFACE.Domain },
        onSignal: (m) => seen.push(m),
        prefix: 'sig-images-',
      });
      ({ sandbox, bus, images } = qs);
      const disk = join(images, 'disk.raw');
      writeFileSync(disk, Buffer.alloc(1024 * 1024));
      writeFileSync(join(images, 'media.iso'), Buffer.alloc(64 * 1024));
      nbdPort = await qs.nbdkit(['--filter=error', 'memory', '1M', 'error-pread=EIO', 'error-pread-rate=100%']);
      vncPort = await freePort();
      const xml = join(images, `${VM}.xml`);
      writeFileSync(xml, domainXml(disk, join(images, 'missing.iso')));
      // Transient, so blockcopy needs no --transient-job and teardown has nothing to undefine.
      await virsh('create', xml);
    });

    after(async () => {
      await qs?.stop();
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

    it('RTCChange: the guest sets its CMOS clock to 2000-01-01', async () => {
      const from = seen.length;
      const expected = BigInt(Math.round((Date.UTC(2000, 0, 1) - Date.now()) / 1000));
      await withGuestPaused(setRtcTo2000);
      // Seconds from the host's clock (UTC) to the guest's, give or take the time the writes took.
      // (QEMU may also report an earlier, small change of its own, e.g. after the restore.)
      const near = (b: unknown[]) => typeof b[0] === 'bigint' && b[0] - expected < 120n && expected - b[0] < 120n;
      const m = await waitSignal('RTCChange', near, from);
      assert.equal(m.signature, 'x');
    });

    it('BalloonChange: the balloon driver reports 100 pages given back', async () => {
      const from = seen.length;
      // Legacy virtio-pci: device config at 20 (MSI-X off); the balloon's `actual` (pages) at 4.
      const bar = await ioBar('balloon0');
      await portWrite('w', bar + 20 + 4, 100);
      const m = await waitSignal('BalloonChange', undefined, from);
      assert.equal(m.signature, 't');
      assert.deepEqual(m.body, [64n * 1024n - 100n * 4n]); // KiB left to the guest
    });

    it('Watchdog: the guest arms the ib700 for 2 s and never feeds it', async () => {
      const from = seen.length;
      await portWrite('b', 0x443, 0x0e); // timeout index 14: 2 seconds
      const m = await waitSignal('Watchdog', undefined, from);
      assert.equal(m.signature, 'i');
      assert.deepEqual(m.body, [0]); // VIR_DOMAIN_EVENT_WATCHDOG_NONE, as <watchdog action='none'/>
    });

    it('DeviceRemovalFailed: the guest refuses to eject a hot-plugged DIMM (ACPI _OST failure)', async () => {
      const xml = join(images, 'dimm.xml');
      writeFileSync(xml, `<memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target></memory>`);
      await virsh('attach-device', VM, xml, '--live');
      const dimm = /<memory model='dimm'>[\s\S]*?<\/memory>/.exec(await virsh('dumpxml', VM))?.[0] ?? '';
      const alias = /<alias name='([^']+)'/.exec(dimm)?.[1];
      const slot = Number(/<address type='dimm' slot='(\d+)'/.exec(dimm)?.[1]);
      assert.ok(alias && Number.isInteger(slot), `attached DIMM: ${dimm}`);
      const from = seen.length;
      const hotplug = await ioRegion('acpi-mem-hotplug');
      await portWrite('w', hotplug, slot); // slot selector
      await portWrite('w', hotplug + 4, 0x03); // _OST event: eject request
      await portWrite('w', hotplug + 8, 0x01); // _OST status: failure
      const m = await waitSignal('DeviceRemovalFailed', undefined, from);
      assert.equal(m.signature, 's');
      assert.deepEqual(m.body, [alias]);
    });

    it('IOError: the guest reads a sector of the NBD disk that fails every read', async () => {
      const from = seen.length;
      // ATA on the primary channel's legacy ports: slave drive (hdb) in LBA mode, 1 sector at LBA 0,
      // READ SECTORS. QEMU's read gets EIO from nbdkit and reports it to the guest (rerror=report).
      await withGuestPaused(async () => {
        for (const [port, value] of [
          [0x1f6, 0xf0],
          [0x1f2, 1],
          [0x1f3, 0],
          [0x1f4, 0],
          [0x1f5, 0],
          [0x1f7, 0x20],
        ] as const) {
          await portWrite('b', port, value);
        }
      });
      const m = await waitSignal('IOError', undefined, from);
      assert.equal(m.signature, 'ssis');
      // Source (the NBD export's name), device alias, VIR_DOMAIN_EVENT_IO_ERROR_REPORT; libvirt names
      // a reason only for ENOSPC.
      assert.deepEqual(m.body, ['errdisk', 'ide0-0-1', 2, '']);
    });

    it('PMSuspend and PMWakeup: the guest enters ACPI S3, Domain.PMWakeup wakes it', async () => {
      const from = seen.length;
      // PM1a_CNT: SLP_TYP 1 (S3) | SLP_EN
      const suspended = await triggerUntil(
        'PMSuspend',
        async () => portWrite('h', await ioRegion('acpi-cnt'), (1 << 10) | (1 << 13)),
        from,
      );
      assert.equal(suspended.signature, 'i');
      assert.deepEqual(suspended.body, [0]);
      assert.ok(bus, 'the sandbox bus');
      const domain = new DomainProxy(bus, PATH);
      // The typed client's subscription sees the same signal as the raw collection.
      const reasons: number[] = [];
      const unsubscribe = domain.onPMWakeup((reason) => reasons.push(reason));
      try {
        await domain.pmWakeup(0);
        const woken = await waitSignal('PMWakeup', undefined, from);
        assert.equal(woken.signature, 'i');
        assert.deepEqual(woken.body, [0]);
        await waitFor(() => reasons.length > 0, WAIT);
        assert.deepEqual(reasons, [0]);
      } finally {
        unsubscribe();
      }
    });

    it('ControlError: QEMU dies while libvirt waits on its monitor', async () => {
      const from = seen.length;
      const pid = qemuPid();
      // Frozen, QEMU leaves libvirt's next monitor command unread; killed with it unread, its socket
      // resets (ECONNRESET) instead of closing cleanly, which libvirt reports as a control error.
      process.kill(pid, 'SIGSTOP');
      const stuck = hmp('info status').then(
        () => 'answered',
        (e: Error) => e.message,
      );
      await new Promise((r) => setTimeout(r, 1000));
      process.kill(pid, 'SIGKILL');
      const m = await waitSignal('ControlError', undefined, from);
      assert.equal(m.signature, '');
      assert.deepEqual(m.body, []);
      assert.match(await stuck, /monitor/);
    });

    it('PMSuspendDisk: the guest enters ACPI S4', async () => {
      // The domain is gone (previous test): start it again once libvirt has cleaned up.
      const deadline = Date.now() + WAIT;
      while ((await virsh('list', '--name')).includes(VM)) {
        if (Date.now() > deadline) throw new Error(`${VM} still listed`);
        await new Promise((r) => setTimeout(r, 200));
      }
      await virsh('create', join(images, `${VM}.xml`));
      const from = seen.length;
      // PM1a_CNT: SLP_TYP 2 (QEMU's S4) | SLP_EN
      const m = await triggerUntil('PMSuspendDisk', async () => portWrite('h', await ioRegion('acpi-cnt'), (2 << 10) | (1 << 13)), from);
      assert.equal(m.signature, 'i');
      assert.deepEqual(m.body, [0]);
    });
  });
}
