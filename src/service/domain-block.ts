// org.libvirt.Domain methods about disks and memory contents: block jobs, resizing, peeking.

import { REMOTE_DOMAIN_BLOCK_PEEK_BUFFER_MAX, REMOTE_DOMAIN_MEMORY_PEEK_BUFFER_MAX } from '../libvirt/index.js';
import { defineMethods } from './declare.js';
import { onDomain, withParams } from './domain-call.js';
import { OrgLibvirtError } from './errors.js';
import { typedParamsToDict, VIR_TYPED_PARAM_STRING_OKAY } from './typed-params.js';

/** The size check libvirt's remote client makes before a peek (VIR_ERR_RPC). */
function checkPeekSize(what: 'block' | 'memory', size: bigint): number {
  const max = what === 'block' ? REMOTE_DOMAIN_BLOCK_PEEK_BUFFER_MAX : REMOTE_DOMAIN_MEMORY_PEEK_BUFFER_MAX;
  if (size > BigInt(max)) {
    throw new OrgLibvirtError(`${what} peek request too large for remote protocol, ${size} > ${max}`);
  }
  return Number(size);
}

/** Methods of org.libvirt.Domain about block devices and memory peeking. */
export const blockMethods = defineMethods({
  BlockCommit: {
    in: 'disk:s base:s top:s bandwidth:t flags:u',
    libvirt: 'virDomainBlockCommit',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainBlockCommit({
        dom,
        disk: a.disk,
        base: a.base,
        top: a.top,
        bandwidth: BigInt(a.bandwidth),
        flags: a.flags,
      });
      return [];
    }),
  },
  BlockCopy: {
    in: 'disk:s destxml:s params:a{sv} flags:u',
    libvirt: 'virDomainBlockCopy',
    call: withParams(async ({ conn, ref: dom }, params, a) => {
      await conn.domainBlockCopy({ dom, path: a.disk, destxml: a.destxml, params, flags: a.flags });
    }),
  },
  BlockJobAbort: {
    in: 'disk:s flags:u',
    libvirt: 'virDomainBlockJobAbort',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainBlockJobAbort({ dom, path: a.disk, flags: a.flags });
      return [];
    }),
  },
  BlockPeek: {
    in: 'disk:s offset:t size:t flags:u',
    out: 'buffer:ay',
    libvirt: 'virDomainBlockPeek',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const size = checkPeekSize('block', BigInt(a.size));
      const r = await conn.domainBlockPeek({ dom, path: a.disk, offset: BigInt(a.offset), size, flags: a.flags });
      return [Buffer.from(r.buffer)];
    }),
  },
  BlockPull: {
    in: 'disk:s bandwidth:t flags:u',
    libvirt: 'virDomainBlockPull',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainBlockPull({ dom, path: a.disk, bandwidth: BigInt(a.bandwidth), flags: a.flags });
      return [];
    }),
  },
  BlockRebase: {
    in: 'disk:s base:s bandwidth:t flags:u',
    libvirt: 'virDomainBlockRebase',
    emptyIsNull: ['base'],
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainBlockRebase({ dom, path: a.disk, base: a.base, bandwidth: BigInt(a.bandwidth), flags: a.flags });
      return [];
    }),
  },
  BlockResize: {
    in: 'disk:s size:t flags:u',
    libvirt: 'virDomainBlockResize',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainBlockResize({ dom, disk: a.disk, size: BigInt(a.size), flags: a.flags });
      return [];
    }),
  },
  BlockJobSetSpeed: {
    in: 'disk:s bandwidth:t flags:u',
    libvirt: 'virDomainBlockJobSetSpeed',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainBlockJobSetSpeed({ dom, path: a.disk, bandwidth: BigInt(a.bandwidth), flags: a.flags });
      return [];
    }),
  },
  GetBlockIOTune: {
    in: 'disk:s flags:u',
    out: 'blockIOTune:a{sv}',
    libvirt: 'virDomainGetBlockIoTune',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const flags = (a.flags | VIR_TYPED_PARAM_STRING_OKAY) >>> 0;
      const first = await conn.domainGetBlockIoTune({ dom, disk: a.disk, nparams: 0, flags });
      if (first.nparams === 0) return [new Map()];
      const r = await conn.domainGetBlockIoTune({ dom, disk: a.disk, nparams: first.nparams, flags });
      return [typedParamsToDict(r.params)];
    }),
  },
  GetBlockJobInfo: {
    in: 'disk:s flags:u',
    out: 'blockJobInfo:(ittt)',
    libvirt: 'virDomainGetBlockJobInfo',
    // With no job running libvirt leaves the zeroed info as it is.
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainGetBlockJobInfo({ dom, path: a.disk, flags: a.flags });
      if (!r.found) return [[0, 0n, 0n, 0n]];
      return [[r.type, BigInt(r.bandwidth), BigInt(r.cur), BigInt(r.end)]];
    }),
  },
  MemoryPeek: {
    in: 'offset:t size:t flags:u',
    out: 'buffer:ay',
    libvirt: 'virDomainMemoryPeek',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const size = checkPeekSize('memory', BigInt(a.size));
      const r = await conn.domainMemoryPeek({ dom, offset: BigInt(a.offset), size, flags: a.flags });
      return [Buffer.from(r.buffer)];
    }),
  },
  SetBlockIOTune: {
    in: 'disk:s params:a{sv} flags:u',
    libvirt: 'virDomainSetBlockIoTune',
    call: withParams(async ({ conn, ref: dom }, params, a) => {
      await conn.domainSetBlockIoTune({ dom, disk: a.disk, params, flags: a.flags });
    }),
  },
});
