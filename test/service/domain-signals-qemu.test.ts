// org.libvirt.Domain signals from a real QEMU domain, through our service (domain-signals-suite.ts).
import { domainSignalsSuite } from './domain-signals-suite.js';

domainSignalsSuite('ours');
