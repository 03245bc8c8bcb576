// Domain.OpenChannel with bytes through a real guest-side channel: the small Linux test guest of
// tools/sandbox/test-guest.ts, whose /init echoes every byte it reads on the virtio-serial port
// org.libvirt-dbus.test.echo (and …echo2) back plus one (busybox tr on /dev/vportNpM), booted under
// TCG by the private libvirtd of the QEMU sandbox (test/service/qemu-sandbox.ts). The host side of
// each is a UNIX socket QEMU listens on: the one source type the QEMU driver of libvirt 9.0 opens
// for virDomainOpenChannel (a pty channel is refused, which the test shows too). The test opens
// them through our service with the typed client (src/client), writes to the descriptor it gets and
// reads the guest's transformed answer from it: the bytes went through the service, libvirt's
// stream, QEMU and the guest's kernel and back.
// Needs root (the sandbox's mount namespace), qemu-system-x86 and the prepared guest (test/all
// prepares it; without it this suite fails, saying what to run).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { type DomainProxy, OrgLibvirt } from '../../src/client/index.js';
import { DBusError } from '../../src/dbus/index.js';
import { UnixFdSocket } from '../../src/unix/index.js';
import type { SystemSandbox } from '../../tools/sandbox/system-bus.js';
import { GUEST } from '../../tools/sandbox/test-guest.js';
import { errorOf } from '../helpers/errors.js';
import { Received, roundTrip, whenFree } from './fd-received.js';
import { writeGuestDomain } from './guest-domain.js';
import { type QemuSandbox, startQemuSandbox } from './qemu-sandbox.js';

const VM = 'channel-vm';
const UUID = '7c1d5e2a-4b3f-4a9e-8d6c-2f1e0a9b8c7d';
/** TCG boot of the guest up to its echo, generous for a loaded 2-core machine. */
const BOOT_DEADLINE = 120_000;
/** One answer of the guest; QEMU under TCG on a busy machine is slow. */
const WAIT = 60_000;
const [CHANNEL, CHANNEL2] = GUEST.echoPorts;
/** A pty channel, which virDomainOpenChannel does not open for QEMU (no guest side needed). */
const PTY_CHANNEL = 'org.libvirt-dbus.test.pty';
/** What /init prints on the serial console once the echo runs on port `name`. */
const echoReady = (name: string) => new RegExp(`test-guest: echo on ${name.replaceAll('.', '\\.')} at /dev/vport\\S+`);

/** `n` bytes counting up from 0, wrapping: every byte value, n / 256 times over. */
function everyByte(n: number): string {
  return Buffer.from(Array.from({ length: n }, (_, i) => i & 0xff)).toString('latin1');
}

describe('Domain.OpenChannel with bytes both ways through a virtio-serial echo in a small TCG guest', { timeout: 600_000 }, () => {
  let qs: QemuSandbox | undefined;
  let sandbox: SystemSandbox | undefined;
  let dom: DomainProxy | undefined;
  let close: (() => void) | undefined;
  let images = '';
  const open: UnixFdSocket[] = [];

  const consoleLog = () => {
    try {
      return readFileSync(join(images, 'console.log'), 'utf8');
    } catch {
      return '';
    }
  };

  /** OpenChannel through the typed client, the descriptor wrapped. */
  async function openChannel(name: string = CHANNEL): Promise<Received> {
    if (!dom) throw new Error('no domain');
    const fd = await dom.openChannel(name, 0);
    assert.equal(typeof fd, 'number');
    const sock = new UnixFdSocket(fd);
    open.push(sock);
    return new Received(sock, WAIT);
  }

  /** Waits until the guest's /init reports its echoes running (its serial console is a file). */
  async function waitForEchoes(): Promise<void> {
    const deadline = Date.now() + BOOT_DEADLINE;
    while (!GUEST.echoPorts.every((name) => echoReady(name).test(consoleLog()))) {
      const state = (await (sandbox as SystemSandbox).virsh('domstate', VM)).trim();
      if (state !== 'running') throw new Error(`the guest is ${state}; its console:\n${consoleLog().slice(-3000)}`);
      if (Date.now() > deadline)
        throw new Error(`no echo within ${BOOT_DEADLINE / 1000} s; the guest's console:\n${consoleLog().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  before(async () => {
    // QEMU writes the guest's console log into the images folder.
    qs = await startQemuSandbox({ service: 'ours', signals: {}, onSignal: () => undefined, prefix: 'channel-', mode: 0o777 });
    ({ sandbox, images } = qs);
    const { xml } = writeGuestDomain(
      images,
      VM,
      UUID,
      `<channel type='unix'><source mode='bind'/><target type='virtio' name='${CHANNEL}'/></channel>
        <channel type='unix'><source mode='bind'/><target type='virtio' name='${CHANNEL2}'/></channel>
        <channel type='pty'><target type='virtio' name='${PTY_CHANNEL}'/></channel>`,
    );
    // Transient: the teardown has nothing to undefine.
    await sandbox.virsh('create', xml);
    const qemu = await OrgLibvirt.connect(sandbox.busAddress, 'QEMU', { bus: true });
    close = () => qemu.connection.close();
    dom = await qemu.domainLookupByName(VM);
    await waitForEchoes();
  });

  // A failed test must not leave the channel held for the next.
  afterEach(() => {
    for (const s of open.splice(0)) s.destroy();
  });

  after(async () => {
    close?.();
    await qs?.stop();
  });

  it('a UNIX socket channel: bytes written to the descriptor reach the guest and its answers come back, every byte value, 8-bit clean', async () => {
    const channel = await whenFree(() => openChannel(CHANNEL), WAIT);
    await roundTrip(channel, 'HAL');
    await roundTrip(channel, 'Hello, channel! 0123456789');
    // 8 KiB of every byte value (0xff comes back as 0x00), then 256 KiB, more than the socket pair,
    // libvirt's stream and the virtio queues hold at once: both directions wait for the other side
    // and every byte arrives, in order.
    await roundTrip(channel, everyByte(8 * 1024));
    await roundTrip(channel, everyByte(256 * 1024));
    // Only the guest's answers came back, nothing of the service's own.
    assert.equal(channel.text.length, 3 + 26 + 8 * 1024 + 256 * 1024);
    assert.equal(channel.ended, false);
  });

  it('two channels at once: each carries its own bytes, in both directions at the same time', async () => {
    const one = await whenFree(() => openChannel(CHANNEL), WAIT);
    const two = await whenFree(() => openChannel(CHANNEL2), WAIT);
    // Different lengths and contents, written together: an answer on the wrong descriptor shows.
    await Promise.all([roundTrip(one, everyByte(64 * 1024)), roundTrip(two, 'second channel '.repeat(1000))]);
    await Promise.all([roundTrip(one, 'one'), roundTrip(two, 'two')]);
    assert.equal(one.text.length, 64 * 1024 + 3);
    assert.equal(two.text.length, 15 * 1000 + 3);
  });

  it('a pty channel is org.libvirt.Error (libvirt opens only UNIX socket channels of QEMU domains); the service goes on', async () => {
    const err = await errorOf(openChannel(PTY_CHANNEL), DBusError);
    assert.equal(err.errorName, 'org.libvirt.Error');
    assert.match(err.message, /org\.libvirt-dbus\.test\.pty is not using a UNIX socket/);
    const channel = await whenFree(() => openChannel(), WAIT);
    await roundTrip(channel, 'after the pty');
  });

  it('the channel is held while the descriptor is open; closing it ends the stream, and a second OpenChannel echoes again', async () => {
    const first = await whenFree(() => openChannel(), WAIT);
    await roundTrip(first, 'first');
    const busy = await errorOf(openChannel(), DBusError);
    assert.equal(busy.errorName, 'org.libvirt.Error', busy.message);
    assert.match(busy.message, /[Aa]ctive channel stream exists/);

    // Closing the descriptor ends libvirt's stream (the channel can be opened again without a flag),
    // and QEMU's host side with it: the guest's read ends and its echo opens the port anew.
    first.sock.destroy();
    const second = await whenFree(() => openChannel(), WAIT);
    await roundTrip(second, 'second');
    await roundTrip(second, everyByte(4 * 1024));
    second.sock.destroy();
    const third = await whenFree(() => openChannel(), WAIT);
    await roundTrip(third, 'third');
  });

  it('a channel the domain does not have is org.libvirt.Error naming it; the echo still answers', async () => {
    const err = await errorOf(openChannel('org.libvirt-dbus.test.none'), DBusError);
    assert.equal(err.errorName, 'org.libvirt.Error');
    assert.match(err.message, /org\.libvirt-dbus\.test\.none/);
    const channel = await whenFree(() => openChannel(), WAIT);
    await roundTrip(channel, 'still here');
  });

  it('the domain going away ends its open channels: each descriptor reads its end', async () => {
    const one = await whenFree(() => openChannel(CHANNEL), WAIT);
    const two = await whenFree(() => openChannel(CHANNEL2), WAIT);
    await roundTrip(one, 'last words');
    await roundTrip(two, 'last words');
    // Transient: destroyed, it is gone (the last test of this suite).
    await (sandbox as SystemSandbox).virsh('destroy', VM);
    await one.until('the end of the first channel', () => one.ended);
    await two.until('the end of the second channel', () => two.ended);
  });
});
