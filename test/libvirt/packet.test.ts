// Packet framing: golden bytes from rpc.rst, reassembly from arbitrary fragments, size limits,
// header validation and remote_error decoding.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LibvirtError, LibvirtMessageSizeError, LibvirtProtocolError } from '../../src/libvirt/errors.js';
import {
  PacketDecoder,
  PacketStatus,
  PacketType,
  VIR_NET_MESSAGE_MAX,
  decodeError,
  decodePacket,
  encodePacket,
} from '../../src/libvirt/packet.js';

function words(...ws: number[]): Buffer {
  const b = Buffer.alloc(ws.length * 4);
  ws.forEach((w, i) => {
    b.writeInt32BE(w, i * 4);
  });
  return b;
}

/** XDR string: length, bytes, zero padding. */
function xstr(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  const pad = (4 - (bytes.length % 4)) % 4;
  return Buffer.concat([words(bytes.length), bytes, Buffer.alloc(pad)]);
}

describe('packet framing', () => {
  it('encodes the rpc.rst call example byte for byte', () => {
    // rpc.rst: program=8, version=1, procedure=3, 10 bytes of args → length 38.
    const args = Buffer.from('0123456789');
    const buf = encodePacket({ program: 8, version: 1, procedure: 3, type: PacketType.CALL, serial: 1, status: PacketStatus.OK }, args);
    assert.deepEqual(buf, Buffer.concat([words(38, 8, 1, 3, 0, 1, 0), args]));
  });

  it('encodes the rpc.rst call-with-fds example (count between header and payload)', () => {
    const args = Buffer.from('0123456789');
    const buf = encodePacket(
      { program: 8, version: 1, procedure: 3, type: PacketType.CALL_WITH_FDS, serial: 1, status: PacketStatus.OK },
      args,
      2,
    );
    assert.equal(buf.readUInt32BE(0), 4 + 24 + 4 + 10);
    assert.equal(buf.readUInt32BE(28), 2);
    const p = decodePacket(buf);
    assert.equal(p.fdCount, 2);
    assert.deepEqual(p.payload, args);
  });

  it('decodes a reply header and payload', () => {
    const buf = Buffer.concat([words(32, 8, 1, 3, 1, 7, 0), Buffer.from('abcd')]);
    const p = decodePacket(buf);
    assert.deepEqual(
      { ...p, payload: [...p.payload] },
      { program: 8, version: 1, procedure: 3, type: 1, serial: 7, status: 0, fdCount: 0, payload: [...Buffer.from('abcd')] },
    );
  });

  it('reassembles packets from any fragmentation', () => {
    const packets = [0, 1, 2, 5, 100].map((n, i) =>
      encodePacket(
        { program: 0x20008086, version: 1, procedure: i + 1, type: PacketType.REPLY, serial: i + 1, status: PacketStatus.OK },
        Buffer.alloc(n, i + 1),
      ),
    );
    const stream = Buffer.concat(packets);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 20 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const d = new PacketDecoder();
        const got: number[] = [];
        let prev = 0;
        for (const c of [...points, stream.length]) {
          for (const p of d.push(stream.subarray(prev, c))) {
            got.push(p.serial);
            assert.equal(p.payload.length, [0, 1, 2, 5, 100][p.serial - 1]);
            assert.ok(p.payload.every((b) => b === p.serial));
          }
          prev = c;
        }
        assert.deepEqual(got, [1, 2, 3, 4, 5]);
        assert.equal(d.pending, 0);
      }),
    );
  });

  it('rejects an oversize length word before buffering the body', () => {
    const d = new PacketDecoder();
    const head = words(VIR_NET_MESSAGE_MAX + 5, 0x20008086);
    assert.throws(() => d.push(head), LibvirtMessageSizeError);
  });

  it('accepts a length of exactly VIR_NET_MESSAGE_MAX + 4 (length word not counted)', () => {
    const d = new PacketDecoder();
    assert.deepEqual(d.push(words(VIR_NET_MESSAGE_MAX + 4)), []);
  });

  it('refuses to encode an oversize packet', () => {
    assert.throws(
      () =>
        encodePacket(
          { program: 1, version: 1, procedure: 1, type: PacketType.CALL, serial: 1, status: PacketStatus.OK },
          Buffer.alloc(VIR_NET_MESSAGE_MAX),
        ),
      LibvirtMessageSizeError,
    );
  });

  it('rejects a length shorter than a header', () => {
    for (const len of [0, 4, 27]) {
      assert.throws(() => new PacketDecoder().push(words(len, 0, 0, 0, 0, 0, 0)), LibvirtMessageSizeError);
    }
  });

  it('rejects unknown types and statuses with a protocol error', () => {
    assert.throws(() => decodePacket(words(28, 1, 1, 1, 7, 1, 0)), LibvirtProtocolError);
    assert.throws(() => decodePacket(words(28, 1, 1, 1, -1, 1, 0)), LibvirtProtocolError);
    assert.throws(() => decodePacket(words(28, 1, 1, 1, 1, 1, 3)), LibvirtProtocolError);
  });

  it('rejects a descriptor count above VIR_NET_MESSAGE_NUM_FDS_MAX or missing', () => {
    assert.throws(() => decodePacket(words(32, 1, 1, 1, PacketType.REPLY_WITH_FDS, 1, 0, 33)), LibvirtProtocolError);
    assert.throws(() => decodePacket(words(28, 1, 1, 1, PacketType.REPLY_WITH_FDS, 1, 0)), LibvirtProtocolError);
  });
});

describe('remote_error decoding', () => {
  it('decodes every field and names the code', () => {
    const payload = Buffer.concat([
      words(42, 12), // code VIR_ERR_NO_DOMAIN, domain VIR_FROM_TEST
      words(1),
      xstr("Domain not found: no domain with matching name 'x'"),
      words(2), // level
      words(0), // dom (NULL)
      words(1),
      xstr('one'),
      words(0), // str2 NULL
      words(1),
      xstr('three'),
      words(5, -6),
      words(0), // net (NULL)
    ]);
    const e = decodeError(payload);
    assert.ok(e instanceof LibvirtError);
    assert.equal(e.code, 42);
    assert.equal(e.codeName, 'VIR_ERR_NO_DOMAIN');
    assert.equal(e.domain, 12);
    assert.equal(e.domainName, 'VIR_FROM_TEST');
    assert.equal(e.level, 2);
    assert.equal(e.str1, 'one');
    assert.equal(e.str2, null);
    assert.equal(e.str3, 'three');
    assert.equal(e.int1, 5);
    assert.equal(e.int2, -6);
    assert.match(e.message, /Domain not found/);
  });

  it('throws a protocol error on a truncated error payload', () => {
    assert.throws(() => decodeError(Buffer.concat([words(42, 12, 1), Buffer.from([0, 0, 0, 9, 65])])), LibvirtProtocolError);
    assert.throws(() => decodeError(words(42)), LibvirtProtocolError);
  });
});
