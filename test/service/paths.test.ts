// Object path forms, checked against paths observed from the reference libvirt-dbus 1.4.1 on the
// test driver (busctl tree org.libvirt; StorageVolCreateXML; SnapshotCreateXML).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  connectPath,
  decodeSnapshot,
  decodeString,
  decodeUuid,
  encodeSnapshot,
  encodeString,
  encodeUuid,
  snapshotPath,
  stringObjectPath,
  subtreePath,
  uuidFromString,
  uuidObjectPath,
  uuidToString,
} from '../../src/service/paths.js';

test('paths observed from the reference', () => {
  const t = connectPath('Test');
  assert.equal(t, '/org/libvirt/Test');
  assert.equal(
    uuidObjectPath(t, 'domain', '6695eb01-f6a4-8304-79aa-97f2502e193f'),
    '/org/libvirt/Test/domain/_6695eb01_f6a4_8304_79aa_97f2502e193f',
  );
  assert.equal(
    uuidObjectPath(t, 'network', 'dd8fe884-6c02-601e-7551-cca97df1c5df'),
    '/org/libvirt/Test/network/_dd8fe884_6c02_601e_7551_cca97df1c5df',
  );
  assert.equal(
    uuidObjectPath(t, 'storagePool', 'dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566'),
    '/org/libvirt/Test/storagepool/_dfe224cb_28fb_8dd0_c4b2_64eb3f0f4566',
  );
  assert.equal(stringObjectPath(t, 'interface', 'aa:bb:cc:dd:ee:ff'), '/org/libvirt/Test/interface/aa_3abb_3acc_3add_3aee_3aff');
  assert.equal(stringObjectPath(t, 'nodeDevice', 'scsi_host1'), '/org/libvirt/Test/nodedev/scsi_5fhost1');
  assert.equal(stringObjectPath(t, 'nodeDevice', 'computer'), '/org/libvirt/Test/nodedev/computer');
  assert.equal(
    stringObjectPath(t, 'storageVol', '/default-pool/my vol-1.img'),
    '/org/libvirt/Test/storagevol/_2fdefault_2dpool_2fmy_20vol_2d1_2eimg',
  );
  assert.equal(
    snapshotPath(t, '6695eb01-f6a4-8304-79aa-97f2502e193f', 'snap é-1'),
    '/org/libvirt/Test/domainsnapshot/_6695eb01_f6a4_8304_79aa_97f2502e193f_snap_20_c3_a9_2d1',
  );
  assert.equal(subtreePath(t, 'nwfilter'), '/org/libvirt/Test/nwfilter');
  assert.equal(subtreePath(t, 'secret'), '/org/libvirt/Test/secret');
  assert.equal(subtreePath(t, 'domainSnapshot'), '/org/libvirt/Test/domainsnapshot');
});

test('decoding inverts encoding', () => {
  assert.equal(decodeString('aa_3abb_3acc_3add_3aee_3aff'), 'aa:bb:cc:dd:ee:ff');
  assert.equal(decodeString('_2fdefault_2dpool_2fmy_20vol_2d1_2eimg'), '/default-pool/my vol-1.img');
  assert.equal(decodeUuid('_dd8fe884_6c02_601e_7551_cca97df1c5df'), 'dd8fe884-6c02-601e-7551-cca97df1c5df');
  assert.equal(decodeUuid('foo'), undefined);
  assert.deepEqual(decodeSnapshot('_6695eb01_f6a4_8304_79aa_97f2502e193f_snap_20_c3_a9_2d1'), {
    domainUuid: '6695eb01-f6a4-8304-79aa-97f2502e193f',
    name: 'snap é-1',
  });
  assert.equal(decodeSnapshot('_6695eb01'), undefined);
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
  fc.assert(
    fc.property(fc.uuid(), fc.string(), (uuid, name) => {
      assert.equal(decodeUuid(encodeUuid(uuid)), uuid);
      assert.deepEqual(decodeSnapshot(encodeSnapshot(uuid, name)), { domainUuid: uuid, name });
    }),
  );
});

test('UUID bytes and strings', () => {
  const bytes = uuidFromString('dd8fe884-6c02-601e-7551-cca97df1c5df');
  assert.ok(bytes);
  assert.equal(bytes.length, 16);
  assert.equal(uuidToString(bytes), 'dd8fe884-6c02-601e-7551-cca97df1c5df');
  assert.equal(uuidFromString('not-a-uuid'), undefined);
});
