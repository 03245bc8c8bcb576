#!/usr/bin/env node
import { spawnSync } from 'node:child_process';
// Runs the benchmarks (compiled to dist/bench/*.js): `npm run bench` runs them all, `npm run bench -- codec`
// only those whose name contains "codec". Each prints its own figures and ratios.
import { existsSync, readdirSync } from 'node:fs';

const dir = new URL('../dist/bench/', import.meta.url).pathname;
if (!existsSync(dir)) {
  console.error('dist/bench is missing: run `npm run build` first.');
  process.exit(1);
}
const filters = process.argv.slice(2);
const LONG = ['service-restart-soak.js'];
let status = 0;
// Helper modules (service-procs.js) are not benchmarks of their own.
for (const f of readdirSync(dir)
  .filter((f) => f.endsWith('.js') && !f.endsWith('-procs.js'))
  .sort()) {
  if (filters.length && !filters.some((x) => f.includes(x))) continue;
  // The restart soak takes ten minutes: only when asked for by name (`npm run bench -- restart-soak`).
  if (LONG.includes(f) && !filters.some((x) => f.includes(x))) continue;
  console.log(`\n=== ${f}`);
  const r = spawnSync(process.execPath, [dir + f], { stdio: 'inherit' });
  if (r.status !== 0) status = 1;
}
process.exit(status);
