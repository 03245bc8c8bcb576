// close() lets the calls in flight finish before it sends REMOTE_PROC_CONNECT_CLOSE and ends the
// socket: libvirtd 9.0 can crash when a client goes while one of its event registrations is still
// being checked by polkit (seen when a service was stopped right after it started). A call that
// never gets its reply holds close() back only for a bounded time.
import assert from 'node:assert/strict';
import { afterEach, it } from 'node:test';
import { LibvirtConnection } from '../../src/libvirt/connection.js';
import { LibvirtConnectionClosedError } from '../../src/libvirt/errors.js';
import type { Packet } from '../../src/libvirt/packet.js';
import { REMOTE_PROC_CONNECT_CLOSE, REMOTE_PROC_CONNECT_GET_HOSTNAME } from '../../src/libvirt/remote-protocol.gen.js';
import { type FakeDaemon, reply, startFakeDaemon, xdrString } from './fake-daemon.js';

let daemon: FakeDaemon | undefined;
afterEach(async () => {
  await daemon?.close();
  daemon = undefined;
});

const isClose = (p: Packet) => p.procedure === REMOTE_PROC_CONNECT_CLOSE;

it('close() waits for a call in flight, then closes: the call gets its answer', async () => {
  let closeBeforeReply = false;
  daemon = await startFakeDaemon((sock, p) => {
    if (p.procedure !== REMOTE_PROC_CONNECT_GET_HOSTNAME) return;
    // A slow answer (as a polkit check makes it); by then close() must not have been sent.
    setTimeout(() => {
      closeBeforeReply = (daemon?.received ?? []).some(isClose);
      sock.write(reply(p, xdrString('slow-host')));
    }, 300);
  });
  const conn = await LibvirtConnection.open(daemon.uri, { keepaliveInterval: 0 });
  const call = conn.connectGetHostname();
  await conn.close();
  assert.deepEqual(await call, { hostname: 'slow-host' });
  assert.equal(closeBeforeReply, false, 'REMOTE_PROC_CONNECT_CLOSE came after the reply');
  assert.ok(daemon.received.some(isClose), 'the connection was closed with REMOTE_PROC_CONNECT_CLOSE');
});

it('a call that is never answered holds close() back for a bounded time, then fails as closed', async () => {
  daemon = await startFakeDaemon(() => undefined); // answers nothing but the open sequence and close
  const conn = await LibvirtConnection.open(daemon.uri, { keepaliveInterval: 0 });
  const call = conn.connectGetHostname();
  const rejected = assert.rejects(call, LibvirtConnectionClosedError);
  const t0 = performance.now();
  await conn.close();
  const took = performance.now() - t0;
  await rejected;
  assert.ok(took < 10_000, `close() returned after ${took.toFixed(0)} ms`);
  assert.ok(daemon.received.some(isClose));
});
