// CLI: node dist/tools/gen-libvirt/main.js <libvirt source tree> <output directory>
// Regenerates src/libvirt/*.gen.ts from libvirt's protocol files and public headers.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from './generate.js';
import { readLibvirtTree } from './read-tree.js';

function main(argv: string[]): number {
  if (argv.length !== 2) {
    process.stderr.write('usage: gen-libvirt <libvirt source tree> <output directory>\n');
    return 2;
  }
  const [tree, outDir] = argv as [string, string];
  const outputs = generate(readLibvirtTree(tree));
  mkdirSync(outDir, { recursive: true });
  for (const [name, text] of outputs) {
    const path = join(outDir, name);
    let old: string | null = null;
    try {
      old = readFileSync(path, 'utf8');
    } catch {
      old = null;
    }
    if (old === text) continue;
    writeFileSync(path, text);
    process.stdout.write(`wrote ${path}\n`);
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
