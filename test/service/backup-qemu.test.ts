// Domain.BackupBegin / BackupGetXMLDesc (beyond libvirt-dbus 1.4.1) on a real QEMU (TCG) domain of
// a private libvirtd (tools/sandbox/system-bus.ts), through our service on a private system bus: a
// push-mode full backup of one disk to a file. The disk is served by nbdkit with its rate filter, so
// the job runs for seconds and BackupGetXMLDesc is asked while it runs; its end is the JobCompleted
// signal. Needs root (mount namespace), qemu-system-x86 and nbdkit. Calls and the signal go through
// the typed client.
import assert from 'node:assert/strict';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DomainProxy } from '../../src/client/index.js';
import { DBusError } from '../../src/dbus/index.js';
import { errorOf } from '../helpers/errors.js';
import type { SystemSandbox } from '../../tools/sandbox/system-bus.js';
import { IFACE } from './iface.js';
import { type QemuSandbox, startQemuSandbox } from './qemu-sandbox.js';
import { record } from './typed.js';

const VM = 'backup-vm';
const UUID = '8d7f2a3c-1b4e-4c5d-9e6f-7a8b9c0d1e2f';
const PATH = `/org/libvirt/QEMU/domain/_${UUID.replace(/-/g, '_')}`;
const WAIT = 60_000;
/** The slow disk: 2 MiB read at 2 Mbit/s, so a full backup takes about 8 s. */
const DISK_BYTES = 2 * 1024 * 1024;

describe('Domain.BackupBegin and BackupGetXMLDesc on a real QEMU domain', { timeout: 300_000 }, () => {
  let sandbox: SystemSandbox | undefined;
  let dom: DomainProxy | undefined;
  let qs: QemuSandbox | undefined;
  let images = '';

  before(async () => {
    // QEMU writes the backup file into the images folder.
    qs = await startQemuSandbox({
      service: 'ours',
      // The test subscribes to JobCompleted through the typed client instead.
      signals: { interface: IFACE.Domain, member: 'JobCompleted' },
      onSignal: () => undefined,
      prefix: 'backup-images-',
      mode: 0o777,
    });
    ({ sandbox, images } = qs);
    dom = new DomainProxy(qs.bus, PATH);
    // noextents: every byte is data, so QEMU reads (at the limited rate) rather than skipping holes.
    const port = await qs.nbdkit(['--filter=noextents', '--filter=rate', 'memory', String(DISK_BYTES), 'rate=2M']);
    const xml = join(images, `${VM}.xml`);
    writeFileSync(
      xml,
      `<domain type='qemu'><name>${VM}</name><uuid>${UUID}</uuid><memory unit='MiB'>64</memory><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='pc'>hvm</type></os>
      <devices><disk type='network' device='disk'><driver name='qemu' type='raw'/><source protocol='nbd' name='slow'><host name='127.0.0.1' port='${port}'/></source><target dev='vdb' bus='virtio'/></disk></devices></domain>`,
    );
    // Transient: the teardown has nothing to undefine.
    await sandbox.virsh('create', xml);
  });

  after(async () => {
    await qs?.stop();
  });

  it('a push-mode backup to a file: BackupGetXMLDesc while it runs, JobCompleted, the file written', async () => {
    const target = join(images, 'vdb.backup.raw');
    const backupXml = `<domainbackup mode='push'><disks><disk name='vdb' type='file'><target file='${target}'/><driver type='raw'/></disk></disks></domainbackup>`;
    const d = dom as DomainProxy;
    const completed = record('JobCompleted', d.onJobCompleted.bind(d));
    try {
      // An empty checkpointXML is NULL: no checkpoint is made (a raw disk could not hold one).
      assert.equal(await d.backupBegin(backupXml, '', 0), undefined);
      const desc = await d.backupGetXMLDesc(0);
      assert.match(desc, /<domainbackup mode='push'/);
      assert.ok(desc.includes(`<target file='${target}'/>`), desc);
      assert.equal(desc.trimEnd(), (await (sandbox as SystemSandbox).virsh('backup-dumpxml', VM)).trimEnd());
      // A second backup while one runs is refused with libvirt's error.
      const busy = await errorOf(d.backupBegin(backupXml, '', 0), DBusError);
      assert.equal(busy.errorName, 'org.libvirt.Error');

      const [stats] = await completed.waitFor(() => true, WAIT);
      assert.equal((stats.get('operation')?.value as { value: unknown } | undefined)?.value, 9); // VIR_DOMAIN_JOB_OPERATION_BACKUP
      assert.ok(existsSync(target));
      assert.equal(statSync(target).size, DISK_BYTES);
      // The job is over: libvirt says there is no backup any more.
      const gone = await errorOf(d.backupGetXMLDesc(0), DBusError);
      assert.equal(gone.errorName, 'org.libvirt.Error');
    } finally {
      completed.stop();
    }
  });
});
