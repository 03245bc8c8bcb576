// Latency at one call in flight, each service alone: service-calls.ts alternates the two services in
// slices, which is fair for throughput but charges the first calls of each slice with waking a
// service that idled through the other's slice. Here each service answers its calls one after the
// other, after a warm-up, with nothing else running: p50, p90, p99 and p99.9, and the ratios.
//
// Run: npx tsc -p tsconfig.json && node dist/bench/service-latency.js [calls] [--domains 100,1000]
import type { DBusConnection } from '../src/dbus/index.js';
import { startLibvirtd } from '../tools/sandbox/libvirtd.js';
import { DEST, defineInactiveDomains, listDomains, type ServiceUnderTest, startOurs, startReference } from './service-procs.js';

type Call = (c: DBusConnection, domain: string) => Promise<unknown>;

const CASES: [string, Call][] = [
  ['ListDomains(0)', (c) => listDomains(c)],
  [
    'GetXMLDesc(0)',
    (c, domain) =>
      c.call({ destination: DEST, path: domain, interface: 'org.libvirt.Domain', member: 'GetXMLDesc', signature: 'u', body: [0] }),
  ],
];
const QUANTILES = [0.5, 0.9, 0.99, 0.999];

/** Sorted latencies in ms of `calls` sequential calls after `calls / 4` unmeasured ones. */
async function measure(s: ServiceUnderTest, call: Call, calls: number): Promise<number[]> {
  const [domain] = (await listDomains(s.client)).sort();
  if (!domain) throw new Error('no domain defined');
  for (let i = 0; i < calls / 4; i++) await call(s.client, domain);
  const out: number[] = [];
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    await call(s.client, domain);
    out.push(performance.now() - start);
  }
  return out.sort((a, b) => a - b);
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = args.indexOf('--domains');
  const domainCounts = at >= 0 ? (args[at + 1] ?? '').split(',').map(Number) : [100, 1000];
  const calls = Number(args.find((a, i) => Number(a) > 0 && args[i - 1] !== '--domains') ?? 2000);
  const lvd = await startLibvirtd();
  try {
    let defined = 0;
    console.log(`latency in ms at 1 call in flight, each service alone; ${calls} calls (1,000 domains: a quarter) after a warm-up`);
    for (const count of domainCounts.sort((a, b) => a - b)) {
      await defineInactiveDomains(lvd, `lat${defined}`, count - defined);
      defined = count;
      console.log(`\n${count} domains`);
      console.log(`${'call'.padEnd(16)}${QUANTILES.map((q) => `p${q * 100} ours/ref`.padStart(20)).join('')}`);
      for (const [name, call] of CASES) {
        const n = count >= 1000 && name.startsWith('ListDomains') ? Math.ceil(calls / 4) : calls;
        const sorted: number[][] = [];
        for (const start of [startOurs, startReference]) {
          const s = await start(lvd);
          try {
            sorted.push(await measure(s, call, n));
          } finally {
            await s.stop();
          }
        }
        const [o, r] = sorted as [number[], number[]];
        const cells = QUANTILES.map((q) => {
          const a = quantile(o, q);
          const b = quantile(r, q);
          return `${a.toFixed(2)}/${b.toFixed(2)} ${(a / b).toFixed(2)}x`.padStart(20);
        });
        console.log(`${name.padEnd(16)}${cells.join('')}`);
      }
    }
  } finally {
    await lvd.stop();
  }
}

await main();
