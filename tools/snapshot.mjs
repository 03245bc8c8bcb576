#!/usr/bin/env node
// Builds the start-up snapshot dist/libvirt-dbus-<node version>.blob from the bundle
// dist/libvirt-dbus.cjs (tools/bundle.mjs): node's heap with the service's modules loaded and its
// interface tables compiled. bin/libvirt-dbus starts from it when it was made by the same node
// with the same flags (node refuses any other), and from dist/src otherwise.
// Plain JavaScript: the npm package's install step runs it with nothing compiled.
//
// Run: node tools/snapshot.mjs [--best-effort]   (--best-effort: a failure is a warning, exit 0)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const dist = join(root, 'dist');

/** The node flags the service runs with: the `node_flags=` line of bin/libvirt-dbus, their one place. */
export function nodeFlags() {
  const line = /^node_flags='([^']*)'$/m.exec(readFileSync(join(root, 'bin', 'libvirt-dbus'), 'utf8'));
  if (!line) throw new Error("bin/libvirt-dbus has no node_flags='…' line");
  return line[1].split(/\s+/).filter(Boolean);
}

/** The snapshot's path for the running node (the wrapper asks `node --version` for the same). */
export function snapshotPath() {
  return join(dist, `libvirt-dbus-${process.version}.blob`);
}

/** Builds the snapshot; returns its path, or undefined when best effort failed. */
export function buildSnapshot({ bestEffort }) {
  const bundle = join(dist, 'libvirt-dbus.cjs');
  const blob = snapshotPath();
  const fail = (why) => {
    if (!bestEffort) throw new Error(`start-up snapshot not built: ${why}`);
    console.warn(`libvirt-dbus: start-up snapshot not built (${why}); the service starts from dist/src, more slowly`);
    return undefined;
  };
  if (!existsSync(bundle)) {
    // Nothing built yet (npm ci in a clone runs the install step before any build).
    if (bestEffort) return undefined;
    return fail(`${bundle} is missing`);
  }
  // Snapshots of other node versions are stale once the bundle changes.
  for (const f of readdirSync(dist).filter((f) => /^libvirt-dbus-.*\.blob$/.test(f))) rmSync(join(dist, f));
  const r = spawnSync(process.execPath, [...nodeFlags(), '--snapshot-blob', blob, '--build-snapshot', bundle], {
    encoding: 'utf8',
  });
  // node warns about built-ins it has not verified for snapshots; the bundle refuses those itself.
  if (r.status !== 0 || !existsSync(blob)) return fail(`node exited ${r.status ?? r.signal}: ${r.stderr.trim()}`);
  console.log(`start-up snapshot ${blob}`);
  return blob;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildSnapshot({ bestEffort: process.argv.includes('--best-effort') });
}
