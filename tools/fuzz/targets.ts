// What the fuzzers feed and what counts as a crash. Each target takes one input and must either
// accept it or refuse it with the typed error of its layer (DBusError, LibvirtError); anything
// else — another exception, a hang — is a crash. Seeds are real traffic kept in the repository.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { CookieKeyring, DBusConnection, DBusError, decodeMessage } from '../../src/dbus/index.js';
import { LibvirtError } from '../../src/libvirt/errors.js';
import { keepaliveProcedureInfo } from '../../src/libvirt/keepalive-protocol.gen.js';
import { lxcProcedureInfo } from '../../src/libvirt/lxc-protocol.gen.js';
import { decodeError, decodePacket, PacketDecoder, PacketStatus, PacketType } from '../../src/libvirt/packet.js';
import type { ProcedureInfo, ProcedureTable } from '../../src/libvirt/procedure-info.js';
import { qemuProcedureInfo } from '../../src/libvirt/qemu-protocol.gen.js';
import { remoteProcedureInfo } from '../../src/libvirt/remote-protocol.gen.js';
import { XdrReader } from '../../src/libvirt/xdr.js';

/** How one input ended. */
export type Outcome = 'accepted' | 'refused';

/** A fuzzing target. */
export interface Target {
  readonly name: string;
  /** Real inputs to mutate. */
  readonly seeds: readonly Buffer[];
  /** Runs one input; resolves with how it ended, throws for a crash. */
  run(input: Buffer): Outcome | Promise<Outcome>;
  /** Releases what the target holds (temporary folders). */
  close?(): void;
}

const REPO = new URL('../../../', import.meta.url).pathname;

/** The hex lines of the files in a folder of the repository (comments and blank lines left out). */
function hexFiles(dir: string): Buffer[] {
  const abs = join(REPO, dir);
  return readdirSync(abs)
    .filter((f) => f.endsWith('.hex'))
    .sort()
    .flatMap((f) =>
      readFileSync(join(abs, f), 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '' && !l.startsWith('#'))
        .map((l) => Buffer.from(l.trim(), 'hex')),
    );
}

/** Runs `fn`, turning the layer's typed error into 'refused'; any other throw propagates (a crash). */
function typed(errorClass: abstract new (...args: never[]) => Error, fn: () => unknown): Outcome {
  try {
    fn();
    return 'accepted';
  } catch (err) {
    if (err instanceof errorClass) return 'refused';
    throw err;
  }
}

/** The D-Bus message parser: whole messages in either byte order, with two descriptors at hand. */
function dbusMessage(): Target {
  return {
    name: 'dbus-message',
    seeds: [...hexFiles('test/dbus/golden'), ...hexFiles('test/dbus/corpus')],
    run: (input) => typed(DBusError, () => decodeMessage(input, [100, 101])),
  };
}

/**
 * A peer that sends `input` and hangs up a moment later, as a socket does (allowHalfOpen false: the end
 * of what it sends closes the stream), swallowing what is written to it.
 */
function scriptedStream(input: Buffer): Duplex {
  let sent = false;
  return new Duplex({
    allowHalfOpen: false,
    read() {
      if (sent) return;
      sent = true;
      if (input.length > 0) this.push(input);
      // Hang up once what the input causes has run (a whole exchange finishes in one turn).
      setImmediate(() => this.push(null));
    },
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

/** Settles `p` as an outcome; a D-Bus error is a refusal; no settlement within `ms` is a crash (a hang). */
async function settle(p: Promise<DBusConnection>, ms: number): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: not settled within ${ms} ms`)), ms);
  });
  try {
    const conn = await Promise.race([p, hang]);
    conn.close();
    return 'accepted';
  } catch (err) {
    if (err instanceof DBusError) return 'refused';
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

const AUTH_SERVER_SEEDS = [
  '\0AUTH EXTERNAL 30\r\nBEGIN\r\n',
  '\0AUTH EXTERNAL\r\nDATA\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n',
  '\0AUTH ANONYMOUS 7472616365\r\nBEGIN\r\n',
  '\0AUTH DBUS_COOKIE_SHA1 30\r\nDATA 6162636465\r\nCANCEL\r\nAUTH ANONYMOUS\r\nBEGIN\r\n',
  '\0AUTH\r\nERROR\r\nAUTH NOPE\r\nBEGIN\r\n',
  '\0NEGOTIATE_UNIX_FD\r\nDATA zz\r\nBEGIN\r\nl\x01\0\x01',
];

const AUTH_CLIENT_SEEDS = [
  'OK 0123456789abcdef0123456789abcdef\r\nAGREE_UNIX_FD\r\n',
  'REJECTED EXTERNAL ANONYMOUS\r\nOK 0123456789abcdef0123456789abcdef\r\n',
  'DATA\r\nOK 0123456789abcdef0123456789abcdef\r\nERROR no\r\n',
  'DATA 6f72675f667265656465736b746f705f67656e6572616c203120616263\r\nOK 0123456789abcdef0123456789abcdef\r\n',
  'ERROR\r\nREJECTED\r\n',
];

/** The server side of SASL: what a connecting peer sends, over an in-memory stream. */
function dbusAuthServer(): Target {
  const dir = mkdtempSync(join(tmpdir(), 'fuzz-keyring-'));
  const keyring = new CookieKeyring(dir);
  return {
    name: 'dbus-auth-server',
    seeds: AUTH_SERVER_SEEDS.map((s) => Buffer.from(s, 'latin1')),
    run: (input) =>
      settle(
        DBusConnection.fromStream(scriptedStream(input), {
          unix: false,
          server: { allowAnonymous: true, keyring, mechanisms: ['EXTERNAL', 'DBUS_COOKIE_SHA1', 'ANONYMOUS'], timeout: 2000 },
        }),
        5000,
      ),
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The client side of SASL: what a server answers, over an in-memory stream. */
function dbusAuthClient(): Target {
  const dir = mkdtempSync(join(tmpdir(), 'fuzz-keyring-'));
  const keyring = new CookieKeyring(dir);
  return {
    name: 'dbus-auth-client',
    seeds: AUTH_CLIENT_SEEDS.map((s) => Buffer.from(s, 'latin1')),
    run: (input) =>
      settle(
        DBusConnection.fromStream(scriptedStream(input), {
          unix: false,
          keyring,
          mechanisms: ['EXTERNAL', 'DBUS_COOKIE_SHA1', 'ANONYMOUS'],
          timeout: 2000,
        }),
        5000,
      ),
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Every procedure of every program we speak, by program and procedure number. */
function allProcedures(): ProcedureInfo[] {
  const tables: ProcedureTable[] = [remoteProcedureInfo, qemuProcedureInfo, lxcProcedureInfo, keepaliveProcedureInfo];
  return tables.flatMap((t) => Object.values(t) as ProcedureInfo[]);
}

/**
 * Runs the decoder that libvirt's client would run on a packet's payload: a reply's `_ret`, an
 * event's `_msg`, an error's virNetMessageError.
 */
function decodePayload(
  procs: Map<string, ProcedureInfo>,
  program: number,
  procedure: number,
  type: number,
  status: number,
  payload: Buffer,
): void {
  const info = procs.get(`${program}:${procedure}`);
  if (status === PacketStatus.ERROR) {
    decodeError(payload); // returns the LibvirtError (a malformed one as a protocol error)
    return;
  }
  if (!info) return;
  const decode = type === PacketType.MESSAGE ? info.decodeMsg : info.decodeRet;
  if (decode) decode(new XdrReader(payload));
}

/** libvirt's packet framing, fed in pieces, and the payload decoder of each packet it yields. */
function libvirtPacket(): Target {
  const procs = new Map(allProcedures().map((p) => [`${p.program}:${p.procedure}`, p]));
  return {
    name: 'libvirt-packet',
    seeds: hexFiles('test/libvirt/golden/packets'),
    run: (input) =>
      typed(LibvirtError, () => {
        const decoder = new PacketDecoder();
        // Pieces of the sizes a socket might deliver, chosen by the input itself (deterministic).
        let at = 0;
        let step = 1 + ((input[0] ?? 0) % 13);
        while (at < input.length) {
          for (const p of decoder.push(input.subarray(at, at + step))) {
            decodePayload(procs, p.program, p.procedure, p.type, p.status, p.payload);
          }
          at += step;
          step = 1 + ((step * 7 + (input[at % Math.max(1, input.length)] ?? 0)) % 97);
        }
      }),
  };
}

/**
 * Every generated XDR decoder of a reply or an event: the input's first two bytes choose the
 * procedure, the rest is its payload. Seeds are the real payloads of the golden packets, and for
 * procedures without one, zero-filled payloads (a valid encoding of many structures: empty arrays,
 * zero numbers, absent optionals) for the mutations to grow structure from.
 */
function libvirtXdrReplies(): Target {
  const decoders = allProcedures()
    .flatMap((p) => [p.decodeRet, p.decodeMsg])
    .filter((d): d is NonNullable<typeof d> => d !== null);
  const seeds: Buffer[] = [];
  const prefix = (i: number) => Buffer.from([i >> 8, i & 0xff]);
  const index = new Map(allProcedures().map((p) => [`${p.program}:${p.procedure}`, p]));
  for (const packet of hexFiles('test/libvirt/golden/packets')) {
    let p: ReturnType<typeof decodePacket>;
    try {
      p = decodePacket(packet);
    } catch {
      continue;
    }
    const info = index.get(`${p.program}:${p.procedure}`);
    const decode = info && (p.type === PacketType.MESSAGE ? info.decodeMsg : p.status === PacketStatus.OK ? info.decodeRet : null);
    const i = decode ? decoders.indexOf(decode) : -1;
    if (i >= 0) seeds.push(Buffer.concat([prefix(i), p.payload]));
  }
  decoders.forEach((_, i) => {
    seeds.push(Buffer.concat([prefix(i), Buffer.alloc(4 * (i % 9))]));
  });
  return {
    name: 'libvirt-xdr-replies',
    seeds,
    run: (input) =>
      typed(LibvirtError, () => {
        const i = ((input[0] ?? 0) << 8) | (input[1] ?? 0);
        const decode = decoders[i % decoders.length];
        decode?.(new XdrReader(input.subarray(2)));
      }),
  };
}

/** Every target by name, made fresh. */
export const targets: Record<string, () => Target> = {
  'dbus-message': dbusMessage,
  'dbus-auth-server': dbusAuthServer,
  'dbus-auth-client': dbusAuthClient,
  'libvirt-packet': libvirtPacket,
  'libvirt-xdr-replies': libvirtXdrReplies,
};
