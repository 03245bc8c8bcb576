// npm run fuzz -- [--count N] [--seed S] [--target NAME]... [--keep]
// Fuzzes the D-Bus message parser, both sides of D-Bus authentication, libvirt's packet framing and
// every generated XDR reply and event decoder; prints per target how many inputs were accepted,
// refused with the layer's typed error, and crashed. --keep writes each crash to
// test/fuzz-crashers/<target>/, where the test suite replays it on every run. Exits 1 on a crash.

import { keepCrasher, fuzz } from './run.js';
import { targets } from './targets.js';

function parse(argv: string[]): { count: number; seed: number; names: string[]; keep: boolean } {
  const o = { count: 10_000, seed: Date.now() >>> 0, names: [] as string[], keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--count') o.count = Number(argv[++i]);
    else if (a === '--seed') o.seed = Number(argv[++i]);
    else if (a === '--target') o.names.push(String(argv[++i]));
    else if (a === '--keep') o.keep = true;
    else throw new Error(`usage: fuzz [--count N] [--seed S] [--target ${Object.keys(targets).join('|')}]... [--keep] (got ${a})`);
  }
  if (!(o.count > 0)) throw new Error('--count wants a positive number');
  for (const n of o.names) if (!targets[n]) throw new Error(`no target ${n}; targets: ${Object.keys(targets).join(', ')}`);
  if (o.names.length === 0) o.names = Object.keys(targets);
  return o;
}

const { count, seed, names, keep } = parse(process.argv.slice(2));
console.log(`seed ${seed}, ${count} inputs per target`);
console.log(
  `${'target'.padEnd(22)}${'inputs'.padStart(10)}${'accepted'.padStart(10)}${'refused'.padStart(10)}${'crashes'.padStart(9)}${'inputs/s'.padStart(10)}`,
);
let crashed = false;
for (const name of names) {
  const target = (targets[name] as () => import('./targets.js').Target)();
  try {
    const r = await fuzz(target, count, seed, (input, error) => {
      const where = keep ? ` kept in ${keepCrasher(name, input, error)}` : '';
      console.log(`  crash in ${name}: ${error.split('\n')[0]}${where}`);
    });
    if (r.crashes.length > 0) crashed = true;
    console.log(
      `${name.padEnd(22)}${String(r.inputs).padStart(10)}${String(r.accepted).padStart(10)}${String(r.refused).padStart(10)}` +
        `${String(r.crashes.length).padStart(9)}${((r.inputs * 1000) / r.ms).toFixed(0).padStart(10)}`,
    );
  } finally {
    target.close?.();
  }
}
process.exit(crashed ? 1 : 0);
