// Batched writes leave once per turn of the event loop; by then the stream may have ended beneath
// the transport (the peer hung up and the socket ended its side). Found when a service exited 1 on
// SIGTERM: the late write threw 'write after end()' from a timer, uncaught.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Transport } from '../../src/dbus/transport.js';
import { isUnixFdSupported, UnixFdSocket } from '../../src/unix/index.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

test('a batch queued before the stream ended is dropped, not thrown from the event loop', async () => {
  assert.ok(isUnixFdSupported(), 'the native addon is built');
  const [ours, peer] = UnixFdSocket.pair();
  const received: Buffer[] = [];
  const first = new Promise<void>((resolve) => peer.once('data', () => resolve()));
  peer.on('data', (b: Buffer) => received.push(b));
  const transport = new Transport(ours, true);
  transport.write(Buffer.from('first'));
  await first;
  transport.write(Buffer.from('late'));
  ours.end(); // ended under the transport, with 'late' still in its batch
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  try {
    await turn();
    await turn();
  } finally {
    process.off('uncaughtException', onUncaught);
  }
  assert.deepEqual(uncaught, []);
  assert.equal(Buffer.concat(received).toString(), 'first');
  peer.destroy();
  transport.destroy();
});
