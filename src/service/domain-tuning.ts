// org.libvirt.Domain methods that read and change tunables: typed-parameter groups (blkio,
// memory, NUMA, scheduler, perf, interface), vCPUs and pinning, I/O threads, memory and
// migration settings. Conversions follow the reference (libvirt-dbus 1.4.1).

import { type LibvirtConnection, type RemoteNonnullDomain, VirDomainMemoryStatTags, VirDomainMigrateFlags } from '../libvirt/index.js';
import { defineMethods } from './declare.js';
import { boolsToCpumap, cpuMapLength, cpumapToBools, hostCpuCount, onDomain, withParams } from './domain-call.js';
import { OrgLibvirtError } from './errors.js';
import { type RemoteTypedParam, typedParamsToDict, VIR_TYPED_PARAM_STRING_OKAY } from './typed-params.js';

/** How many memory statistics to ask for: every tag libvirt knows (VIR_DOMAIN_MEMORY_STAT_NR). */
const { VIR_DOMAIN_MEMORY_STAT_NR } = VirDomainMemoryStatTags;

/**
 * libvirt's two-step getter: ask how many parameters there are (nparams 0), then fetch them.
 * Like libvirt's client library, VIR_TYPED_PARAM_STRING_OKAY is added so string parameters come too.
 */
async function twoStep(
  fetch: (nparams: number, flags: number) => Promise<{ params: RemoteTypedParam[]; nparams: number }>,
  flags: number,
): Promise<RemoteTypedParam[]> {
  const f = (flags | VIR_TYPED_PARAM_STRING_OKAY) >>> 0;
  const first = await fetch(0, f);
  if (first.nparams === 0) return [];
  const r = await fetch(first.nparams, f);
  return r.params;
}

/** virDomainGetVcpuPinInfo as the reference calls it: one map per vCPU, one boolean per host CPU. */
async function vcpuPinInfo(conn: LibvirtConnection, dom: RemoteNonnullDomain, flags: number): Promise<boolean[][]> {
  const info = await conn.domainGetInfo({ dom });
  const vcpus = info.nrVirtCpu;
  const cpus = await hostCpuCount(conn);
  const maplen = cpuMapLength(cpus);
  const r = await conn.domainGetVcpuPinInfo({ dom, ncpumaps: vcpus, maplen, flags });
  const maps = Buffer.from(r.cpumaps);
  const out: boolean[][] = [];
  for (let v = 0; v < vcpus; v++) out.push(cpumapToBools(maps, cpus, v * maplen));
  return out;
}

/**
 * The reference's conversion of a boolean array to virDomainSetGuestVcpus' cpumap string: runs of
 * true become "a-b" or "a", joined by ','. A run reaching the end of the array is left out, as
 * the reference stops before closing it.
 */
export function guestVcpumapOf(bools: readonly boolean[]): string {
  const parts: string[] = [];
  let start = 0;
  let prev = false;
  for (let i = 0; i < bools.length; i++) {
    const set = bools[i] === true;
    if (set && !prev) start = i;
    else if (!set && prev) parts.push(start !== i - 1 ? `${start}-${i - 1}` : `${start}`);
    prev = set;
  }
  return parts.join(',');
}

// virDomainMigrateFlags and virDrvFeature values libvirt's client checks before migrating.
const { VIR_MIGRATE_PEER2PEER, VIR_MIGRATE_NON_SHARED_DISK, VIR_MIGRATE_NON_SHARED_INC, VIR_MIGRATE_OFFLINE } = VirDomainMigrateFlags;
// From libvirt's private libvirt_internal.h (not part of the protocol definition we vendor).
const VIR_DRV_FEATURE_MIGRATION_P2P = 4;
const VIR_DRV_FEATURE_MIGRATION_DIRECT = 5;
const VIR_DRV_FEATURE_MIGRATION_OFFLINE = 11;
const VIR_DRV_FEATURE_MIGRATION_PARAMS = 12;

async function supports(conn: LibvirtConnection, feature: number): Promise<boolean> {
  return (await conn.connectSupportsFeature({ feature })).supported !== 0;
}

/**
 * virDomainMigrateToURI3 as libvirt's client library runs it over a remote connection: the
 * same compatibility checks, then peer-to-peer migration with parameters in one call
 * (REMOTE_PROC_DOMAIN_MIGRATE_PERFORM3_PARAMS). Direct migration needs a driver in the
 * client's own process, which a daemon connection never is.
 */
async function migrateToUri3(
  conn: LibvirtConnection,
  dom: RemoteNonnullDomain,
  dconnuri: string,
  params: RemoteTypedParam[],
  flags: number,
): Promise<void> {
  if (flags & VIR_MIGRATE_NON_SHARED_DISK && flags & VIR_MIGRATE_NON_SHARED_INC) {
    throw new OrgLibvirtError(
      "invalid argument: Flags 'VIR_MIGRATE_NON_SHARED_DISK' and 'VIR_MIGRATE_NON_SHARED_INC' are mutually exclusive",
    );
  }
  if (flags & VIR_MIGRATE_OFFLINE && !(await supports(conn, VIR_DRV_FEATURE_MIGRATION_OFFLINE))) {
    throw new OrgLibvirtError('argument unsupported: offline migration is not supported by the source host');
  }
  if (!(flags & VIR_MIGRATE_PEER2PEER)) {
    if (!(await supports(conn, VIR_DRV_FEATURE_MIGRATION_DIRECT))) {
      throw new OrgLibvirtError('argument unsupported: direct migration is not supported by the source host');
    }
    throw new OrgLibvirtError('this function is not supported by the connection driver: virDomainMigrateToURI3');
  }
  if (!(await supports(conn, VIR_DRV_FEATURE_MIGRATION_P2P))) {
    throw new OrgLibvirtError('argument unsupported: p2p migration is not supported by the source host');
  }
  if (!(await supports(conn, VIR_DRV_FEATURE_MIGRATION_PARAMS))) {
    throw new OrgLibvirtError('this function is not supported by the connection driver: virDomainMigrateToURI3');
  }
  await conn.domainMigratePerform3Params({ dom, dconnuri, params, cookie_in: Buffer.alloc(0), flags });
}

/** Methods of org.libvirt.Domain about tunables, vCPUs, memory and migration settings. */
export const tuningMethods = defineMethods({
  AddIOThread: {
    in: 'iothreadId:u flags:u',
    libvirt: 'virDomainAddIOThread',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainAddIothread({ dom, iothread_id: a.iothreadId, flags: a.flags });
      return [];
    }),
  },
  DelIOThread: {
    in: 'iothreadId:u flags:u',
    libvirt: 'virDomainDelIOThread',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainDelIothread({ dom, iothread_id: a.iothreadId, flags: a.flags });
      return [];
    }),
  },
  GetBlockIOParameters: {
    in: 'flags:u',
    out: 'BlkioParameters:a{sv}',
    libvirt: 'virDomainGetBlkioParameters',
    // The reference answers an empty dictionary when asking for the count fails.
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const flags = (a.flags | VIR_TYPED_PARAM_STRING_OKAY) >>> 0;
      let count: number;
      try {
        count = (await conn.domainGetBlkioParameters({ dom, nparams: 0, flags })).nparams;
      } catch {
        return [new Map()];
      }
      if (count === 0) return [new Map()];
      const r = await conn.domainGetBlkioParameters({ dom, nparams: count, flags });
      return [typedParamsToDict(r.params)];
    }),
  },
  GetEmulatorPinInfo: {
    in: 'flags:u',
    out: 'cpumap:ab',
    libvirt: 'virDomainGetEmulatorPinInfo',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const cpus = await hostCpuCount(conn);
      const r = await conn.domainGetEmulatorPinInfo({ dom, maplen: cpuMapLength(cpus), flags: a.flags });
      // No pinning (ret 0) leaves the caller's zeroed map untouched.
      const map = r.ret === 1 ? Buffer.from(r.cpumaps) : Buffer.alloc(0);
      return [cpumapToBools(map, cpus)];
    }),
  },
  GetGuestVcpus: {
    in: 'flags:u',
    out: 'vcpus:a{sv}',
    libvirt: 'virDomainGetGuestVcpus',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainGetGuestVcpus({ dom, flags: a.flags });
      return [typedParamsToDict(r.params)];
    }),
  },
  GetInterfaceParameters: {
    in: 'device:s flags:u',
    out: 'interfaceParameters:a{sv}',
    libvirt: 'virDomainGetInterfaceParameters',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const params = await twoStep(
        (nparams, flags) => conn.domainGetInterfaceParameters({ dom, device: a.device, nparams, flags }),
        a.flags,
      );
      return [typedParamsToDict(params)];
    }),
  },
  GetIOThreadInfo: {
    in: 'flags:u',
    out: 'ioThreadInfo:a(uab)',
    libvirt: 'virDomainGetIOThreadInfo',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainGetIothreadInfo({ dom, flags: a.flags });
      const cpus = await hostCpuCount(conn);
      return [r.info.map((t) => [t.iothread_id, cpumapToBools(Buffer.from(t.cpumap), cpus)])];
    }),
  },
  GetMemoryParameters: {
    in: 'flags:u',
    out: 'memoryParameters:a{sv}',
    libvirt: 'virDomainGetMemoryParameters',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const params = await twoStep((nparams, flags) => conn.domainGetMemoryParameters({ dom, nparams, flags }), a.flags);
      return [typedParamsToDict(params)];
    }),
  },
  GetNumaParameters: {
    in: 'flags:u',
    out: 'numaParameters:a{sv}',
    libvirt: 'virDomainGetNumaParameters',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const params = await twoStep((nparams, flags) => conn.domainGetNumaParameters({ dom, nparams, flags }), a.flags);
      return [typedParamsToDict(params)];
    }),
  },
  GetPerfEvents: {
    in: 'flags:u',
    out: 'perfEvents:a{sv}',
    libvirt: 'virDomainGetPerfEvents',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainGetPerfEvents({ dom, flags: a.flags });
      return [typedParamsToDict(r.params)];
    }),
  },
  GetSchedulerParameters: {
    in: 'flags:u',
    out: 'SchedulerParameters:a{sv}',
    libvirt: 'virDomainGetSchedulerParametersFlags',
    // The reference takes the count from virDomainGetSchedulerType and passes flags 0 (to which
    // libvirt's client adds VIR_TYPED_PARAM_STRING_OKAY), whatever the caller's flags.
    call: onDomain(async ({ conn, ref: dom }) => {
      const t = await conn.domainGetSchedulerType({ dom });
      if (t.nparams === 0) return [new Map()];
      const r = await conn.domainGetSchedulerParametersFlags({
        dom,
        nparams: t.nparams,
        flags: VIR_TYPED_PARAM_STRING_OKAY,
      });
      return [typedParamsToDict(r.params)];
    }),
  },
  GetVcpuPinInfo: {
    in: 'flags:u',
    out: 'vcpuPinInfo:aab',
    libvirt: 'virDomainGetVcpuPinInfo',
    call: onDomain(async ({ conn, ref: dom }, a) => [await vcpuPinInfo(conn, dom, a.flags)]),
  },
  GetVcpus: {
    in: 'flags:u',
    out: 'vcpus:u',
    libvirt: 'virDomainGetVcpusFlags',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainGetVcpusFlags({ dom, flags: a.flags });
      return [r.num];
    }),
  },
  MemoryStats: {
    in: 'flags:u',
    out: 'stats:a{it}',
    libvirt: 'virDomainMemoryStats',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainMemoryStats({ dom, maxStats: VIR_DOMAIN_MEMORY_STAT_NR, flags: a.flags });
      return [new Map(r.stats.map((s) => [s.tag, BigInt(s.val)]))];
    }),
  },
  MigrateGetCompressionCache: {
    in: 'flags:u',
    out: 'cacheSize:t',
    libvirt: 'virDomainMigrateGetCompressionCache',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainMigrateGetCompressionCache({ dom, flags: a.flags });
      return [BigInt(r.cacheSize)];
    }),
  },
  MigrateGetMaxSpeed: {
    in: 'flags:u',
    out: 'bandwidth:t',
    libvirt: 'virDomainMigrateGetMaxSpeed',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainMigrateGetMaxSpeed({ dom, flags: a.flags });
      return [BigInt(r.bandwidth)];
    }),
  },
  MigrateToURI3: {
    in: 'dconuri:s params:a{sv} flags:u',
    libvirt: 'virDomainMigrateToURI3',
    call: withParams(async ({ conn, ref: dom }, params, a) => {
      await migrateToUri3(conn, dom, a.dconuri, params, a.flags);
    }),
  },
  MigrateSetCompressionCache: {
    in: 'cacheSize:t flags:u',
    libvirt: 'virDomainMigrateSetCompressionCache',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainMigrateSetCompressionCache({ dom, cacheSize: BigInt(a.cacheSize), flags: a.flags });
      return [];
    }),
  },
  MigrateSetMaxDowntime: {
    in: 'downtime:t flags:u',
    libvirt: 'virDomainMigrateSetMaxDowntime',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainMigrateSetMaxDowntime({ dom, downtime: BigInt(a.downtime), flags: a.flags });
      return [];
    }),
  },
  MigrateSetMaxSpeed: {
    in: 'bandwidth:t flags:u',
    libvirt: 'virDomainMigrateSetMaxSpeed',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainMigrateSetMaxSpeed({ dom, bandwidth: BigInt(a.bandwidth), flags: a.flags });
      return [];
    }),
  },
  MigrateStartPostCopy: {
    in: 'flags:u',
    libvirt: 'virDomainMigrateStartPostCopy',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainMigrateStartPostCopy({ dom, flags: a.flags });
      return [];
    }),
  },
  PinEmulator: {
    in: 'cpumap:ab flags:u',
    libvirt: 'virDomainPinEmulator',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainPinEmulator({ dom, cpumap: boolsToCpumap(a.cpumap), flags: a.flags });
      return [];
    }),
  },
  PinIOThread: {
    in: 'iothreadId:u cpumap:ab flags:u',
    libvirt: 'virDomainPinIOThread',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainPinIothread({
        dom,
        iothreads_id: a.iothreadId,
        cpumap: boolsToCpumap(a.cpumap),
        flags: a.flags,
      });
      return [];
    }),
  },
  PinVcpu: {
    in: 'vcpu:u cpumap:ab flags:u',
    libvirt: 'virDomainPinVcpuFlags',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainPinVcpuFlags({ dom, vcpu: a.vcpu, cpumap: boolsToCpumap(a.cpumap), flags: a.flags });
      return [];
    }),
  },
  SetBlockIOParameters: {
    in: 'params:a{sv} flags:u',
    libvirt: 'virDomainSetBlkioParameters',
    call: withParams(async ({ conn, ref: dom }, params, a) => {
      await conn.domainSetBlkioParameters({ dom, params, flags: a.flags });
    }),
  },
  SetGuestVcpus: {
    in: 'vcpumap:ab state:i flags:u',
    libvirt: 'virDomainSetGuestVcpus',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainSetGuestVcpus({ dom, cpumap: guestVcpumapOf(a.vcpumap), state: a.state, flags: a.flags });
      return [];
    }),
  },
  SetInterfaceParameters: {
    in: 'device:s params:a{sv} flags:u',
    libvirt: 'virDomainSetInterfaceParameters',
    call: withParams(async ({ conn, ref: dom }, params, a) => {
      await conn.domainSetInterfaceParameters({ dom, device: a.device, params, flags: a.flags });
    }),
  },
  SetMemory: {
    in: 'memory:t flags:u',
    libvirt: 'virDomainSetMemoryFlags',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainSetMemoryFlags({ dom, memory: BigInt(a.memory), flags: a.flags });
      return [];
    }),
  },
  SetMemoryParameters: {
    in: 'params:a{sv} flags:u',
    libvirt: 'virDomainSetMemoryParameters',
    call: withParams(async ({ conn, ref: dom }, params, a) => {
      await conn.domainSetMemoryParameters({ dom, params, flags: a.flags });
    }),
  },
  SetMemoryStatsPeriod: {
    in: 'period:i flags:u',
    libvirt: 'virDomainSetMemoryStatsPeriod',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainSetMemoryStatsPeriod({ dom, period: a.period, flags: a.flags });
      return [];
    }),
  },
  SetNumaParameters: {
    in: 'params:a{sv} flags:u',
    libvirt: 'virDomainSetNumaParameters',
    call: withParams(async ({ conn, ref: dom }, params, a) => {
      await conn.domainSetNumaParameters({ dom, params, flags: a.flags });
    }),
  },
  SetPerfEvents: {
    in: 'params:a{sv} flags:u',
    libvirt: 'virDomainSetPerfEvents',
    call: withParams(async ({ conn, ref: dom }, params, a) => {
      await conn.domainSetPerfEvents({ dom, params, flags: a.flags });
    }),
  },
  SetSchedulerParameters: {
    in: 'params:a{sv} flags:u',
    libvirt: 'virDomainSetSchedulerParametersFlags',
    call: withParams(async ({ conn, ref: dom }, params, a) => {
      await conn.domainSetSchedulerParametersFlags({ dom, params, flags: a.flags });
    }),
  },
  SetVcpus: {
    in: 'vcpus:u flags:u',
    libvirt: 'virDomainSetVcpusFlags',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainSetVcpusFlags({ dom, nvcpus: a.vcpus, flags: a.flags });
      return [];
    }),
  },
});
