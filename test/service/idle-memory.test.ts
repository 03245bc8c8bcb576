// The idle memory reducer: it reduces only after an idle interval and only when memory grew; and,
// with the real collection and malloc_trim in a node run with the service's own flags, a burst's
// garbage really goes back to the OS.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { IdleMemoryReducer } from '../../src/service/idle-memory.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

/** A reducer whose collection, trim and resident size are counted and set by the test. */
function counted(): { reducer: IdleMemoryReducer; calls: string[]; setSize(bytes: number): void; setBusy(u: number): void } {
  let size = 100 * MiB;
  let busy = 0;
  const calls: string[] = [];
  const reducer = new IdleMemoryReducer({
    intervalMs: 60_000, // the test calls check() itself
    utilization: () => busy,
    collect: () => calls.push('collect'),
    trim: () => {
      calls.push('trim');
      size = 60 * MiB;
      return true;
    },
    residentSize: () => size,
    onReduced: (before, after) => calls.push(`reduced ${before / MiB} -> ${after / MiB}`),
  });
  return { reducer, calls, setSize: (bytes) => (size = bytes), setBusy: (u) => (busy = u) };
}

test('after growth and an idle interval: one collection, one trim, then nothing until it grows again', (t) => {
  const { reducer, calls, setSize } = counted();
  t.after(() => reducer.stop());
  setSize(110 * MiB);
  reducer.check();
  assert.deepEqual(calls, ['collect']);
  reducer.check(); // the trim, and the size after it, a look later
  assert.deepEqual(calls, ['collect', 'trim', 'reduced 110 -> 60']);
  reducer.check();
  assert.equal(reducer.reductions, 1, 'no growth since: no second reduction');
  setSize(70 * MiB);
  reducer.check();
  assert.equal(reducer.reductions, 2);
});

test('a busy interval does not reduce, however much memory grew', (t) => {
  const { reducer, calls, setSize, setBusy } = counted();
  t.after(() => reducer.stop());
  setSize(500 * MiB);
  setBusy(0.5);
  reducer.check();
  setBusy(0.03); // a little over the default threshold of 2%
  reducer.check();
  assert.deepEqual(calls, []);
  setBusy(0.01);
  reducer.check();
  assert.deepEqual(calls, ['collect'], 'the first idle interval does');
});

test('growth under the threshold does not reduce', (t) => {
  const { reducer, calls, setSize } = counted();
  t.after(() => reducer.stop());
  setSize(102 * MiB);
  reducer.check();
  assert.deepEqual(calls, []);
});

// A child node with bin/libvirt-dbus's flags drops 48 MiB of 64 KiB Buffers that survived into
// V8's old generation (as the replies of calls in flight do under load), then waits for the
// reducer with its real collection, malloc_trim and resident size.
const CHILD = `
const { IdleMemoryReducer } = await import(${JSON.stringify(new URL('../../src/service/idle-memory.js', import.meta.url).href)});
let resolveReduced;
const reduced = new Promise((resolve) => (resolveReduced = resolve));
// Built first: the resident size it starts from is before the burst.
const r = new IdleMemoryReducer({ intervalMs: 100, onReduced: (before, after) => { console.log(JSON.stringify({ before, after })); r.stop(); resolveReduced(); } });
let held = [];
for (let i = 0; i < 768; i++) held.push(Buffer.alloc(64 * 1024, i));
for (let i = 0; i < 4; i++) { const junk = []; for (let j = 0; j < 20000; j++) junk.push({ j }); } // promote them
held = null;
const timeout = setTimeout(() => { console.log('{"timeout":true}'); process.exit(1); }, 10000);
await reduced;
clearTimeout(timeout);
`;

test('real collection and malloc_trim give a burst of dead Buffers back to the OS', async () => {
  const line = /^node_flags='([^']*)'$/m.exec(readFileSync(new URL('../../../bin/libvirt-dbus', import.meta.url), 'utf8'));
  const flags = (line?.[1] ?? '').split(/\s+/).filter(Boolean);
  assert.ok(flags.includes('--expose-gc'), 'the service runs with gc exposed');
  const { stdout } = await run(process.execPath, [...flags, '--input-type=module', '-e', CHILD]);
  const out = JSON.parse(stdout) as { before: number; after: number };
  assert.ok(out.before - out.after > 32 * MiB, `resident size ${out.before / MiB} MiB -> ${out.after / MiB} MiB`);
});
