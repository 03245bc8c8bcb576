// UnixFdSocket over real sockets in this process: fd passing, takeover of net.Sockets, backpressure,
// end/close semantics, errors, and that no descriptor leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { UnixFdSocket, UnixSocketError, closeFd, dupFd } from '../../src/unix/index.js';
import { isCloseOnExec, makePipe, fdsOpenedSince, openFds, tempDir } from './helpers.js';

interface Received {
  data: Buffer;
  batches: { offset: number; length: number; fds: number[] }[];
}

/** Collects everything a socket receives, remembering at which byte offset each fd batch arrived. */
function collect(s: UnixFdSocket): Received & { ended: Promise<unknown> } {
  const chunks: Buffer[] = [];
  const r: Received = { data: Buffer.alloc(0), batches: [] };
  let offset = 0;
  s.on('data', (d, fds) => {
    chunks.push(d);
    if (fds.length > 0) r.batches.push({ offset, length: d.length, fds });
    offset += d.length;
  });
  const ended = once(s, 'end').then(() => {
    r.data = Buffer.concat(chunks);
  });
  return Object.assign(r, { ended });
}

function readAll(fd: number, max = 4096): string {
  const buf = Buffer.alloc(max);
  const n = readSync(fd, buf, 0, max, null);
  return buf.subarray(0, n).toString();
}

test('a pipe passed over a socketpair is readable through the received descriptor', async () => {
  const { dir, cleanup } = tempDir();
  const pipe = makePipe(dir);
  const [a, b] = UnixFdSocket.pair();
  try {
    const got = once(b, 'data') as Promise<[Buffer, number[]]>;
    assert.equal(a.write(Buffer.from('take this'), [pipe.readFd]), true);
    const [data, fds] = await got;
    assert.equal(data.toString(), 'take this');
    assert.equal(fds.length, 1);
    const received = fds[0]!;
    assert.notEqual(received, pipe.readFd);
    assert.equal(isCloseOnExec(received), true, 'received fds are close-on-exec (MSG_CMSG_CLOEXEC)');
    // Same pipe: what goes into the write end comes out of the received descriptor.
    writeSync(pipe.writeFd, 'through the pipe');
    assert.equal(readAll(received), 'through the pipe');
    assert.equal(fstatSync(received).isFIFO(), true);
    closeFd(received);
  } finally {
    a.destroy();
    b.destroy();
    pipe.close();
    cleanup();
  }
});

test('each batch of fds arrives with the chunk holding the first byte of its write, in order', async () => {
  const { dir, cleanup } = tempDir();
  const p1 = makePipe(dir, 'one');
  const p2 = makePipe(dir, 'two');
  const [a, b] = UnixFdSocket.pair();
  const r = collect(b);
  try {
    a.write(Buffer.alloc(10, 'a'), [p1.readFd]);
    a.write(Buffer.alloc(7, 'b'));
    a.write(Buffer.alloc(5, 'c'), [p2.readFd, p1.readFd]);
    a.end();
    await r.ended;
    assert.equal(r.data.toString(), 'a'.repeat(10) + 'b'.repeat(7) + 'c'.repeat(5));
    assert.equal(r.batches.length, 2);
    assert.equal(r.batches[0]!.offset, 0);
    assert.equal(r.batches[0]!.fds.length, 1);
    // The kernel may hand over bytes written before the fds in the same read, never bytes of a later write
    // before the fds: a batch comes with the chunk holding the first byte of its write.
    const second = r.batches[1]!;
    assert.ok(second.offset <= 17 && 17 < second.offset + second.length, `batch at ${second.offset}+${second.length}`);
    assert.equal(r.batches[1]!.fds.length, 2);
    // Check identity through the pipes: write to p2 and p1, read through the second batch in its order.
    writeSync(p2.writeFd, 'two');
    writeSync(p1.writeFd, 'one');
    assert.equal(readAll(r.batches[1]!.fds[0]!), 'two');
    assert.equal(readAll(r.batches[1]!.fds[1]!), 'one');
    for (const batch of r.batches) for (const fd of batch.fds) closeFd(fd);
  } finally {
    a.destroy();
    b.destroy();
    p1.close();
    p2.close();
    cleanup();
  }
});

test('net.Sockets taken over on both ends of a unix server pass fds and keep bytes already read', async () => {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'sock');
  const pipe = makePipe(dir);
  const server = net.createServer({ pauseOnConnect: true });
  server.listen(path);
  await once(server, 'listening');
  try {
    const accepted = once(server, 'connection') as Promise<[net.Socket]>;
    const client = await UnixFdSocket.connect(path);
    const [conn] = await accepted;
    // The client speaks before the server takes over: Node reads those bytes, from() must hand them on.
    client.write(Buffer.from('early '));
    conn.resume();
    await once(conn, 'readable');
    const serverSide = UnixFdSocket.from(conn);
    assert.equal(conn.destroyed, true);
    assert.equal(serverSide.getPeerCredentials().pid, process.pid);
    const closed = Promise.all([once(serverSide, 'close'), once(client, 'close')]);
    // Server to client first.
    const toClient = once(client, 'data') as Promise<[Buffer, number[]]>;
    serverSide.write(Buffer.from('hello'), [pipe.writeFd]);
    const [hello, [clientFd]] = await toClient;
    assert.equal(hello.toString(), 'hello');
    writeSync(clientFd!, 'via client ');
    closeFd(clientFd!);
    // Then client to server, after the early bytes.
    const r = collect(serverSide);
    client.write(Buffer.from('late'), [pipe.readFd]);
    client.end();
    await r.ended;
    assert.equal(r.data.toString(), 'early late');
    assert.equal(r.batches.length, 1);
    assert.ok(r.batches[0]!.offset <= 6 && 6 < r.batches[0]!.offset + r.batches[0]!.length);
    writeSync(pipe.writeFd, 'ok');
    assert.equal(readAll(r.batches[0]!.fds[0]!), 'via client ok');
    closeFd(r.batches[0]!.fds[0]!);
    await closed;
  } finally {
    server.close();
    pipe.close();
    cleanup();
  }
});

test('large writes respect backpressure and arrive intact, with fds on a partially written buffer', async () => {
  const { dir, cleanup } = tempDir();
  const pipe = makePipe(dir);
  const [a, b] = UnixFdSocket.pair({ highWaterMark: 256 * 1024 });
  const payload = randomBytes(8 * 1024 * 1024);
  const hash = createHash('sha256');
  let total = 0;
  const fdBatches: { offset: number; fds: number[] }[] = [];
  b.pause();
  b.on('data', (d, fds) => {
    if (fds.length > 0) fdBatches.push({ offset: total, fds });
    hash.update(d);
    total += d.length;
  });
  const ended = once(b, 'end');
  try {
    // One huge write carrying an fd: the kernel takes it in pieces, the fd must go with the first.
    const first = payload.subarray(0, 3 * 1024 * 1024);
    assert.equal(a.write(first, [pipe.readFd]), false, 'a 3 MiB write cannot complete at once');
    assert.ok(a.writableLength > 0);
    // Then 64 KiB chunks, waiting for 'drain' whenever write() says so.
    let falses = 0;
    let drains = 0;
    a.on('drain', () => drains++);
    const resumeOnce = () => b.resume();
    let resumed = false;
    for (let off = first.length; off < payload.length; off += 64 * 1024) {
      if (!a.write(payload.subarray(off, off + 64 * 1024))) {
        falses++;
        const drained = once(a, 'drain');
        if (!resumed) {
          resumed = true;
          resumeOnce();
        }
        await drained;
        assert.ok(a.writableLength < 256 * 1024);
      }
    }
    a.end();
    await ended;
    assert.equal(total, payload.length);
    assert.equal(hash.digest('hex'), createHash('sha256').update(payload).digest('hex'));
    assert.ok(falses > 0 && drains >= falses, `write() returned false ${falses} times, drain ${drains} times`);
    assert.equal(a.writableLength, 0);
    assert.equal(a.bytesWritten, payload.length);
    assert.equal(b.bytesRead, payload.length);
    assert.equal(fdBatches.length, 1);
    assert.equal(fdBatches[0]!.offset, 0);
    closeFd(fdBatches[0]!.fds[0]!);
  } finally {
    a.destroy();
    b.destroy();
    pipe.close();
    cleanup();
  }
});

test('end() shuts down sending only with allowHalfOpen; otherwise both sides close', async () => {
  const [a, b] = UnixFdSocket.pair({ allowHalfOpen: true });
  const fromB = collect(a);
  const fromA = collect(b);
  const closedAB = Promise.all([once(a, 'close'), once(b, 'close')]);
  a.end(Buffer.from('bye'));
  await once(a, 'finish');
  await fromA.ended;
  assert.equal(fromA.data.toString(), 'bye');
  assert.equal(b.destroyed, false, 'half open: b may still answer');
  b.write(Buffer.from('still here'));
  b.end();
  await fromB.ended;
  assert.equal(fromB.data.toString(), 'still here');
  const [[aErr], [bErr]] = await closedAB;
  assert.equal(aErr, false);
  assert.equal(bErr, false);
  assert.equal(a.fd, -1);

  const [c, d] = UnixFdSocket.pair();
  d.on('data', () => {});
  c.on('data', () => {});
  const closed = Promise.all([once(c, 'close'), once(d, 'close')]);
  c.end();
  await closed; // d follows c's end by ending itself, which closes c too
  assert.equal(c.destroyed && d.destroyed, true);
  assert.throws(
    () => c.write(Buffer.from('x')),
    (e: unknown) => e instanceof UnixSocketError && e.code === 'EPIPE',
  );
});

test('writing to a vanished peer reports EPIPE and closes with hadError', async () => {
  const [a, b] = UnixFdSocket.pair();
  b.destroy();
  const errored = once(a, 'error') as Promise<[UnixSocketError]>;
  const closed = new Promise((resolve) => a.once('close', (...args) => resolve(args)));
  a.write(Buffer.from('anyone?'));
  const [err] = await errored;
  assert.ok(err instanceof UnixSocketError);
  assert.ok(err.code === 'EPIPE' || err.code === 'ECONNRESET', err.code);
  assert.deepEqual(await closed, [true]);
  assert.equal(a.write(Buffer.from('ignored')), false);
});

test('a write with a closed fd throws EBADF and leaves the socket usable', async () => {
  const [a, b] = UnixFdSocket.pair();
  const r = collect(b);
  const fd = dupFd(1);
  closeFd(fd);
  assert.throws(
    () => a.write(Buffer.from('x'), [fd]),
    (e: unknown) => e instanceof UnixSocketError && e.code === 'EBADF',
  );
  assert.throws(() => a.write(Buffer.alloc(0), [1]), RangeError);
  a.end(Buffer.from('fine'));
  await r.ended;
  assert.equal(r.data.toString(), 'fine');
  assert.deepEqual(r.batches, []);
});

test('no descriptor leaks: sent, received, queued and dropped fds are all closed', async () => {
  const before = openFds();
  const file = openSync('/dev/null', 'r');
  for (let round = 0; round < 20; round++) {
    const [a, b] = UnixFdSocket.pair({ highWaterMark: 1024 });
    const got = once(b, 'data') as Promise<[Buffer, number[]]>;
    a.write(Buffer.from('fds'), [file, file, file]);
    const [, fds] = await got;
    assert.equal(fds.length, 3);
    for (const fd of fds) closeFd(fd);
    // Fill the socket until writes queue (with duplicated fds), then destroy with the queue full.
    b.pause();
    const chunk = Buffer.alloc(256 * 1024);
    while (a.writableLength === 0) a.write(chunk);
    a.write(Buffer.from('queued'), [file, file]);
    a.destroy();
    b.destroy();
    await Promise.all([once(a, 'close'), once(b, 'close')]);
  }
  // Received fds nobody listens for are closed too.
  const [a, b] = UnixFdSocket.pair();
  const closed = Promise.all([once(a, 'close'), once(b, 'close')]);
  b.on('data', () => {});
  b.removeAllListeners('data');
  b.resume();
  a.on('data', () => {});
  a.end(Buffer.from('x'), [file]);
  await closed;
  closeSync(file);
  assert.deepEqual(fdsOpenedSince(before), []);
});

test('pause() stops reading until resume()', async () => {
  const [a, b] = UnixFdSocket.pair();
  let seen = '';
  b.on('data', (d) => {
    seen += d.toString();
  });
  b.pause();
  a.write(Buffer.from('held'));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(seen, '');
  b.resume();
  await once(b, 'data');
  assert.equal(seen, 'held');
  a.destroy();
  b.destroy();
});

test('an exception thrown by a data listener is an uncaught exception, as with net.Socket', async () => {
  const index = new URL('../../src/unix/index.js', import.meta.url).href;
  const child = `
    const { UnixFdSocket } = await import(${JSON.stringify(index)});
    process.on('uncaughtException', (e) => { console.log('uncaught: ' + e.message); process.exit(0); });
    const [a, b] = UnixFdSocket.pair();
    b.on('data', () => { throw new Error('boom'); });
    a.write(Buffer.from('x'));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', child]);
  assert.equal(stdout.trim(), 'uncaught: boom');
});

test('only UNIX stream sockets can be taken over', async () => {
  const before = openFds();
  const file = openSync('/dev/null', 'r');
  assert.throws(
    () => new UnixFdSocket(file),
    (e: unknown) => e instanceof UnixSocketError && e.code === 'ENOTSOCK',
  );
  closeSync(file);
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const tcp = net.createConnection((server.address() as net.AddressInfo).port, '127.0.0.1');
  assert.throws(
    () => UnixFdSocket.from(tcp),
    (e: unknown) => e instanceof UnixSocketError && e.code === 'ENOTCONN',
  );
  await once(tcp, 'connect');
  const [other] = await accepted;
  assert.throws(
    () => UnixFdSocket.from(tcp),
    (e: unknown) => e instanceof UnixSocketError && e.code === 'EAFNOSUPPORT',
  );
  assert.equal(tcp.destroyed, false, 'a refused socket stays with its owner');
  tcp.destroy();
  other.destroy();
  server.close();
  await once(server, 'close');
  assert.deepEqual(fdsOpenedSince(before), []);
});
