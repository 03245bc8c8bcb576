// Memory with many clients on a large host: inactive QEMU domains (1,000 by default), 128 client
// connections on the service's bus and 256 calls in flight (two per connection, the soak's mix of
// ListDomains, GetAll, GetXMLDesc and failing calls), for a few seconds; each service in turn, alone
// on the CPU. Prints calls answered, the peak resident size during the load, the size when it ends
// and after 3 s idle, for ours and the reference, with ratios.
//
// Run: npx tsc -p tsconfig.json && node dist/bench/service-clients.js [seconds] [--domains N]
import { DBusConnection } from '../src/dbus/index.js';
import { startLibvirtd } from '../tools/sandbox/libvirtd.js';
import {
  defineInactiveDomains,
  listDomains,
  mixedCall,
  rssKiB,
  type ServiceUnderTest,
  startOurs,
  startReference,
} from './service-procs.js';

const CONNECTIONS = 128;
const IN_FLIGHT_PER_CONNECTION = 2;
const IDLE_MS = 3000;

interface Figures {
  calls: number;
  peak: number;
  end: number;
  idle: number;
}

const mib = (kib: number) => kib / 1024;

async function load(s: ServiceUnderTest, seconds: number): Promise<Figures> {
  const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => DBusConnection.connect(s.address, { bus: true })));
  try {
    const [domain] = (await listDomains(s.client)).sort();
    if (!domain) throw new Error('no domain defined');
    let peak = rssKiB(s.pid);
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssKiB(s.pid));
    }, 100);
    const until = Date.now() + seconds * 1000;
    let calls = 0;
    const worker = async (c: DBusConnection) => {
      while (Date.now() < until) await mixedCall(c, domain, calls++, 120_000);
    };
    await Promise.all(clients.flatMap((c) => Array.from({ length: IN_FLIGHT_PER_CONNECTION }, () => worker(c))));
    clearInterval(sampler);
    const end = rssKiB(s.pid);
    peak = Math.max(peak, end);
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    return { calls, peak, end, idle: rssKiB(s.pid) };
  } finally {
    for (const c of clients) c.close();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = args.indexOf('--domains');
  const domains = at >= 0 ? Number(args[at + 1]) : 1000;
  const seconds = Number(args.find((a, i) => Number(a) > 0 && args[i - 1] !== '--domains') ?? 10);
  const lvd = await startLibvirtd();
  const started: ServiceUnderTest[] = [];
  try {
    await defineInactiveDomains(lvd, 'clients', domains);
    console.log(
      `${domains} inactive QEMU domains, ${CONNECTIONS} client connections, ${CONNECTIONS * IN_FLIGHT_PER_CONNECTION} calls in flight, ${seconds} s per service`,
    );
    const results: [string, Figures, number][] = [];
    for (const start of [startOurs, startReference]) {
      const s = await start(lvd);
      started.push(s);
      const atStart = rssKiB(s.pid);
      results.push([s.label, await load(s, seconds), atStart]);
      await s.stop();
      started.pop();
    }
    console.log(
      `${''.padEnd(10)}${'calls/s'.padStart(9)}${'RSS start'.padStart(11)}${'peak'.padStart(8)}${'end'.padStart(8)}${'idle'.padStart(8)}  (MiB)`,
    );
    for (const [label, f, atStart] of results) {
      console.log(
        `${label.padEnd(10)}${(f.calls / seconds).toFixed(0).padStart(9)}${mib(atStart).toFixed(1).padStart(11)}` +
          `${mib(f.peak).toFixed(1).padStart(8)}${mib(f.end).toFixed(1).padStart(8)}${mib(f.idle).toFixed(1).padStart(8)}`,
      );
    }
    const [o, r] = [results[0]![1], results[1]![1]];
    console.log(
      `ratio ours/reference: calls/s ${(o.calls / r.calls).toFixed(2)}x, peak ${(o.peak / r.peak).toFixed(2)}x, ` +
        `end ${(o.end / r.end).toFixed(2)}x, idle ${(o.idle / r.idle).toFixed(2)}x`,
    );
  } finally {
    for (const s of started) await s.stop();
    await lvd.stop();
  }
}

await main();
