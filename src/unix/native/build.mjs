#!/usr/bin/env node
// Builds the optional native addon src/unix/native/build/Release/unix_fd.node.
// Never fails the surrounding build: without the addon, src/unix reports itself unsupported at run time.
// Order: up to date → nothing to do; node-gyp (npm's bundled copy, local Node headers when present);
// else a direct `cc` call; else a warning. `--force` rebuilds even when up to date.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const output = join(dir, 'build', 'Release', 'unix_fd.node');
const sources = [join(dir, 'unix.c'), join(dir, 'binding.gyp')];
const force = process.argv.includes('--force');

function upToDate() {
  if (!existsSync(output)) return false;
  const built = statSync(output).mtimeMs;
  return sources.every((s) => statSync(s).mtimeMs <= built);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
  return r.status === 0;
}

// The headers that ship with this Node (e.g. /usr/include/node), so node-gyp need not download them.
const prefix = dirname(dirname(process.execPath));
const localHeaders = existsSync(join(prefix, 'include', 'node', 'node_api.h'));

function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp, // set by npm while it runs a script
    join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  const script = candidates.find((c) => c && existsSync(c));
  if (!script) return false;
  const args = [script, 'rebuild', '--loglevel=warn'];
  if (localHeaders) args.push(`--nodedir=${prefix}`);
  return run(process.execPath, args);
}

function directCc() {
  if (!localHeaders) return false;
  mkdirSync(dirname(output), { recursive: true });
  const cc = process.env.CC || 'cc';
  return run(cc, [
    '-shared',
    '-fPIC',
    '-O2',
    '-Wall',
    '-Wextra',
    '-std=gnu11',
    '-DNAPI_VERSION=8',
    '-DNODE_GYP_MODULE_NAME=unix_fd',
    `-I${join(prefix, 'include', 'node')}`,
    'unix.c',
    '-o',
    output,
  ]);
}

if (!force && upToDate()) process.exit(0);
if (nodeGyp() && existsSync(output)) process.exit(0);
if (directCc() && existsSync(output)) process.exit(0);
console.warn(
  'warning: the native addon src/unix could not be built; peer credentials and fd passing are unavailable ' +
    '(needs python3, make and a C compiler).',
);
process.exit(0);
