// Golden byte vectors from real peers (gdbus, busctl, dbus-send, python3-dbus, dbus-daemon, GLib's
// GDBusMessage), captured by test/dbus/golden/capture.py, never produced by our encoder: each must
// decode to the right values and re-encode byte for byte. Plus a big-endian message assembled here
// by hand from the specification.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeMessage, encodeMessage, encodeMessageWithFds } from '../../src/dbus/framing.js';
import { type Message, MessageType } from '../../src/dbus/message.js';
import { Variant } from '../../src/dbus/variant.js';

// The .hex files stay in the source tree; tests run from dist/test/dbus.
const GOLDEN = fileURLToPath(new URL('../../../test/dbus/golden/', import.meta.url));
const FDS = [100, 101];

function load(name: string): Buffer[] {
  return readFileSync(GOLDEN + name, 'utf8')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((hex) => Buffer.from(hex, 'hex'));
}

function find(file: string, pred: (m: Message) => boolean): Message {
  for (const buf of load(`${file}.hex`)) {
    const m = decodeMessage(buf, FDS);
    if (pred(m)) return m;
  }
  throw new Error(`no such message in ${file}.hex`);
}

const byMember = (member: string) => (m: Message) => m.member === member;

test('every captured message decodes and re-encodes byte for byte', () => {
  const files = readdirSync(GOLDEN).filter((f) => f.endsWith('.hex'));
  assert.ok(files.length >= 10, 'the golden files are there');
  let count = 0;
  for (const file of files) {
    for (const buf of load(file)) {
      const msg = decodeMessage(buf, FDS);
      const { buffer } = encodeMessageWithFds(msg);
      assert.equal(buffer.toString('hex'), buf.toString('hex'), `${file}: ${msg.member ?? msg.errorName ?? msg.type}`);
      count++;
    }
  }
  assert.ok(count >= 60, `${count} messages`);
});

test('GDBus signal with many types (gdbus emit)', () => {
  const m = find('gdbus-signal', byMember('Changed'));
  assert.equal(m.type, MessageType.Signal);
  assert.equal(m.path, '/org/example/Obj');
  assert.equal(m.interface, 'org.example.Iface');
  assert.equal(m.signature, 'sta{sv}ay(nqbdog)xa(ii)v');
  assert.deepStrictEqual(m.body, [
    'hi',
    5n,
    new Map<string, Variant>([
      ['a', new Variant('i', 1)],
      ['b', new Variant('as', ['x', 'y'])],
    ]),
    Buffer.from([1, 2, 3]),
    [-2, 3, true, 1.5, '/a', 'a{sv}'],
    -9n,
    [],
    new Variant('v', new Variant('y', 42)),
  ]);
});

test('libdbus signal with every basic type (python3-dbus)', () => {
  const m = find('python-signal', byMember('Types'));
  assert.equal(m.signature, 'ybnqiuxtdsoga(is)a{sv}ayaxa{uas}');
  assert.deepStrictEqual(m.body, [
    200,
    true,
    -300,
    65000,
    -70000,
    4000000000,
    -(2n ** 62n),
    2n ** 64n - 1n,
    -0.125,
    'h\u00e9llo \u2603',
    '/a/b_c',
    'a{sv}(ii)',
    [
      [1, 'one'],
      [2, 'two'],
    ],
    new Map<string, Variant>([
      ['Name', new Variant('s', 'vm1')],
      ['Memory', new Variant('t', 1048576n)],
      ['Active', new Variant('b', false)],
    ]),
    Buffer.from([0, 1, 0xfe, 0xff]),
    [],
    new Map([[1, ['a', 'b']]]),
  ]);
});

test('sd-bus signal (busctl emit)', () => {
  const m = find('busctl-signal', byMember('Emitted'));
  assert.deepStrictEqual(m.body, [
    'hello',
    new Map<string, Variant>([
      ['k1', new Variant('s', 'v1')],
      ['k2', new Variant('u', 7)],
    ]),
    [1.5, -2.25],
    [-1, true],
  ]);
});

test('method calls from dbus-send and python3-dbus, with flags', () => {
  const send = find('dbus-send-call', byMember('Configure'));
  assert.equal(send.type, MessageType.MethodCall);
  assert.equal(send.destination, 'org.example.Nobody');
  assert.deepStrictEqual(send.body, [
    new Map([
      ['a', '1'],
      ['b', '2'],
    ]),
    new Variant('i', -5),
    ['x', 'y', 'z'],
    3.25,
    '/x/y',
  ]);
  const define = find('python-call', byMember('DomainDefineXML'));
  assert.equal(define.flags & 1, 1, 'NO_REPLY_EXPECTED');
  assert.equal(define.path, '/org/libvirt/QEMU');
  assert.deepStrictEqual(define.body, ['<domain type="qemu"><name>t</name></domain>', 0]);
  const set = find('python-call', byMember('Set'));
  assert.deepStrictEqual(set.body, ['org.libvirt.Domain', 'Autostart', new Variant('b', true)]);
});

test('replies and errors from dbus-daemon answer the right serial', () => {
  const credsCall = find('gdbus-call-reply', byMember('GetConnectionCredentials'));
  const creds = find('gdbus-call-reply', (m) => m.type === MessageType.MethodReturn && m.replySerial === credsCall.serial);
  assert.equal(creds.signature, 'a{sv}');
  const dict = creds.body[0] as Map<string, Variant>;
  assert.ok(dict instanceof Map);
  assert.deepStrictEqual(dict.get('UnixUserID'), new Variant('u', 0));
  assert.equal(dict.get('ProcessID')?.signature, 'u');

  const ownerCall = find('busctl-call-error', byMember('GetNameOwner'));
  assert.equal(ownerCall.flags & 4, 4, 'busctl allows interactive authorization');
  const error = find('busctl-call-error', (m) => m.type === MessageType.Error);
  assert.equal(error.errorName, 'org.freedesktop.DBus.Error.NameHasNoOwner');
  assert.equal(error.replySerial, ownerCall.serial);
  assert.equal(error.sender, 'org.freedesktop.DBus');
  assert.match(error.body[0] as string, /org\.example\.Unowned/);

  const names = find('busctl-listnames', (m) => m.type === MessageType.MethodReturn && m.signature === 'as');
  assert.ok((names.body[0] as string[]).includes('org.freedesktop.DBus'));
});

test('file descriptors: UNIX_FDS and h indices (python3-dbus)', () => {
  const m = find('python-fds', byMember('Fds'));
  assert.deepStrictEqual(m.fds, FDS);
  assert.deepStrictEqual(m.body, ['pipe', 100, 101]);
  const [buf] = load('python-fds.hex').filter((b) => decodeMessage(b, FDS).member === 'Fds');
  assert.throws(() => decodeMessage(buf!), /UNIX_FDS is 2/);
});

test('big-endian messages from GLib (GDBusMessage.to_blob)', () => {
  const sig = find('glib-big-endian', byMember('BigEndian'));
  assert.equal(sig.endianness, 'B');
  assert.deepStrictEqual(sig.body, [
    7,
    -2,
    3,
    -4,
    5,
    -6n,
    7n,
    2.5,
    'str',
    '/o',
    'sig',
    true,
    new Variant('as', ['x', 'y']),
    new Map([['k', new Variant('t', 9n)]]),
    Buffer.from([1, 2]),
    [1, -1],
  ]);
  const call = find('glib-big-endian', byMember('ListDomains'));
  const error = find('glib-big-endian', (m) => m.type === MessageType.Error);
  assert.equal(error.errorName, 'org.libvirt.Error');
  assert.equal(error.replySerial, call.serial);
  assert.deepStrictEqual(error.body, ['Domain not found']);
});

test('a big-endian METHOD_RETURN assembled by hand from the specification', () => {
  // Reply to serial 0x0102, for :1.7, serial 0x01020304, body a{sv} { 'Id': <uint32 5> }.
  // Offsets are absolute; every value is aligned from the start of the message.
  const hex = [
    '42',
    '02',
    '01',
    '01', //    0: 'B' big-endian, METHOD_RETURN, NO_REPLY_EXPECTED, version 1
    '00000018', //               4: body length 24
    '01020304', //               8: serial
    '00000023', //              12: header fields array length 35 (16..50)
    '05017500',
    '00000102', //  16: REPLY_SERIAL, variant 'u', 0x0102
    '06017300',
    '00000004', //  24: DESTINATION, variant 's', length 4
    '3a312e3700',
    '000000', //  32: ':1.7' NUL, pad to 40
    '08016700', //              40: SIGNATURE, variant 'g'
    '05617b73767d00', //        44: length 5, 'a{sv}', NUL (ends at 51)
    '0000000000', //            51: header padding to the 8-aligned body at 56
    '00000010', //              56: array length 16
    '00000000', //              60: pad: dict entries are 8-aligned
    '00000002',
    '496400', //    64: key 'Id'
    '017500', //                71: variant signature 'u' (1-byte aligned)
    '0000', //                  74: pad to 76
    '00000005', //              76: uint32 5 (ends at 80 = 56 + 24)
  ].join('');
  const msg = Buffer.from(hex, 'hex');
  assert.equal(msg.length, 80);
  const decoded = decodeMessage(msg);
  assert.deepStrictEqual(decoded, {
    type: MessageType.MethodReturn,
    flags: 1,
    serial: 0x01020304,
    replySerial: 0x0102,
    destination: ':1.7',
    signature: 'a{sv}',
    body: [new Map([['Id', new Variant('u', 5)]])],
    endianness: 'B',
  });
  // Our encoder, given the same message, produces exactly these bytes.
  assert.equal(encodeMessage(decoded).toString('hex'), hex);
});

// GLib reads what we write: GDBusMessage.new_from_blob() parses (and validates) our bytes, and its
// own serialization of what it read must have exactly our body bytes and decode to our values.
const GLIB_REREAD = `
import sys, gi
gi.require_version('Gio', '2.0')
from gi.repository import Gio
for line in sys.stdin.read().split():
    try:
        m = Gio.DBusMessage.new_from_blob(bytes.fromhex(line), Gio.DBusCapabilityFlags.NONE)
        print(m.to_blob(Gio.DBusCapabilityFlags.NONE).hex())
    except Exception as e:
        print('error:' + str(e).replace(' ', '_'))
`;

test('GLib parses our messages and writes the same body bytes back (python3-gi)', () => {
  const base: Message = {
    type: MessageType.Signal,
    flags: 0,
    serial: 5,
    path: '/org/example/Obj',
    interface: 'org.example.Iface',
    member: 'S',
    signature: '',
    body: [],
  };
  const messages: Message[] = [];
  for (const endianness of ['l', 'B'] as const) {
    messages.push(
      {
        ...base,
        endianness,
        signature: 'ybnqiuxtdsogv',
        body: [
          255,
          false,
          -32768,
          65535,
          -2147483648,
          4294967295,
          -(2n ** 63n),
          2n ** 64n - 1n,
          -1.25,
          'ünï ☃',
          '/o/p',
          'a{sv}',
          new Variant('(sv)', ['x', new Variant('ay', Buffer.from([1]))]),
        ],
      },
      {
        ...base,
        endianness,
        type: MessageType.MethodReturn,
        replySerial: 4,
        destination: ':1.9',
        path: undefined,
        interface: undefined,
        member: undefined,
        signature: 'a{sv}aa(ix)a{ua{sv}}ay',
        body: [
          new Map<string, Variant>([
            ['Name', new Variant('s', 'vm')],
            ['Memory', new Variant('t', 1024n)],
            ['Nested', new Variant('a{sv}', new Map([['x', new Variant('d', 0.5)]]))],
          ]),
          [
            [],
            [[1, 2n]],
            [
              [3, -4n],
              [5, 6n],
            ],
          ],
          new Map([[7, new Map([['k', new Variant('b', true)]])]]),
          Buffer.from([]),
        ],
      },
      {
        ...base,
        endianness,
        type: MessageType.Error,
        errorName: 'org.libvirt.Error',
        replySerial: 3,
        path: undefined,
        interface: undefined,
        member: undefined,
        signature: 's',
        body: ['failed'],
      },
      { ...base, endianness, type: MessageType.MethodCall, destination: 'org.libvirt', member: 'ListDomains', signature: 'u', body: [0] },
    );
  }
  const ours = messages.map((m) => encodeMessage(m));
  const out = execFileSync('/usr/bin/python3', ['-c', GLIB_REREAD], { input: ours.map((b) => b.toString('hex')).join('\n') })
    .toString()
    .trim()
    .split('\n');
  assert.equal(out.length, ours.length);
  out.forEach((hex, i) => {
    assert.doesNotMatch(hex, /^error:/, `GLib refused message ${i}: ${hex}`);
    const theirs = Buffer.from(hex, 'hex');
    const bodyOf = (b: Buffer): string => {
      const le = b[0] === 0x6c;
      const fields = le ? b.readUInt32LE(12) : b.readUInt32BE(12);
      return b.subarray(16 + Math.ceil(fields / 8) * 8).toString('hex');
    };
    assert.equal(theirs[0], ours[i]![0], 'GLib keeps the byte order');
    assert.equal(bodyOf(theirs), bodyOf(ours[i]!), `body bytes of message ${i}`);
    const back = decodeMessage(theirs);
    const { fieldOrder: _order, ...rest } = back;
    const expected = Object.fromEntries(Object.entries(messages[i]!).filter(([, v]) => v !== undefined));
    assert.deepStrictEqual(rest, { ...expected, endianness: messages[i]!.endianness });
  });
});
