// Imported first by domain-signals-qemu-reference.test.ts: points domain-signals-qemu.test.ts, whose
// module body reads it, at the C reference (ES modules evaluate their imports in order).
process.env.SIGNALS_SERVICE = 'reference';
