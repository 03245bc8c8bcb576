// The dbus-monitor reader the Cockpit e2e test reports with: calls paired with replies, errors, silence, signals.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { libvirtCalls, libvirtSignals, pathKind, summarizeCalls } from './dbus-calls.js';

// Shaped like `dbus-monitor --system` output (dbus 1.14).
const LOG = `signal time=1.0 sender=org.freedesktop.DBus -> destination=(null destination) serial=5 path=/org/freedesktop/DBus; interface=org.freedesktop.DBus; member=NameOwnerChanged
   string "org.libvirt"
   string ""
   string ":1.3"
method call time=1.1 sender=:1.8 -> destination=org.libvirt serial=10 path=/org/libvirt/QEMU; interface=org.libvirt.Connect; member=ListDomains
   uint32 0
method call time=1.2 sender=:1.8 -> destination=org.libvirt serial=11 path=/org/libvirt/QEMU/domain/_aaaa; interface=org.libvirt.Domain; member=Create
   uint32 0
method call time=1.3 sender=:1.9 -> destination=org.libvirt serial=11 path=/org/libvirt/QEMU/domain/_bbbb; interface=org.libvirt.Domain; member=Suspend
   uint32 0
method call time=1.35 sender=:1.8 -> destination=org.freedesktop.DBus serial=12 path=/org/freedesktop/DBus; interface=org.freedesktop.DBus; member=GetNameOwner
   string "org.libvirt"
method return time=1.4 sender=:1.3 -> destination=:1.8 serial=40 reply_serial=10
   array [
      object path "/org/libvirt/QEMU/domain/_aaaa"
   ]
error time=1.5 sender=:1.3 -> destination=:1.8 error_name=org.libvirt.Error reply_serial=11
   string "Requested operation is not valid: domain is already running"
signal time=1.6 sender=:1.3 -> destination=(null destination) serial=41 path=/org/libvirt/QEMU; interface=org.libvirt.Connect; member=DomainEvent
   object path "/org/libvirt/QEMU/domain/_aaaa"
   int32 2
   int32 0
signal time=1.7 sender=:1.5 -> destination=(null destination) serial=3 path=/x; interface=com.example; member=Other
`;

describe('dbus-monitor reader', () => {
  const calls = libvirtCalls(LOG);

  it('keeps only calls to org.libvirt, in order', () => {
    assert.deepEqual(
      calls.map((c) => `${c.interface}.${c.member}`),
      ['org.libvirt.Connect.ListDomains', 'org.libvirt.Domain.Create', 'org.libvirt.Domain.Suspend'],
    );
  });

  it('pairs replies by sender and serial, with the error name and message', () => {
    assert.equal(calls[0]?.outcome, 'ok');
    assert.equal(calls[1]?.outcome, 'error');
    assert.equal(calls[1]?.errorName, 'org.libvirt.Error');
    assert.equal(calls[1]?.errorMessage, 'Requested operation is not valid: domain is already running');
    // Same serial, other sender: its reply never came.
    assert.equal(calls[2]?.outcome, 'no reply');
  });

  it('counts signals from whoever owns org.libvirt only', () => {
    assert.deepEqual([...libvirtSignals(LOG)], [['org.libvirt.Connect.DomainEvent /org/libvirt/QEMU', 1]]);
  });

  it('groups object paths by kind and summarizes failures with their message', () => {
    assert.equal(pathKind('/org/libvirt/QEMU/domain/_aaaa'), '/org/libvirt/QEMU/domain/*');
    assert.equal(pathKind('/org/libvirt/QEMU'), '/org/libvirt/QEMU');
    const summary = summarizeCalls(calls);
    assert.match(summary, /1 error {4}org\.libvirt\.Domain\.Create \/org\/libvirt\/QEMU\/domain\/\* -> org\.libvirt\.Error/);
    assert.match(summary, /message: Requested operation is not valid/);
    assert.match(summary, /1 no reply org\.libvirt\.Domain\.Suspend/);
  });
});
