// fd passing with another implementation as the peer: python3's socket.send_fds / socket.recv_fds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readSync, writeSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { UnixFdSocket, closeFd } from '../../src/unix/index.js';
import { makePipe, fdsOpenedSince, openFds, tempDir } from './helpers.js';

const PEER = String.raw`
import os, socket, stat, sys
path, mode = sys.argv[1], sys.argv[2]
if mode == 'serve-receive':
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    print('ready', flush=True)
    s, _ = srv.accept()
else:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)

def recv_line():
    data, fds = b'', []
    while not data.endswith(b'\n'):
        msg, got, flags, _ = socket.recv_fds(s, 4096, 16)
        if not msg:
            sys.exit('unexpected end of stream')
        if flags & socket.MSG_CTRUNC:
            sys.exit('control data truncated')
        data += msg
        fds += got
    return data[:-1].decode(), fds

if mode == 'serve-receive':
    # Read through every received descriptor and answer with what was found there.
    line, fds = recv_line()
    found = []
    for fd in fds:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            sys.exit('received fd is not a pipe')
        found.append(os.read(fd, 100).decode())
        os.close(fd)
    s.sendall(('%s|%s\n' % (line, '|'.join(found))).encode())
    s.recv(1)
elif mode == 'send':
    # Two messages: one pipe, then three, each pipe holding its own name.
    for i, count in enumerate([1, 3]):
        fds = []
        for j in range(count):
            r, w = os.pipe()
            os.write(w, ('pipe %d.%d' % (i, j)).encode())
            os.close(w)
            fds.append(r)
        socket.send_fds(s, [('msg %d\n' % i).encode()], fds)
        for fd in fds:
            os.close(fd)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
s.close()
`;

function startPeer(path: string, mode: 'serve-receive' | 'send'): { child: ChildProcess; done: Promise<void> } {
  const child = spawn('python3', ['-c', PEER, path, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const done = once(child, 'exit').then(([code]) => {
    assert.equal(code, 0, `python peer failed: ${stderr}`);
  });
  return { child, done };
}

test('node sends pipes to a python server, which reads through them', async () => {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'py.sock');
  const p1 = makePipe(dir, 'one');
  const p2 = makePipe(dir, 'two');
  const peer = startPeer(path, 'serve-receive');
  try {
    await once(peer.child.stdout!, 'data'); // "ready"
    const before = openFds();
    const s = await UnixFdSocket.connect(path);
    const answer = once(s, 'data') as Promise<[Buffer, number[]]>;
    writeSync(p1.writeFd, 'first pipe');
    writeSync(p2.writeFd, 'second pipe');
    s.write(Buffer.from('hello python'));
    s.write(Buffer.from(' with fds\n'), [p2.readFd, p1.readFd]);
    const [data, fds] = await answer;
    assert.equal(data.toString(), 'hello python with fds|second pipe|first pipe\n');
    assert.deepEqual(fds, []);
    const closed = once(s, 'close');
    s.end();
    await closed;
    assert.deepEqual(fdsOpenedSince(before), []);
    await peer.done;
  } finally {
    peer.child.kill();
    p1.close();
    p2.close();
    cleanup();
  }
});

test('python sends pipes to a node server, which reads through them', async () => {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'node.sock');
  const server = net.createServer({ pauseOnConnect: true });
  server.listen(path);
  await once(server, 'listening');
  const peer = startPeer(path, 'send');
  try {
    const [conn] = (await once(server, 'connection')) as [net.Socket];
    const s = UnixFdSocket.from(conn);
    assert.equal(s.getPeerCredentials().pid, peer.child.pid);
    let text = '';
    const received: { at: number; fds: number[] }[] = [];
    s.on('data', (d, fds) => {
      if (fds.length > 0) received.push({ at: text.length, fds });
      text += d.toString();
    });
    const closed = once(s, 'close');
    await once(s, 'end');
    assert.equal(text, 'msg 0\nmsg 1\n');
    assert.deepEqual(
      received.map((r) => r.fds.length),
      [1, 3],
    );
    const contents = received.flatMap((r) =>
      r.fds.map((fd) => {
        const buf = Buffer.alloc(100);
        const n = readSync(fd, buf, 0, buf.length, null);
        closeFd(fd);
        return buf.subarray(0, n).toString();
      }),
    );
    assert.deepEqual(contents, ['pipe 0.0', 'pipe 1.0', 'pipe 1.1', 'pipe 1.2']);
    await closed; // our end after the peer's end closes the socket; python's recv(1) then returns
    await peer.done;
  } finally {
    peer.child.kill();
    server.close();
    cleanup();
  }
});
