// Tests use the same private bus as `bin/try` (tools/sandbox).
export * from '../../tools/sandbox/bus.js';
