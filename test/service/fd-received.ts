// What the console and channel tests read from a descriptor the service hands out (OpenConsole,
// OpenChannel), and how they open a device again once the service has let go of it.
import assert from 'node:assert/strict';
import { DBusError } from '../../src/dbus/index.js';
import type { UnixFdSocket } from '../../src/unix/index.js';
import { echoed } from './echo-guest.js';

/** Everything a socket received (as latin1 text: one character a byte), and a way to wait for more (or its end) with a deadline. */
export class Received {
  text = '';
  ended = false;
  private wake: (() => void) | undefined;

  constructor(
    readonly sock: UnixFdSocket,
    private readonly defaultMs: number,
  ) {
    sock.on('data', (d) => {
      this.text += d.toString('latin1');
      this.wake?.();
    });
    sock.on('end', () => {
      this.ended = true;
      this.wake?.();
    });
    sock.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
    sock.on('error', () => undefined);
  }

  /** Waits until `done()` holds, failing with what arrived once `ms` have passed. */
  async until(what: string, done: () => boolean, ms = this.defaultMs): Promise<void> {
    const deadline = Date.now() + ms;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        const tail = JSON.stringify(this.text.slice(-80));
        throw new Error(`waited for ${what}; received ${this.text.length} bytes ending in ${tail}, ended: ${this.ended}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}

/**
 * Runs `openIt` until it succeeds: the service ends libvirt's stream when it sees the descriptor
 * closed, which happens after the test's close returned, so the first attempts may still find the
 * device busy ("Active console/channel stream exists"). Fails if that is still so after `ms`.
 */
export async function whenFree<T>(openIt: () => Promise<T>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await openIt();
    } catch (err) {
      if (!(err instanceof DBusError) || !/[Aa]ctive .* exists/.test(err.message) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Writes `text` to the descriptor and waits for the guest's answer: every byte plus one (both test
 * guests, the boot sector of echo-guest.ts and the Linux guest's channel echo, answer so), failing
 * at the first byte that differs.
 */
export async function roundTrip(r: Received, text: string): Promise<void> {
  const from = r.text.length;
  const want = echoed(text);
  r.sock.write(Buffer.from(text, 'latin1'));
  const what = `the guest's answer to ${text.length} bytes (${JSON.stringify(text.slice(0, 40))}…)`;
  await r.until(what, () => r.text.length - from >= want.length);
  const got = r.text.slice(from);
  if (got !== want) {
    let i = 0;
    while (got[i] === want[i]) i++;
    assert.fail(
      `the answer differs at byte ${i}: ${JSON.stringify(got.slice(i, i + 20))} instead of ${JSON.stringify(want.slice(i, i + 20))}`,
    );
  }
}
