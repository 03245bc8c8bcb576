// Reads dbus-monitor's text output and pairs every method call to org.libvirt with its reply, so an
// end-to-end test can say exactly which calls a client made and which of them failed or went unanswered.

/** One method call to org.libvirt and how it ended. */
export interface LibvirtCall {
  path: string;
  interface: string;
  member: string;
  /** The first lines of the call's arguments as dbus-monitor printed them. */
  args: string;
  /** 'ok', 'error' or 'no reply' (none seen before the monitor stopped). */
  outcome: 'ok' | 'error' | 'no reply';
  errorName?: string;
  errorMessage?: string;
}

interface Block {
  header: string;
  body: string[];
}

function blocks(text: string): Block[] {
  const out: Block[] = [];
  for (const line of text.split('\n')) {
    if (/^(method call|method return|error|signal) /.test(line)) out.push({ header: line, body: [] });
    else if (out.length > 0 && line.trim() !== '') out[out.length - 1]?.body.push(line.trim());
  }
  return out;
}

function field(header: string, name: string): string | undefined {
  const m = new RegExp(`(?:^|[ ;])${name}=([^ ;]*)`).exec(header);
  return m?.[1];
}

/** The unique names that owned org.libvirt (replies and signals carry those, not the well-known name). */
function libvirtOwners(all: Block[]): Set<string> {
  const owners = new Set<string>();
  for (const b of all) {
    if (b.header.startsWith('signal ') && field(b.header, 'member') === 'NameOwnerChanged' && b.body[0] === 'string "org.libvirt"') {
      const owner = /^string "(.*)"$/.exec(b.body[2] ?? '')?.[1];
      if (owner) owners.add(owner);
    }
  }
  return owners;
}

/** The org.libvirt method calls in a dbus-monitor log, in order, with their outcome. */
export function libvirtCalls(monitorLog: string): LibvirtCall[] {
  const calls = new Map<string, LibvirtCall>();
  const ordered: LibvirtCall[] = [];
  const all = blocks(monitorLog);
  const owners = libvirtOwners(all);
  for (const b of all) {
    const sender = field(b.header, 'sender') ?? '';
    const destination = field(b.header, 'destination') ?? '';
    if (b.header.startsWith('method call ')) {
      if (destination !== 'org.libvirt' && !owners.has(destination)) continue;
      const call: LibvirtCall = {
        path: field(b.header, 'path') ?? '',
        interface: field(b.header, 'interface') ?? '',
        member: field(b.header, 'member') ?? '',
        args: b.body.slice(0, 3).join(' ').slice(0, 160),
        outcome: 'no reply',
      };
      calls.set(`${sender}/${field(b.header, 'serial')}`, call);
      ordered.push(call);
    } else if (b.header.startsWith('method return ') || b.header.startsWith('error ')) {
      const call = calls.get(`${destination}/${field(b.header, 'reply_serial')}`);
      if (!call) continue;
      if (b.header.startsWith('error ')) {
        call.outcome = 'error';
        call.errorName = field(b.header, 'error_name');
        call.errorMessage = /^string "(.*)"$/s.exec(b.body.join(' '))?.[1] ?? b.body.join(' ');
      } else {
        call.outcome = 'ok';
      }
    }
  }
  return ordered;
}

/** Signals org.libvirt emitted, counted by "interface.member path-kind". */
export function libvirtSignals(monitorLog: string): Map<string, number> {
  const all = blocks(monitorLog);
  const owners = libvirtOwners(all);
  const counts = new Map<string, number>();
  for (const b of all) {
    if (!b.header.startsWith('signal ') || !owners.has(field(b.header, 'sender') ?? '')) continue;
    const key = `${field(b.header, 'interface')}.${field(b.header, 'member')} ${pathKind(field(b.header, 'path') ?? '')}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Object paths with their variable part replaced, so equal calls on different objects group together. */
export function pathKind(path: string): string {
  return path.replace(/^(\/org\/libvirt\/[^/]+\/[a-z]+)\/.+$/, '$1/*');
}

/** A readable summary: one line per distinct (interface, member, path kind, outcome), with counts. */
export function summarizeCalls(calls: LibvirtCall[]): string {
  const groups = new Map<string, { n: number; sample: LibvirtCall }>();
  for (const c of calls) {
    const key = `${c.outcome.padEnd(8)} ${c.interface}.${c.member} ${pathKind(c.path)}${c.errorName ? ` -> ${c.errorName}` : ''}`;
    const g = groups.get(key);
    if (g) g.n++;
    else groups.set(key, { n: 1, sample: c });
  }
  const lines: string[] = [];
  for (const [key, { n, sample }] of groups) {
    lines.push(`${String(n).padStart(3)} ${key}`);
    if (sample.outcome !== 'ok') {
      lines.push(`      args: ${sample.args}`);
      if (sample.errorMessage) lines.push(`      message: ${sample.errorMessage.slice(0, 300)}`);
    }
  }
  return lines.join('\n');
}
