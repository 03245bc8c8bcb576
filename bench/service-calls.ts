// org.libvirt method calls per second: our service against the C reference /usr/sbin/libvirt-dbus, in the
// same run, on /org/libvirt/QEMU (both reach one private libvirtd's qemu:///system; the reference's Test
// object runs the test driver in its own process, so it is not comparable). The same client (our
// DBusConnection) calls both, each service on its own private bus. Prints calls/s, the ratio ours/reference
// and each service process's CPU time per call (from /proc/<pid>/stat), which is steadier than calls/s on
// a loaded machine. Each cell alternates between the two services in slices.
//
// Run: npx tsc -p tsconfig.json && node dist/bench/service-calls.js [seconds-per-cell] [options]
//   --profile DIR     run our service with --cpu-prof into DIR (a .cpuprofile appears when it stops)
//   --only TEXT       only the calls whose name contains TEXT (e.g. GetXMLDesc)
//   --in-flight 1,8   only these numbers of calls in flight (default 1,8,64)
//   --node-flag F     run our service's node with flag F (repeatable), e.g. --node-flag=--max-semi-space-size=2

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DBusConnection } from '../src/dbus/index.js';
import { startLibvirtd } from '../tools/sandbox/libvirtd.js';
import { processCpuMicros, type ServiceUnderTest, startOurs, startReference } from './service-procs.js';

const DEST = 'org.libvirt';
const CONNECT = '/org/libvirt/QEMU';
const DOMAINS = 8;

type Call = (c: DBusConnection) => Promise<unknown[]>;

interface Case {
  name: string;
  call: Call;
}

function cases(domainPath: string): Case[] {
  return [
    {
      name: 'ListDomains(0)',
      call: (c) => c.call({ destination: DEST, path: CONNECT, interface: 'org.libvirt.Connect', member: 'ListDomains', signature: 'u', body: [0] }),
    },
    {
      name: 'GetXMLDesc(0)',
      call: (c) => c.call({ destination: DEST, path: domainPath, interface: 'org.libvirt.Domain', member: 'GetXMLDesc', signature: 'u', body: [0] }),
    },
    {
      name: 'GetAll(Domain)',
      call: (c) =>
        c.call({
          destination: DEST,
          path: domainPath,
          interface: 'org.freedesktop.DBus.Properties',
          member: 'GetAll',
          signature: 's',
          body: ['org.libvirt.Domain'],
        }),
    },
    {
      name: "Get('Hostname')",
      call: (c) =>
        c.call({
          destination: DEST,
          path: CONNECT,
          interface: 'org.freedesktop.DBus.Properties',
          member: 'Get',
          signature: 'ss',
          body: ['org.libvirt.Connect', 'Hostname'],
        }),
    },
  ];
}

interface Figures {
  perSecond: number;
  cpuMicrosPerCall: number;
}

/** Keeps `inFlight` calls to `s` outstanding for `ms`; returns how many completed. */
async function run(s: ServiceUnderTest, call: Call, inFlight: number, ms: number): Promise<number> {
  const end = performance.now() + ms;
  let done = 0;
  const worker = async () => {
    while (performance.now() < end) {
      await call(s.client);
      done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return done;
}

const ROUNDS = 4;

/**
 * Measures one cell on both services: after a warm-up, ROUNDS alternating slices (ours first, then the
 * reference first) so that a change in the machine's load hits both alike. Returns calls/s and the
 * service process's CPU µs per call for each.
 */
async function measurePair(
  services: [ServiceUnderTest, ServiceUnderTest],
  call: Call,
  inFlight: number,
  seconds: number,
): Promise<[Figures, Figures]> {
  const totals = services.map(() => ({ done: 0, ms: 0, cpu: 0 }));
  for (const s of services) await run(s, call, inFlight, Math.min(500, seconds * 250)); // warm up (JIT, caches)
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? [0, 1] : [1, 0];
    for (const i of order) {
      const s = services[i] as ServiceUnderTest;
      const t = totals[i] as (typeof totals)[number];
      const cpu = processCpuMicros(s.pid);
      const start = performance.now();
      t.done += await run(s, call, inFlight, (seconds * 1000) / ROUNDS);
      t.ms += performance.now() - start;
      t.cpu += processCpuMicros(s.pid) - cpu;
    }
  }
  const figures = totals.map((t) => ({ perSecond: (t.done * 1000) / t.ms, cpuMicrosPerCall: t.cpu / t.done }));
  return [figures[0] as Figures, figures[1] as Figures];
}

function sorted(v: unknown): string[] {
  return [...(v as string[])].sort();
}

/** Both services must give the same answers before their speeds mean anything. */
async function checkSameAnswers(ours: ServiceUnderTest, ref: ServiceUnderTest, all: Case[]): Promise<void> {
  const [a] = await all[0]!.call(ours.client);
  const [b] = await all[0]!.call(ref.client);
  if (JSON.stringify(sorted(a)) !== JSON.stringify(sorted(b))) {
    throw new Error(`ListDomains differs:\n ours ${sorted(a).join(' ')}\n  ref ${sorted(b).join(' ')}`);
  }
  if ((a as string[]).length !== DOMAINS) throw new Error(`expected ${DOMAINS} domains, got ${(a as string[]).length}`);
  const [xa] = await all[1]!.call(ours.client);
  const [xb] = await all[1]!.call(ref.client);
  if (xa !== xb) throw new Error('GetXMLDesc differs');
  const [pa] = await all[2]!.call(ours.client);
  const [pb] = await all[2]!.call(ref.client);
  const ka = [...(pa as Map<string, unknown>).keys()].sort().join(',');
  const kb = [...(pb as Map<string, unknown>).keys()].sort().join(',');
  if (ka !== kb) throw new Error(`GetAll property names differ:\n ours ${ka}\n  ref ${kb}`);
  const [ha] = await all[3]!.call(ours.client);
  const [hb] = await all[3]!.call(ref.client);
  if (JSON.stringify(ha) !== JSON.stringify(hb)) throw new Error('Hostname differs');
}

interface Options {
  seconds: number;
  profileDir?: string;
  only?: string;
  inFlight: number[];
  nodeFlags: string[];
}

function parseArgs(argv: string[]): Options {
  const o: Options = { seconds: 2, inFlight: [1, 8, 64], nodeFlags: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const value = () => (a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : (argv[++i] ?? ''));
    if (name === '--profile') o.profileDir = value();
    else if (name === '--only') o.only = value();
    else if (name === '--in-flight') o.inFlight = value().split(',').map(Number);
    else if (name === '--node-flag') o.nodeFlags.push(value());
    else if (Number(a) > 0) o.seconds = Number(a);
    else throw new Error(`usage: service-calls.js [seconds-per-cell] [--profile DIR] [--only TEXT] [--in-flight 1,8,64] [--node-flag F] (got ${a})`);
  }
  if (o.inFlight.some((n) => !(n >= 1))) throw new Error('--in-flight wants positive numbers');
  return o;
}

async function main(): Promise<void> {
  const { seconds, profileDir, only, inFlight, nodeFlags } = parseArgs(process.argv.slice(2));
  const lvd = await startLibvirtd();
  const started: ServiceUnderTest[] = [];
  const teardown = async () => {
    for (const s of started.splice(0).reverse()) await s.stop();
    await lvd.stop();
  };
  // An interrupted run still removes its daemons and folders.
  const onSignal = () => void teardown().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (let i = 0; i < DOMAINS; i++) {
      const file = join(lvd.dir, `bench-${i}.xml`);
      writeFileSync(
        file,
        `<domain type='qemu'><name>bench-${i}</name><memory unit='MiB'>64</memory>` +
          `<os><type arch='x86_64'>hvm</type></os></domain>\n`,
      );
      await lvd.virsh(lvd.qemuUri, 'define', file);
    }
    const nodeArgs = [...nodeFlags];
    if (profileDir) {
      mkdirSync(profileDir, { recursive: true });
      nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`);
    }
    const ours = await startOurs(lvd, nodeArgs);
    started.push(ours);
    const ref = await startReference(lvd);
    started.push(ref);

    const [paths] = await cases('/')[0]!.call(ours.client);
    const all = cases(sorted(paths)[0] as string);
    await checkSameAnswers(ours, ref, all);

    console.log(`org.libvirt calls on ${CONNECT} (private libvirtd, ${DOMAINS} defined domains), ${seconds} s per cell`);
    console.log('ours: bin/libvirt-dbus; reference: /usr/sbin/libvirt-dbus; same client (our DBusConnection); same answers checked');
    console.log(
      `${'call'.padEnd(16)}${'in flight'.padStart(10)}${'ours/s'.padStart(10)}${'reference/s'.padStart(13)}${'ratio'.padStart(8)}` +
        `${'ours CPU µs/call'.padStart(18)}${'ref CPU µs/call'.padStart(17)}`,
    );
    for (const c of all.filter((x) => only === undefined || x.name.includes(only))) {
      for (const n of inFlight) {
        const [a, b] = await measurePair([ours, ref], c.call, n, seconds);
        console.log(
          `${c.name.padEnd(16)}${String(n).padStart(10)}${a.perSecond.toFixed(0).padStart(10)}${b.perSecond.toFixed(0).padStart(13)}` +
            `${`${(a.perSecond / b.perSecond).toFixed(2)}x`.padStart(8)}` +
            `${a.cpuMicrosPerCall.toFixed(0).padStart(18)}${b.cpuMicrosPerCall.toFixed(0).padStart(17)}`,
        );
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await teardown();
  }
}

await main();
