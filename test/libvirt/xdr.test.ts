// XDR runtime and generated codecs: round trips (fast-check), wire layout, and every limit enforced
// with a typed XdrError on encode and on decode.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LibvirtError, LibvirtProtocolError } from '../../src/libvirt/errors.js';
import * as remote from '../../src/libvirt/remote-protocol.gen.js';
import * as virnet from '../../src/libvirt/virnet-protocol.gen.js';
import { XdrError, type XdrErrorReason, XdrReader, XdrWriter } from '../../src/libvirt/xdr.js';

function encode<T>(enc: (w: XdrWriter, v: T) => void, v: T): Buffer {
  const w = new XdrWriter(16);
  enc(w, v);
  return w.toBuffer();
}

function decode<T>(dec: (r: XdrReader) => T, b: Uint8Array): T {
  const r = new XdrReader(b);
  const v = dec(r);
  r.assertEnd();
  return v;
}

function throwsXdr(fn: () => unknown, reason: XdrErrorReason): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof XdrError, String(e));
    assert.equal(e.reason, reason);
    return true;
  });
}

const arbUuid = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a));
const arbDomain = fc
  .record({ name: fc.string({ unit: 'binary', maxLength: 40 }), uuid: arbUuid, id: fc.integer({ min: -0x80000000, max: 0x7fffffff }) })
  .map(
    (o) => ({ ...o }), // fc.record builds null-prototype objects; decoders build plain ones
  );
const arbTypedParam = fc
  .record({
    field: fc.string({ maxLength: 20 }),
    value: fc
      .oneof(
        fc.record({ type: fc.constant(1 as const), i: fc.integer({ min: -0x80000000, max: 0x7fffffff }) }),
        fc.record({ type: fc.constant(2 as const), ui: fc.integer({ min: 0, max: 0xffffffff }) }),
        fc.record({ type: fc.constant(3 as const), l: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }) }),
        fc.record({ type: fc.constant(4 as const), ul: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
        fc.record({ type: fc.constant(5 as const), d: fc.double({ noNaN: true }) }),
        fc.record({ type: fc.constant(6 as const), b: fc.integer({ min: 0, max: 1 }) }),
        fc.record({ type: fc.constant(7 as const), s: fc.string({ maxLength: 30 }) }),
      )
      .map((o) => ({ ...o }) as remote.RemoteTypedParamValue),
  })
  .map((o) => ({ ...o }));

describe('XdrWriter / XdrReader', () => {
  it('lays out primitives big-endian and pads to 4 bytes', () => {
    const w = new XdrWriter(4);
    w.writeInt(-2);
    w.writeUint(0xdeadbeef);
    w.writeHyper(-1n);
    w.writeString('abcde', 10);
    w.writeFixedOpaque(Buffer.from([1, 2]), 2);
    w.writeBool(true);
    assert.equal(
      w.toBuffer().toString('hex'),
      'fffffffe' + 'deadbeef' + 'ffffffffffffffff' + '00000005' + '6162636465000000' + '01020000' + '00000001',
    );
  });

  it('round-trips primitives', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -0x80000000, max: 0x7fffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.double(),
        fc.string({ unit: 'grapheme', maxLength: 50 }),
        fc.uint8Array({ maxLength: 50 }),
        (i, u, h, uh, d, s, o) => {
          const w = new XdrWriter(1);
          w.writeInt(i);
          w.writeUint(u);
          w.writeHyper(h);
          w.writeUhyper(uh);
          w.writeDouble(d);
          w.writeString(s, 1000);
          w.writeVarOpaque(o, 1000);
          const b = w.toBuffer();
          assert.equal(b.length % 4, 0);
          const r = new XdrReader(b);
          assert.equal(r.readInt(), i);
          assert.equal(r.readUint(), u);
          assert.equal(r.readHyper(), h);
          assert.equal(r.readUhyper(), uh);
          assert.ok(Object.is(r.readDouble(), d));
          assert.equal(r.readString(1000), s);
          assert.deepEqual(new Uint8Array(r.readVarOpaque(1000)), o);
          r.assertEnd();
        },
      ),
    );
  });

  it('rejects out-of-range and wrongly typed values when encoding', () => {
    const w = new XdrWriter();
    throwsXdr(() => w.writeInt(0x80000000), 'RANGE');
    throwsXdr(() => w.writeInt(1.5), 'RANGE');
    throwsXdr(() => w.writeUint(-1), 'RANGE');
    throwsXdr(() => w.writeHyper(1n << 63n), 'RANGE');
    throwsXdr(() => w.writeUhyper(-1n), 'RANGE');
    throwsXdr(() => w.writeHyper(1 as unknown as bigint), 'RANGE');
    throwsXdr(() => w.writeString(5 as unknown as string, 10), 'TYPE');
    throwsXdr(() => w.writeBool(1 as unknown as boolean), 'TYPE');
  });

  it('rejects short input, bad padding, bad bools and trailing bytes when decoding', () => {
    throwsXdr(() => new XdrReader(Buffer.from([0, 0, 0])).readInt(), 'SHORT_INPUT');
    throwsXdr(() => new XdrReader(Buffer.from('00000005616263', 'hex')).readString(10), 'SHORT_INPUT');
    throwsXdr(() => new XdrReader(Buffer.from('0000000161010000', 'hex')).readString(10), 'BAD_PADDING');
    throwsXdr(() => new XdrReader(Buffer.from('00000002', 'hex')).readBool(), 'RANGE');
    const r = new XdrReader(Buffer.alloc(8));
    r.readInt();
    throwsXdr(() => r.assertEnd(), 'TRAILING');
    // A huge array length is refused before anything is allocated.
    throwsXdr(() => new XdrReader(Buffer.from('7fffffff', 'hex')).readArrayLength(0xffffffff), 'SHORT_INPUT');
  });

  it('is a LibvirtProtocolError, so a LibvirtError with code VIR_ERR_RPC', () => {
    const e = new XdrError('LIMIT', 'x');
    assert.ok(e instanceof LibvirtProtocolError);
    assert.ok(e instanceof LibvirtError);
    assert.equal(e.code, 39);
  });
});

describe('generated codecs', () => {
  it('round-trip remote_nonnull_domain and lists of domains', () => {
    fc.assert(
      fc.property(fc.array(arbDomain, { maxLength: 5 }), fc.integer({ min: 0, max: 0xffffffff }), (domains, ret) => {
        const v: remote.RemoteConnectListAllDomainsRet = { domains, ret };
        const b = encode(remote.encodeRemoteConnectListAllDomainsRet, v);
        assert.deepEqual(decode(remote.decodeRemoteConnectListAllDomainsRet, b), v);
      }),
    );
  });

  it('round-trip typed parameters (a discriminated union)', () => {
    fc.assert(
      fc.property(fc.array(arbTypedParam, { maxLength: 16 }), fc.integer({ min: 0, max: 0xffffffff }), (params, flags) => {
        const v: remote.RemoteDomainSetSchedulerParametersFlagsArgs = {
          dom: { name: 'd', uuid: Buffer.alloc(16), id: 1 },
          params,
          flags,
        };
        const b = encode(remote.encodeRemoteDomainSetSchedulerParametersFlagsArgs, v);
        const back = decode(remote.decodeRemoteDomainSetSchedulerParametersFlagsArgs, b);
        assert.deepEqual(back, v);
        assert.deepEqual(encode(remote.encodeRemoteDomainSetSchedulerParametersFlagsArgs, back), b);
      }),
    );
  });

  it('round-trip optional data (remote_string) and the message header', () => {
    fc.assert(
      fc.property(fc.option(fc.string({ maxLength: 30 }), { nil: null }), fc.integer({ min: 0, max: 0xffffffff }), (name, flags) => {
        const v: remote.RemoteConnectOpenArgs = { name, flags };
        assert.deepEqual(decode(remote.decodeRemoteConnectOpenArgs, encode(remote.encodeRemoteConnectOpenArgs, v)), v);
      }),
    );
    const h: virnet.VirNetMessageHeader = {
      prog: 0x20008086,
      vers: 1,
      proc: 273,
      type: virnet.VIR_NET_CALL,
      serial: 7,
      status: virnet.VIR_NET_OK,
    };
    const b = encode(virnet.encodeVirNetMessageHeader, h);
    assert.equal(b.length, virnet.VIR_NET_MESSAGE_HEADER_MAX);
    assert.deepEqual(decode(virnet.decodeVirNetMessageHeader, b), h);
  });

  it('enforce declared maxima on encode and decode', () => {
    const dom = { name: 'd', uuid: Buffer.alloc(16), id: 1 };
    // remote_typed_param params<REMOTE_DOMAIN_SCHEDULER_PARAMETERS_MAX = 16>
    const params = Array.from({ length: 17 }, () => ({ field: 'f', value: { type: 1 as const, i: 0 } }));
    throwsXdr(() => encode(remote.encodeRemoteDomainSetSchedulerParametersFlagsArgs, { dom, params, flags: 0 }), 'LIMIT');
    const w = new XdrWriter();
    remote.encodeRemoteNonnullDomain(w, dom);
    w.writeUint(17);
    for (const p of params) remote.encodeRemoteTypedParam(w, p);
    w.writeUint(0);
    throwsXdr(() => decode(remote.decodeRemoteDomainSetSchedulerParametersFlagsArgs, w.toBuffer()), 'LIMIT');
    // opaque cpumap<REMOTE_CPUMAP_MAX = 2048>
    const pin = { dom, vcpu: 0, cpumap: Buffer.alloc(2049) };
    throwsXdr(() => encode(remote.encodeRemoteDomainPinVcpuArgs, pin), 'LIMIT');
    // string<REMOTE_STRING_MAX>, as declared by remote_nonnull_string (checked on the length word).
    throwsXdr(() => decode(remote.decodeRemoteNonnullString, Buffer.from('00400001', 'hex')), 'LIMIT');
    // opaque remote_uuid[VIR_UUID_BUFLEN = 16]
    throwsXdr(() => encode(remote.encodeRemoteNonnullDomain, { ...dom, uuid: Buffer.alloc(15) }), 'FIXED_LENGTH');
    // char model[32]
    const info = { model: new Array(31).fill(0), memory: 0n, cpus: 0, mhz: 0, nodes: 0, sockets: 0, cores: 0, threads: 0 };
    throwsXdr(() => encode(remote.encodeRemoteNodeGetInfoRet, info), 'FIXED_LENGTH');
  });

  it('reject unknown union arms and enum values', () => {
    throwsXdr(() => encode(remote.encodeRemoteTypedParamValue, { type: 9, i: 1 } as never), 'UNION_ARM');
    throwsXdr(() => decode(remote.decodeRemoteTypedParamValue, Buffer.from('0000000900000001', 'hex')), 'UNION_ARM');
    throwsXdr(() => decode(virnet.decodeVirNetMessageType, Buffer.from('00000009', 'hex')), 'RANGE');
    throwsXdr(() => encode(virnet.encodeVirNetMessageStatus, 7 as never), 'RANGE');
  });

  it('reject truncated structs and bad optional-data flags', () => {
    const b = encode(remote.encodeRemoteConnectOpenArgs, { name: 'test:///default', flags: 0 });
    for (let n = 0; n < b.length; n++) {
      assert.throws(() => decode(remote.decodeRemoteConnectOpenArgs, b.subarray(0, n)), XdrError);
    }
    throwsXdr(() => decode(remote.decodeRemoteConnectOpenArgs, Buffer.from('0000000200000000', 'hex')), 'RANGE');
  });

  it('never crash on random bytes: they decode or fail with XdrError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        for (const dec of [
          remote.decodeRemoteConnectListAllDomainsRet,
          remote.decodeRemoteDomainGetSchedulerParametersRet,
          virnet.decodeVirNetMessageError,
        ]) {
          try {
            dec(new XdrReader(bytes));
          } catch (e) {
            assert.ok(e instanceof XdrError, String(e));
          }
        }
      }),
    );
  });
});
