// The one way tests take the error of a call that must fail.
import assert from 'node:assert/strict';

/**
 * Resolves with the error `p` rejects with, checked to be a `type` (default: any Error); fails the
 * test if `p` resolves.
 */
export async function errorOf<E extends Error = Error>(p: Promise<unknown>, type?: abstract new (...args: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof (type ?? Error), `expected ${type?.name ?? 'an Error'}, got ${String(err)}`);
    return err as E;
  }
  assert.fail('the call succeeded');
}
