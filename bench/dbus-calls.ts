// Method call round trips per second over a private dbus-daemon: a Ping exported by our
// DBusConnection (in a child process), called by our client and by dbus-next, one at a time and
// with 64 calls in flight. Prints calls/s and the ratio ours / dbus-next.
//
// Run: npx tsc -p tsconfig.json && node dist/bench/dbus-calls.js [seconds-per-case]

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { DBusConnection } from '../src/dbus/connection.js';
import { startBus } from '../test/helpers/bus.js';

const NAME = 'org.example.Bench';
const PATH = '/org/example/Bench';
const IFACE = 'org.example.Bench';

async function service(address: string): Promise<void> {
  const conn = await DBusConnection.connect(address, { bus: true, negotiateUnixFd: process.env.BENCH_FD !== '0' });
  conn.registerObject(
    PATH,
    { name: IFACE, methods: [{ name: 'Ping', in: [], out: [] }], signals: [], properties: [] },
    { methods: { Ping: () => [] } },
  );
  await conn.requestName(NAME, 4);
  process.stdout.write('ready\n');
  process.stdin.resume();
  process.stdin.on('end', () => {
    conn.close();
    process.exit(0);
  });
}

type Caller = () => Promise<unknown>;

/** Calls `call` for `seconds`, keeping `inFlight` calls outstanding; returns calls per second and client CPU µs per call. */
async function measure(call: Caller, inFlight: number, seconds: number): Promise<[number, number]> {
  for (let i = 0; i < 200; i++) await call(); // warm up
  const end = performance.now() + seconds * 1000;
  let done = 0;
  const start = performance.now();
  const cpu = process.cpuUsage();
  const worker = async () => {
    while (performance.now() < end) {
      await call();
      done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const used = process.cpuUsage(cpu);
  return [done / ((performance.now() - start) / 1000), (used.user + used.system) / done];
}

async function main(): Promise<void> {
  if (process.argv[2] === 'service') return service(process.argv[3] as string);
  const seconds = Number(process.argv[2] ?? '3');
  const bus = await startBus();
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'service', bus.address], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (b: Buffer) => b.toString().includes('ready') && resolve());
      child.once('exit', (code) => reject(new Error(`service exited ${code}`)));
    });

    const ours = await DBusConnection.connect(bus.address, { bus: true, negotiateUnixFd: process.env.BENCH_FD !== '0' });
    const oursCall: Caller = () => ours.call({ destination: NAME, path: PATH, interface: IFACE, member: 'Ping' });

    const require = createRequire(import.meta.url);
    const dbusNext = require('dbus-next') as {
      sessionBus(opts: { busAddress: string }): {
        call(msg: unknown): Promise<unknown>;
        disconnect(): void;
        getProxyObject(name: string, path: string): Promise<unknown>;
      };
      Message: new (m: Record<string, unknown>) => unknown;
    };
    const next = dbusNext.sessionBus({ busAddress: bus.address });
    const nextCall: Caller = () => next.call(new dbusNext.Message({ destination: NAME, path: PATH, interface: IFACE, member: 'Ping' }));

    const rows: Array<[string, [number, number], [number, number]]> = [];
    for (const inFlight of [1, 64]) {
      const a = await measure(oursCall, inFlight, seconds);
      const b = await measure(nextCall, inFlight, seconds);
      rows.push([inFlight === 1 ? 'sequential' : `${inFlight} in flight`, a, b]);
    }
    console.log('Ping round trips per second over dbus-daemon (service: our DBusConnection)');
    // Client CPU per call is steadier than calls/s on a loaded machine.
    console.log('case            ours/s   dbus-next/s   ratio   client CPU µs/call: ours  dbus-next  ratio');
    for (const [label, [a, ac], [b, bc]] of rows) {
      console.log(
        `${label.padEnd(14)} ${a.toFixed(0).padStart(7)} ${b.toFixed(0).padStart(13)}   ${(a / b).toFixed(2)}x` +
          `${ac.toFixed(1).padStart(27)} ${bc.toFixed(1).padStart(10)}  ${(bc / ac).toFixed(2)}x`,
      );
    }
    ours.close();
    next.disconnect();
  } finally {
    child.stdin?.end();
    await new Promise((r) => child.once('exit', r));
    await bus.stop();
  }
}

await main();
