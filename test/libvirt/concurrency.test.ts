// Many calls in flight on one connection: replies are matched by serial, whatever their order,
// and the daemon's max_client_requests (5 here) only queues them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LibvirtConnection } from '../../src/libvirt/connection.js';
import { LibvirtError } from '../../src/libvirt/errors.js';
import type { Packet } from '../../src/libvirt/packet.js';
import { type PrivateLibvirtd, startLibvirtd } from '../helpers/libvirtd.js';
import { reply, startFakeDaemon, xdrString } from './fake-daemon.js';

let d: PrivateLibvirtd;
let conn: LibvirtConnection;
const NAMES = Array.from({ length: 20 }, (_, i) => `cc-dom-${i}`);

before(async () => {
  d = await startLibvirtd();
  conn = await LibvirtConnection.open(d.testUri);
  for (const name of NAMES) {
    await conn.domainDefineXml({
      xml: `<domain type='test'><name>${name}</name><memory>65536</memory><os><type>hvm</type></os></domain>`,
    });
  }
});
after(async () => {
  await conn?.close();
  await d?.stop();
});

describe('concurrency on a real daemon', () => {
  it('200 concurrent lookups each get their own answer', async () => {
    const wanted = Array.from({ length: 200 }, (_, i) => NAMES[i % NAMES.length]);
    const results = await Promise.all(wanted.map((name) => conn.domainLookupByName({ name })));
    assert.deepEqual(
      results.map((r) => r.dom.name),
      wanted,
    );
  });

  it('200 concurrent mixed calls, successes and failures, all settle correctly', async () => {
    const calls = Array.from({ length: 200 }, (_, i) => {
      switch (i % 4) {
        case 0:
          return conn.connectGetHostname().then((r) => `host:${r.hostname.length > 0}`);
        case 1:
          return conn.domainLookupByName({ name: NAMES[i % NAMES.length] }).then((r) => `dom:${r.dom.name}`);
        case 2:
          return conn.domainLookupByName({ name: `missing-${i}` }).then(
            () => 'unexpected',
            (e: unknown) => (e instanceof LibvirtError ? `err:${e.codeName}` : 'bad error'),
          );
        default:
          return conn.connectListAllDomains({ need_results: 1, flags: 0 }).then((r) => `list:${r.domains.length}`);
      }
    });
    const out = await Promise.all(calls);
    out.forEach((v, i) => {
      if (i % 4 === 0) assert.equal(v, 'host:true');
      else if (i % 4 === 1) assert.equal(v, `dom:${NAMES[i % NAMES.length]}`);
      else if (i % 4 === 2) assert.equal(v, 'err:VIR_ERR_NO_DOMAIN');
      else assert.equal(v, `list:${NAMES.length + 1}`);
    });
    assert.equal(conn.pendingCalls, 0);
  });

  it('several connections in parallel do not mix their replies', async () => {
    const conns = await Promise.all([1, 2, 3, 4].map(() => LibvirtConnection.open(d.testUri)));
    try {
      const res = await Promise.all(
        conns.flatMap((c, ci) => NAMES.map((name) => c.domainLookupByName({ name }).then((r) => `${ci}:${r.dom.name}`))),
      );
      assert.deepEqual(
        res,
        conns.flatMap((_, ci) => NAMES.map((name) => `${ci}:${name}`)),
      );
    } finally {
      await Promise.all(conns.map((c) => c.close()));
    }
  });
});

describe('reply ordering (scripted daemon)', () => {
  it('replies sent in reverse order reach the right callers', async () => {
    const held: { p: Packet; write: (b: Buffer) => void }[] = [];
    const fake = await startFakeDaemon((sock, p) => {
      held.push({ p, write: (b) => sock.write(b) });
      if (held.length === 50) {
        for (const h of held.reverse()) h.write(reply(h.p, xdrString(`host-${h.p.serial}`)));
      }
    });
    const c = await LibvirtConnection.open(fake.uri, { keepaliveInterval: 0 });
    try {
      const calls = Array.from({ length: 50 }, () => c.connectGetHostname());
      const names = (await Promise.all(calls)).map((r) => r.hostname);
      const serials = names.map((n) => Number(n.slice(5)));
      // Each caller got the reply to its own serial: serials increase in call order.
      for (let i = 1; i < serials.length; i++) assert.equal(serials[i], serials[i - 1] + 1);
    } finally {
      await c.close();
      await fake.close();
    }
  });
});
