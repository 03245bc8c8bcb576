// Captures real libvirt RPC packets between virsh and a private libvirtd, for codec-golden.test.ts.
// Run (as root, after a build): node dist/test/libvirt/golden/capture.js test/libvirt/golden/packets
// virsh runs under `strace -f -xx -s 1048576 -e trace=connect,read,write,readv,writev,sendmsg,recvmsg`;
// the bytes it wrote to and read from the daemon's socket are cut into packets by their length
// word, and each packet is stored as <index>-<direction>-<procedure>-<type>.hex (one hex line).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLibvirtd } from '../../helpers/libvirtd.js';

function unescapeStrace(s: string): Buffer {
  // With -xx every byte is printed as \xNN.
  const hex = s.replace(/\\x([0-9a-f]{2})/g, '$1');
  if (!/^[0-9a-f]*$/.test(hex)) throw new Error(`unexpected strace string: ${s.slice(0, 60)}`);
  return Buffer.from(hex, 'hex');
}

/** The bytes written to and read from the socket connected to `socketPath`, in order per direction. */
function socketStreams(trace: string, socketPath: string): { sent: Buffer; received: Buffer } {
  const sent: Buffer[] = [];
  const received: Buffer[] = [];
  let fd: string | null = null;
  // strace -f splits a call interrupted by another thread into "<unfinished ...>" and "<... resumed>".
  const pending = new Map<string, { op: string; fd: string; data: string | null }>();
  const take = (op: string, callFd: string, data: string, result: string) => {
    if (callFd !== fd) return;
    const bytes = unescapeStrace(data).subarray(0, Number(result));
    (op === 'write' ? sent : received).push(bytes);
  };
  for (const line of trace.split('\n')) {
    const pid = line.split(' ', 1)[0]!;
    const conn = /connect\((\d+), \{sa_family=AF_UNIX, sun_path="([^"]+)"\}/.exec(line);
    if (conn && unescapeStrace(conn[2]!).toString() === socketPath) fd = conn[1]!;
    const whole = /\b(read|write)\((\d+), "((?:\\x[0-9a-f]{2})*)"(?:\.\.\.)?, \d+\)\s+=\s+(\d+)/.exec(line);
    if (whole) {
      take(whole[1]!, whole[2]!, whole[3]!, whole[4]!);
      continue;
    }
    const start = /\b(read|write)\((\d+),\s+(?:"((?:\\x[0-9a-f]{2})*)"(?:\.\.\.)?,\s+\d+\s*)?<unfinished \.\.\.>/.exec(line);
    if (start) {
      pending.set(pid, { op: start[1]!, fd: start[2]!, data: start[3] ?? null });
      continue;
    }
    const resumed = /<\.\.\. (read|write) resumed>(?:"((?:\\x[0-9a-f]{2})*)"(?:\.\.\.)?, \d+)?\)\s+=\s+(\d+)/.exec(line);
    if (resumed) {
      const p = pending.get(pid);
      pending.delete(pid);
      if (p !== undefined) take(p.op, p.fd, p.data ?? resumed[2] ?? '', resumed[3]!);
    }
  }
  return { sent: Buffer.concat(sent), received: Buffer.concat(received) };
}

function packets(stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off + 4 <= stream.length) {
    const len = stream.readUInt32BE(off);
    if (len < 28 || off + len > stream.length) break;
    out.push(stream.subarray(off, off + len));
    off += len;
  }
  return out;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
  });
}

async function main(outDir: string): Promise<void> {
  const d = await startLibvirtd();
  try {
    const tracePath = join(d.dir, 'virsh.trace');
    const eventsTrace = join(d.dir, 'events.trace');
    const strace = (out: string) => [
      '-f',
      '-xx',
      '-s',
      '1048576',
      '-o',
      out,
      '-e',
      'trace=connect,read,write,readv,writev,sendmsg,recvmsg',
    ];
    // A session touching the calls the golden test decodes, including one that fails.
    await run('strace', [
      ...strace(tracePath),
      'virsh',
      '-c',
      d.testUri,
      'list --all; dominfo test; nodeinfo; schedinfo test; net-list --all; pool-list --all; dominfo no-such-domain; domstate test',
    ]).catch(() => undefined); // dominfo no-such-domain makes virsh exit 1
    // Events: one virsh waits for lifecycle events while another suspends and resumes the domain.
    const watcher = run('strace', [...strace(eventsTrace), 'virsh', '-c', d.testUri, 'event --all --loop --timeout 4']);
    await new Promise((r) => setTimeout(r, 1500));
    await d.virsh(d.testUri, 'suspend', 'test');
    await d.virsh(d.testUri, 'resume', 'test');
    await watcher;
    rmSync(outDir, { recursive: true, force: true });
    mkdirSync(outDir, { recursive: true });
    let index = 0;
    for (const [label, path] of [
      ['session', tracePath],
      ['events', eventsTrace],
    ] as const) {
      const { sent, received } = socketStreams(readFileSync(path, 'utf8'), d.socketPath);
      for (const [dir, stream] of [
        ['c2s', sent],
        ['s2c', received],
      ] as const) {
        for (const p of packets(stream)) {
          const proc = p.readInt32BE(12);
          const type = p.readInt32BE(16);
          const status = p.readInt32BE(24);
          const name = `${String(index++).padStart(3, '0')}-${label}-${dir}-prog${p.readUInt32BE(4).toString(16)}-proc${proc}-type${type}-status${status}.hex`;
          writeFileSync(join(outDir, name), p.toString('hex') + '\n');
        }
      }
    }
    process.stdout.write(`${readdirSync(outDir).length} packets written to ${outDir}\n`);
  } finally {
    await d.stop();
  }
}

await main(process.argv[2] ?? 'test/libvirt/golden/packets');
