// The fuzzers as CI runs them: a short deterministic pass of every target (kept crashers and seeds
// first), which must find no crash and must exercise both outcomes — inputs accepted and inputs
// refused with the typed error — so a target that stopped reaching its parser would show.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fuzz, keptCrashers } from '../../tools/fuzz/run.js';
import { targets } from '../../tools/fuzz/targets.js';

const COUNT: Record<string, number> = { 'dbus-auth-server': 1500, 'dbus-auth-client': 1500 };

for (const [name, make] of Object.entries(targets)) {
  test(`fuzz ${name}: kept crashers and a short pass, no crash`, async (t) => {
    const target = make();
    try {
      const kept = keptCrashers(name).length;
      const r = await fuzz(target, COUNT[name] ?? 20_000, 20261206);
      t.diagnostic(
        `${r.inputs} inputs (${kept} kept crashers): ${r.accepted} accepted, ${r.refused} refused, ${(r.ms / 1000).toFixed(1)} s`,
      );
      assert.deepEqual(
        r.crashes.map((c) => c.error.split('\n')[0]),
        [],
      );
      assert.ok(r.accepted > 0, 'some inputs are accepted');
      assert.ok(r.refused > 0, 'some inputs are refused with the typed error');
    } finally {
      target.close?.();
    }
  });
}
