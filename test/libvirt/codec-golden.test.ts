// Golden vectors: real packets captured between virsh and libvirtd 9.0 (see golden/README.md).
// Every packet is decoded with the generated codecs (header, then the body its procedure, type
// and status call for), must be consumed exactly, and must re-encode to the same bytes.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as remote from '../../src/libvirt/remote-protocol.gen.js';
import {
  decodeVirNetMessageError,
  decodeVirNetMessageHeader,
  encodeVirNetMessageError,
  encodeVirNetMessageHeader,
  VIR_NET_CALL,
  VIR_NET_ERROR,
  VIR_NET_MESSAGE,
  VIR_NET_OK,
  VIR_NET_REPLY,
} from '../../src/libvirt/virnet-protocol.gen.js';
import { VirErrorNumber } from '../../src/libvirt/virerror.gen.js';
import { XdrReader, XdrWriter } from '../../src/libvirt/xdr.js';
import { procedureStructStem, typeName } from '../../tools/gen-libvirt/names.js';

const dir = join(new URL('.', import.meta.url).pathname, '../../../test/libvirt/golden/packets');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.hex'))
  .sort();

type Codec = { decode: (r: XdrReader) => unknown; encode: (w: XdrWriter, v: never) => void };

/** The generated codec of a remote_protocol.x struct, found by the naming rule. */
function structCodec(xName: string): Codec | null {
  const mod = remote as unknown as Record<string, unknown>;
  const decode = mod[`decode${typeName(xName)}`];
  const encode = mod[`encode${typeName(xName)}`];
  if (typeof decode !== 'function' || typeof encode !== 'function') return null;
  return { decode: decode as Codec['decode'], encode: encode as Codec['encode'] };
}

interface Decoded {
  header: ReturnType<typeof decodeVirNetMessageHeader>;
  body: unknown;
  codec: Codec | null;
}

function decodePacket(bytes: Buffer): Decoded {
  const r = new XdrReader(bytes);
  assert.equal(r.readUint(), bytes.length, 'length word');
  const header = decodeVirNetMessageHeader(r);
  assert.equal(header.prog, remote.REMOTE_PROGRAM);
  assert.equal(header.vers, remote.REMOTE_PROTOCOL_VERSION);
  const info = remote.remoteProcedureInfo[header.proc];
  assert.ok(info, `procedure ${header.proc} is in the table`);
  const stem = procedureStructStem(info.name, 'REMOTE');
  let codec: Codec | null;
  if (header.type === VIR_NET_CALL) codec = structCodec(`${stem}_args`);
  else if (header.type === VIR_NET_REPLY && header.status === VIR_NET_OK) codec = structCodec(`${stem}_ret`);
  else if (header.type === VIR_NET_REPLY && header.status === VIR_NET_ERROR)
    codec = { decode: decodeVirNetMessageError, encode: encodeVirNetMessageError as Codec['encode'] };
  else if (header.type === VIR_NET_MESSAGE) codec = structCodec(`${stem}_msg`);
  else throw new Error(`unexpected message type ${header.type}`);
  const body = codec === null ? undefined : codec.decode(r);
  r.assertEnd();
  return { header, body, codec };
}

function encodePacket(d: Decoded): Buffer {
  const w = new XdrWriter(16);
  w.writeUint(0);
  encodeVirNetMessageHeader(w, d.header);
  if (d.codec !== null) d.codec.encode(w, d.body as never);
  w.patchUint(0, w.length);
  return w.toBuffer();
}

function packet(match: RegExp): Decoded {
  const f = files.find((x) => match.test(x));
  assert.ok(f, `a captured packet matches ${match}`);
  return decodePacket(Buffer.from(readFileSync(join(dir, f), 'utf8').trim(), 'hex'));
}

describe('golden packets from virsh ↔ libvirtd', () => {
  it('has captured packets', () => {
    assert.ok(files.length >= 50, `found ${files.length}`);
  });

  for (const f of files) {
    it(`decodes and re-encodes ${f} byte for byte`, () => {
      const bytes = Buffer.from(readFileSync(join(dir, f), 'utf8').trim(), 'hex');
      const d = decodePacket(bytes);
      assert.deepEqual(encodePacket(d), bytes);
    });
  }

  it('reads connect_open args', () => {
    const d = packet(/session-c2s-prog20008086-proc1-type0/);
    assert.deepEqual(d.body, { name: 'test:///default', flags: 0 });
  });

  it('reads connect_list_all_domains ret', () => {
    const d = packet(/session-s2c-prog20008086-proc273-type1-status0/);
    const ret = d.body as remote.RemoteConnectListAllDomainsRet;
    assert.equal(ret.domains.length, 1);
    assert.equal(ret.domains[0]!.name, 'test');
    assert.equal(ret.domains[0]!.id, 1);
    assert.equal(ret.domains[0]!.uuid.length, 16);
    assert.equal(ret.ret, 1);
  });

  it('reads domain_get_info ret (unsigned char/short travel as 4-byte words)', () => {
    const ret = packet(/session-s2c-prog20008086-proc16-type1-status0/).body as remote.RemoteDomainGetInfoRet;
    assert.equal(ret.state, 1); // VIR_DOMAIN_RUNNING
    assert.equal(ret.maxMem, 8388608n);
    assert.equal(ret.memory, 2097152n);
    assert.equal(ret.nrVirtCpu, 2);
    assert.equal(typeof ret.cpuTime, 'bigint');
  });

  it('reads node_get_info ret (char model[32] is 32 words)', () => {
    const ret = packet(/session-s2c-prog20008086-proc6-type1-status0/).body as remote.RemoteNodeGetInfoRet;
    assert.equal(String.fromCharCode(...ret.model.filter((c) => c !== 0)), 'i686');
    assert.equal(ret.model.length, 32);
    assert.equal(ret.cpus, 16);
    assert.equal(ret.mhz, 1400);
    assert.equal(ret.memory, 3145728n);
  });

  it('reads typed parameters (union remote_typed_param_value)', () => {
    const sched = packet(/session-s2c-prog20008086-proc57-type1-status0/).body as remote.RemoteDomainGetSchedulerParametersRet;
    assert.deepEqual(sched.params, [{ field: 'weight', value: { type: 2, ui: 50 } }]);
  });

  it('reads an error reply as virNetMessageError', () => {
    const d = packet(/session-s2c-prog20008086-proc23-type1-status1/);
    const e = d.body as ReturnType<typeof decodeVirNetMessageError>;
    assert.equal(e.code, VirErrorNumber.VIR_ERR_NO_DOMAIN);
    assert.equal(e.level, 2);
    assert.equal(typeof e.message, 'string');
    assert.equal(e.dom, null);
    assert.equal(e.int1, -1);
  });

  it('reads domain lifecycle events (suspended, then resumed)', () => {
    const events = files
      .filter((f) => /events-s2c-.*-type2-/.test(f))
      .map((f) => decodePacket(Buffer.from(readFileSync(join(dir, f), 'utf8').trim(), 'hex')));
    assert.equal(events.length, 2);
    const msgs = events.map((e) => {
      assert.equal(e.header.proc, remote.REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE);
      return e.body as remote.RemoteDomainEventCallbackLifecycleMsg;
    });
    assert.deepEqual(
      msgs.map((m) => [m.msg.dom.name, m.msg.event, m.msg.detail]),
      [
        ['test', 3, 0], // VIR_DOMAIN_EVENT_SUSPENDED, _PAUSED
        ['test', 4, 0], // VIR_DOMAIN_EVENT_RESUMED, _UNPAUSED
      ],
    );
    // The generic event decoder agrees.
    const first = files.find((f) => /events-s2c-.*-type2-/.test(f))!;
    const r = new XdrReader(Buffer.from(readFileSync(join(dir, first), 'utf8').trim(), 'hex'), 28);
    const ev = remote.decodeRemoteEvent(remote.REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE, r);
    assert.equal(ev?.name, 'domainEventCallbackLifecycle');
  });
});
