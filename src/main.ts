// The command: bin/libvirt-dbus runs this when it has no start-up snapshot for the node it found,
// and tools/bundle.mjs bundles the service from here.
import { run } from './cli.js';

run(process.argv.slice(2));
