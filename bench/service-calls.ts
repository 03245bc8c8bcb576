// org.libvirt method calls per second: our service against the C reference /usr/sbin/libvirt-dbus, in the
// same run, on /org/libvirt/QEMU (both reach one private libvirtd's qemu:///system; the reference's Test
// object runs the test driver in its own process, so it is not comparable). The same client (our
// DBusConnection) calls both, each service on its own private bus. Prints calls/s, the ratio ours/reference
// and each service process's CPU time per call (from /proc/<pid>/stat), which is steadier than calls/s on
// a loaded machine, libvirtd's CPU time per call while each service was driven (the floor under both),
// p50/p99 latency, and each service's resident memory after the run. Each cell alternates between the
// two services in slices. "Cockpit refresh" is what Cockpit's Machines page does on every change: one
// ListDomains, then GetAll of every domain, 64 at a time.
//
// Run: npx tsc -p tsconfig.json && node dist/bench/service-calls.js [seconds-per-cell] [options]
//   --domains 100,1000 inactive QEMU domains defined on the private daemon (default 8), one table each
//   --profile DIR     run our service with --cpu-prof into DIR (a .cpuprofile appears when it stops)
//   --only TEXT       only the calls whose name contains TEXT (e.g. GetXMLDesc)
//   --in-flight 1,8   only these numbers of calls in flight (default 1,8,64)
//   --node-flag F     run our service's node with option F (repeatable; node options, not V8 flags: the
//                     start-up snapshot is built with bin/libvirt-dbus's own), e.g. --node-flag=--trace-gc

import { mkdirSync } from 'node:fs';
import type { DBusConnection } from '../src/dbus/index.js';
import { LibvirtConnection } from '../src/libvirt/index.js';
import { startLibvirtd } from '../tools/sandbox/libvirtd.js';
import { CONNECT, DEST, listDomains, processCpuMicros, rssKiB, type ServiceUnderTest, startOurs, startReference } from './service-procs.js';

type Call = (c: DBusConnection) => Promise<unknown[]>;

interface Case {
  name: string;
  call: Call;
  /** Measured at one in flight only (it is itself many calls). */
  oneAtATime?: boolean;
}

function cases(domainPath: string): Case[] {
  return [
    {
      name: 'ListDomains(0)',
      call: (c) =>
        c.call({ destination: DEST, path: CONNECT, interface: 'org.libvirt.Connect', member: 'ListDomains', signature: 'u', body: [0] }),
    },
    {
      name: 'GetXMLDesc(0)',
      call: (c) =>
        c.call({ destination: DEST, path: domainPath, interface: 'org.libvirt.Domain', member: 'GetXMLDesc', signature: 'u', body: [0] }),
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
    {
      // The floor of a call: no libvirt behind it, only the D-Bus path through the service.
      name: 'Peer.Ping',
      call: (c) => c.call({ destination: DEST, path: CONNECT, interface: 'org.freedesktop.DBus.Peer', member: 'Ping' }),
    },
    {
      name: 'Cockpit refresh',
      oneAtATime: true,
      call: async (c) => {
        const paths = await listDomains(c);
        // At most 64 GetAll in flight: a bus allows a connection only so many pending replies
        // (dbus-daemon's max_replies_per_connection, 128 by default).
        const queue = [...(paths as string[])];
        const getAll = async () => {
          for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
            await c.call({
              destination: DEST,
              path,
              interface: 'org.freedesktop.DBus.Properties',
              member: 'GetAll',
              signature: 's',
              body: ['org.libvirt.Domain'],
            });
          }
        };
        await Promise.all(Array.from({ length: 64 }, getAll));
        return [];
      },
    },
  ];
}

interface Figures {
  perSecond: number;
  cpuMicrosPerCall: number;
  /** libvirtd's CPU per call while this service was driven. */
  libvirtdMicrosPerCall: number;
  p50: number;
  p99: number;
}

/** Keeps `inFlight` calls to `s` outstanding for `ms`; returns the latency of each completed call (ms). */
async function run(s: ServiceUnderTest, call: Call, inFlight: number, ms: number): Promise<number[]> {
  const end = performance.now() + ms;
  const latencies: number[] = [];
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      await call(s.client);
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return latencies;
}

/** The q-quantile of unsorted samples. */
function quantile(samples: number[], q: number): number {
  const v = [...samples].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor(q * v.length))] ?? Number.NaN;
}

/** Resident set size of a process in MiB. */
const rssMiB = (pid: number): number => rssKiB(pid) / 1024;
/** How long both services are left idle before their resident size is read again. */
const IDLE_MS = 3000;

const ROUNDS = 4;

/**
 * Measures one cell on both services: after a warm-up, ROUNDS alternating slices (ours first, then the
 * reference first) so that a change in the machine's load hits both alike. Returns calls/s and the
 * service process's CPU µs per call for each.
 */
async function measurePair(
  services: [ServiceUnderTest, ServiceUnderTest],
  libvirtdPid: number,
  call: Call,
  inFlight: number,
  seconds: number,
): Promise<[Figures, Figures]> {
  const totals = services.map(() => ({ done: 0, ms: 0, cpu: 0, libvirtd: 0, latencies: [] as number[] }));
  for (const s of services) await run(s, call, inFlight, Math.min(500, seconds * 250)); // warm up (JIT, caches)
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? [0, 1] : [1, 0];
    for (const i of order) {
      const s = services[i] as ServiceUnderTest;
      const t = totals[i] as (typeof totals)[number];
      const cpu = processCpuMicros(s.pid);
      const daemon = processCpuMicros(libvirtdPid);
      const start = performance.now();
      const latencies = await run(s, call, inFlight, (seconds * 1000) / ROUNDS);
      t.ms += performance.now() - start;
      t.done += latencies.length;
      t.latencies.push(...latencies);
      t.cpu += processCpuMicros(s.pid) - cpu;
      t.libvirtd += processCpuMicros(libvirtdPid) - daemon;
    }
  }
  const figures = totals.map((t) => ({
    perSecond: (t.done * 1000) / t.ms,
    cpuMicrosPerCall: t.cpu / t.done,
    libvirtdMicrosPerCall: t.libvirtd / t.done,
    p50: quantile(t.latencies, 0.5),
    p99: quantile(t.latencies, 0.99),
  }));
  return [figures[0] as Figures, figures[1] as Figures];
}

function sorted(v: unknown): string[] {
  return [...(v as string[])].sort();
}

/** Both services must give the same answers before their speeds mean anything. */
async function checkSameAnswers(ours: ServiceUnderTest, ref: ServiceUnderTest, all: Case[], domains: number): Promise<void> {
  const [a] = await all[0]!.call(ours.client);
  const [b] = await all[0]!.call(ref.client);
  if (JSON.stringify(sorted(a)) !== JSON.stringify(sorted(b))) {
    throw new Error(`ListDomains differs:\n ours ${sorted(a).join(' ')}\n  ref ${sorted(b).join(' ')}`);
  }
  if ((a as string[]).length !== domains) throw new Error(`expected ${domains} domains, got ${(a as string[]).length}`);
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
  domains: number[];
}

function parseArgs(argv: string[]): Options {
  const o: Options = { seconds: 2, inFlight: [1, 8, 64], nodeFlags: [], domains: [8] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const value = () => (a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : (argv[++i] ?? ''));
    if (name === '--profile') o.profileDir = value();
    else if (name === '--only') o.only = value();
    else if (name === '--in-flight') o.inFlight = value().split(',').map(Number);
    else if (name === '--node-flag') o.nodeFlags.push(value());
    else if (name === '--domains') o.domains = value().split(',').map(Number);
    else if (Number(a) > 0) o.seconds = Number(a);
    else
      throw new Error(
        `usage: service-calls.js [seconds-per-cell] [--profile DIR] [--only TEXT] [--in-flight 1,8,64] [--node-flag F] [--domains 100,1000] (got ${a})`,
      );
  }
  if (o.inFlight.some((n) => !(n >= 1))) throw new Error('--in-flight wants positive numbers');
  if (o.domains.some((n) => !(n >= 1))) throw new Error('--domains wants positive numbers');
  o.domains.sort((a, b) => a - b);
  return o;
}

async function main(): Promise<void> {
  const { seconds, profileDir, only, inFlight, nodeFlags, domains } = parseArgs(process.argv.slice(2));
  const lvd = await startLibvirtd();
  const started: ServiceUnderTest[] = [];
  let definer: LibvirtConnection | undefined;
  const teardown = async () => {
    for (const s of started.splice(0).reverse()) await s.stop();
    definer?.close();
    await lvd.stop();
  };
  // An interrupted run still removes its daemons and folders.
  const onSignal = () => void teardown().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const nodeArgs = [...nodeFlags];
    if (profileDir) {
      mkdirSync(profileDir, { recursive: true });
      nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`);
    }
    const ours = await startOurs(lvd, nodeArgs);
    started.push(ours);
    const ref = await startReference(lvd);
    started.push(ref);
    const rssAtStart = [rssMiB(ours.pid), rssMiB(ref.pid)];
    definer = await LibvirtConnection.open(lvd.qemuUri);

    console.log(`org.libvirt calls on ${CONNECT} (private libvirtd's qemu:///system, inactive QEMU domains), ${seconds} s per cell`);
    console.log('ours: bin/libvirt-dbus; reference: /usr/sbin/libvirt-dbus; same client (our DBusConnection); same answers checked');
    console.log(
      'ratio: ours/reference calls per second (higher is better); CPU ratio: ours/reference service CPU per call (lower is better)',
    );
    console.log(`RSS at start: ours ${rssAtStart[0]?.toFixed(1)} MiB, reference ${rssAtStart[1]?.toFixed(1)} MiB`);
    let defined = 0;
    for (const count of domains) {
      // Inactive domains, defined through our libvirt client many at a time (virsh would take minutes for 1,000).
      const pending: Promise<unknown>[] = [];
      for (; defined < count; defined++) {
        const xml = `<domain type='qemu'><name>bench-${defined}</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os></domain>`;
        pending.push(definer.domainDefineXml({ xml }));
        if (pending.length >= 4) await Promise.all(pending.splice(0));
      }
      await Promise.all(pending);
      const [paths] = await cases('/')[0]!.call(ours.client);
      const all = cases(sorted(paths)[0] as string);
      await checkSameAnswers(ours, ref, all, count);

      console.log(`\n${count} domains`);
      console.log(
        `${'call'.padEnd(16)}${'in flight'.padStart(10)}${'ours/s'.padStart(9)}${'ref/s'.padStart(8)}${'ratio'.padStart(7)}` +
          `${'p50 ours/ref ms'.padStart(17)}${'p99 ours/ref ms'.padStart(17)}${'CPU µs ours/ref'.padStart(17)}${'CPU ratio'.padStart(10)}` +
          `${'libvirtd µs ours/ref'.padStart(22)}`,
      );
      for (const c of all.filter((x) => only === undefined || x.name.includes(only))) {
        for (const n of c.oneAtATime ? [1] : inFlight) {
          const [a, b] = await measurePair([ours, ref], lvd.pid, c.call, n, seconds);
          console.log(
            `${c.name.padEnd(16)}${String(n).padStart(10)}${a.perSecond.toFixed(0).padStart(9)}${b.perSecond.toFixed(0).padStart(8)}` +
              `${`${(a.perSecond / b.perSecond).toFixed(2)}x`.padStart(7)}` +
              `${`${a.p50.toFixed(2)}/${b.p50.toFixed(2)}`.padStart(17)}${`${a.p99.toFixed(2)}/${b.p99.toFixed(2)}`.padStart(17)}` +
              `${`${a.cpuMicrosPerCall.toFixed(0)}/${b.cpuMicrosPerCall.toFixed(0)}`.padStart(17)}` +
              `${`${(a.cpuMicrosPerCall / b.cpuMicrosPerCall).toFixed(2)}x`.padStart(10)}` +
              `${`${a.libvirtdMicrosPerCall.toFixed(0)}/${b.libvirtdMicrosPerCall.toFixed(0)}`.padStart(22)}`,
          );
        }
      }
      const ro = rssMiB(ours.pid);
      const rr = rssMiB(ref.pid);
      console.log(`RSS after ${count} domains: ours ${ro.toFixed(1)} MiB, reference ${rr.toFixed(1)} MiB (${(ro / rr).toFixed(2)}x)`);
      // Both services idle for a while: ours gives memory back then (src/service/idle-memory.ts).
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
      const io = rssMiB(ours.pid);
      const ir = rssMiB(ref.pid);
      console.log(`  ${IDLE_MS / 1000} s idle later: ours ${io.toFixed(1)} MiB, reference ${ir.toFixed(1)} MiB (${(io / ir).toFixed(2)}x)`);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await teardown();
  }
}

await main();
