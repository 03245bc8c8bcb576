// Soak through a dying daemon: our service on a private bus answers the soak mix (70% successful,
// 30% failing calls) with 64 in flight for a while, and libvirtd is SIGKILLed and restarted every
// interval. Checks, and prints: every call is answered (a reply or an error, never the client's
// timeout); after each restart the Connect object's DomainEvent signal comes again (a domain defined
// through libvirt behind the service's back); the service's resident memory after the last restart
// against after the first. Resident memory is sampled every 250 ms, and each interval's low-water
// mark is what is compared: a single reading under load lands anywhere between two garbage
// collections (±10% here), while the low-water mark is what the process keeps. Exits non-zero
// when a check fails.
//
// Run: npx tsc -p tsconfig.json && node dist/bench/service-restart-soak.js [minutes=10] [restart-every-seconds=60]
import type { Message } from '../src/dbus/index.js';
import { LibvirtConnection } from '../src/libvirt/index.js';
import { startLibvirtd } from '../tools/sandbox/libvirtd.js';
import { CONNECT, defineInactiveDomains, listDomains, mixedCall, rssKiB, type ServiceUnderTest, startOurs } from './service-procs.js';

const IN_FLIGHT = 64;
/** A call not answered within this is counted as unanswered (the service must answer long before). */
const CALL_TIMEOUT_MS = 60_000;
/** How long after a restart the signal may take to come back before the check fails. */
const SIGNAL_DEADLINE_MS = 60_000;

async function main(): Promise<void> {
  const minutes = Number(process.argv[2] ?? 10);
  const every = Number(process.argv[3] ?? 60);
  const lvd = await startLibvirtd();
  let ours: ServiceUnderTest | undefined;
  let failed = false;
  try {
    await defineInactiveDomains(lvd, 'soak', 8);
    ours = await startOurs(lvd);
    const client = ours.client;
    const paths = await listDomains(client);
    const domain = [...paths].sort()[0] as string;

    const signals: Array<{ at: number; name: string }> = [];
    client.signalSubscribe({ path: CONNECT, interface: 'org.libvirt.Connect', member: 'DomainEvent' }, (m: Message) => {
      signals.push({ at: performance.now(), name: String(m.body[0]) });
    });

    const counts = { ok: 0, failed: 0, unanswered: 0, wrong: 0 };
    const errorNames = new Map<string, number>();
    const end = performance.now() + minutes * 60_000;
    let next = 0;
    const worker = async () => {
      while (performance.now() < end) {
        const i = next++;
        try {
          await mixedCall(client, domain, i, CALL_TIMEOUT_MS);
          if (i % 10 < 7) counts.ok++;
          else counts.failed++;
        } catch (err) {
          const name = (err as { errorName?: string }).errorName ?? (err as Error).message;
          errorNames.set(name, (errorNames.get(name) ?? 0) + 1);
          if (name === 'org.freedesktop.DBus.Error.NoReply' || name === 'org.freedesktop.DBus.Error.Timeout' || /timed out/i.test(name))
            counts.unanswered++;
          else if (name === 'expected an error') counts.wrong++;
          else counts.failed++;
        }
      }
    };
    const load = Promise.all(Array.from({ length: IN_FLIGHT }, worker));

    console.log(
      `our service, ${IN_FLIGHT} calls in flight (30% failing) for ${minutes} min; libvirtd SIGKILLed and restarted every ${every} s`,
    );
    console.log(
      `${'restart'.padEnd(9)}${'down ms'.padStart(9)}${'signal after ms'.padStart(17)}${'RSS low'.padStart(9)}${'RSS high'.padStart(9)}  (MiB, in the interval after the restart)`,
    );
    const rss: number[] = [];
    let restart = 0;
    // Each interval's lowest and highest resident memory, sampled while the load runs.
    let low = Number.POSITIVE_INFINITY;
    let high = 0;
    const sampler = setInterval(() => {
      const kib = ours ? rssKiB(ours.pid) : Number.NaN;
      if (kib < low) low = kib;
      if (kib > high) high = kib;
    }, 250);
    while (performance.now() + every * 1000 < end) {
      await new Promise((r) => setTimeout(r, every * 1000));
      if (restart > 0) {
        rss.push(low / 1024);
        console.log(
          `${''.padEnd(9)}${''.padStart(9)}${''.padStart(17)}${(low / 1024).toFixed(1).padStart(9)}${(high / 1024).toFixed(1).padStart(9)}`,
        );
      }
      low = Number.POSITIVE_INFINITY;
      high = 0;
      restart++;
      const t0 = performance.now();
      await lvd.kill();
      await lvd.restart();
      const up = performance.now();
      // A domain defined behind the service's back: its DomainEvent shows the service listens again.
      const name = `soak-signal-${restart}`;
      const seen = signals.length;
      let signalMs = Number.NaN;
      const conn = await LibvirtConnection.open(lvd.qemuUri);
      try {
        const deadline = up + SIGNAL_DEADLINE_MS;
        while (performance.now() < deadline) {
          const { dom } = await conn.domainDefineXml({
            xml: `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os></domain>`,
          });
          await conn.domainUndefine({ dom });
          const waitUntil = performance.now() + 1000;
          while (signals.length === seen && performance.now() < waitUntil) await new Promise((r) => setTimeout(r, 20));
          if (signals.length > seen) {
            signalMs = (signals[seen]?.at ?? performance.now()) - up;
            break;
          }
        }
      } finally {
        conn.close();
      }
      if (Number.isNaN(signalMs)) failed = true;
      console.log(
        `${String(restart).padEnd(9)}${(up - t0).toFixed(0).padStart(9)}${(Number.isNaN(signalMs) ? 'NONE' : signalMs.toFixed(0)).padStart(17)}`,
      );
    }
    await load;
    clearInterval(sampler);
    if (restart > 0 && Number.isFinite(low)) {
      rss.push(low / 1024);
      console.log(
        `${''.padEnd(9)}${''.padStart(9)}${''.padStart(17)}${(low / 1024).toFixed(1).padStart(9)}${(high / 1024).toFixed(1).padStart(9)}`,
      );
    }
    const total = counts.ok + counts.failed + counts.unanswered + counts.wrong;
    console.log(
      `calls: ${total} (${counts.ok} succeeded, ${counts.failed} failed with an error reply, ${counts.unanswered} unanswered, ${counts.wrong} wrongly succeeded)`,
    );
    console.log(
      `errors of the calls that succeed while libvirtd is up (so: while it was down): ${[...errorNames].map(([n, c]) => `${n} ${c}`).join(', ')}`,
    );
    if (rss.length >= 2) {
      const first = rss[0] as number;
      const last = rss[rss.length - 1] as number;
      const change = ((last - first) / first) * 100;
      console.log(
        `RSS low-water mark after the first restart ${first.toFixed(1)} MiB, after the last ${last.toFixed(1)} MiB (${change >= 0 ? '+' : ''}${change.toFixed(1)}%)`,
      );
      if (Math.abs(change) > 5) failed = true;
    }
    if (counts.unanswered > 0 || counts.wrong > 0) failed = true;
    console.log(failed ? 'FAILED: see above' : 'all checks held');
  } finally {
    await ours?.stop();
    await lvd.stop();
  }
  process.exit(failed ? 1 : 0);
}

await main();
