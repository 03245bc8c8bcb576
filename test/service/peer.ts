// A python3-dbus peer for service tests: a real, independent D-Bus client (libdbus underneath)
// that makes calls and collects signals for us over a JSON-lines pipe. Values come back as JSON:
// arrays/structs → arrays, dicts → objects, 64-bit integers → numbers, bytes → number arrays.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const SCRIPT = String.raw`
import sys, json, dbus, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(sys.argv[1])

def to_json(v):
    if isinstance(v, dbus.Boolean): return bool(v)
    if isinstance(v, (dbus.Dictionary, dict)): return {str(k): to_json(x) for k, x in v.items()}
    if isinstance(v, (dbus.Array, dbus.Struct, list, tuple)): return [to_json(x) for x in v]
    if isinstance(v, (dbus.Double, float)): return float(v)
    if isinstance(v, int): return int(v)
    if isinstance(v, (dbus.ByteArray, bytes)): return list(v)
    return str(v)

TYPES = {'y': dbus.Byte, 'n': dbus.Int16, 'q': dbus.UInt16, 'i': dbus.Int32, 'u': dbus.UInt32,
         'x': dbus.Int64, 't': dbus.UInt64, 'd': dbus.Double, 'b': dbus.Boolean, 's': dbus.String,
         'o': dbus.ObjectPath}
def from_json(v):
    if isinstance(v, dict) and '$t' in v: return TYPES[v['$t']](v['v'])
    if isinstance(v, dict): return {k: from_json(x) for k, x in v.items()}
    if isinstance(v, list): return [from_json(x) for x in v]
    return v

def out(obj):
    sys.stdout.write(json.dumps(obj) + '\n'); sys.stdout.flush()

def on_signal(*args, **kw):
    out({'signal': True, 'path': str(kw['path']), 'iface': str(kw['iface']), 'member': str(kw['member']),
         'args': [to_json(a) for a in args]})

def handle(line):
    req = json.loads(line)
    rid = req['id']
    if req['op'] == 'subscribe':
        bus.add_signal_receiver(on_signal, signal_name=req.get('member'), dbus_interface=req.get('iface'),
                                path=req.get('path'), path_keyword='path', interface_keyword='iface',
                                member_keyword='member')
        bus.call_blocking('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetId', '', [])
        out({'id': rid, 'ok': None}); return
    def reply(*r):
        out({'id': rid, 'ok': [to_json(x) for x in r]})
    def error(e):
        out({'id': rid, 'error': e.get_dbus_name(), 'message': e.get_dbus_message()})
    bus.call_async(req['dest'], req['path'], req['iface'], req['member'], req.get('sig', ''),
                   [from_json(a) for a in req.get('args', [])], reply, error, timeout=req.get('timeout', 30))

def on_input(source, cond):
    line = sys.stdin.readline()
    if not line:
        loop.quit(); return False
    try:
        handle(line)
    except Exception as e:
        out({'id': json.loads(line).get('id'), 'error': 'python.' + type(e).__name__, 'message': str(e)})
    return True

loop = GLib.MainLoop()
GLib.io_add_watch(sys.stdin, GLib.IO_IN | GLib.IO_HUP, on_input)
out({'ready': True})
loop.run()
`;

/** A D-Bus error answered to a call. */
export class PeerCallError extends Error {
  constructor(
    readonly errorName: string,
    /** The error's message as sent (the Error's message is prefixed with the name). */
    readonly dbusMessage: string,
  ) {
    super(`${errorName}: ${dbusMessage}`);
  }
}

/** A signal the peer received. */
export interface PeerSignal {
  path: string;
  iface: string;
  member: string;
  args: unknown[];
}

/** A typed value for a variant or an argument python cannot guess: { $t: 'u', v: 5 }. */
export function typed(t: string, v: unknown): { $t: string; v: unknown } {
  return { $t: t, v };
}

/** A python3-dbus client connected to `address`. */
export class DBusPeer {
  private readonly child: ChildProcessWithoutNullStreams;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly ready: Promise<void>;
  readonly signals: PeerSignal[] = [];
  private signalWaiters: Array<() => void> = [];

  constructor(address: string) {
    this.child = spawn('/usr/bin/python3', ['-c', SCRIPT, address], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    this.child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    let markReady: () => void = () => {};
    let failReady: (e: Error) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    this.child.once('exit', (code) => {
      const err = new Error(`python peer exited (${code}): ${stderr}`);
      failReady(err);
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const msg = JSON.parse(line) as Record<string, unknown>;
      if (msg.ready) return markReady();
      if (msg.signal) {
        this.signals.push(msg as unknown as PeerSignal);
        for (const w of this.signalWaiters.splice(0)) w();
        return;
      }
      const w = this.waiting.get(msg.id as number);
      if (!w) return;
      this.waiting.delete(msg.id as number);
      if ('error' in msg) w.reject(new PeerCallError(msg.error as string, msg.message as string));
      else w.resolve(msg.ok);
    });
  }

  private async request(req: Record<string, unknown>): Promise<unknown> {
    await this.ready;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.stdin.write(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  /** Calls a method of org.libvirt (or `dest`); resolves to the out arguments. */
  call(path: string, iface: string, member: string, sig = '', args: unknown[] = [], dest = 'org.libvirt'): Promise<unknown[]> {
    return this.request({ op: 'call', dest, path, iface, member, sig, args }) as Promise<unknown[]>;
  }

  /** Reads a property through org.freedesktop.DBus.Properties.Get. */
  async get(path: string, iface: string, prop: string): Promise<unknown> {
    const [v] = await this.call(path, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [iface, prop]);
    return v;
  }

  /** Writes a property through org.freedesktop.DBus.Properties.Set. */
  async set(path: string, iface: string, prop: string, value: unknown): Promise<void> {
    await this.call(path, 'org.freedesktop.DBus.Properties', 'Set', 'ssv', [iface, prop, value]);
  }

  /** Starts collecting signals matching the filter. */
  async subscribe(filter: { iface?: string; member?: string; path?: string }): Promise<void> {
    await this.request({ op: 'subscribe', ...filter });
  }

  /** Resolves with the first collected signal matching `pred` (waiting up to `timeoutMs`). */
  async waitForSignal(pred: (s: PeerSignal) => boolean, timeoutMs = 20_000): Promise<PeerSignal> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.signals.find(pred);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching signal within ${timeoutMs} ms; got ${JSON.stringify(this.signals)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.signalWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Ends the python process. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.stdin.end();
      setTimeout(() => this.child.kill('SIGKILL'), 5000).unref();
    });
  }
}
