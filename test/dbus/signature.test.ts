// Signature parsing: the grammar and limits of "Valid Signatures" in the D-Bus specification.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DBusInvalidArgsError } from '../../src/dbus/errors.js';
import { isSingleCompleteType, isValidSignature, Kind, parseSignature, parseSingleType, splitSignature } from '../../src/dbus/signature.js';

test('valid signatures parse into complete types', () => {
  for (const sig of ['', 'y', 'bnqiuxtdhsogv', 'ay', 'a{sv}', 'a{ya{sv}}', '(i)', '(i(ii))', 'aa(sa{oa(ii)})', 'a(yv)', 'av', 'a{hd}']) {
    assert.equal(isValidSignature(sig), true, sig);
  }
  assert.deepEqual(splitSignature('sa{sv}(ii)aayv'), ['s', 'a{sv}', '(ii)', 'aay', 'v']);
  assert.deepEqual(splitSignature(''), []);
});

test('the tree records kinds, children, alignment and the mapping flags', () => {
  const [dict, bytes, st] = parseSignature('a{sv}ay(yt)');
  assert.equal(dict!.kind, Kind.Array);
  assert.equal(dict!.isDict, true);
  assert.equal(dict!.children[0]!.kind, Kind.DictEntry);
  assert.deepEqual(
    dict!.children[0]!.children.map((c) => c.code),
    ['s', 'v'],
  );
  assert.equal(bytes!.isByteArray, true);
  assert.equal(bytes!.isDict, false);
  assert.equal(st!.kind, Kind.Struct);
  assert.equal(st!.signature, '(yt)');
  const align = (s: string): number => parseSingleType(s).alignment;
  assert.deepEqual(
    ['y', 'b', 'n', 'q', 'i', 'u', 'x', 't', 'd', 'h', 's', 'o', 'g', 'v', 'ai', '(y)', 'a{yy}'].map(align),
    [1, 4, 2, 2, 4, 4, 8, 8, 8, 4, 4, 4, 1, 1, 4, 8, 4],
  );
});

test('parsed signatures are cached', () => {
  assert.equal(parseSignature('a{s(ii)}'), parseSignature('a{s(ii)}'));
});

test('invalid signatures are rejected with DBusInvalidArgsError', () => {
  const bad = [
    'a', // array without element type
    'aa',
    '(', // struct not closed
    '(i',
    ')',
    '()', // empty struct
    '{sv}', // dict entry outside an array
    'a{sv', // not closed
    'a{s}', // one field
    'a{}',
    'a{svv}', // three fields
    'a{vs}', // non-basic key
    'a{(i)s}',
    'a{ass}',
    '({sv})', // dict entry in a struct, not an array
    'r', // struct type code is not allowed in signatures
    'e', // nor dict entry type code
    'm',
    'z',
    ' ',
    'i\0',
    'é',
  ];
  for (const sig of bad) {
    assert.equal(isValidSignature(sig), false, JSON.stringify(sig));
    assert.throws(() => parseSignature(sig), DBusInvalidArgsError, JSON.stringify(sig));
  }
  assert.equal(isValidSignature(5), false);
});

test('a signature may be 255 bytes long but not 256', () => {
  assert.equal(isValidSignature('i'.repeat(255)), true);
  assert.equal(isValidSignature('i'.repeat(256)), false);
});

test('at most 32 nested arrays and 32 nested structs (dict entries count as structs)', () => {
  assert.equal(isValidSignature(`${'a'.repeat(32)}i`), true);
  assert.equal(isValidSignature(`${'a'.repeat(33)}i`), false);
  assert.equal(isValidSignature(`${'('.repeat(32)}i${')'.repeat(32)}`), true);
  assert.equal(isValidSignature(`${'('.repeat(33)}i${')'.repeat(33)}`), false);
  // 32 arrays and 32 structs together: a total depth of 64 is allowed.
  assert.equal(isValidSignature(`${'a('.repeat(32)}i${')'.repeat(32)}`), true);
  // Nested dict entries: a{sa{sa{...}}}, 32 deep is fine, 33 is not.
  const dicts = (n: number): string => `${'a{s'.repeat(n)}i${'}'.repeat(n)}`;
  assert.equal(isValidSignature(dicts(32)), true);
  assert.equal(isValidSignature(dicts(33)), false);
});

test('single complete types', () => {
  assert.equal(isSingleCompleteType('a{sv}'), true);
  assert.equal(isSingleCompleteType('ii'), false);
  assert.equal(isSingleCompleteType(''), false);
  assert.throws(() => parseSingleType('ii'), DBusInvalidArgsError);
});
