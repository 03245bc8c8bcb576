// Domain.OpenConsole, Domain.OpenChannel and Domain.Screenshot through our service on a real QEMU
// domain (TCG) of a private system sandbox. The guest is test/service/echo-guest.ts: a boot sector
// that answers every byte on COM1 with that byte plus one, so bytes written to the descriptor the
// service hands out come back transformed by the guest's CPU. Needs root and qemu-system-x86.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { OrgLibvirt } from '../../src/client/index.js';
import { DBusConnection, DBusError } from '../../src/dbus/index.js';
import { UnixFdSocket } from '../../src/unix/index.js';
import type { SystemSandbox } from '../../tools/sandbox/system-bus.js';
import { errorOf } from '../helpers/errors.js';
import { imageSize } from './console-images.js';
import { echoGuestDisk } from './echo-guest.js';
import { Received, whenFree as retryWhileBusy, roundTrip } from './fd-received.js';
import { startService } from './fixture.js';
import { IFACE } from './iface.js';
import { type QemuSandbox, startQemuSandbox } from './qemu-sandbox.js';

const QEMU = '/org/libvirt/QEMU';
const VM = 'console-vm';
const UUID = '3f2c8a41-6b1d-4e7a-9c05-d1e2f3a4b5c6';
const PATH = `${QEMU}/domain/_${UUID.replace(/-/g, '_')}`;
const CHANNEL = 'org.example.test';
const VIR_DOMAIN_CONSOLE_FORCE = 1;
// QEMU under TCG on a busy machine is slow to boot and to answer.
const WAIT = 30_000;

describe('Domain consoles, channels and screenshots on a real QEMU domain', { timeout: 300_000 }, () => {
  let qs: QemuSandbox | undefined;
  let sandbox: SystemSandbox | undefined;
  let bus: DBusConnection | undefined;
  const open: UnixFdSocket[] = [];

  const call = (member: string, signature: string, body: unknown[], conn = bus): Promise<unknown[]> => {
    if (!conn) throw new Error('no bus');
    // A peer-to-peer connection takes no destination.
    const destination = conn?.uniqueName ? 'org.libvirt' : undefined;
    return conn.call({ destination, path: PATH, interface: IFACE.Domain, member, signature, body, timeout: 60_000 });
  };

  /** Calls OpenConsole/OpenChannel and wraps the descriptor it returns. */
  async function openFd(member: 'OpenConsole' | 'OpenChannel', name: string, flags = 0): Promise<Received> {
    const [fd] = await call(member, 'su', [name, flags]);
    assert.equal(typeof fd, 'number');
    return received(fd as number);
  }

  /** Wraps a descriptor handed out by the service. */
  function received(fd: number): Received {
    const sock = new UnixFdSocket(fd);
    open.push(sock);
    return new Received(sock, WAIT);
  }

  /** Runs `openIt` until the device is free (test/service/fd-received.ts). */
  const whenFree = <T>(openIt: () => Promise<T>): Promise<T> => retryWhileBusy(openIt, WAIT);

  /** OpenConsole/OpenChannel once the device is free. */
  const openOnceFree = (member: 'OpenConsole' | 'OpenChannel', name: string) => whenFree(() => openFd(member, name));

  before(async () => {
    qs = await startQemuSandbox({ service: 'ours', signals: {}, onSignal: () => undefined, prefix: 'console-images-' });
    ({ sandbox, bus } = qs);
    const disk = join(qs.images, 'echo.raw');
    writeFileSync(disk, echoGuestDisk());
    const xml = join(qs.images, `${VM}.xml`);
    writeFileSync(
      xml,
      `<domain type='qemu'><name>${VM}</name><uuid>${UUID}</uuid><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='hda' bus='ide'/></disk>
    <serial type='pty'><target port='0'/></serial><console type='pty'/>
    <channel type='unix'><source mode='bind'/><target type='virtio' name='${CHANNEL}'/></channel>
    <video><model type='vga'/></video>
  </devices></domain>`,
    );
    await sandbox.virsh('define', xml);
    await sandbox.virsh('start', VM);
  });

  // A failed test must not leave the console held for the next.
  afterEach(() => {
    for (const s of open.splice(0)) s.destroy();
  });

  after(async () => {
    await qs?.stop();
  });

  it('OpenConsole: bytes written to the descriptor reach the guest, and its answers come back', async () => {
    const console = await openFd('OpenConsole', '');
    await roundTrip(console, 'HAL');
    await roundTrip(console, 'Hello, console! 0123456789');
    // A longer text: every byte, in order.
    await roundTrip(console, 'abcdefghijklmnopqrstuvwxyz'.repeat(40));
    // 8 KiB of every byte value: more than the pty holds at once, so the bytes wait in libvirt and
    // in our socket for the guest, and every byte arrives, in order, 8-bit clean (the emulated UART
    // moves only a few KiB a second under TCG, so this stays small).
    const all = Buffer.from(Array.from({ length: 8 * 1024 }, (_, i) => i & 0xff));
    await roundTrip(console, all.toString('latin1'));
    console.sock.destroy();
  });

  it('OpenConsole holds the console until the descriptor is closed; the force flag takes it over and ends the first', async () => {
    const first = await openOnceFree('OpenConsole', '');
    const busy = await errorOf(call('OpenConsole', 'su', ['', 0]), DBusError);
    assert.equal(busy.errorName, 'org.libvirt.Error', busy.message);
    assert.match(busy.message, /[Aa]ctive console session exists/);

    // Closing the descriptor ends libvirt's stream: the console can be opened again, without force.
    first.sock.destroy();
    const second = await openOnceFree('OpenConsole', '');
    await roundTrip(second, 'again');

    // Forcing takes the console over: libvirt ends the second stream, and the service ends its socket.
    const third = await openFd('OpenConsole', '', VIR_DOMAIN_CONSOLE_FORCE);
    await second.until('the end of the console taken over', () => second.ended);
    await roundTrip(third, 'forced');
    third.sock.destroy();
  });

  it('OpenConsole of the serial device by its alias works; an unknown device is org.libvirt.Error and the service goes on', async () => {
    const byName = await openOnceFree('OpenConsole', 'serial0');
    await roundTrip(byName, 'by name');
    byName.sock.destroy();

    const err = await errorOf(call('OpenConsole', 'su', ['no-such-console', 0]), DBusError);
    assert.equal(err.errorName, 'org.libvirt.Error');
    assert.match(err.message, /no-such-console/);
    const again = await openOnceFree('OpenConsole', '');
    await roundTrip(again, 'still here');
    again.sock.destroy();
  });

  it('without fd passing a client gets no descriptor (peer to peer a clear error) and the console is not held; a peer with it gets one through the typed client', async () => {
    if (!sandbox) throw new Error('no sandbox');
    // On a bus, dbus-daemon refuses to forward a reply with descriptors to such a client and tells
    // the sender; the service passes that error on to the caller, and closes its own copy.
    const plain = await DBusConnection.connect(sandbox.busAddress, { bus: true, negotiateUnixFd: false });
    try {
      assert.equal(plain.unixFd, false);
      const err = await errorOf(
        plain.call({
          destination: 'org.libvirt',
          path: PATH,
          interface: IFACE.Domain,
          member: 'OpenConsole',
          signature: 'su',
          body: ['', 0],
          timeout: 60_000,
        }),
        DBusError,
      );
      assert.equal(err.errorName, 'org.freedesktop.DBus.Error.NotSupported');
      assert.match(err.message, /file descriptors/i);
    } finally {
      plain.close();
    }
    const console = await openOnceFree('OpenConsole', '');
    await roundTrip(console, 'free');
    console.sock.destroy();

    // Peer to peer (--listen), the service sees that the peer cannot take descriptors and says so.
    const svc = await startService(
      undefined,
      ['--listen', `unix:tmpdir=${sandbox.dir}`, '--no-default-connects', '--connect', `QEMU=${sandbox.qemuUri}`],
      false,
    );
    try {
      const peer = await DBusConnection.connect(await svc.stdoutLine(), { negotiateUnixFd: false });
      try {
        const err = await errorOf(call('OpenConsole', 'su', ['', 0], peer), DBusError);
        assert.match(err.message, /fd passing was not negotiated/);
      } finally {
        peer.close();
      }
      // A peer that can take descriptors, through the typed client (src/client).
      const qemu = await OrgLibvirt.connect(await svc.stdoutLine(), 'QEMU', { bus: false });
      try {
        const dom = await qemu.domainLookupByName(VM);
        const console = received(await whenFree(() => dom.openConsole('', 0)));
        await roundTrip(console, 'peer to peer');
        console.sock.destroy();
      } finally {
        qemu.connection.close();
      }
    } finally {
      await svc.stop();
    }
    const after = await openOnceFree('OpenConsole', '');
    await roundTrip(after, 'free again');
    after.sock.destroy();
  });

  it('OpenChannel opens the virtio channel for real: it is held until the descriptor is closed; an unknown channel is org.libvirt.Error', async () => {
    const channel = await openOnceFree('OpenChannel', CHANNEL);
    // No guest driver opens the port, so nothing answers (test/service/channel-qemu.test.ts has a
    // guest that does); that libvirt holds the channel for our stream shows it is open.
    const busy = await errorOf(call('OpenChannel', 'su', [CHANNEL, 0]), DBusError);
    assert.equal(busy.errorName, 'org.libvirt.Error', busy.message);
    assert.match(busy.message, /[Aa]ctive channel stream exists/);
    assert.equal(channel.ended, false);
    channel.sock.destroy();
    (await openOnceFree('OpenChannel', CHANNEL)).sock.destroy();

    const err = await errorOf(call('OpenChannel', 'su', ['org.example.none', 0]), DBusError);
    assert.equal(err.errorName, 'org.libvirt.Error');
    assert.match(err.message, /org\.example\.none/);
  });

  it('Screenshot gives the VGA screen, decoded as the image type it claims (PNG or PPM by QEMU version)', async () => {
    const [mimeType, image] = (await call('Screenshot', 'uu', [0, 0])) as [string, Buffer];
    const size = imageSize(mimeType, Buffer.from(image));
    // SeaBIOS leaves the VGA in a text mode: 720x400 (9x16 cells), or 640x480 in some modes.
    assert.ok(size.width >= 320 && size.height >= 200, `${size.width}x${size.height}`);
  });

  it('the domain going away ends an open console: the descriptor reads its end', async () => {
    if (!sandbox) throw new Error('no sandbox');
    const console = await openOnceFree('OpenConsole', '');
    await roundTrip(console, 'last words');
    await sandbox.virsh('destroy', VM);
    await console.until('the end of the console', () => console.ended);
    await sandbox.virsh('start', VM);
  });

  it('losing the libvirt connection ends an open console: the descriptor reads its end', async () => {
    if (!sandbox) throw new Error('no sandbox');
    const console = await openOnceFree('OpenConsole', '');
    await roundTrip(console, 'before the daemon stops');
    // The sandbox's own libvirtd, by the pid it wrote; the sandbox's stop() copes with it gone.
    const pid = Number(readFileSync(join(sandbox.dir, 'libvirtd.pid'), 'utf8').trim());
    assert.ok(pid > 1, `libvirtd's pid: ${pid}`);
    process.kill(pid, 'SIGTERM');
    await console.until('the end of the console', () => console.ended);
  });
});
