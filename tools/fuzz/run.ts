// The fuzzing loop shared by `npm run fuzz` and the CI pass: mutated seeds into one target, every
// crash (an untyped exception or a hang) recorded with its input.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mutate, Random } from './mutate.js';
import type { Target } from './targets.js';

/** The inputs that crashed a target, kept as regression cases: `<dir>/<target>/<hash>.hex`. */
export const CRASHERS_DIR = new URL('../../../test/fuzz-crashers/', import.meta.url).pathname;

/** What one run of a target gave. */
export interface FuzzReport {
  target: string;
  inputs: number;
  accepted: number;
  refused: number;
  crashes: Array<{ input: Buffer; error: string }>;
  ms: number;
}

/** The kept crashers of a target (each file: `# error` lines, then one hex line). */
export function keptCrashers(target: string, dir = CRASHERS_DIR): Buffer[] {
  const d = join(dir, target);
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .filter((f) => f.endsWith('.hex'))
    .sort()
    .map((f) =>
      Buffer.from(
        readFileSync(join(d, f), 'utf8')
          .split('\n')
          .filter((l) => l && !l.startsWith('#'))[0] ?? '',
        'hex',
      ),
    );
}

/** Writes a crashing input where keptCrashers finds it; returns its path. */
export function keepCrasher(target: string, input: Buffer, error: string, dir = CRASHERS_DIR): string {
  const d = join(dir, target);
  mkdirSync(d, { recursive: true });
  const path = join(d, `${createHash('sha256').update(input).digest('hex').slice(0, 16)}.hex`);
  writeFileSync(
    path,
    `${error
      .split('\n')
      .map((l) => `# ${l}`)
      .join('\n')}\n${input.toString('hex')}\n`,
  );
  return path;
}

/**
 * Runs `count` inputs through `target`: the kept crashers and the seeds first, then mutations of
 * the seeds from a generator seeded with `seed`.
 */
export async function fuzz(
  target: Target,
  count: number,
  seed: number,
  onCrash?: (input: Buffer, error: string) => void,
): Promise<FuzzReport> {
  const rng = new Random(seed);
  const report: FuzzReport = { target: target.name, inputs: 0, accepted: 0, refused: 0, crashes: [], ms: 0 };
  const start = performance.now();
  const fixed = [...keptCrashers(target.name), ...target.seeds];
  const seeds = target.seeds.length > 0 ? target.seeds : [Buffer.alloc(0)];
  for (let i = 0; i < count; i++) {
    const input = i < fixed.length ? (fixed[i] as Buffer) : mutate(rng, rng.pick(seeds), rng.pick(seeds));
    report.inputs++;
    try {
      const outcome = await target.run(input);
      report[outcome]++;
    } catch (err) {
      const error = err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err);
      report.crashes.push({ input, error });
      onCrash?.(input, error);
    }
  }
  report.ms = performance.now() - start;
  return report;
}
