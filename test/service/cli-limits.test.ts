// The --listen limits against the running service with real peers: raw sockets that never
// authenticate or never read, gdbus, and our own client. Each limit is lowered on the command line
// so it is reached quickly; every other peer must go on being served.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseArgs, UsageError } from '../../src/cli.js';
import { OrgLibvirt } from '../../src/client/index.js';
import { DBusConnection, DBusError, encodeMessage, MessageType } from '../../src/dbus/index.js';
import { runOk } from '../helpers/run.js';
import { IFACE, type RunningService, startService } from './fixture.js';

const LIMITS_EXCEEDED = 'org.freedesktop.DBus.Error.LimitsExceeded';
const MINE = '/org/libvirt/Mine';
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'libvirt-dbus-limits-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('--max-… options set the --listen server limits; bad values are usage errors', () => {
  const o = parseArgs(
    [
      '--listen',
      'unix:tmpdir=/tmp',
      '--max-auth-time=500',
      '--max-connections',
      '7',
      '--max-incomplete-connections=3',
      '--max-pending-calls',
      '9',
      '--max-outgoing-bytes=65536',
    ],
    false,
  );
  assert.deepEqual(o.limits, {
    authTimeout: 500,
    maxConnections: 7,
    maxIncompleteConnections: 3,
    maxPendingCalls: 9,
    maxWriteQueue: 65536,
  });
  assert.deepEqual(parseArgs([], false).limits, {});
  for (const bad of [
    ['--max-connections', '0'],
    ['--max-pending-calls=-1'],
    ['--max-auth-time', 'soon'],
    ['--max-outgoing-bytes'],
    ['--max-other=1'],
  ]) {
    assert.throws(() => parseArgs(bad, false), UsageError, bad.join(' '));
  }
});

/** Starts the service serving /org/libvirt/Mine (and `extra` args) on a socket of its own; resolves with it and its address. */
async function listening(name: string, extra: string[]): Promise<{ svc: RunningService; address: string; path: string }> {
  const path = join(dir, `${name}.sock`);
  const svc = await startService(
    undefined,
    ['--listen', `unix:path=${path}`, '--no-default-connects', '--connect', 'Mine=test:///default', ...extra],
    false,
  );
  return { svc, address: await svc.stdoutLine(), path };
}

/** Resolves with the time at which `socket` closed; rejects after `ms`. */
function closedWithin(socket: net.Socket, ms: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now());
    });
  });
}

/** A raw socket to `path` that says nothing. */
function silentSocket(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(path, () => resolve(s));
    s.once('error', reject);
    s.on('error', () => {}); // a reset by the server is what some tests wait for
  });
}

/** A raw socket authenticated with EXTERNAL and past BEGIN, ready for D-Bus messages. */
async function rawPeer(path: string): Promise<net.Socket> {
  const s = await silentSocket(path);
  const uid = Buffer.from(String(process.getuid?.() ?? 0)).toString('hex');
  s.write(`\0AUTH EXTERNAL ${uid}\r\n`);
  await new Promise<void>((resolve, reject) => {
    let got = '';
    const onData = (b: Buffer) => {
      got += b.toString('latin1');
      if (!got.includes('\r\n')) return;
      s.off('data', onData);
      if (got.startsWith('OK ')) resolve();
      else reject(new Error(`authentication refused: ${got}`));
    };
    s.on('data', onData);
  });
  s.write('BEGIN\r\n');
  return s;
}

function introspectCall(serial: number): Buffer {
  return encodeMessage({
    type: MessageType.MethodCall,
    flags: 0,
    serial,
    path: MINE,
    interface: 'org.freedesktop.DBus.Introspectable',
    member: 'Introspect',
    destination: 'org.libvirt',
    signature: '',
    body: [],
  });
}

/**
 * Introspects `path` peer to peer. Raw on purpose: Introspect is answered without libvirt (Mine's
 * test:///default has no daemon here), and the typed client covers org.libvirt's interfaces only.
 */
async function introspect(conn: DBusConnection, path = MINE): Promise<string> {
  const [xml] = (await conn.call({ path, interface: 'org.freedesktop.DBus.Introspectable', member: 'Introspect' })) as [string];
  return xml;
}

test('--max-auth-time and --max-incomplete-connections: idle sockets are dropped (oldest first, then on the timeout) while gdbus is served', async () => {
  const { svc, address, path } = await listening('auth', ['--max-auth-time', '1500', '--max-incomplete-connections', '4']);
  try {
    const sockets: net.Socket[] = [];
    const closes: Array<Promise<number>> = [];
    const opened: number[] = [];
    for (let i = 0; i < 10; i++) {
      const s = await silentSocket(path);
      opened.push(Date.now());
      sockets.push(s);
      closes.push(closedWithin(s, 20_000));
    }
    // Ten idle sockets and a limit of four: the six oldest make room long before the timeout.
    const early = await Promise.all(closes.slice(0, 6));
    for (let i = 0; i < 6; i++) assert.ok(early[i]! - opened[i]! < 1400, `socket ${i} was kept ${early[i]! - opened[i]!} ms`);
    // A real client authenticates and is answered while the others sit there.
    const out = await runOk('gdbus', [
      'call',
      '--address',
      address,
      '--dest',
      'org.libvirt',
      '--object-path',
      MINE,
      '--method',
      'org.freedesktop.DBus.Introspectable.Introspect',
    ]);
    assert.match(out, new RegExp(IFACE.Connect.replace(/\./g, '\\.')));
    // The rest go when their time is up, not before (gdbus may have pushed out one more of them).
    const late = await Promise.all(closes.slice(6));
    const keptFullTime = late.filter((t, i) => t - opened[6 + i]! >= 1400).length;
    assert.ok(keptFullTime >= 3, `only ${keptFullTime} of the last 4 sockets lived out the auth timeout`);
    for (const t of late) assert.ok(t - opened[0]! < 15_000);
    for (const s of sockets) s.destroy();
  } finally {
    assert.equal(await svc.stop(), 0);
  }
});

test('--max-connections: a peer beyond the maximum is refused, the others keep working, a freed place is taken', async () => {
  const { svc, address } = await listening('conns', ['--max-connections', '2']);
  const conns: DBusConnection[] = [];
  try {
    conns.push(await DBusConnection.connect(address), await DBusConnection.connect(address));
    // Answered, so the server has counted both.
    for (const c of conns) assert.match(await introspect(c), /org\.libvirt\.Connect/);
    // The third is turned away: at once, or (when its authentication overlapped) right after it.
    const third = await DBusConnection.connect(address, { timeout: 10_000 }).catch(() => undefined);
    if (third) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the connection beyond the maximum stayed open')), 10_000);
        if (third.closed) resolve();
        third.once('closed', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      await assert.rejects(introspect(third));
    }
    for (const c of conns) assert.match(await introspect(c), /org\.libvirt\.Connect/);
    conns.shift()?.close();
    // The server hears of the close asynchronously: retry until the place is free (with a deadline).
    const deadline = Date.now() + 10_000;
    let next: DBusConnection | undefined;
    while (!next) {
      next = await DBusConnection.connect(address, { timeout: 10_000 }).catch(() => undefined);
      // A connection refused after authenticating closes at once; it has not taken the place.
      if (next) {
        const answered = await introspect(next).then(
          () => true,
          () => false,
        );
        if (!answered) next = undefined;
      }
      if (!next) {
        assert.ok(Date.now() < deadline, 'the freed place was never given to a new peer');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    conns.push(next);
    for (const c of conns) assert.match(await introspect(c), /org\.libvirt\.Connect/);
  } finally {
    for (const c of conns) c.close();
    assert.equal(await svc.stop(), 0);
  }
});

test('--max-outgoing-bytes: a peer that sends calls and never reads is dropped; a well-behaved peer never sees a failure', async () => {
  const { svc, address, path } = await listening('greedy', ['--max-outgoing-bytes', '1048576', '--max-pending-calls', '100000']);
  const good = await DBusConnection.connect(address);
  try {
    const replySize = Buffer.byteLength(await introspect(good));
    const greedy = await rawPeer(path);
    greedy.pause(); // never reads: the replies pile up in the service
    const ended = closedWithin(greedy, 60_000);
    const calls = 3000;
    const batch: Buffer[] = [];
    for (let i = 1; i <= calls; i++) batch.push(introspectCall(i));
    greedy.write(Buffer.concat(batch));
    // The good peer keeps calling all along; every one of its calls must succeed.
    let ok = 0;
    for (let round = 0; round < 20; round++) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => introspect(good)));
      for (const a of answers) assert.match(a, /org\.libvirt\.Connect/);
      ok += answers.length;
    }
    assert.equal(ok, 200);
    // Now read what the greedy peer was sent: the stream must end well short of all replies.
    let received = 0;
    greedy.on('data', (b: Buffer) => {
      received += b.length;
    });
    greedy.resume();
    await ended;
    assert.ok(received < calls * replySize, `received ${received} bytes: all ${calls} replies were sent`);
    assert.match(await introspect(good), /org\.libvirt\.Connect/);
    assert.equal(svc.child.exitCode, null);
  } finally {
    good.close();
    assert.equal(await svc.stop(), 0);
  }
});

test('--max-pending-calls: calls beyond the maximum get LimitsExceeded, the peer stays and is served once its calls are answered', async () => {
  // A "daemon" that accepts and never answers keeps the service's libvirt calls pending.
  const silent: net.Socket[] = [];
  const daemonPath = join(dir, 'silent-libvirt-sock');
  const daemon = net.createServer((s) => {
    silent.push(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => daemon.listen(daemonPath, resolve));
  const { svc, address } = await listening('pending', [
    '--max-pending-calls',
    '3',
    '--connect',
    `Slow=test+unix:///default?socket=${daemonPath}`,
  ]);
  const conn = await DBusConnection.connect(address);
  try {
    // The typed client peer to peer: no destination.
    const slowConnect = OrgLibvirt.on(conn, 'Slow', undefined);
    const slow = () => slowConnect.listDomains(0);
    const held = [slow(), slow(), slow()];
    for (const p of held) p.catch(() => {});
    for (const refused of [slow(), conn.call({ path: MINE, interface: 'org.freedesktop.DBus.Introspectable', member: 'Introspect' })]) {
      await assert.rejects(refused, (e: unknown) => e instanceof DBusError && e.errorName === LIMITS_EXCEEDED);
    }
    assert.equal(conn.closed, false);
    // The daemon goes away: the held calls are answered (with libvirt's error) and the places free up.
    daemon.close();
    for (const s of silent) s.destroy();
    for (const p of held) {
      await assert.rejects(p, (e: unknown) => e instanceof DBusError && e.errorName === 'org.libvirt.Error');
    }
    assert.match(await introspect(conn), /org\.libvirt\.Connect/);
  } finally {
    conn.close();
    daemon.close();
    assert.equal(await svc.stop(), 0);
  }
});
