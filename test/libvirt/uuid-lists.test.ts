// The UUID-only decoder of virConnectListAllDomains replies agrees with the generated decoder: the
// same UUIDs in the same order for any reply, and the same refusals (with XdrError) for any
// malformed one; and on a real daemon listAllDomainUuids answers what connectListAllDomains does.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { LibvirtConnection } from '../../src/libvirt/connection.js';
import {
  decodeRemoteConnectListAllDomainsRet,
  encodeRemoteConnectListAllDomainsRet,
  type RemoteConnectListAllDomainsRet,
} from '../../src/libvirt/remote-protocol.gen.js';
import { decodeListAllDomainsUuids, listAllDomainUuids } from '../../src/libvirt/uuid-lists.js';
import { XdrError, XdrReader, XdrWriter } from '../../src/libvirt/xdr.js';
import { type PrivateLibvirtd, startLibvirtd } from '../helpers/libvirtd.js';

const domain = fc.record({
  name: fc.string({ maxLength: 40 }),
  uuid: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((u) => Buffer.from(u)),
  id: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
});
const reply = fc.record({ domains: fc.array(domain, { maxLength: 50 }), ret: fc.nat() });

function encode(v: RemoteConnectListAllDomainsRet): Buffer {
  const w = new XdrWriter();
  encodeRemoteConnectListAllDomainsRet(w, v);
  return w.toBuffer();
}

/** 'ok:<hex of the UUIDs>' or the XdrError's reason, for comparing the two decoders. */
function outcome(decode: (r: XdrReader) => Buffer, bytes: Buffer): string {
  try {
    const r = new XdrReader(bytes);
    const packed = decode(r);
    r.assertEnd();
    return `ok:${packed.toString('hex')}`;
  } catch (err) {
    assert.ok(err instanceof XdrError, `a typed error, not ${String(err)}`);
    return `error:${err.reason}`;
  }
}

const generated = (r: XdrReader) => Buffer.concat(decodeRemoteConnectListAllDomainsRet(r).domains.map((d) => d.uuid));

describe('decodeListAllDomainsUuids', () => {
  it('answers the UUIDs the generated decoder finds, in order', () => {
    fc.assert(
      fc.property(reply, (v) => {
        const bytes = encode(v);
        assert.equal(outcome(decodeListAllDomainsUuids, bytes), `ok:${Buffer.concat(v.domains.map((d) => d.uuid)).toString('hex')}`);
      }),
    );
  });

  it('refuses what the generated decoder refuses (truncated, corrupted, over the limits)', () => {
    fc.assert(
      fc.property(reply, fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }), (v, cut, at, byte) => {
        const bytes = encode(v);
        const truncated = bytes.subarray(0, cut % (bytes.length + 1));
        assert.equal(outcome(decodeListAllDomainsUuids, truncated), outcome(generated, truncated));
        const corrupted = Buffer.from(bytes);
        corrupted[at % corrupted.length] = byte;
        assert.equal(outcome(decodeListAllDomainsUuids, corrupted), outcome(generated, corrupted));
      }),
    );
    // A count over REMOTE_DOMAIN_LIST_MAX, and a name over REMOTE_STRING_MAX.
    const tooMany = Buffer.from([0, 0, 0x40, 1, 0, 0, 0, 0]);
    assert.equal(outcome(decodeListAllDomainsUuids, tooMany), 'error:LIMIT');
    assert.equal(outcome(generated, tooMany), 'error:LIMIT');
    const longName = Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0x40, 0, 1]), Buffer.alloc(64)]);
    assert.equal(outcome(decodeListAllDomainsUuids, longName), 'error:LIMIT');
    assert.equal(outcome(generated, longName), 'error:LIMIT');
  });
});

describe('listAllDomainUuids on a real daemon', () => {
  let d: PrivateLibvirtd;
  let conn: LibvirtConnection;
  before(async () => {
    d = await startLibvirtd();
    conn = await LibvirtConnection.open(d.testUri);
    for (let i = 0; i < 5; i++) {
      await conn.domainDefineXml({
        xml: `<domain type='test'><name>uuid-list-${i}</name><memory>65536</memory><os><type>hvm</type></os></domain>`,
      });
    }
  });
  after(async () => {
    await conn?.close();
    await d?.stop();
  });

  it('answers the UUIDs of connectListAllDomains, for each filter', async () => {
    // 0: all; 1: active; 2: inactive (VIR_CONNECT_LIST_DOMAINS_ACTIVE / _INACTIVE).
    for (const flags of [0, 1, 2]) {
      const packed = await listAllDomainUuids(conn, flags);
      const { domains } = await conn.connectListAllDomains({ need_results: 1, flags });
      assert.ok(domains.length > 0, `flags ${flags}: some domains`);
      assert.equal(packed.toString('hex'), Buffer.concat(domains.map((x) => x.uuid)).toString('hex'), `flags ${flags}`);
    }
  });
});
