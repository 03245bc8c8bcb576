// Tests use the same private libvirtd as `bin/try` (tools/sandbox).
export * from '../../tools/sandbox/libvirtd.js';

/** The non-empty lines of virsh output (e.g. `list --all --name`), trimmed and sorted. */
export function lines(s: string): string[] {
  return s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .sort();
}
