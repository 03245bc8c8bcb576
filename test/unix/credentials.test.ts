// Peer credentials (SO_PEERCRED) of real UNIX sockets: in-process, from another process, and the typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { UnixFdSocket, UnixSocketError, getPeerCredentials, isUnixFdSupported, unixSupportError } from '../../src/unix/index.js';
import { tempDir } from './helpers.js';

const self = { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() };

test('the native addon is built and loads', () => {
  assert.equal(unixSupportError(), undefined);
  assert.equal(isUnixFdSupported(), true);
});

test('both ends of an in-process unix socket see this process as peer', async () => {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'sock');
  const server = net.createServer();
  server.listen(path);
  await once(server, 'listening');
  try {
    const accepted = once(server, 'connection');
    const client = net.createConnection(path);
    await once(client, 'connect');
    const [serverSide] = (await accepted) as [net.Socket];
    assert.deepEqual(getPeerCredentials(serverSide), self);
    assert.deepEqual(getPeerCredentials(client), self);
    client.destroy();
    serverSide.destroy();
  } finally {
    server.close();
    cleanup();
  }
});

test('a socketpair reports this process, through the socket object too', () => {
  const [a, b] = UnixFdSocket.pair();
  try {
    assert.deepEqual(a.getPeerCredentials(), self);
    assert.deepEqual(getPeerCredentials(b.fd), self);
  } finally {
    a.destroy();
    b.destroy();
  }
});

test('the peer is another process: its pid, our uid and gid', async () => {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'sock');
  const server = net.createServer();
  server.listen(path);
  await once(server, 'listening');
  try {
    const accepted = once(server, 'connection');
    const script = 'import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\ns.recv(1)\n';
    const child = spawn('python3', ['-c', script, path], { stdio: 'ignore' });
    const exited = once(child, 'exit');
    const [conn] = (await accepted) as [net.Socket];
    const cred = getPeerCredentials(conn);
    assert.deepEqual(cred, { pid: child.pid, uid: self.uid, gid: self.gid });
    conn.end('x');
    await exited;
    conn.destroy();
  } finally {
    server.close();
    cleanup();
  }
});

test('sockets without unix peers give a typed UnixSocketError', async () => {
  // A TCP socket: SO_PEERCRED is meaningless there.
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const accepted = once(server, 'connection');
  const tcp = net.createConnection(port, '127.0.0.1');
  await once(tcp, 'connect');
  const [tcpServerSide] = (await accepted) as [net.Socket];
  try {
    assert.throws(
      () => getPeerCredentials(tcp),
      (e: unknown) => e instanceof UnixSocketError && e.code === 'EAFNOSUPPORT',
    );
  } finally {
    tcp.destroy();
    tcpServerSide.destroy();
    server.close();
  }
  // A destroyed net.Socket has no descriptor left.
  assert.throws(
    () => getPeerCredentials(tcp),
    (e: unknown) => e instanceof UnixSocketError && e.code === 'EBADF',
  );
  // A descriptor that is not a socket.
  const fd = openSync('/dev/null', 'r');
  try {
    assert.throws(
      () => getPeerCredentials(fd),
      (e: unknown) => e instanceof UnixSocketError && e.code === 'ENOTSOCK',
    );
  } finally {
    closeSync(fd);
  }
});
