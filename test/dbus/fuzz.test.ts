// Fuzzing the decoder: random bytes, random bodies behind a valid header, and mutated golden
// messages must either decode or throw a DBusError subclass, never anything else and never hang.
// Inputs worth keeping live in test/dbus/corpus/ and are replayed on every run.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { DBusError } from '../../src/dbus/errors.js';
import { decodeBody } from '../../src/dbus/decoder.js';
import { decodeMessage, encodeMessageWithFds, messageLength } from '../../src/dbus/framing.js';
import type { Message } from '../../src/dbus/message.js';

const ROOT = fileURLToPath(new URL('../../../test/dbus/', import.meta.url));
const FDS = [100, 101];
// FUZZ_SCALE=50 node --test dist/test/dbus/fuzz.test.js runs fifty times more cases.
const SCALE = Number(process.env['FUZZ_SCALE'] ?? 1);

function hexLines(path: string): Buffer[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((hex) => Buffer.from(hex, 'hex'));
}

const golden = readdirSync(`${ROOT}golden`)
  .filter((f) => f.endsWith('.hex'))
  .flatMap((f) => hexLines(`${ROOT}golden/${f}`));

/** Decodes `buf`; any throw must be a DBusError. A decoded message must survive re-encoding. */
function decodeOrDBusError(buf: Buffer, fds: number[] = FDS): Message | undefined {
  let msg: Message;
  try {
    msg = decodeMessage(buf, fds);
  } catch (err) {
    if (err instanceof DBusError) return undefined;
    throw err;
  }
  // Whatever we accept we can send again, and it reads back the same (unknown types excepted:
  // the specification has receivers ignore them, so we never send them).
  if (msg.type >= 1 && msg.type <= 4) {
    const again = encodeMessageWithFds(msg);
    assert.deepStrictEqual(decodeMessage(again.buffer, again.fds), msg);
  }
  return msg;
}

function bodyOrDBusError(sig: string, buf: Buffer, e: 'l' | 'B'): void {
  try {
    decodeBody(sig, buf, e, { fds: FDS });
  } catch (err) {
    if (!(err instanceof DBusError)) throw err;
  }
}

test('random bytes: decode or DBusError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const buf = Buffer.from(bytes);
      decodeOrDBusError(buf);
      try {
        messageLength(buf);
      } catch (err) {
        assert.ok(err instanceof DBusError);
      }
    }),
    { numRuns: 3000 * SCALE },
  );
});

test('random bytes behind a plausible fixed header: decode or DBusError', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(0x6c, 0x42),
      fc.integer({ min: 0, max: 6 }),
      fc.uint8Array({ minLength: 0, maxLength: 400 }),
      fc.integer({ min: 0, max: 400 }),
      (endian, type, rest, fieldsLen) => {
        const buf = Buffer.alloc(16 + rest.length);
        buf[0] = endian;
        buf[1] = type;
        buf[3] = 1;
        const le = endian === 0x6c;
        const fl = Math.min(fieldsLen, rest.length);
        const body = Math.max(0, rest.length - ((fl + 7) & ~7));
        if (le) {
          buf.writeUInt32LE(body, 4);
          buf.writeUInt32LE(1, 8);
          buf.writeUInt32LE(fl, 12);
        } else {
          buf.writeUInt32BE(body, 4);
          buf.writeUInt32BE(1, 8);
          buf.writeUInt32BE(fl, 12);
        }
        Buffer.from(rest).copy(buf, 16);
        decodeOrDBusError(buf.subarray(0, Math.min(buf.length, 16 + ((fl + 7) & ~7) + body)));
      },
    ),
    { numRuns: 3000 * SCALE },
  );
});

const SIGS = [
  'y',
  'b',
  'n',
  'q',
  'i',
  'u',
  'x',
  't',
  'd',
  'h',
  's',
  'o',
  'g',
  'v',
  'ay',
  'as',
  'a{sv}',
  '(iv)',
  'aav',
  'a{ya(so)}',
  'v(ggv)',
];

test('random bodies for random signatures: decode or DBusError', () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(...SIGS), { minLength: 1, maxLength: 4 }),
      fc.uint8Array({ maxLength: 200 }),
      fc.constantFrom<'l' | 'B'>('l', 'B'),
      (sigs, bytes, e) => bodyOrDBusError(sigs.join(''), Buffer.from(bytes), e),
    ),
    { numRuns: 3000 * SCALE },
  );
});

test('mutated golden messages: decode or DBusError', () => {
  const mutation = fc.oneof(
    // Overwrite a few bytes.
    fc.record({
      kind: fc.constant('set' as const),
      edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
    }),
    // Cut the message short, or lengthen it with junk (keeping or fixing the length fields).
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('grow' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
    // Change a length field to an interesting value.
    fc.record({
      kind: fc.constant('length' as const),
      field: fc.constantFrom(4, 12),
      value: fc.constantFrom(0, 1, 7, 8, 0xff, 0xffff, 0x3ffffff, 0x4000000, 0x7fffffff, 0xffffffff),
    }),
  );
  fc.assert(
    fc.property(fc.constantFrom(...golden), mutation, fc.boolean(), (original, m, fdsArrived) => {
      let buf = Buffer.from(original);
      switch (m.kind) {
        case 'set':
          for (const [at, value] of m.edits) buf[at % buf.length] = value;
          break;
        case 'cut':
          buf = buf.subarray(0, m.at % buf.length);
          break;
        case 'grow':
          buf = Buffer.concat([buf, m.extra]);
          break;
        case 'length':
          if (buf[0] === 0x42) buf.writeUInt32BE(m.value, m.field);
          else buf.writeUInt32LE(m.value, m.field);
          break;
      }
      decodeOrDBusError(buf, fdsArrived ? FDS : []);
    }),
    { numRuns: 5000 * SCALE },
  );
});

test('the corpus of interesting inputs is replayed with its expected outcome', () => {
  const dir = `${ROOT}corpus/`;
  const files = readdirSync(dir).filter((f) => f.endsWith('.hex'));
  assert.ok(files.length >= 10);
  for (const file of files) {
    const text = readFileSync(dir + file, 'utf8');
    const expect = /^# expect: (\w+)/m.exec(text)?.[1];
    assert.ok(expect === 'ok' || expect === 'error', `${file} says what to expect`);
    for (const buf of hexLines(dir + file)) {
      const msg = decodeOrDBusError(buf, []);
      assert.equal(msg === undefined ? 'error' : 'ok', expect, file);
    }
  }
});
