// Memory back to the OS once a burst of calls is over. Under load the process holds memory nobody
// uses any more: replies live in Buffers outside V8's heap, which V8 only weighs against a 64 MiB
// external limit, so tens of MiB of dead Buffers wait for a collection; and glibc keeps the C
// heap they were freed into. When the event loop has been idle for a whole interval (500 ms) and the
// resident size has grown since the last time, one full collection and then a malloc_trim give it back
// (node dist/bench/service-calls.js prints the resident size after the load and once idle).
import { performance } from 'node:perf_hooks';
import { releaseFreeHeapMemory } from '../unix/index.js';

/** What the reducer uses; the defaults are the real ones (tests pass their own). */
export interface IdleMemoryOptions {
  /** How often to look, in ms (an idle interval is one whole such interval). */
  intervalMs?: number;
  /** Growth of the resident size over its size after the last reduction that is worth a reduction. */
  growthBytes?: number;
  /** Event-loop utilisation (0–1) under which an interval counts as idle. */
  idleBelow?: number;
  /** A full garbage collection (default: `gc` of node's --expose-gc; without it no reduction runs). */
  collect?: () => void;
  /** Returns free C heap memory to the OS. */
  trim?: () => boolean;
  /** The resident size in bytes. */
  residentSize?: () => number;
  /** Event-loop utilisation (0–1) since the last time it was asked (default: node's measure). */
  utilization?: () => number;
  /** Told one look after each reduction: the resident size before it and then. */
  onReduced?: (before: number, after: number) => void;
}

/** Watches for idle intervals after growth and then reduces memory; stop() ends it. */
export class IdleMemoryReducer {
  /** Reductions run so far. */
  reductions = 0;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly growth: number;
  private readonly idleBelow: number;
  private readonly collect: (() => void) | undefined;
  private readonly trim: () => boolean;
  private readonly residentSize: () => number;
  private readonly onReduced: ((before: number, after: number) => void) | undefined;
  private floor: number;
  /** The resident size before the last collection, until the trim that follows it. */
  private reducedFrom: number | undefined;
  private readonly utilization: () => number;

  constructor(options: IdleMemoryOptions = {}) {
    this.growth = options.growthBytes ?? 4 * 1024 * 1024;
    this.idleBelow = options.idleBelow ?? 0.02;
    this.collect = options.collect ?? (globalThis as { gc?: () => void }).gc;
    this.trim = options.trim ?? releaseFreeHeapMemory;
    this.residentSize = options.residentSize ?? (() => process.memoryUsage.rss());
    this.onReduced = options.onReduced;
    this.utilization = options.utilization ?? loopUtilization();
    this.floor = this.residentSize();
    if (!this.collect) return;
    this.timer = setInterval(() => this.check(), options.intervalMs ?? 500);
    this.timer.unref(); // never what keeps the process alive
  }

  /** One look: reduce if the last interval was idle and memory grew. */
  check(): void {
    const busy = this.utilization();
    if (this.reducedFrom !== undefined) {
      // V8 frees what the collection found (unmaps its pages, frees Buffers' memory) on threads of
      // its own: the C heap is trimmed, and the size read, a look later.
      this.trim();
      this.floor = this.residentSize();
      this.onReduced?.(this.reducedFrom, this.floor);
      this.reducedFrom = undefined;
      return;
    }
    if (busy >= this.idleBelow) return;
    const before = this.residentSize();
    if (before - this.floor < this.growth) return;
    this.collect?.();
    this.reductions++;
    this.reducedFrom = before;
  }

  /** Stops watching. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/** Node's event-loop utilisation, each call measuring since the one before. */
function loopUtilization(): () => number {
  let since = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const u = performance.eventLoopUtilization(now, since).utilization;
    since = now;
    return u;
  };
}
