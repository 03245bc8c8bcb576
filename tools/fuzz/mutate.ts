// Deterministic randomness and structure-aware mutations for the fuzzers: inputs come from real
// messages and packets, and are changed the ways that break parsers — length words set to
// extremes, truncation, splices, flipped bits — so that most inputs get past the first check.

/** A small seeded generator (xorshift32): the same seed gives the same inputs on every machine. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** A uint32. */
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.state = x;
    return x;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)] as T;
  }
}

/** Values that break length and count checks, as 32-bit words. */
const INTERESTING_U32 = [
  0, 1, 2, 3, 4, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7ffffff, 0x4000000, 0x8000000, 0x7fffffff, 0x80000000, 0xfffffffe,
  0xffffffff,
];

/** A mutated copy of `seed` (one to four changes); `other` is a second seed to splice from. */
export function mutate(rng: Random, seed: Buffer, other: Buffer): Buffer {
  let b = Buffer.from(seed);
  const rounds = 1 + rng.below(4);
  for (let i = 0; i < rounds; i++) {
    const kind = rng.below(10);
    if (kind === 0 && b.length > 0) {
      b[rng.below(b.length)] ^= 1 << rng.below(8); // a flipped bit
    } else if (kind === 1 && b.length > 0) {
      b[rng.below(b.length)] = rng.below(256); // a random byte
    } else if ((kind === 2 || kind === 3) && b.length >= 4) {
      // A 32-bit word (aligned, as XDR and most D-Bus lengths are) set to an extreme or nudged.
      const at = rng.below(b.length >>> 2) * 4;
      const big = rng.below(2) === 0;
      const old = big ? b.readUInt32BE(at) : b.readUInt32LE(at);
      const v = kind === 2 ? rng.pick(INTERESTING_U32) : (old + rng.pick([-4, -1, 1, 4, 8, 0x1000])) >>> 0;
      if (big) b.writeUInt32BE(v, at);
      else b.writeUInt32LE(v, at);
    } else if (kind === 4) {
      b = b.subarray(0, rng.below(b.length + 1)); // truncated
    } else if (kind === 5) {
      const extra = Buffer.alloc(1 + rng.below(32));
      for (let j = 0; j < extra.length; j++) extra[j] = rng.below(256);
      b = Buffer.concat([b, extra]); // trailing bytes
    } else if (kind === 6 && other.length > 0) {
      // The head of this input with the tail of another.
      b = Buffer.concat([b.subarray(0, rng.below(b.length + 1)), other.subarray(rng.below(other.length))]);
    } else if (kind === 7 && b.length > 0) {
      const start = rng.below(b.length);
      const end = start + rng.below(Math.min(64, b.length - start) + 1);
      b = Buffer.concat([b.subarray(0, end), b.subarray(start, end), b.subarray(end)]); // a region repeated
    } else if (kind === 8 && b.length > 0) {
      const start = rng.below(b.length);
      b = Buffer.concat([b.subarray(0, start), b.subarray(start + 1 + rng.below(16))]); // a region deleted
    } else {
      const len = rng.below(64);
      const r = Buffer.alloc(len);
      for (let j = 0; j < len; j++) r[j] = rng.below(256);
      if (rng.below(8) === 0) b = r; // now and then plain random bytes
    }
  }
  return b;
}
