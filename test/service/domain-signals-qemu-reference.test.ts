// The differential half of domain-signals-qemu.test.ts: the same triggers and the same assertions
// on every org.libvirt.Domain signal, run against the C reference (/usr/sbin/libvirt-dbus) on its own
// sandbox. Both passing means both services send the same signals with the same arguments (the one
// known difference, a NULL string argument, is spelled out in domain-signals-suite.ts).
import { domainSignalsSuite } from './domain-signals-suite.js';

domainSignalsSuite('reference');
