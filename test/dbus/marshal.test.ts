// The codec: round trips of every type in both byte orders at every start offset (property
// tests), the byte layouts given in the specification, and every limit and check of the wire format.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DBusError, DBusInvalidArgsError, DBusProtocolError } from '../../src/dbus/errors.js';
import { decodeBody } from '../../src/dbus/decoder.js';
import { checkValues, encodeBody } from '../../src/dbus/encoder.js';
import { decodeMessage, encodeMessage, encodeMessageWithFds, messageLength } from '../../src/dbus/framing.js';
import { type Endianness, MAX_ARRAY_LENGTH } from '../../src/dbus/wire.js';
import { type Message, MessageType } from '../../src/dbus/message.js';
import { Variant } from '../../src/dbus/variant.js';

// ---------------------------------------------------------------------------------------------
// Arbitrary signatures and values in the canonical JavaScript mapping (what the decoder returns).

const BASIC_CODES = ['y', 'b', 'n', 'q', 'i', 'u', 'x', 't', 'd', 'h', 's', 'o', 'g'];

/** A random single complete type, at most `depth` containers deep. */
function arbType(depth: number): fc.Arbitrary<string> {
  const basic = fc.constantFrom(...BASIC_CODES, 'v');
  if (depth === 0) return basic;
  const inner = arbType(depth - 1);
  return fc.oneof(
    { weight: 3, arbitrary: basic },
    { weight: 1, arbitrary: inner.map((t) => `a${t}`) },
    { weight: 1, arbitrary: fc.array(inner, { minLength: 1, maxLength: 4 }).map((ts) => `(${ts.join('')})`) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...BASIC_CODES), inner).map(([k, v]) => `a{${k}${v}}`) },
  );
}

const pathElement = fc.stringMatching(/^[A-Za-z0-9_]{1,8}$/);
const arbPath = fc.array(pathElement, { maxLength: 4 }).map((els) => `/${els.join('/')}`);
// Strings: any Unicode except NUL; the encoder refuses NUL and lone surrogates.
const arbString = fc.string({ unit: 'binary', maxLength: 20 }).map((s) => s.replaceAll('\0', ''));
const FDS = [3, 7, 11, 42];

/** Splits one complete type off the front of a signature string (test-side, independent of the parser). */
function splitFirst(sig: string): [string, string] {
  let depth = 0;
  let i = 0;
  do {
    const c = sig[i++]!;
    if (c === '(' || c === '{') depth++;
    else if (c === ')' || c === '}') depth--;
    else if (c === 'a') continue;
  } while (depth > 0 || sig[i - 1] === 'a');
  return [sig.slice(0, i), sig.slice(i)];
}

function fieldsOf(inner: string): string[] {
  const out: string[] = [];
  let rest = inner;
  while (rest) {
    const [t, r] = splitFirst(rest);
    out.push(t);
    rest = r;
  }
  return out;
}

/** Values of type `sig` in canonical form. */
function arbValue(sig: string, depth = 2): fc.Arbitrary<unknown> {
  switch (sig[0]) {
    case 'y':
      return fc.integer({ min: 0, max: 255 });
    case 'b':
      return fc.boolean();
    case 'n':
      return fc.integer({ min: -32768, max: 32767 });
    case 'q':
      return fc.integer({ min: 0, max: 65535 });
    case 'i':
      return fc.integer({ min: -2147483648, max: 2147483647 });
    case 'u':
      return fc.integer({ min: 0, max: 4294967295 });
    case 'x':
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 't':
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    case 'd':
      return fc.double();
    case 'h':
      return fc.constantFrom(...FDS);
    case 's':
      return arbString;
    case 'o':
      return arbPath;
    case 'g':
      return fc.array(arbType(2), { maxLength: 3 }).map((ts) => ts.join(''));
    case 'v':
      return (depth > 0 ? arbType(2) : fc.constantFrom(...BASIC_CODES)).chain((t) => arbValue(t, depth - 1).map((v) => new Variant(t, v)));
    case '(':
      return fc.tuple(...fieldsOf(sig.slice(1, -1)).map((t) => arbValue(t, depth)));
    case 'a': {
      const elem = sig.slice(1);
      if (elem === 'y') return fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a));
      if (elem[0] === '{') {
        const [k, v] = fieldsOf(elem.slice(1, -1)) as [string, string];
        return (
          fc
            .uniqueArray(fc.tuple(arbValue(k, depth), arbValue(v, depth)), {
              maxLength: 4,
              selector: (e) => e[0],
              comparator: 'SameValueZero',
            })
            // Map keys -0 and 0 are one key and are written as 0.
            .map((es) => new Map(es.map(([key, val]) => [Object.is(key, -0) ? 0 : key, val])))
        );
      }
      return fc.array(arbValue(elem, depth), { maxLength: 4 });
    }
    default:
      throw new Error(`no arbitrary for ${sig}`);
  }
}

const arbBody = fc
  .array(arbType(3), { minLength: 1, maxLength: 4 })
  .map((ts) => ts.join(''))
  .chain((sig) => fc.tuple(fc.constant(sig), fc.tuple(...fieldsOf(sig).map((t) => arbValue(t)))));

const endians: Endianness[] = ['l', 'B'];

test('every type round-trips in both byte orders at every start offset (property)', () => {
  fc.assert(
    fc.property(arbBody, fc.constantFrom(...endians), fc.integer({ min: 0, max: 7 }), ([sig, values], e, offset) => {
      const fds = FDS.slice();
      const buf = encodeBody(sig, values, e, { offset, fds });
      assert.deepEqual(fds, FDS, 'known fds are not added twice');
      const back = decodeBody(sig, buf, e, { offset, fds });
      assert.deepStrictEqual(back, values);
    }),
    { numRuns: 400 },
  );
});

test('whole messages round-trip in both byte orders (property)', () => {
  fc.assert(
    fc.property(arbBody, fc.constantFrom(...endians), fc.integer({ min: 1, max: 0xffffffff }), ([sig, values], e, serial) => {
      const msg: Message = {
        type: MessageType.Signal,
        flags: 0,
        serial,
        path: '/org/example',
        interface: 'org.example.Iface',
        member: 'Changed',
        signature: sig,
        body: values,
        endianness: e,
        fds: FDS.slice(),
      };
      const buf = encodeMessage(msg);
      assert.equal(messageLength(buf), buf.length);
      assert.equal(buf.length % 1, 0);
      const back = decodeMessage(buf, FDS.slice());
      assert.deepStrictEqual(back, { ...msg, fds: FDS });
    }),
    { numRuns: 200 },
  );
});

const arbName = fc.array(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,6}$/), { minLength: 2, maxLength: 4 }).map((e) => e.join('.'));
const arbUnique = fc.array(fc.stringMatching(/^[A-Za-z0-9_-]{1,4}$/), { minLength: 2, maxLength: 3 }).map((e) => `:${e.join('.')}`);
const arbHeader = fc.record(
  {
    type: fc.constantFrom(MessageType.MethodCall, MessageType.MethodReturn, MessageType.Error, MessageType.Signal),
    flags: fc.integer({ min: 0, max: 255 }),
    serial: fc.integer({ min: 1, max: 0xffffffff }),
    path: arbPath,
    interface: arbName,
    member: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/),
    errorName: arbName,
    replySerial: fc.integer({ min: 1, max: 0xffffffff }),
    destination: fc.oneof(arbName, arbUnique),
    sender: fc.oneof(arbName, arbUnique),
    order: fc.shuffledSubarray([1, 2, 3, 4, 5, 6, 7, 8, 9], { minLength: 9 }),
    endianness: fc.constantFrom<Endianness>('l', 'B'),
  },
  { requiredKeys: ['type', 'flags', 'serial', 'path', 'interface', 'member', 'errorName', 'replySerial', 'order', 'endianness'] },
);

test('headers of every message type, in any field order, round-trip byte for byte (property)', () => {
  fc.assert(
    fc.property(arbHeader, arbBody, (h, [sig, values]) => {
      const msg: Message = {
        type: h.type,
        flags: h.flags,
        serial: h.serial,
        signature: sig,
        body: values,
        endianness: h.endianness,
        fds: FDS.slice(),
      };
      // Only the fields this type needs, plus the optional routing fields when generated.
      if (h.type === MessageType.MethodCall || h.type === MessageType.Signal) {
        msg.path = h.path;
        msg.member = h.member;
        if (h.type === MessageType.Signal || h.serial % 2 === 0) msg.interface = h.interface;
      } else {
        msg.replySerial = h.replySerial;
        if (h.type === MessageType.Error) msg.errorName = h.errorName;
      }
      if (h.destination !== undefined) msg.destination = h.destination;
      if (h.sender !== undefined) msg.sender = h.sender;
      msg.fieldOrder = h.order;
      const buf = encodeMessage(msg);
      const back = decodeMessage(buf, FDS.slice());
      const { fieldOrder, ...rest } = back;
      const { fieldOrder: _sent, ...expected } = msg;
      assert.deepStrictEqual(rest, expected);
      // Ascending orders are not recorded; any other order is, and re-encoding reproduces it.
      if (fieldOrder !== undefined)
        assert.notDeepEqual(
          fieldOrder,
          fieldOrder.slice().sort((a, b) => a - b),
        );
      assert.deepEqual(encodeMessage(back), buf);
    }),
    { numRuns: 300 },
  );
});

test('the body starts 8-aligned after the header, and alignment follows the absolute offset', () => {
  // One-byte signature field makes the header 16 + 8 (path) + ... bytes: check 't' lands on 8.
  const msg: Message = {
    type: MessageType.MethodCall,
    flags: 0,
    serial: 1,
    path: '/a',
    member: 'M',
    signature: 'yt',
    body: [1, 2n],
  };
  const buf = encodeMessage(msg);
  const fieldsLen = buf.readUInt32LE(12);
  const bodyStart = 16 + Math.ceil(fieldsLen / 8) * 8;
  assert.equal(bodyStart % 8, 0);
  assert.equal(buf[bodyStart], 1);
  assert.deepEqual([...buf.subarray(bodyStart + 1, bodyStart + 8)], [0, 0, 0, 0, 0, 0, 0]);
  assert.equal(buf.readBigUInt64LE(bodyStart + 8), 2n);
  // The same body at offset 4: the padding before 't' shrinks to 3 bytes.
  assert.equal(encodeBody('yt', [1, 2n], 'l', { offset: 4 }).length, 12);
  assert.equal(encodeBody('yt', [1, 2n], 'l', { offset: 0 }).length, 16);
});

test('the examples of the specification: an array of one INT64 and a variant of UINT64, big-endian', () => {
  assert.equal(encodeBody('ax', [[5n]], 'B').toString('hex'), '00000008' + '00000000' + '0000000000000005');
  assert.equal(encodeBody('v', [new Variant('t', 5n)], 'B').toString('hex'), '017400' + '0000000000' + '0000000000000005');
  assert.deepEqual(decodeBody('ax', Buffer.from('00000008000000000000000000000005', 'hex'), 'B'), [[5n]]);
});

test('empty arrays still carry the padding to their element alignment', () => {
  assert.equal(encodeBody('a(i)', [[]]).toString('hex'), '0000000000000000');
  assert.equal(encodeBody('ai', [[]]).toString('hex'), '00000000');
  assert.deepEqual(decodeBody('a(i)', Buffer.alloc(8)), [[]]);
});

test('JavaScript mapping: bigint or safe integer for x/t, Map or object for dicts, Uint8Array for ay', () => {
  const viaNumber = encodeBody('xt', [-5, 7]);
  assert.deepEqual(viaNumber, encodeBody('xt', [-5n, 7n]));
  assert.deepEqual(decodeBody('xt', viaNumber), [-5n, 7n]);
  assert.throws(() => encodeBody('t', [2 ** 60]), DBusInvalidArgsError, 'unsafe integers are refused');
  const fromObject = encodeBody('a{sv}a{ub}a{xs}a{bs}', [
    { a: new Variant('s', 'x') },
    { 1: true, 20: false },
    { '-3': 'neg' },
    { true: 'yes' },
  ]);
  assert.deepEqual(decodeBody('a{sv}a{ub}a{xs}a{bs}', fromObject), [
    new Map([['a', new Variant('s', 'x')]]),
    new Map([
      [1, true],
      [20, false],
    ]),
    new Map([[-3n, 'neg']]),
    new Map([[true, 'yes']]),
  ]);
  assert.throws(() => encodeBody('a{us}', [{ x: 'y' }]), DBusInvalidArgsError);
  const bytes = decodeBody('ay', encodeBody('ay', [new Uint8Array([1, 2, 3])]))[0];
  assert.ok(Buffer.isBuffer(bytes));
  assert.deepEqual([...(bytes as Buffer)], [1, 2, 3]);
  assert.deepEqual(encodeBody('ay', [[1, 2, 3]]), encodeBody('ay', [Buffer.from([1, 2, 3])]));
});

test('h values: the fd on the JavaScript side, its index in Message.fds on the wire', () => {
  const { buffer, fds } = encodeMessageWithFds({
    type: MessageType.Signal,
    flags: 0,
    serial: 3,
    path: '/a',
    interface: 'a.b',
    member: 'C',
    signature: 'hah',
    body: [30, [31, 30]],
  });
  assert.deepEqual(fds, [30, 31]);
  const msg = decodeMessage(buffer, [30, 31]);
  assert.deepEqual(msg.body, [30, [31, 30]]);
  assert.deepEqual(msg.fds, [30, 31]);
  // Received descriptors are renumbered by the kernel: the body follows the received list.
  assert.deepEqual(decodeMessage(buffer, [5, 6]).body, [5, [6, 5]]);
  // The header announces 2 fds; fewer arriving is a protocol error.
  assert.throws(() => decodeMessage(buffer, [5]), DBusProtocolError);
  assert.throws(() => decodeMessage(buffer), DBusProtocolError);
  // An index beyond UNIX_FDS.
  assert.throws(() => decodeBody('h', Buffer.from('02000000', 'hex'), 'l', { fds: [1, 2] }), DBusProtocolError);
});

test('checkValues says which value does not fit', () => {
  checkValues('sa{sv}(ib)', ['x', { a: new Variant('u', 1) }, [1, true]]);
  const cases: [string, unknown[], RegExp][] = [
    ['u', [-1], /argument 0: expected an integer in 0\.\.2\^32-1/],
    ['a{sv}', [{ Name: new Variant('u', 'x') }], /argument 0\["Name"\]<u>/],
    ['(ib)', [[1, 'x']], /argument 0\.1: expected a boolean/],
    ['(ib)', [[1]], /2 struct fields/],
    ['ai', [[1, 2, 1.5]], /argument 0\[2\]/],
    ['v', [5], /expected a Variant/],
    ['o', ['no/path'], /object path/],
    ['s', ['a\0b'], /NUL/],
    ['s', ['\uD800'], /surrogate/],
    ['y', [256], /0\.\.255/],
    ['n', [40000], /-32768\.\.32767/],
    ['b', [1], /boolean/],
    ['x', [2n ** 63n], /-2\^63/],
    ['d', ['1'], /number/],
    ['as', ['abc'], /an array/],
    ['a{sv}', [[1]], /Map or a plain object/],
    ['ii', [1], /2 complete types but 1 values/],
    ['(gv)', [['a{', new Variant('i', 1)]], /argument 0\.0: expected a valid signature/],
    ['av', [[new Variant('ii', 1)]], /argument 0\[0\]: expected a Variant whose signature is one complete type/],
  ];
  for (const [sig, values, message] of cases) {
    assert.throws(
      () => checkValues(sig, values),
      (e: unknown) => e instanceof DBusInvalidArgsError && message.test(e.message),
      sig,
    );
    // The encoder refuses the same values, with the same detailed message.
    assert.throws(
      () => encodeBody(sig, values),
      (e: unknown) => e instanceof DBusInvalidArgsError && message.test(e.message),
      sig,
    );
  }
  assert.throws(() => checkValues('a{', []), DBusInvalidArgsError);
});

test('variants nest at most 64 containers deep', () => {
  const nest = (n: number): unknown => {
    let v: unknown = 1;
    for (let i = 0; i < n; i++) v = new Variant(i === 0 ? 'i' : 'v', v);
    return v;
  };
  const ok = encodeBody('v', [nest(64)]);
  assert.deepEqual(decodeBody('v', ok), [nest(64)]);
  assert.throws(() => encodeBody('v', [nest(65)]), DBusInvalidArgsError);
  // Hand-made: 65 variants each holding 'v', then one holding an int, must be refused on the way in.
  const deep = Buffer.alloc(204);
  let p = 0;
  for (let i = 0; i < 65; i++) p += deep.write('\x01v\x00', p, 'latin1');
  deep.write('\x01i\x00', p, 'latin1');
  assert.throws(() => decodeBody('v', deep), DBusProtocolError);
});

// ---------------------------------------------------------------------------------------------
// Header and message checks

const call: Message = {
  type: MessageType.MethodCall,
  flags: 0,
  serial: 9,
  path: '/org/libvirt/QEMU',
  interface: 'org.libvirt.Connect',
  member: 'ListDomains',
  destination: 'org.libvirt',
  signature: 'u',
  body: [0],
};

test('required header fields per message type are enforced on both sides', () => {
  const bad: [Partial<Message>, string][] = [
    [{ type: MessageType.MethodCall, path: undefined }, 'METHOD_CALL needs PATH'],
    [{ type: MessageType.MethodCall, member: undefined }, 'METHOD_CALL needs MEMBER'],
    [{ type: MessageType.MethodReturn }, 'METHOD_RETURN needs REPLY_SERIAL'],
    [{ type: MessageType.Error, replySerial: 3 }, 'ERROR needs ERROR_NAME'],
    [{ type: MessageType.Error, errorName: 'a.b' }, 'ERROR needs REPLY_SERIAL'],
    [{ type: MessageType.Signal, interface: undefined }, 'SIGNAL needs INTERFACE'],
  ];
  for (const [change, why] of bad) {
    assert.throws(() => encodeMessage({ ...call, ...change }), DBusInvalidArgsError, why);
  }
  // On the way in: take a valid signal and turn its type byte into METHOD_RETURN (no REPLY_SERIAL).
  const sig = encodeMessage({ ...call, type: MessageType.Signal });
  sig[1] = MessageType.MethodReturn;
  assert.throws(() => decodeMessage(sig), DBusProtocolError);
  sig[1] = MessageType.Error;
  assert.throws(() => decodeMessage(sig), DBusProtocolError);
  const ret = encodeMessage({ type: MessageType.MethodReturn, flags: 0, serial: 2, replySerial: 1, signature: '', body: [] });
  ret[1] = MessageType.MethodCall;
  assert.throws(() => decodeMessage(ret), DBusProtocolError);
  ret[1] = MessageType.Signal;
  assert.throws(() => decodeMessage(ret), DBusProtocolError);
});

test('header names, serials and flags are checked before sending', () => {
  const bad: Partial<Message>[] = [
    { serial: 0 },
    { serial: 2 ** 32 },
    { serial: 1.5 },
    { flags: 256 },
    { path: 'relative' },
    { interface: 'nodot' },
    { member: 'a.b' },
    { destination: '1bad.name' },
    { sender: 'x' },
    { type: 0 as MessageType },
    { type: 5 as MessageType },
    { signature: 'a{' },
    { type: MessageType.Error, errorName: 'bad', replySerial: 1 },
    { type: MessageType.MethodReturn, replySerial: 0 },
    { path: '/org/freedesktop/DBus/Local' },
    { interface: 'org.freedesktop.DBus.Local' },
  ];
  for (const change of bad) {
    assert.throws(() => encodeMessage({ ...call, ...change }), DBusInvalidArgsError, JSON.stringify(change));
  }
});

test('serial 0, protocol version, endianness byte and message type 0 are refused on the way in', () => {
  const good = encodeMessage(call);
  assert.deepEqual(decodeMessage(good).body, [0]);
  const mutate = (at: number, value: number): Buffer => {
    const b = Buffer.from(good);
    b[at] = value;
    return b;
  };
  assert.throws(() => decodeMessage(mutate(8, 0)), DBusProtocolError, 'serial 0');
  assert.throws(() => decodeMessage(mutate(3, 2)), DBusProtocolError, 'version 2');
  assert.throws(() => decodeMessage(mutate(0, 0x41)), DBusProtocolError, 'endianness');
  assert.throws(() => decodeMessage(mutate(1, 0)), DBusProtocolError, 'type 0');
  // Unknown flags are ignored.
  assert.equal(decodeMessage(mutate(2, 0xf0)).flags, 0xf0);
});

test('messageLength: undefined before 16 bytes, the total after, errors for garbage and oversize', () => {
  const buf = encodeMessage(call);
  assert.equal(messageLength(buf.subarray(0, 15)), undefined);
  assert.equal(messageLength(buf.subarray(0, 16)), buf.length);
  const big = Buffer.from(buf.subarray(0, 16));
  big.writeUInt32LE(134217728, 4);
  assert.throws(() => messageLength(big), DBusProtocolError);
  big.writeUInt32LE(134217728 - 16 - 8 * Math.ceil(buf.readUInt32LE(12) / 8), 4);
  assert.equal(messageLength(big), 134217728, 'exactly 128 MiB is allowed');
  const garbage = Buffer.from('GET / HTTP/1.1\r\n\r\n');
  assert.throws(() => messageLength(garbage), DBusProtocolError);
});

test('a message must be exactly its declared length', () => {
  const buf = encodeMessage(call);
  assert.throws(() => decodeMessage(buf.subarray(0, buf.length - 1)), DBusProtocolError);
  assert.throws(() => decodeMessage(Buffer.concat([buf, Buffer.alloc(1)])), DBusProtocolError);
});

test('the body must fill exactly its length, and no body without a signature', () => {
  // Body 'u' plus 4 stray bytes: patch the body length.
  const buf = Buffer.concat([encodeMessage(call), Buffer.alloc(4)]);
  buf.writeUInt32LE(buf.readUInt32LE(4) + 4, 4);
  assert.throws(() => decodeMessage(buf), /bytes left after the body/);
  const noSig = encodeMessage({ ...call, signature: '', body: [] });
  const withBody = Buffer.concat([noSig, Buffer.alloc(4)]);
  withBody.writeUInt32LE(4, 4);
  assert.throws(() => decodeMessage(withBody), /no SIGNATURE/);
});

test('unknown header fields are ignored; duplicate and mistyped known fields are refused', () => {
  // Built by hand: PATH '/a', MEMBER 'M', then unknown field 200 holding a variant of 'as' ['x'].
  const fields =
    '01016f00' +
    '02000000' +
    '2f610000' +
    '00000000' + // PATH, padded to 8
    '03017300' +
    '01000000' +
    '4d000000' +
    '00000000' + // MEMBER, padded to 8
    'c8026173' +
    '00000000' +
    '06000000' +
    '01000000' +
    '7800'; // 200: as, 18 bytes
  const msg = Buffer.from(
    '6c010001' + '00000000' + '05000000' + '32000000' + fields + '000000000000', // 50 bytes of fields + pad
    'hex',
  );
  const decoded = decodeMessage(msg);
  assert.equal(decoded.path, '/a');
  assert.equal(decoded.member, 'M');
  assert.equal(Object.hasOwn(decoded, 'fieldOrder'), false);

  const dup = encodeMessage({ ...call, interface: undefined });
  // Turn the MEMBER field code (3) into PATH (1): PATH twice, but MEMBER is then missing too —
  // check the duplicate message specifically.
  const at = dup.indexOf(Buffer.from('03017300', 'hex'));
  dup[at] = 1;
  dup[at + 2] = 0x6f;
  assert.throws(() => decodeMessage(dup), /appears twice/);
  const wrong = encodeMessage(call);
  const m = wrong.indexOf(Buffer.from('03017300', 'hex'));
  wrong[m + 2] = 0x6f; // MEMBER declared as 'o'
  assert.throws(() => decodeMessage(wrong), /has signature "o"/);
});

test('values are checked on the way in: booleans 0/1, UTF-8, NUL, object paths, signatures, padding', () => {
  assert.throws(() => decodeBody('b', Buffer.from('02000000', 'hex')), DBusProtocolError);
  assert.deepEqual(decodeBody('b', Buffer.from('01000000', 'hex')), [true]);
  assert.throws(() => decodeBody('s', Buffer.from('02000000c32800', 'hex')), /UTF-8/);
  assert.deepEqual(decodeBody('s', Buffer.from('03000000efbfbd00', 'hex')), ['\uFFFD'], 'a real U+FFFD is fine');
  assert.throws(() => decodeBody('s', Buffer.from('0300000061006200', 'hex')), /NUL inside/);
  assert.throws(() => decodeBody('s', Buffer.from('020000006162', 'hex')), DBusProtocolError, 'no terminating NUL');
  assert.throws(() => decodeBody('s', Buffer.from('02000000616201', 'hex')), /NUL-terminated/);
  assert.throws(() => decodeBody('o', Buffer.from('020000002f2f00', 'hex')), /object path/);
  assert.throws(() => decodeBody('g', Buffer.from('01280000', 'hex').subarray(0, 3)), /signature/);
  assert.throws(() => decodeBody('v', Buffer.from('026969000000000000000000', 'hex')), /single complete type/);
  assert.throws(() => decodeBody('yu', Buffer.from('0101000002000000', 'hex')), /padding/);
  assert.throws(() => decodeBody('u', Buffer.from('010000', 'hex')), /truncated/);
  assert.throws(() => decodeBody('ai', Buffer.from('0800000001000000', 'hex')), /past the end/);
  assert.throws(() => decodeBody('a(ii)', Buffer.from('04000000000000000100000002000000', 'hex')), /overrun/);
});

test('arrays over 64 MiB are refused both ways', () => {
  assert.throws(() => encodeBody('ay', [new Uint8Array(MAX_ARRAY_LENGTH + 1)]), DBusInvalidArgsError);
  const header = Buffer.alloc(8);
  header.writeUInt32LE(MAX_ARRAY_LENGTH + 1, 0);
  assert.throws(() => decodeBody('ay', header), /over 64 MiB/);
});

test('messages over 128 MiB are refused when encoding', () => {
  const half = new Uint8Array(MAX_ARRAY_LENGTH - 8);
  assert.throws(
    () => encodeMessage({ ...call, signature: 'ayay', body: [half, half] }),
    (e: unknown) => e instanceof DBusInvalidArgsError && /128 MiB/.test(e.message),
  );
});

test('decoded messages keep their header field order so they re-encode byte for byte', () => {
  const msg: Message = { ...call, fieldOrder: [6, 1, 2, 3, 8] };
  const buf = encodeMessage(msg);
  const back = decodeMessage(buf);
  assert.deepEqual(back.fieldOrder, [6, 1, 2, 3, 8]);
  assert.deepEqual(encodeMessage(back), buf);
  // Ascending order is our default and is not recorded.
  assert.equal(decodeMessage(encodeMessage(call)).fieldOrder, undefined);
});

test('every error thrown is a DBusError', () => {
  for (const f of [
    () => encodeBody('i', ['x']),
    () => decodeBody('i', Buffer.alloc(1)),
    () => decodeMessage(Buffer.alloc(3)),
    () => encodeMessage({ ...call, serial: 0 }),
  ]) {
    assert.throws(f, DBusError);
  }
});

test('strings reused from earlier messages are still checked as names where names are required', () => {
  // 'a.' is read (and remembered) as a body string, then must still fail as a MEMBER.
  assert.deepEqual(decodeBody('s', encodeBody('s', ['a.'])), ['a.']);
  const msg = encodeMessage({ ...call, member: 'ab' });
  const at = msg.indexOf(Buffer.from('03017300', 'hex'));
  msg.write('a.', at + 8, 'latin1'); // the MEMBER bytes 'ab' become 'a.'
  assert.throws(() => decodeMessage(msg), /invalid MEMBER "a\."/);
  assert.throws(() => decodeMessage(msg), /invalid MEMBER "a\."/, 'and again, once remembered');
  // A valid member remembered as valid does not make an invalid one pass.
  assert.equal(decodeMessage(encodeMessage({ ...call, member: 'ab' })).member, 'ab');
  assert.throws(() => decodeMessage(msg), /invalid MEMBER/);
  // Different strings of the same length are told apart.
  const many = Array.from({ length: 3000 }, (_, i) => `k${i}`);
  assert.deepEqual(decodeBody('as', encodeBody('as', [many])), [many]);
  assert.deepEqual(decodeBody('as', encodeBody('as', [many])), [many]);
});
