// Tests use the same private libvirtd as `bin/try` (tools/sandbox).
export * from '../../tools/sandbox/libvirtd.js';
