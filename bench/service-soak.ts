// Memory under a long mixed load: our service and the C reference each answer the same stream of
// calls on /org/libvirt/QEMU — ListDomains, GetAll, GetXMLDesc, and calls that fail (an unknown
// domain path, a bad signature, a libvirt error) — with 16 in flight, while the resident set size
// (VmRSS) of each process is sampled. A leak shows as RSS that keeps rising after the warm-up; the
// figures are printed, not judged.
//
// Run: npx tsc -p tsconfig.json && node dist/bench/service-soak.js [calls-per-round] [rounds] [node flags for ours...]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLibvirtd } from '../tools/sandbox/libvirtd.js';
import { listDomains, mixedCall, rssKiB, type ServiceUnderTest, startOurs, startReference } from './service-procs.js';

const IN_FLIGHT = 16;

async function round(s: ServiceUnderTest, domain: string, calls: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < calls) await mixedCall(s.client, domain, next++);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

async function main(): Promise<void> {
  const perRound = Number(process.argv[2] ?? 20_000);
  const rounds = Number(process.argv[3] ?? 6);
  const lvd = await startLibvirtd();
  const started: ServiceUnderTest[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      const file = join(lvd.dir, `soak-${i}.xml`);
      writeFileSync(
        file,
        `<domain type='qemu'><name>soak-${i}</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os></domain>\n`,
      );
      await lvd.virsh(lvd.qemuUri, 'define', file);
    }
    const ours = await startOurs(lvd, process.argv.slice(4));
    started.push(ours);
    const ref = await startReference(lvd);
    started.push(ref);
    const paths = await listDomains(ours.client);
    const domain = [...paths].sort()[0] as string;
    console.log(`VmRSS (MiB) of each service after each round of ${perRound} mixed calls (${IN_FLIGHT} in flight; 30% failing)`);
    console.log(`${'round'.padEnd(8)}${'ours'.padStart(10)}${'reference'.padStart(12)}`);
    const line = (label: string) =>
      console.log(
        `${label.padEnd(8)}${(rssKiB(ours.pid) / 1024).toFixed(1).padStart(10)}${(rssKiB(ref.pid) / 1024).toFixed(1).padStart(12)}`,
      );
    line('start');
    const after: number[][] = [];
    for (let r = 1; r <= rounds; r++) {
      await round(ours, domain, perRound);
      await round(ref, domain, perRound);
      line(String(r));
      after.push([rssKiB(ours.pid), rssKiB(ref.pid)]);
    }
    // Growth from the end of round 1 (warm: JIT, caches, pools) to the last round.
    const first = after[0] as number[];
    const last = after[after.length - 1] as number[];
    const growth = (i: number) => (((last[i] as number) - (first[i] as number)) / 1024).toFixed(1);
    console.log(`growth after round 1 over ${(rounds - 1) * perRound} calls: ours ${growth(0)} MiB, reference ${growth(1)} MiB`);
  } finally {
    for (const s of started.reverse()) await s.stop();
    await lvd.stop();
  }
}

await main();
