// A domain's serial console as a libvirt stream (REMOTE_PROC_DOMAIN_OPEN_CONSOLE), both ways, on a
// real QEMU domain of a private libvirtd (tools/sandbox/system-bus.ts, no service). With no guest OS,
// the guest's side of the 16550 UART is played through QEMU's human monitor: `o` writes a byte to
// the transmit register (it comes out of our stream), `i` reads the receive register (where what we
// wrote to the stream arrived). Needs root and qemu-system-x86.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { LibvirtConnection } from '../../src/libvirt/connection.js';
import type { LibvirtStream } from '../../src/libvirt/stream.js';
import { startSystemSandbox, type SystemSandbox } from '../../tools/sandbox/system-bus.js';

const VM = 'console-vm';
const XML = `<domain type='qemu'><name>${VM}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/></console></devices></domain>`;
const COM1 = 0x3f8;

let sandbox: SystemSandbox;
let conn: LibvirtConnection;

before(async () => {
  sandbox = await startSystemSandbox({ service: 'none', cockpit: false });
  const file = join(sandbox.dir, `${VM}.xml`);
  writeFileSync(file, XML);
  await sandbox.virsh('create', file);
  conn = await LibvirtConnection.open(sandbox.qemuUri);
});

after(async () => {
  await conn?.close();
  await sandbox?.stop();
});

const hmp = (command: string) => sandbox.virsh('qemu-monitor-command', VM, '--hmp', command);

/** Reads from the stream until `want` has arrived (or the time is up). */
async function readUntil(stream: LibvirtStream, want: string, ms = 20_000): Promise<string> {
  let got = '';
  const deadline = Date.now() + ms;
  while (!got.includes(want)) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`console said ${JSON.stringify(got)}, not ${JSON.stringify(want)}`);
    const item = await Promise.race([stream.read(), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), left))]);
    if (item === 'timeout') continue;
    if (item === null) throw new Error(`console ended after ${JSON.stringify(got)}`);
    if (Buffer.isBuffer(item)) got += item.toString('latin1');
  }
  return got;
}

it('the console stream carries the UART both ways', { timeout: 120_000 }, async () => {
  const { dom } = await conn.domainLookupByName({ name: VM });
  const { stream } = await conn.withStream(() => conn.domainOpenConsole({ dom, dev_name: null, flags: 0 }));

  // Guest → host: bytes written to the transmit holding register come out of the stream.
  const text = 'hello, console';
  for (const byte of Buffer.from(text)) await hmp(`o /b 0x${COM1.toString(16)} 0x${byte.toString(16)}`);
  assert.match(await readUntil(stream, text), /hello, console/);

  // Host → guest: a byte written to the stream lands in the receive buffer (line status: data ready).
  await stream.write(Buffer.from('Z'));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const lsr = Number.parseInt(/= (0x[0-9a-f]+)/.exec(await hmp(`i /b 0x${(COM1 + 5).toString(16)}`))?.[1] ?? '0', 16);
    if (lsr & 1) break;
    if (Date.now() > deadline) throw new Error('the byte never reached the UART');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(await hmp(`i /b 0x${COM1.toString(16)}`), /= 0x5a/);

  await stream.abort();
  assert.ok(conn.isOpen, 'the connection outlives its stream');
  assert.equal((await conn.domainLookupByName({ name: VM })).dom.name, VM);
});
