// The package's public subpaths resolve (through package.json "exports") to the built libraries
// with the names users and outside checks rely on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dbus from 'libvirt-dbus/dbus';
import * as libvirt from 'libvirt-dbus/libvirt';

test('libvirt-dbus/dbus exports the D-Bus library', () => {
  const { DBusConnection, DBusServer, Variant, DBusError, parseIntrospectionXml } = dbus;
  for (const value of [DBusConnection, DBusServer, Variant, DBusError, parseIntrospectionXml]) {
    assert.equal(typeof value, 'function');
  }
  const node = dbus.parseIntrospectionXml(
    '<node><interface name="a.B"><method name="C"><arg type="s" direction="in"/></method></interface></node>',
  );
  assert.equal(node.interfaces[0]?.methods[0]?.in[0]?.signature, 's');
  assert.equal(new dbus.DBusError('org.example.Error', 'x').errorName, 'org.example.Error');
});

test('libvirt-dbus/libvirt exports the libvirt RPC client', () => {
  assert.equal(typeof libvirt.LibvirtConnection, 'function');
  assert.equal(typeof libvirt.LibvirtError, 'function');
  assert.equal(typeof libvirt.LibvirtConnection.prototype.connectListAllDomains, 'function');
  assert.equal(typeof libvirt.listAllDomainUuids, 'function');
});
