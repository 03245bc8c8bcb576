// org.libvirt.Domain methods that reach the guest agent (qemu-ga) through libvirt, beyond
// libvirt-dbus 1.4.1 (issue 13): guest information, a user's authorized SSH keys and the agent's
// response timeout. Named the reference's way: the libvirt function without its object prefix,
// arguments named after libvirt's parameters, flags last.

import { defineMethods } from './declare.js';
import { onDomain } from './domain-call.js';
import { typedParamsToDict } from './typed-params.js';

/** The guest agent methods, in the order they follow the other additions of org.libvirt.Domain. */
export const DOMAIN_AGENT_ORDER = ['GetGuestInfo', 'AuthorizedSSHKeysGet', 'AuthorizedSSHKeysSet', 'AgentSetResponseTimeout'] as const;

/** Methods of org.libvirt.Domain that talk to the guest agent. */
export const agentMethods = defineMethods({
  GetGuestInfo: {
    in: 'types:u flags:u',
    out: 'info:a{sv}',
    libvirt: 'virDomainGetGuestInfo',
    // The daemon always sends string parameters here (libvirt's client passes no
    // VIR_TYPED_PARAM_STRING_OKAY for this call), so the flags go through as given.
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainGetGuestInfo({ dom, types: a.types, flags: a.flags });
      return [typedParamsToDict(r.params)];
    }),
  },
  AuthorizedSSHKeysGet: {
    in: 'user:s flags:u',
    out: 'keys:as',
    libvirt: 'virDomainAuthorizedSSHKeysGet',
    call: onDomain(async ({ conn, ref: dom }, a) => [(await conn.domainAuthorizedSshKeysGet({ dom, user: a.user, flags: a.flags })).keys]),
  },
  AuthorizedSSHKeysSet: {
    in: 'user:s keys:as flags:u',
    libvirt: 'virDomainAuthorizedSSHKeysSet',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainAuthorizedSshKeysSet({ dom, user: a.user, keys: [...a.keys], flags: a.flags });
      return [];
    }),
  },
  AgentSetResponseTimeout: {
    in: 'timeout:i flags:u',
    libvirt: 'virDomainAgentSetResponseTimeout',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainAgentSetResponseTimeout({ dom, timeout: a.timeout, flags: a.flags });
      return [];
    }),
  },
});
