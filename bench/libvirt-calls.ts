// Calls per second of the libvirt RPC client against a private libvirtd, beside python3-libvirt
// (the C client library) doing the same calls on the same daemon in the same run.
// Sequential, and 8 / 64 calls in flight on ONE connection (python: 8 / 64 threads sharing one).
// Run: npx tsc -p tsconfig.json && node dist/bench/libvirt-calls.js [seconds-per-cell]
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LibvirtConnection } from '../src/libvirt/index.js';
import { startLibvirtd } from '../test/helpers/libvirtd.js';

const execFileAsync = promisify(execFile);
const SECONDS = Number(process.argv[2] ?? 1.5);
const OPS = ['connectListAllDomains', 'domainGetXMLDesc', 'connectGetHostname'] as const;
type Op = (typeof OPS)[number];
const CONCURRENCY = [1, 8, 64];
const WARMUP_MS = 300;

interface Cell {
  calls: number;
  wall: number;
  cpu: number;
}

async function runOurs(conn: LibvirtConnection, op: Op, inFlight: number): Promise<Cell> {
  const { dom } = await conn.domainLookupByName({ name: 'test' });
  const call = {
    connectListAllDomains: () => conn.connectListAllDomains({ need_results: 1, flags: 0 }),
    domainGetXMLDesc: () => conn.domainGetXmlDesc({ dom, flags: 0 }),
    connectGetHostname: () => conn.connectGetHostname(),
  }[op] as () => Promise<unknown>;
  // Warm-up (JIT, daemon caches) for a fixed time, like the python side.
  const warm = Date.now() + WARMUP_MS;
  while (Date.now() < warm) await call();
  let calls = 0;
  let stop = false;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const worker = async () => {
    while (!stop) {
      await call();
      calls++;
    }
  };
  const timer = setTimeout(() => {
    stop = true;
  }, SECONDS * 1000);
  await Promise.all(Array.from({ length: inFlight }, worker));
  clearTimeout(timer);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(cpu0);
  return { calls, wall, cpu: (c.user + c.system) / 1e6 };
}

async function runPython(uri: string, op: Op, threads: number): Promise<Cell> {
  const script = fileURLToPath(new URL('../../bench/libvirt-calls.py', import.meta.url));
  const { stdout } = await execFileAsync('/usr/bin/python3', [script, uri, op, String(threads), String(SECONDS)], {
    timeout: (SECONDS + 30) * 1000,
  });
  return JSON.parse(stdout.trim().split('\n').pop() as string) as Cell;
}

function fmt(n: number, digits = 0): string {
  return n.toFixed(digits).padStart(9);
}

async function main(): Promise<void> {
  const d = await startLibvirtd();
  try {
    const conn = await LibvirtConnection.open(d.testUri);
    console.log(`libvirt RPC calls against a private libvirtd (test driver), ${SECONDS} s per cell`);
    console.log('op                      in-flight    ours/s  python/s   ratio  ours µs CPU/call  python µs CPU/call');
    for (const op of OPS) {
      for (const n of CONCURRENCY) {
        const ours = await runOurs(conn, op, n);
        const py = await runPython(d.testUri, op, n);
        const oursRate = ours.calls / ours.wall;
        const pyRate = py.calls / py.wall;
        console.log(
          `${op.padEnd(24)}${String(n).padStart(9)} ${fmt(oursRate)} ${fmt(pyRate)} ${fmt(oursRate / pyRate, 2)}x` +
            ` ${fmt((ours.cpu / ours.calls) * 1e6, 1)}        ${fmt((py.cpu / py.calls) * 1e6, 1)}`,
        );
      }
    }
    await conn.close();
  } finally {
    await d.stop();
  }
}

await main();
