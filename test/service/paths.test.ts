// Object path forms, checked against paths observed from the reference libvirt-dbus 1.4.1 on the
// test driver (busctl tree org.libvirt; StorageVolCreateXML; SnapshotCreateXML).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { domainChildKey, Kinds, stringKey, uuidKey } from '../../src/service/object-kinds.js';
import { connectPath, decodeString, encodeString, parseUuidLikeLibvirt, uuidToString } from '../../src/service/paths.js';

const uuid = (text: string) => parseUuidLikeLibvirt(text) as Uint8Array;

test('paths observed from the reference', () => {
  const t = connectPath('Test');
  assert.equal(t, '/org/libvirt/Test');
  assert.equal(
    Kinds.domain.pathOf(t, { name: 'test', id: 1, uuid: uuid('6695eb01-f6a4-8304-79aa-97f2502e193f') }),
    '/org/libvirt/Test/domain/_6695eb01_f6a4_8304_79aa_97f2502e193f',
  );
  assert.equal(
    Kinds.network.pathOf(t, { name: 'default', uuid: uuid('dd8fe884-6c02-601e-7551-cca97df1c5df') }),
    '/org/libvirt/Test/network/_dd8fe884_6c02_601e_7551_cca97df1c5df',
  );
  assert.equal(
    Kinds.storagePool.pathOf(t, { name: 'default-pool', uuid: uuid('dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566') }),
    '/org/libvirt/Test/storagepool/_dfe224cb_28fb_8dd0_c4b2_64eb3f0f4566',
  );
  assert.equal(
    Kinds.interface.pathOf(t, { name: 'eth1', mac: 'aa:bb:cc:dd:ee:ff' }),
    '/org/libvirt/Test/interface/aa_3abb_3acc_3add_3aee_3aff',
  );
  assert.equal(Kinds.nodeDevice.pathOf(t, { name: 'scsi_host1' }), '/org/libvirt/Test/nodedev/scsi_5fhost1');
  assert.equal(Kinds.nodeDevice.pathOf(t, { name: 'computer' }), '/org/libvirt/Test/nodedev/computer');
  assert.equal(
    Kinds.storageVol.pathOf(t, { pool: 'default-pool', name: 'my vol-1.img', key: '/default-pool/my vol-1.img' }),
    '/org/libvirt/Test/storagevol/_2fdefault_2dpool_2fmy_20vol_2d1_2eimg',
  );
  assert.equal(
    Kinds.domainSnapshot.pathOf(t, {
      name: 'snap é-1',
      dom: { name: 'test', id: 1, uuid: uuid('6695eb01-f6a4-8304-79aa-97f2502e193f') },
    }),
    '/org/libvirt/Test/domainsnapshot/_6695eb01_f6a4_8304_79aa_97f2502e193f_snap_20_c3_a9_2d1',
  );
  assert.equal(Kinds.nwfilter.subtreePath(t), '/org/libvirt/Test/nwfilter');
  assert.equal(Kinds.secret.subtreePath(t), '/org/libvirt/Test/secret');
  assert.equal(Kinds.domainSnapshot.subtreePath(t), '/org/libvirt/Test/domainsnapshot');
});

test('decoding inverts encoding', () => {
  assert.equal(stringKey.decode('aa_3abb_3acc_3add_3aee_3aff'), 'aa:bb:cc:dd:ee:ff');
  assert.equal(stringKey.decode('_2fdefault_2dpool_2fmy_20vol_2d1_2eimg'), '/default-pool/my vol-1.img');
  const net = uuidKey('virNetworkLookupByUUIDString');
  assert.equal(uuidToString(net.decode('_dd8fe884_6c02_601e_7551_cca97df1c5df')), 'dd8fe884-6c02-601e-7551-cca97df1c5df');
  assert.throws(() => net.decode('foo'), /uuidstr in virNetworkLookupByUUIDString must be a valid UUID/);
  assert.throws(() => uuidKey('virDomainLookupByUUIDString').decode('foo'), { message: 'Invalid UUID' });
  const snap = domainChildKey.decode('_6695eb01_f6a4_8304_79aa_97f2502e193f_snap_20_c3_a9_2d1');
  assert.equal(uuidToString(snap.domain as Uint8Array), '6695eb01-f6a4-8304-79aa-97f2502e193f');
  assert.equal(snap.name, 'snap é-1');
  assert.equal(domainChildKey.decode('_6695eb01').domain, undefined);
});

test('like the reference, an underscore in the last two characters is kept', () => {
  assert.equal(decodeString('ab_'), 'ab_');
  assert.equal(decodeString('ab_4'), 'ab_4');
  assert.equal(decodeString('ab_41'), 'abA');
});

test('encoded strings are valid path elements and round-trip (property)', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), (s) => {
      const e = encodeString(s);
      assert.match(e, /^[A-Za-z0-9_]*$/);
      assert.equal(decodeString(e), s);
    }),
  );
  const key = uuidKey('virDomainLookupByUUIDString');
  fc.assert(
    fc.property(fc.uuid(), fc.string(), (text, name) => {
      const bytes = uuid(text);
      assert.equal(uuidToString(key.decode(key.encode(bytes))), text);
      const child = domainChildKey.decode(domainChildKey.encode({ domain: bytes, name }));
      assert.equal(uuidToString(child.domain as Uint8Array), text);
      assert.equal(child.name, name);
    }),
  );
});

test('UUID bytes and strings', () => {
  const bytes = parseUuidLikeLibvirt('dd8fe884-6c02-601e-7551-cca97df1c5df');
  assert.ok(bytes);
  assert.equal(bytes.length, 16);
  assert.equal(uuidToString(bytes), 'dd8fe884-6c02-601e-7551-cca97df1c5df');
  assert.equal(parseUuidLikeLibvirt('not-a-uuid'), undefined);
});

test('parseUuidLikeLibvirt reads what virUUIDParse reads: 32 hex digits among dashes and blanks, nothing else', () => {
  // virUUIDParse, character by character as libvirt's util/viruuid.c does.
  const expected = (text: string): Uint8Array | undefined => {
    let i = 0;
    while (text[i] === ' ') i++;
    const out = new Uint8Array(16);
    for (let n = 0; n < 16; n++) {
      while (text[i] === '-' || text[i] === ' ') i++;
      const pair = text.slice(i, i + 2);
      if (!/^[0-9a-fA-F]{2}$/.test(pair)) return undefined;
      out[n] = Number.parseInt(pair, 16);
      i += 2;
    }
    return /^ *$/.test(text.slice(i)) ? out : undefined;
  };
  const char = fc.constantFrom(...'0123456789abcdefABCDEFgG- _@`/:'.split(''));
  const text = fc.oneof(
    fc.array(char, { maxLength: 45 }).map((a) => a.join('')),
    fc.tuple(fc.uuid(), fc.constantFrom('-', ' ', '', '--')).map(([u, sep]) => u.replaceAll('-', sep)),
  );
  fc.assert(fc.property(text, (t) => assert.deepEqual(parseUuidLikeLibvirt(t), expected(t))));
  assert.deepEqual(parseUuidLikeLibvirt('6695EB01f6a4830479aa97f2502e193f'), uuid('6695eb01-f6a4-8304-79aa-97f2502e193f'));
});
