// The small Linux test guest (tools/sandbox/test-guest.ts) as a QEMU domain's XML: its kernel and
// initrd copied beside the XML (QEMU runs as another user and may not read the repository's
// cache), the serial console logged to console.log there, the agent channel its /init waits for,
// and whatever devices a test adds. Fails (never skips) with what to run when the guest is missing.
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GUEST, type TestGuestFiles, testGuestFiles } from '../../tools/sandbox/test-guest.js';

/** Writes `dir/NAME.xml` for the test guest with `devices` added; returns its path and the guest's files. */
export function writeGuestDomain(dir: string, name: string, uuid: string, devices = ''): { xml: string; guest: TestGuestFiles } {
  const guest = testGuestFiles();
  const kernel = join(dir, 'vmlinuz');
  const initrd = join(dir, 'initrd.img');
  copyFileSync(guest.kernel, kernel);
  copyFileSync(guest.initrd, initrd);
  const xml = join(dir, `${name}.xml`);
  writeFileSync(
    xml,
    `<domain type='qemu'><name>${name}</name><uuid>${uuid}</uuid><memory unit='MiB'>256</memory><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='pc'>hvm</type><kernel>${kernel}</kernel><initrd>${initrd}</initrd><cmdline>console=ttyS0 panic=-1</cmdline></os>
      <on_reboot>destroy</on_reboot><on_crash>destroy</on_crash>
      <devices>
        <serial type='file'><source path='${join(dir, 'console.log')}'/><target port='0'/></serial>
        <channel type='unix'><target type='virtio' name='${GUEST.agentPort}'/></channel>
        ${devices}
      </devices></domain>`,
  );
  return { xml, guest };
}
