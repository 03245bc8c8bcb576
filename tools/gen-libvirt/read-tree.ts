// Collects the generator's inputs from a libvirt source tree (or a flat copy of its files).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GeneratorInputs } from './generate.js';
import { PROTOCOLS } from './generate.js';
import { GeneratorError } from './model.js';

/** Where each file lives in a libvirt git checkout, or at the top of a flat copy. */
const X_DIRS = ['', 'src/remote', 'src/rpc'];
const HEADER_DIRS = ['include/libvirt', 'include'];

/** Reads the .x files and public headers of a libvirt tree into generator inputs. */
export function readLibvirtTree(dir: string): GeneratorInputs {
  const inputs = new Map<string, string>();
  for (const p of PROTOCOLS) {
    const found = X_DIRS.map((d) => join(dir, d, p.x)).find((f) => existsSync(f));
    if (found === undefined) throw new GeneratorError(`${p.x} not found under ${dir}`);
    inputs.set(p.x, readFileSync(found, 'utf8'));
  }
  const hdir = HEADER_DIRS.map((d) => join(dir, d)).find((d) => existsSync(join(d, 'virterror.h')));
  if (hdir === undefined) throw new GeneratorError(`include/libvirt/virterror.h not found under ${dir}`);
  for (const name of readdirSync(hdir).sort()) {
    if (name.endsWith('.h') || name.endsWith('.h.in')) inputs.set(`include/${name}`, readFileSync(join(hdir, name), 'utf8'));
  }
  return inputs;
}
