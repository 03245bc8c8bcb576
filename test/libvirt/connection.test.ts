// LibvirtConnection against a real private libvirtd, checked against virsh on the same daemon.
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LibvirtConnection } from '../../src/libvirt/connection.js';
import { LibvirtConnectionClosedError, LibvirtError } from '../../src/libvirt/errors.js';
import { StreamHole } from '../../src/libvirt/stream.js';
import type { RemoteNonnullDomain } from '../../src/libvirt/remote-protocol.gen.js';
import { lines, type PrivateLibvirtd, startLibvirtd } from '../helpers/libvirtd.js';

/** libvirt's string form of a UUID. */
function uuidString(u: Uint8Array): string {
  const h = Buffer.from(u).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const DOMAIN_XML = (name: string) => `<domain type='test'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>`;

let d: PrivateLibvirtd;
let conn: LibvirtConnection;
let qemu: LibvirtConnection;

before(async () => {
  d = await startLibvirtd();
  conn = await LibvirtConnection.open(d.testUri);
  qemu = await LibvirtConnection.open(d.qemuUri);
});

after(async () => {
  await conn?.close();
  await qemu?.close();
  await d?.stop();
});

describe('LibvirtConnection on a real libvirtd', () => {
  it('sends the daemon the URI without transport and socket', () => {
    assert.equal(conn.daemonUri, 'test:///default');
    assert.equal(qemu.daemonUri, 'qemu:///system');
  });

  it('connectGetHostname and connectGetUri agree with virsh', async () => {
    const { hostname } = await conn.connectGetHostname();
    assert.equal(hostname, (await d.virsh(d.testUri, 'hostname')).trim());
    assert.equal((await conn.connectGetUri()).uri, 'test:///default');
  });

  it('lists domains like virsh list --all --name', async () => {
    const { domains } = await conn.connectListAllDomains({ need_results: 1, flags: 0 });
    assert.deepEqual(domains.map((x) => x.name).sort(), lines(await d.virsh(d.testUri, 'list', '--all', '--name')));
  });

  it('looks up the test domain with the UUID virsh reports', async () => {
    const { dom } = await conn.domainLookupByName({ name: 'test' });
    assert.equal(uuidString(dom.uuid), (await d.virsh(d.testUri, 'domuuid', 'test')).trim());
    const { xml } = await conn.domainGetXmlDesc({ dom, flags: 0 });
    assert.match(xml, /<name>test<\/name>/);
  });

  it('defines, starts, suspends, resumes, destroys and undefines a domain (seen by virsh)', async () => {
    const state = async () => (await d.virsh(d.testUri, 'domstate', 'rt-dom')).trim();
    const { dom } = await conn.domainDefineXml({ xml: DOMAIN_XML('rt-dom') });
    assert.equal(await state(), 'shut off');
    await conn.domainCreate({ dom });
    assert.equal(await state(), 'running');
    const { dom: running } = await conn.domainLookupByName({ name: 'rt-dom' });
    await conn.domainSuspend({ dom: running });
    assert.equal(await state(), 'paused');
    assert.equal((await conn.domainGetState({ dom: running, flags: 0 })).state, 3); // VIR_DOMAIN_PAUSED
    await conn.domainResume({ dom: running });
    assert.equal(await state(), 'running');
    await conn.domainDestroy({ dom: running });
    assert.equal(await state(), 'shut off');
    await conn.domainUndefine({ dom });
    assert.ok(!lines(await d.virsh(d.testUri, 'list', '--all', '--name')).includes('rt-dom'));
  });

  it('networks, pools, volumes, node devices and interfaces match virsh', async () => {
    const nets = await conn.connectListAllNetworks({ need_results: 1, flags: 0 });
    assert.deepEqual(nets.nets.map((n) => n.name).sort(), lines(await d.virsh(d.testUri, 'net-list', '--all', '--name')));

    const pools = await conn.connectListAllStoragePools({ need_results: 1, flags: 0 });
    assert.deepEqual(pools.pools.map((p) => p.name).sort(), lines(await d.virsh(d.testUri, 'pool-list', '--all', '--name')));

    const { pool } = await conn.storagePoolLookupByName({ name: 'default-pool' });
    await conn.storageVolCreateXml({
      pool,
      xml: "<volume><name>rt-vol.img</name><capacity unit='MiB'>1</capacity></volume>",
      flags: 0,
    });
    const vols = await conn.storagePoolListAllVolumes({ pool, need_results: 1, flags: 0 });
    const virshVols = lines(await d.virsh(d.testUri, 'vol-list', 'default-pool')).map((l) => l.split(/\s+/)[0]);
    assert.ok(vols.vols.some((v) => v.name === 'rt-vol.img'));
    assert.deepEqual(vols.vols.map((v) => v.name).sort(), virshVols.sort());

    const devs = await conn.connectListAllNodeDevices({ need_results: 1, flags: 0 });
    assert.ok(devs.devices.length > 0);
    // virsh 9's nodedev-list passes flags the test driver rejects; compare device by device instead.
    for (const dev of devs.devices) {
      const xml = await d.virsh(d.testUri, 'nodedev-dumpxml', dev.name);
      assert.match(xml, new RegExp(`<name>${dev.name}</name>`));
    }

    const ifaces = await conn.connectListAllInterfaces({ need_results: 1, flags: 0 });
    assert.deepEqual(
      ifaces.ifaces.map((i) => i.name).sort(),
      lines(await d.virsh(d.testUri, 'iface-list', '--all')).map((l) => l.split(/\s+/)[0]),
    );
  });

  it('snapshots: create and list like virsh snapshot-list', async () => {
    const { dom } = await conn.domainLookupByName({ name: 'test' });
    const { snap } = await conn.domainSnapshotCreateXml({
      dom,
      xml_desc: '<domainsnapshot><name>rt-snap</name></domainsnapshot>',
      flags: 0,
    });
    assert.equal(snap.name, 'rt-snap');
    const { snapshots } = await conn.domainListAllSnapshots({ dom, need_results: 1, flags: 0 });
    assert.deepEqual(snapshots.map((s) => s.name).sort(), lines(await d.virsh(d.testUri, 'snapshot-list', 'test', '--name')));
  });

  it('secrets on qemu:///system: define, set and get a value (virsh sees it)', async () => {
    const { secret } = await qemu.secretDefineXml({
      xml: `<secret ephemeral='yes' private='no'><usage type='volume'><volume>/rt/vol-${process.pid}</volume></usage></secret>`,
      flags: 0,
    });
    try {
      await qemu.secretSetValue({ secret, value: Buffer.from('s3cret'), flags: 0 });
      const { value } = await qemu.secretGetValue({ secret, flags: 0 });
      assert.equal(Buffer.from(value).toString(), 's3cret');
      const uuid = uuidString(secret.uuid);
      assert.equal((await d.virsh(d.qemuUri, 'secret-get-value', uuid)).trim(), Buffer.from('s3cret').toString('base64'));
      const { secrets } = await qemu.connectListAllSecrets({ need_results: 1, flags: 0 });
      assert.ok(secrets.some((s) => uuidString(s.uuid) === uuid));
    } finally {
      await qemu.secretUndefine({ secret });
    }
  });

  it('network filters on qemu:///system match virsh nwfilter-list', async () => {
    // The fixture's daemon writes persistent filters to the host's /etc/libvirt: use a unique name, undefine after.
    const name = `rt-filter-${process.pid}`;
    const { nwfilter } = await qemu.nwfilterDefineXml({ xml: `<filter name='${name}' chain='root'></filter>` });
    try {
      const { filters } = await qemu.connectListAllNwfilters({ need_results: 1, flags: 0 });
      const virshNames = lines(await d.virsh(d.qemuUri, 'nwfilter-list')).map((l) => l.split(/\s+/)[1]);
      assert.ok(filters.some((f) => f.name === name));
      assert.deepEqual(filters.map((f) => f.name).sort(), virshNames.sort());
    } finally {
      await qemu.nwfilterUndefine({ nwfilter });
    }
  });

  it('the test driver refuses secrets with a LibvirtError code, not a crash', async () => {
    await assert.rejects(conn.connectListAllSecrets({ need_results: 1, flags: 0 }), (e: unknown) => {
      assert.ok(e instanceof LibvirtError);
      assert.equal(e.codeName, 'VIR_ERR_NO_SUPPORT');
      return true;
    });
  });

  it('libvirt errors carry code, domain and their names', async () => {
    await assert.rejects(conn.domainLookupByName({ name: 'no-such-domain' }), (e: unknown) => {
      assert.ok(e instanceof LibvirtError);
      assert.equal(e.codeName, 'VIR_ERR_NO_DOMAIN');
      assert.equal(e.code, 42);
      assert.equal(e.domainName, 'VIR_FROM_TEST');
      assert.equal(e.level, 2);
      return true;
    });
    await assert.rejects(conn.networkLookupByName({ name: 'no-such-net' }), (e: unknown) => {
      assert.ok(e instanceof LibvirtError);
      assert.equal(e.codeName, 'VIR_ERR_NO_NETWORK');
      return true;
    });
  });

  it('a read-only connection may read but not change', async () => {
    const ro = await LibvirtConnection.open(d.testUri, { readonly: true });
    try {
      const { dom } = await ro.domainLookupByName({ name: 'test' });
      await assert.rejects(ro.domainSuspend({ dom }), (e: unknown) => {
        assert.ok(e instanceof LibvirtError);
        assert.equal(e.codeName, 'VIR_ERR_OPERATION_DENIED');
        return true;
      });
    } finally {
      await ro.close();
    }
  });

  it('the QEMU program is reachable through conn.qemu', async () => {
    const { dom } = await conn.domainLookupByName({ name: 'test' });
    // The test driver has no monitor: the daemon answers with a libvirt error, proving the call went through.
    await assert.rejects(conn.qemu.domainMonitorCommand({ dom, cmd: '{"execute":"query-status"}', flags: 0 }), LibvirtError);
  });

  it('passes a descriptor to the daemon (domainCreateWithFiles, CALL_WITH_FDS)', async () => {
    assert.equal(conn.canPassFds, true, 'src/unix addon missing: fd passing unavailable');
    const { dom } = await conn.domainDefineXml({ xml: DOMAIN_XML('rt-fds') });
    const fd = openSync('/dev/null', 'r');
    try {
      const { result, fds } = await conn.withFds([fd], () => conn.domainCreateWithFiles({ dom, flags: 0 }));
      assert.equal(result.dom.name, 'rt-fds');
      assert.deepEqual(fds, []);
    } finally {
      closeSync(fd);
    }
    assert.equal((await d.virsh(d.testUri, 'domstate', 'rt-fds')).trim(), 'running');
    // The framing stayed in step: later calls still work.
    assert.equal((await conn.domainLookupByName({ name: 'rt-fds' })).dom.name, 'rt-fds');
    await conn.domainDestroy({ dom });
    await conn.domainUndefine({ dom });
  });

  it('close() rejects later calls at once and emits closed once', async () => {
    const c = await LibvirtConnection.open(d.testUri);
    const reasons: string[] = [];
    c.on('closed', (ev) => reasons.push(ev.reason));
    await c.close();
    await c.close();
    assert.deepEqual(reasons, ['closed']);
    await assert.rejects(c.connectGetHostname(), (e: unknown) => e instanceof LibvirtConnectionClosedError && e.reason === 'closed');
  });
});

describe('streams', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rt-pool-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('uploads and downloads a volume over a stream (virsh vol-download agrees)', async () => {
    const { pool } = await qemu.storagePoolCreateXml({
      xml: `<pool type='dir'><name>rt-pool</name><target><path>${dir}</path></target></pool>`,
      flags: 0,
    });
    const { vol } = await qemu.storageVolCreateXml({
      pool,
      xml: "<volume><name>data.raw</name><capacity unit='bytes'>1048576</capacity><target><format type='raw'/></target></volume>",
      flags: 0,
    });
    const data = Buffer.alloc(1048576);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 11)) & 0xff;

    const up = await qemu.withStream(() => qemu.storageVolUpload({ vol, offset: 0n, length: BigInt(data.length), flags: 0 }));
    await up.stream.write(data);
    await up.stream.finish();

    const down = await qemu.withStream(() => qemu.storageVolDownload({ vol, offset: 0n, length: 0n, flags: 0 }));
    const got = await down.stream.readAll();
    assert.equal(got.length, data.length);
    assert.ok(got.equals(data));

    const out = join(dir, '..', `rt-download-${process.pid}`);
    try {
      await d.virsh(d.qemuUri, 'vol-download', '--pool', 'rt-pool', 'data.raw', out);
      assert.ok(readFileSync(out).equals(data));
    } finally {
      rmSync(out, { force: true });
    }
    await qemu.storagePoolDestroy({ pool });
  });

  it('sparse upload and download: holes travel as STREAM_HOLE both ways (virsh vol-download --sparse agrees)', async () => {
    const MiB = 1048576;
    const { pool } = await qemu.storagePoolCreateXml({
      xml: `<pool type='dir'><name>rt-sparse</name><target><path>${dir}</path></target></pool>`,
      flags: 0,
    });
    try {
      const { vol } = await qemu.storageVolCreateXml({
        pool,
        xml: `<volume><name>sparse.raw</name><capacity unit='bytes'>${4 * MiB}</capacity><allocation>0</allocation><target><format type='raw'/></target></volume>`,
        flags: 0,
      });
      const a = Buffer.alloc(MiB, 0xa5);
      const b = Buffer.alloc(MiB, 0x5a);
      const SPARSE = 1; // VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM / VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM
      const up = await qemu.withStream(() => qemu.storageVolUpload({ vol, offset: 0n, length: 0n, flags: SPARSE }));
      await up.stream.write(a);
      await up.stream.sendHole(BigInt(2 * MiB));
      await up.stream.write(b);
      await up.stream.finish();

      const expected = Buffer.concat([a, Buffer.alloc(2 * MiB), b]);
      const path = join(dir, 'sparse.raw');
      assert.ok(readFileSync(path).equals(expected), 'the volume holds data, zeros, data');
      // Where the file system keeps holes, the daemon left one (it skipped the hole instead of writing zeros).
      const allocated = statSync(path).blocks * 512;
      assert.ok(allocated <= 3 * MiB, `allocated ${allocated} bytes of ${4 * MiB}`);

      const down = await qemu.withStream(() => qemu.storageVolDownload({ vol, offset: 0n, length: 0n, flags: SPARSE }));
      const parts: Buffer[] = [];
      let holes = 0n;
      for await (const item of down.stream) {
        if (item instanceof StreamHole) {
          holes += item.length;
          parts.push(Buffer.alloc(Number(item.length)));
        } else parts.push(item);
      }
      assert.ok(Buffer.concat(parts).equals(expected));
      assert.equal(holes, BigInt(2 * MiB), 'the hole came as STREAM_HOLE, not as zeros');

      const out = join(dir, '..', `rt-sparse-${process.pid}`);
      try {
        await d.virsh(d.qemuUri, 'vol-download', '--sparse', '--pool', 'rt-sparse', 'sparse.raw', out);
        assert.ok(readFileSync(out).equals(expected));
      } finally {
        rmSync(out, { force: true });
      }
    } finally {
      await qemu.storagePoolDestroy({ pool });
    }
  });

  it('a stream call that fails rejects and leaves no stream behind', async () => {
    const vol = { pool: 'nope', name: 'nope', key: '/nonexistent/key' };
    await assert.rejects(
      qemu.withStream(() => qemu.storageVolDownload({ vol, offset: 0n, length: 0n, flags: 0 })),
      LibvirtError,
    );
    assert.ok(qemu.isOpen);
  });
});

describe('daemon death', () => {
  it('killing the daemon rejects pending calls promptly and fires closed (eof)', async () => {
    const d2 = await startLibvirtd();
    try {
      const c = await LibvirtConnection.open(d2.testUri);
      const closed = new Promise<string>((resolve) => c.once('closed', (ev) => resolve(ev.reason)));
      const { dom } = await c.domainLookupByName({ name: 'test' });
      // Freeze the daemon so that every call below is still waiting when it dies.
      assert.equal(readFileSync(`/proc/${d2.pid}/comm`, 'utf8').trim(), 'libvirtd');
      process.kill(d2.pid, 'SIGSTOP');
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < 50; i++) calls.push(c.domainGetXmlDesc({ dom: dom as RemoteNonnullDomain, flags: 0 }));
      const settled = Promise.allSettled(calls);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(c.pendingCalls, 50);
      await d2.kill();
      const results = await settled;
      assert.equal(await closed, 'eof');
      for (const r of results) {
        assert.equal(r.status, 'rejected');
        assert.ok(r.reason instanceof LibvirtConnectionClosedError);
        assert.equal(r.reason.reason, 'eof');
      }
      await assert.rejects(c.connectGetHostname(), LibvirtConnectionClosedError);
      assert.equal(c.pendingCalls, 0);
    } finally {
      await d2.stop();
    }
  });
});
