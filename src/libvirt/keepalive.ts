// The keepalive program (virkeepaliveprotocol.x): either side may send PING (a MESSAGE with
// procedure 1 and no payload) and the other answers PONG (procedure 2). Like libvirt's
// virKeepAlive, we ping only when nothing has arrived for `interval` ms, and declare the peer
// dead after `count` pings in a row went unanswered (no packet at all received meanwhile).
import { KEEPALIVE_PROC_PING, KEEPALIVE_PROC_PONG, KEEPALIVE_PROGRAM, KEEPALIVE_PROTOCOL_VERSION } from './keepalive-protocol.gen.js';

export { KEEPALIVE_PROC_PING, KEEPALIVE_PROC_PONG, KEEPALIVE_PROGRAM, KEEPALIVE_PROTOCOL_VERSION };

/** libvirt's client defaults (libvirt.conf keepalive_interval / keepalive_count). */
export const DEFAULT_KEEPALIVE_INTERVAL_MS = 5000;
export const DEFAULT_KEEPALIVE_COUNT = 5;

/** What the keepalive timer needs from a connection. */
export interface KeepaliveHost {
  /** Sends a keepalive MESSAGE with the given procedure. */
  sendKeepalive(procedure: number): void;
  /** Called once when `count` pings went unanswered. */
  keepaliveDead(): void;
}

/** Sends PINGs while the peer is quiet and notices when it stays quiet. */
export class Keepalive {
  private timer: NodeJS.Timeout | undefined;
  private lastReceived = Date.now();
  private unanswered = 0;

  constructor(
    private readonly host: KeepaliveHost,
    readonly intervalMs: number,
    readonly count: number,
  ) {}

  /** Starts the timer (no-op when already running). */
  start(): void {
    if (this.timer || this.intervalMs <= 0) return;
    this.lastReceived = Date.now();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref(); // the keepalive alone must not keep a process alive
  }

  /** Stops the timer. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Records that a packet (any packet) arrived from the peer. */
  received(): void {
    this.lastReceived = Date.now();
    this.unanswered = 0;
  }

  private tick(): void {
    // Timers may fire a little early; allow some slack before counting the peer as quiet.
    if (Date.now() - this.lastReceived < this.intervalMs * 0.9) return;
    if (this.unanswered >= this.count) {
      this.stop();
      this.host.keepaliveDead();
      return;
    }
    this.unanswered++;
    this.host.sendKeepalive(KEEPALIVE_PROC_PING);
  }
}
