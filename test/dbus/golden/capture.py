#!/usr/bin/python3
"""Captures golden D-Bus messages from real peers (not from our encoder).

Starts a private dbus-daemon (no service directories), records every message it routes with
`dbus-monitor --binary`, and drives real peers against it: gdbus (GDBus), busctl (sd-bus),
dbus-send and python3-dbus (libdbus), plus the daemon's own replies and signals (libdbus).
GLib's GDBusMessage.to_blob() (python3-gi) supplies big-endian messages, since every peer on
the bus sends its native (little-endian) byte order.

Each step's messages go to <step>.hex: '#' comment lines, then one message per line in hex.
Run from anywhere: /usr/bin/python3 test/dbus/golden/capture.py  (rewrites the .hex files).
"""
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = '/usr/bin/python3'

CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=%s</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    <allow user="*"/>
  </policy>
</busconfig>
"""

PYTHON_SIGNAL = r"""
import dbus, dbus.lowlevel, sys, os
conn = dbus.bus.BusConnection(sys.argv[1])
m = dbus.lowlevel.SignalMessage('/org/example/Obj', 'org.example.Iface', 'Types')
m.append(dbus.Byte(200), dbus.Boolean(True), dbus.Int16(-300), dbus.UInt16(65000),
         dbus.Int32(-70000), dbus.UInt32(4000000000), dbus.Int64(-(2**62)), dbus.UInt64(2**64 - 1),
         dbus.Double(-0.125), 'h\u00e9llo \u2603', dbus.ObjectPath('/a/b_c'), dbus.Signature('a{sv}(ii)'),
         signature='ybnqiuxtdsog')
m.append(dbus.Array([dbus.Struct((1, 'one'), signature='is'), dbus.Struct((2, 'two'), signature='is')], signature='(is)'),
         dbus.Dictionary({'Name': dbus.String('vm1', variant_level=1), 'Memory': dbus.UInt64(1048576, variant_level=1),
                          'Active': dbus.Boolean(False, variant_level=1)}, signature='sv'),
         dbus.ByteArray(b'\x00\x01\xfe\xff'), dbus.Array([], signature='x'),
         dbus.Dictionary({1: dbus.Array(['a', 'b'], signature='s')}, signature='uas'),
         signature='a(is)a{sv}ayaxa{uas}')
conn.send_message(m)
conn.flush()
"""

PYTHON_CALL = r"""
import dbus, dbus.lowlevel, sys
conn = dbus.bus.BusConnection(sys.argv[1])
m = dbus.lowlevel.MethodCallMessage('org.example.Nobody', '/org/libvirt/QEMU', 'org.libvirt.Connect', 'DomainDefineXML')
m.set_no_reply(True)
m.append('<domain type="qemu"><name>t</name></domain>', dbus.UInt32(0), signature='su')
conn.send_message(m)
r = dbus.lowlevel.MethodCallMessage('org.example.Nobody', '/org/libvirt/QEMU/domain/_6695eb01_f6a4_8304_79aa_97f2502e193f',
                                    'org.freedesktop.DBus.Properties', 'Set')
r.set_no_reply(True)
r.append('org.libvirt.Domain', 'Autostart', dbus.Boolean(True, variant_level=1), signature='ssv')
conn.send_message(r)
conn.flush()
"""

PYTHON_FD = r"""
import dbus, dbus.lowlevel, sys, os
conn = dbus.bus.BusConnection(sys.argv[1])
rfd, wfd = os.pipe()
m = dbus.lowlevel.SignalMessage('/org/example/Obj', 'org.example.Iface', 'Fds')
m.append('pipe', dbus.types.UnixFd(rfd), dbus.types.UnixFd(wfd), signature='shh')
conn.send_message(m)
conn.flush()
"""

GLIB_BIG_ENDIAN = r"""
import gi
gi.require_version('Gio', '2.0')
from gi.repository import Gio, GLib
out = []
m = Gio.DBusMessage.new_signal('/org/example/Obj', 'org.example.Iface', 'BigEndian')
m.set_body(GLib.Variant('(ynqiuxtdsogbva{sv}ay(dd))', (7, -2, 3, -4, 5, -6, 7, 2.5, 'str', '/o', 'sig', True,
    GLib.Variant('as', ['x', 'y']), {'k': GLib.Variant('t', 9)}, b'\x01\x02', (1.0, -1.0))))
m.set_serial(11)
m.set_byte_order(Gio.DBusMessageByteOrder.BIG_ENDIAN)
out.append(m.to_blob(Gio.DBusCapabilityFlags.NONE).hex())
c = Gio.DBusMessage.new_method_call('org.libvirt', '/org/libvirt/QEMU', 'org.libvirt.Connect', 'ListDomains')
c.set_body(GLib.Variant('(u)', (1,)))
c.set_serial(12)
c.set_byte_order(Gio.DBusMessageByteOrder.BIG_ENDIAN)
out.append(c.to_blob(Gio.DBusCapabilityFlags.NONE).hex())
e = Gio.DBusMessage.new_method_error_literal(c, 'org.libvirt.Error', 'Domain not found')
e.set_serial(13)
e.set_byte_order(Gio.DBusMessageByteOrder.BIG_ENDIAN)
out.append(e.to_blob(Gio.DBusCapabilityFlags.NONE).hex())
print('\n'.join(out))
"""


def message_length(buf, at):
    """Total length of the message at buf[at:], from its fixed header."""
    order = 'little' if buf[at] == 0x6C else 'big'
    body = int.from_bytes(buf[at + 4:at + 8], order)
    fields = int.from_bytes(buf[at + 12:at + 16], order)
    return 16 + ((fields + 7) & ~7) + body


def split(buf):
    out, at = [], 0
    while at + 16 <= len(buf):
        n = message_length(buf, at)
        out.append(buf[at:at + n])
        at += n
    return out


def main():
    tmp = tempfile.mkdtemp(prefix='golden-')
    conf = os.path.join(tmp, 'bus.conf')
    with open(conf, 'w') as f:
        f.write(CONFIG % tmp)
    daemon = subprocess.Popen(['dbus-daemon', '--config-file=' + conf, '--print-address=1', '--nofork'],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    addr = daemon.stdout.readline().strip()
    capture = os.path.join(tmp, 'monitor.bin')
    with open(capture, 'wb') as out:
        monitor = subprocess.Popen(['dbus-monitor', '--address', addr, '--binary'], stdout=out,
                                   stderr=subprocess.DEVNULL)
    time.sleep(0.5)

    def run(*argv):
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20)

    steps = [
        ('gdbus-signal', 'gdbus emit: signal with many GVariant types (GDBus)',
         lambda: run('gdbus', 'emit', '--address', addr, '--object-path', '/org/example/Obj',
                     '--signal', 'org.example.Iface.Changed', "'hi'", 'uint64 5', "{'a': <int32 1>, 'b': <['x', 'y']>}",
                     '@ay [1, 2, 3]', "(int16 -2, uint16 3, true, 1.5, objectpath '/a', signature 'a{sv}')",
                     'int64 -9', '@a(ii) []', "<<byte 0x2a>>")),
        ('gdbus-call-reply', 'gdbus call GetConnectionCredentials: GDBus method call, a{sv} reply from dbus-daemon (libdbus)',
         lambda: run('gdbus', 'call', '--address', addr, '--dest', 'org.freedesktop.DBus', '--object-path',
                     '/org/freedesktop/DBus', '--method', 'org.freedesktop.DBus.GetConnectionCredentials',
                     'org.freedesktop.DBus')),
        ('busctl-call-error', 'busctl call GetNameOwner of an unowned name: sd-bus call, error reply from dbus-daemon',
         lambda: run('busctl', '--address=' + addr, 'call', 'org.freedesktop.DBus', '/org/freedesktop/DBus',
                     'org.freedesktop.DBus', 'GetNameOwner', 's', 'org.example.Unowned')),
        ('busctl-signal', 'busctl emit: signal with a{sv}, ad, (ib) from sd-bus',
         lambda: run('busctl', '--address=' + addr, 'emit', '/org/example/Obj', 'org.example.Iface', 'Emitted',
                     '--', 'sa{sv}ad(ib)', 'hello', '2', 'k1', 's', 'v1', 'k2', 'u', '7', '2', '1.5', '-2.25', '-1', 'true')),
        ('busctl-listnames', 'busctl call ListNames: as reply from dbus-daemon',
         lambda: run('busctl', '--address=' + addr, 'call', 'org.freedesktop.DBus', '/org/freedesktop/DBus',
                     'org.freedesktop.DBus', 'ListNames')),
        ('dbus-send-call', 'dbus-send method call without reply (libdbus): dict, variant and array arguments',
         lambda: run('dbus-send', '--address=' + addr, '--type=method_call', '--dest=org.example.Nobody', '/org/example/Obj',
                     'org.example.Iface.Configure', 'dict:string:string:a,1,b,2', 'variant:int32:-5',
                     'array:string:x,y,z', 'double:3.25', 'objpath:/x/y')),
        ('python-signal', 'python3-dbus signal with every basic type and several containers (libdbus)',
         lambda: run(PY, '-c', PYTHON_SIGNAL, addr)),
        ('python-call', 'python3-dbus no-reply method calls shaped like org.libvirt calls (libdbus)',
         lambda: run(PY, '-c', PYTHON_CALL, addr)),
        ('python-fds', 'python3-dbus signal carrying two file descriptors (UNIX_FDS header, h indices)',
         lambda: run(PY, '-c', PYTHON_FD, addr)),
    ]
    results = []
    for name, note, action in steps:
        before = os.path.getsize(capture)
        action()
        time.sleep(0.7)
        with open(capture, 'rb') as f:
            f.seek(before)
            results.append((name, note, split(f.read())))
    monitor.terminate()
    monitor.wait()
    daemon.terminate()
    daemon.wait()

    blobs = subprocess.run([PY, '-c', GLIB_BIG_ENDIAN], capture_output=True, text=True, check=True).stdout.split()
    results.append(('glib-big-endian', 'GDBusMessage.to_blob() with byte order BIG_ENDIAN (GLib, python3-gi)',
                    [bytes.fromhex(b) for b in blobs]))

    for name, note, messages in results:
        path = os.path.join(HERE, name + '.hex')
        with open(path, 'w') as f:
            f.write('# %s\n# captured by test/dbus/golden/capture.py; one message per line\n' % note)
            for m in messages:
                f.write(m.hex() + '\n')
        print('%s: %d messages' % (name, len(messages)), file=sys.stderr)


if __name__ == '__main__':
    main()
