// Event callbacks: changes made by virsh on the same daemon arrive as typed events on the
// registered callback; GRAPHICS (not producible with virsh) is checked with a scripted daemon.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ConnectionEvent, LibvirtConnection, type RemoteCallbackEvent } from '../../src/libvirt/connection.js';
import {
  VirDomainEventID,
  VirDomainEventType,
  VirNetworkEventID,
  VirNetworkEventLifecycleType,
  VirSecretEventID,
  VirSecretEventLifecycleType,
  VirStoragePoolEventID,
  VirStoragePoolEventLifecycleType,
} from '../../src/libvirt/libvirt-enums.gen.js';
import { PacketType, encodePacket } from '../../src/libvirt/packet.js';
import {
  REMOTE_PROGRAM,
  type RemoteDomainEventCallbackGraphicsMsg,
  encodeRemoteDomainEventCallbackGraphicsMsg,
} from '../../src/libvirt/remote-protocol.gen.js';
import { XdrWriter } from '../../src/libvirt/xdr.js';
import { type PrivateLibvirtd, startLibvirtd } from '../helpers/libvirtd.js';
import { reply, startFakeDaemon } from './fake-daemon.js';

/** Collects events and waits for one that matches. */
class Inbox {
  readonly events: RemoteCallbackEvent[] = [];
  private waiters: { pred: (e: RemoteCallbackEvent) => boolean; resolve: (e: RemoteCallbackEvent) => void }[] = [];
  readonly listener = (e: RemoteCallbackEvent) => {
    this.events.push(e);
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred(e)) return true;
      w.resolve(e);
      return false;
    });
  };
  wait(pred: (e: RemoteCallbackEvent) => boolean, ms = 10_000): Promise<RemoteCallbackEvent> {
    const have = this.events.find(pred);
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('event did not arrive')), ms);
      t.unref();
      this.waiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(t);
          resolve(e);
        },
      });
    });
  }
}

let d: PrivateLibvirtd;
let conn: LibvirtConnection;
let dir: string;

before(async () => {
  d = await startLibvirtd();
  conn = await LibvirtConnection.open(d.testUri);
  dir = mkdtempSync(join(tmpdir(), 'rt-events-'));
});
after(async () => {
  await conn?.close();
  await d?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('events from a real daemon', () => {
  it('domain lifecycle events for changes made by virsh', async () => {
    const inbox = new Inbox();
    const all: ConnectionEvent[] = [];
    conn.on('event', (e) => all.push(e));
    const reg = await conn.registerDomainEvent(VirDomainEventID.VIR_DOMAIN_EVENT_ID_LIFECYCLE, null, inbox.listener);
    assert.equal(reg.family, 'domain');
    await d.virsh(d.testUri, 'suspend', 'test');
    const ev = await inbox.wait((e) => e.name === 'domainEventCallbackLifecycle');
    assert.equal(ev.callbackID, reg.callbackID);
    assert.ok(ev.name === 'domainEventCallbackLifecycle');
    assert.equal(ev.msg.msg.dom.name, 'test');
    assert.equal(ev.msg.msg.event, VirDomainEventType.VIR_DOMAIN_EVENT_SUSPENDED);
    await d.virsh(d.testUri, 'resume', 'test');
    const resumed = await inbox.wait(
      (e) => e.name === 'domainEventCallbackLifecycle' && e.msg.msg.event === VirDomainEventType.VIR_DOMAIN_EVENT_RESUMED,
    );
    assert.equal(resumed.name === 'domainEventCallbackLifecycle' && resumed.msg.msg.dom.name, 'test');
    // The plain 'event' stream saw the same packets.
    assert.ok(all.some((e) => e.program === REMOTE_PROGRAM && e.name === 'domainEventCallbackLifecycle'));

    // After deregistering, nothing more arrives on it (a second callback shows the event was sent).
    await reg.deregister();
    const witness = new Inbox();
    const reg2 = await conn.registerDomainEvent(VirDomainEventID.VIR_DOMAIN_EVENT_ID_LIFECYCLE, null, witness.listener);
    const before = inbox.events.length;
    await d.virsh(d.testUri, 'suspend', 'test');
    await witness.wait((e) => e.name === 'domainEventCallbackLifecycle');
    assert.equal(inbox.events.length, before);
    await d.virsh(d.testUri, 'resume', 'test');
    await reg2.deregister();
  });

  it('a callback for one domain ignores other domains', async () => {
    const { dom } = await conn.domainLookupByName({ name: 'test' });
    const only = new Inbox();
    const any = new Inbox();
    const r1 = await conn.registerDomainEvent(VirDomainEventID.VIR_DOMAIN_EVENT_ID_LIFECYCLE, dom, only.listener);
    const r2 = await conn.registerDomainEvent(VirDomainEventID.VIR_DOMAIN_EVENT_ID_LIFECYCLE, null, any.listener);
    const xml = join(dir, 'other.xml');
    writeFileSync(xml, "<domain type='test'><name>ev-other</name><memory>65536</memory><os><type>hvm</type></os></domain>");
    await d.virsh(d.testUri, 'define', xml);
    await any.wait((e) => e.name === 'domainEventCallbackLifecycle' && e.msg.msg.dom.name === 'ev-other');
    assert.equal(only.events.length, 0);
    await d.virsh(d.testUri, 'undefine', 'ev-other');
    await r1.deregister();
    await r2.deregister();
  });

  it('metadata change events', async () => {
    const inbox = new Inbox();
    const reg = await conn.registerDomainEvent(VirDomainEventID.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, null, inbox.listener);
    await d.virsh(d.testUri, 'desc', 'test', '--live', 'a new description');
    const ev = await inbox.wait((e) => e.name === 'domainEventCallbackMetadataChange');
    assert.ok(ev.name === 'domainEventCallbackMetadataChange');
    assert.equal(ev.msg.dom.name, 'test');
    await reg.deregister();
  });

  it('network lifecycle events', async () => {
    const inbox = new Inbox();
    const reg = await conn.registerNetworkEvent(VirNetworkEventID.VIR_NETWORK_EVENT_ID_LIFECYCLE, null, inbox.listener);
    await d.virsh(d.testUri, 'net-destroy', 'default');
    const stopped = await inbox.wait((e) => e.name === 'networkEventLifecycle');
    assert.ok(stopped.name === 'networkEventLifecycle');
    assert.equal(stopped.msg.net.name, 'default');
    assert.equal(stopped.msg.event, VirNetworkEventLifecycleType.VIR_NETWORK_EVENT_STOPPED);
    await d.virsh(d.testUri, 'net-start', 'default');
    await inbox.wait((e) => e.name === 'networkEventLifecycle' && e.msg.event === VirNetworkEventLifecycleType.VIR_NETWORK_EVENT_STARTED);
    await reg.deregister();
  });

  it('registerEvent: an event id by name, its family and number from the generated table', async () => {
    const stops: string[] = [];
    let stopped!: () => void;
    const seen = new Promise<void>((resolve, reject) => {
      stopped = resolve;
      setTimeout(() => reject(new Error('no STOPPED event')), 10_000).unref();
    });
    const reg = await conn.registerEvent('VIR_NETWORK_EVENT_ID_LIFECYCLE', null, (ev) => {
      // ev.msg is typed as the generated RemoteNetworkEventLifecycleMsg.
      if (ev.msg.event === VirNetworkEventLifecycleType.VIR_NETWORK_EVENT_STOPPED) {
        stops.push(ev.msg.net.name);
        stopped();
      }
    });
    assert.equal(reg.family, 'network');
    assert.equal(reg.eventID, VirNetworkEventID.VIR_NETWORK_EVENT_ID_LIFECYCLE);
    await d.virsh(d.testUri, 'net-destroy', 'default');
    await seen;
    assert.deepEqual(stops, ['default']);
    await d.virsh(d.testUri, 'net-start', 'default');
    await reg.deregister();
    await assert.rejects(conn.registerEvent('VIR_NO_SUCH_EVENT_ID' as 'VIR_NETWORK_EVENT_ID_LIFECYCLE', null, () => undefined));
  });

  it('storage pool lifecycle and refresh events', async () => {
    const life = new Inbox();
    const refresh = new Inbox();
    const r1 = await conn.registerStoragePoolEvent(VirStoragePoolEventID.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE, null, life.listener);
    const r2 = await conn.registerStoragePoolEvent(VirStoragePoolEventID.VIR_STORAGE_POOL_EVENT_ID_REFRESH, null, refresh.listener);
    await d.virsh(d.testUri, 'pool-destroy', 'default-pool');
    const ev = await life.wait((e) => e.name === 'storagePoolEventLifecycle');
    assert.ok(ev.name === 'storagePoolEventLifecycle');
    assert.equal(ev.msg.pool.name, 'default-pool');
    assert.equal(ev.msg.event, VirStoragePoolEventLifecycleType.VIR_STORAGE_POOL_EVENT_STOPPED);
    await d.virsh(d.testUri, 'pool-start', 'default-pool');
    await d.virsh(d.testUri, 'pool-refresh', 'default-pool');
    const rev = await refresh.wait((e) => e.name === 'storagePoolEventRefresh');
    assert.ok(rev.name === 'storagePoolEventRefresh');
    assert.equal(rev.msg.pool.name, 'default-pool');
    await r1.deregister();
    await r2.deregister();
  });

  it('node device registration returns a callback ID and deregisters', async () => {
    const reg = await conn.registerNodeDeviceEvent(0, null, () => undefined);
    assert.equal(typeof reg.callbackID, 'number');
    await reg.deregister();
    await reg.deregister(); // idempotent
  });

  it('secret lifecycle and value-changed events on qemu:///system', async () => {
    const q = await LibvirtConnection.open(d.qemuUri);
    try {
      const life = new Inbox();
      const value = new Inbox();
      await q.registerSecretEvent(VirSecretEventID.VIR_SECRET_EVENT_ID_LIFECYCLE, null, life.listener);
      await q.registerSecretEvent(VirSecretEventID.VIR_SECRET_EVENT_ID_VALUE_CHANGED, null, value.listener);
      const uuid = '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f';
      const xml = join(dir, 'secret.xml');
      writeFileSync(
        xml,
        `<secret ephemeral='yes' private='no'><uuid>${uuid}</uuid><usage type='volume'><volume>/ev/${process.pid}</volume></usage></secret>`,
      );
      await d.virsh(d.qemuUri, 'secret-define', xml);
      const defined = await life.wait((e) => e.name === 'secretEventLifecycle');
      assert.ok(defined.name === 'secretEventLifecycle');
      assert.equal(defined.msg.event, VirSecretEventLifecycleType.VIR_SECRET_EVENT_DEFINED);
      assert.equal(Buffer.from(defined.msg.secret.uuid).toString('hex'), uuid.replace(/-/g, ''));
      await d.virsh(d.qemuUri, 'secret-set-value', uuid, Buffer.from('v').toString('base64'));
      await value.wait((e) => e.name === 'secretEventValueChanged');
      await d.virsh(d.qemuUri, 'secret-undefine', uuid);
      await life.wait((e) => e.name === 'secretEventLifecycle' && e.msg.event === VirSecretEventLifecycleType.VIR_SECRET_EVENT_UNDEFINED);
    } finally {
      await q.close();
    }
  });
});

describe('events from a scripted daemon', () => {
  it('GRAPHICS events with addresses and subject, even when sent before the registration reply', async () => {
    const msg: RemoteDomainEventCallbackGraphicsMsg = {
      callbackID: 7,
      msg: {
        dom: { name: 'vm1', uuid: Buffer.alloc(16, 0xab), id: 3 },
        phase: 1, // VIR_DOMAIN_EVENT_GRAPHICS_INITIALIZE
        local: { family: 0, node: '127.0.0.1', service: '5900' },
        remote: { family: 1, node: '::1', service: '40000' },
        authScheme: 'vnc',
        subject: [
          { type: 'x509dname', name: 'CN=client' },
          { type: 'saslUsername', name: 'alice' },
        ],
      },
    };
    const w = new XdrWriter();
    encodeRemoteDomainEventCallbackGraphicsMsg(w, msg);
    const fake = await startFakeDaemon((sock, p) => {
      if (p.procedure === 316) {
        // REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY: event first, then the reply.
        sock.write(
          encodePacket(
            { program: REMOTE_PROGRAM, version: 1, procedure: 323, type: PacketType.MESSAGE, serial: 0, status: 0 },
            w.toBuffer(),
          ),
        );
        sock.write(reply(p, Buffer.from([0, 0, 0, 7])));
      }
    });
    const c = await LibvirtConnection.open(fake.uri, { keepaliveInterval: 0 });
    try {
      const inbox = new Inbox();
      const reg = await c.registerDomainEvent(VirDomainEventID.VIR_DOMAIN_EVENT_ID_GRAPHICS, null, inbox.listener);
      assert.equal(reg.callbackID, 7);
      const ev = await inbox.wait((e) => e.name === 'domainEventCallbackGraphics', 2000);
      assert.ok(ev.name === 'domainEventCallbackGraphics');
      assert.equal(ev.procedure, 323);
      assert.equal(ev.msg.msg.dom.name, 'vm1');
      assert.deepEqual(ev.msg.msg.local, msg.msg.local);
      assert.deepEqual(ev.msg.msg.remote, msg.msg.remote);
      assert.equal(ev.msg.msg.authScheme, 'vnc');
      assert.deepEqual(ev.msg.msg.subject, msg.msg.subject);
    } finally {
      await c.close();
      await fake.close();
    }
  });
});
