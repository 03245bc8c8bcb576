// Name grammar of the D-Bus specification ("Valid Names", "Valid Object Paths").
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DBusInvalidArgsError } from '../../src/dbus/errors.js';
import {
  assertBusName,
  assertErrorName,
  assertInterfaceName,
  assertMemberName,
  assertObjectPath,
  isValidBusName,
  isValidErrorName,
  isValidInterfaceName,
  isValidMemberName,
  isValidObjectPath,
  isValidUniqueName,
} from '../../src/dbus/names.js';

function check(fn: (s: unknown) => boolean, good: string[], bad: unknown[]): void {
  for (const s of good) assert.equal(fn(s), true, `should accept ${JSON.stringify(s)}`);
  for (const s of bad) assert.equal(fn(s), false, `should reject ${JSON.stringify(s)}`);
}

test('object paths', () => {
  check(
    isValidObjectPath,
    ['/', '/org', '/org/libvirt/QEMU', '/org/libvirt/QEMU/domain/_6695eb01_f6a4', '/a/B/c_9/0'],
    ['', 'org', '//', '/org/', '/org//libvirt', '/org/lib-virt', '/org/lib.virt', '/é', ' /', 5, null],
  );
});

test('interface and error names', () => {
  const good = ['org.libvirt.Domain', 'a.b', '_a._b', 'org.freedesktop.DBus.Error.InvalidArgs', `a.${'b'.repeat(253)}`];
  const bad = ['', 'org', '.org.x', 'org.x.', 'org..x', 'org.1x', '1org.x', 'org.x-y', 'org.x y', `a.${'b'.repeat(254)}`, 7];
  check(isValidInterfaceName, good, bad);
  check(isValidErrorName, good, bad);
});

test('member names', () => {
  check(
    isValidMemberName,
    ['GetXMLDesc', 'a', '_x', 'Set_2', 'x'.repeat(255)],
    ['', '1a', 'a.b', 'a-b', 'a b', 'x'.repeat(256), undefined],
  );
});

test('bus names: unique names may have elements starting with a digit, well-known names may not', () => {
  check(
    isValidBusName,
    [':1.42', ':1.0', ':not.active.yet', 'org.libvirt', 'org.freedesktop.DBus', 'a-b.c_d', '_a.b', `a.${'b'.repeat(253)}`],
    ['', ':1', 'org', 'org.1libvirt', '1org.x', '.org.x', 'org..x', 'org.x.', ':1..2', 'org.lib virt', `a.${'b'.repeat(254)}`, 1],
  );
  assert.equal(isValidUniqueName(':1.42'), true);
  assert.equal(isValidUniqueName('org.libvirt'), false);
});

test('assert forms return the name or throw DBusInvalidArgsError', () => {
  assert.equal(assertObjectPath('/a'), '/a');
  assert.equal(assertBusName('org.libvirt'), 'org.libvirt');
  assert.equal(assertInterfaceName('org.libvirt.Connect'), 'org.libvirt.Connect');
  assert.equal(assertMemberName('ListDomains'), 'ListDomains');
  assert.equal(assertErrorName('org.libvirt.Error'), 'org.libvirt.Error');
  assert.throws(() => assertObjectPath('a'), DBusInvalidArgsError);
  assert.throws(() => assertBusName('a'), DBusInvalidArgsError);
  assert.throws(() => assertInterfaceName('a'), DBusInvalidArgsError);
  assert.throws(() => assertMemberName('a.b'), DBusInvalidArgsError);
  assert.throws(() => assertErrorName('a'), DBusInvalidArgsError);
});
