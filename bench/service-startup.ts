// Start-up: from exec to the name org.libvirt owned, and to the first call answered (Connect.ListDomains
// on /org/libvirt/QEMU, which opens the libvirt connection), for ours and the reference, alternated,
// each on a fresh private bus against one private libvirtd with 8 inactive domains. The name is awaited
// as the bus's NameOwnerChanged signal, not polled. Also prints resident memory right after the first
// call. The reference starts inside `unshare -m` (see service-procs.ts), which adds a few ms to its exec.
//
// Run: npm run build && node dist/bench/service-startup.js [runs=11]
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DBusConnection } from '../src/dbus/index.js';
import { startBus } from '../tools/sandbox/bus.js';
import { type PrivateLibvirtd, startLibvirtd } from '../tools/sandbox/libvirtd.js';
import { DEST, defineInactiveDomains, listDomains, rssKiB } from './service-procs.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Sample {
  owned: number;
  answered: number;
  rss: number;
}

function spawnService(which: 'ours' | 'reference', lvd: PrivateLibvirtd, busAddress: string): ChildProcess {
  if (which === 'ours') {
    return spawn(join(REPO, 'bin', 'libvirt-dbus'), ['--session', '--connect', `QEMU=${lvd.qemuUri}`], {
      stdio: 'ignore',
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: busAddress },
    });
  }
  const script = `mount --bind '${dirname(lvd.socketPath)}' /run/libvirt && exec /usr/sbin/libvirt-dbus --system`;
  return spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], {
    stdio: 'ignore',
    env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: busAddress },
  });
}

async function once(which: 'ours' | 'reference', lvd: PrivateLibvirtd): Promise<Sample> {
  const bus = await startBus();
  const client = await DBusConnection.connect(bus.address, { bus: true });
  let child: ChildProcess | undefined;
  try {
    let t0 = 0;
    const owned = new Promise<number>((resolve) => {
      client.signalSubscribe(
        { sender: 'org.freedesktop.DBus', interface: 'org.freedesktop.DBus', member: 'NameOwnerChanged', arg0: DEST },
        () => resolve(performance.now() - t0),
      );
    });
    // The match rule is in place once a later call is answered.
    await client.getNameOwner(DEST);
    t0 = performance.now();
    child = spawnService(which, lvd, bus.address);
    const exited = new Promise<never>((_, reject) => child?.once('exit', (code) => reject(new Error(`${which} exited (${code})`))));
    const ownedMs = await Promise.race([owned, exited]);
    await listDomains(client);
    const answeredMs = performance.now() - t0;
    return { owned: ownedMs, answered: answeredMs, rss: rssKiB(child.pid ?? -1) / 1024 };
  } finally {
    client.close();
    if (child && child.exitCode === null && child.signalCode === null) {
      const c = child;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill('SIGTERM');
      });
    }
    await bus.stop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 11);
  const lvd = await startLibvirtd();
  try {
    await defineInactiveDomains(lvd, 'startup', 8);
    const samples = { ours: [] as Sample[], reference: [] as Sample[] };
    // One warm-up each (page cache), then alternated runs.
    await once('ours', lvd);
    await once('reference', lvd);
    for (let i = 0; i < runs; i++) {
      samples.ours.push(await once('ours', lvd));
      samples.reference.push(await once('reference', lvd));
    }
    console.log(`start-up, medians of ${runs} alternated runs (ms from exec; RSS right after the first call)`);
    console.log(`${''.padEnd(11)}${'name owned'.padStart(12)}${'1st answer'.padStart(12)}${'RSS MiB'.padStart(9)}`);
    for (const which of ['ours', 'reference'] as const) {
      const s = samples[which];
      console.log(
        `${which.padEnd(11)}${median(s.map((x) => x.owned))
          .toFixed(1)
          .padStart(12)}${median(s.map((x) => x.answered))
          .toFixed(1)
          .padStart(12)}${median(s.map((x) => x.rss))
          .toFixed(1)
          .padStart(9)}`,
      );
    }
    const r = (f: (x: Sample) => number) => (median(samples.ours.map(f)) / median(samples.reference.map(f))).toFixed(2);
    console.log(`ratio ours/reference: name owned ${r((x) => x.owned)}x, first answer ${r((x) => x.answered)}x, RSS ${r((x) => x.rss)}x`);
  } finally {
    await lvd.stop();
  }
}

await main();
