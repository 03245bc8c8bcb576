// org.libvirt.Domain methods beyond libvirt-dbus 1.4.1 (issue 13): upstream's SetBlockThreshold and
// libvirt functions the reference never mapped. Named the reference's way: the libvirt function
// without its object prefix, arguments named after libvirt's parameters, flags last.

import { defineMethods } from './declare.js';
import { onDomain } from './domain-call.js';

/** The additions to org.libvirt.Domain's methods, in the order they follow the reference's. */
export const DOMAIN_BEYOND_ORDER = ['SetBlockThreshold', 'GetMessages', 'DetachDeviceAlias', 'SetLifecycleAction'] as const;

/** Methods of org.libvirt.Domain that the reference does not have. */
export const beyondMethods = defineMethods({
  SetBlockThreshold: {
    in: 'dev:s threshold:t flags:u',
    libvirt: 'virDomainSetBlockThreshold',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainSetBlockThreshold({ dom, dev: a.dev, threshold: BigInt(a.threshold), flags: a.flags });
      return [];
    }),
  },
  GetMessages: {
    in: 'flags:u',
    out: 'messages:as',
    libvirt: 'virDomainGetMessages',
    call: onDomain(async ({ conn, ref: dom }, a) => [(await conn.domainGetMessages({ dom, flags: a.flags })).msgs]),
  },
  DetachDeviceAlias: {
    in: 'alias:s flags:u',
    libvirt: 'virDomainDetachDeviceAlias',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainDetachDeviceAlias({ dom, alias: a.alias, flags: a.flags });
      return [];
    }),
  },
  SetLifecycleAction: {
    in: 'type:u action:u flags:u',
    libvirt: 'virDomainSetLifecycleAction',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainSetLifecycleAction({ dom, type: a.type, action: a.action, flags: a.flags });
      return [];
    }),
  },
});
