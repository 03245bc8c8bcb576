// org.libvirt.Domain methods that start, stop, save, describe and talk to a domain.
// Each one looks the domain up by the UUID in its path and makes the one libvirt call named in
// `libvirt`, converting arguments and results the way the reference (libvirt-dbus 1.4.1) does.

import { defineMethods } from './declare.js';
import { asInt64, asUint64, cString, onDomain } from './domain-call.js';
import { OrgLibvirtError } from './errors.js';
import { typedParamsToDict } from './typed-params.js';

/** Methods of org.libvirt.Domain about the domain's life cycle, description and guest. */
export const lifecycleMethods = defineMethods({
  AbortJob: {
    libvirt: 'virDomainAbortJob',
    call: onDomain(async ({ conn, ref: dom }) => {
      await conn.domainAbortJob({ dom });
      return [];
    }),
  },
  AttachDevice: {
    in: 'xml:s flags:u',
    libvirt: 'virDomainAttachDeviceFlags',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainAttachDeviceFlags({ dom, xml: a.xml, flags: a.flags });
      return [];
    }),
  },
  CoreDump: {
    in: 'to:s dumpformat:u flags:u',
    libvirt: 'virDomainCoreDumpWithFormat',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainCoreDumpWithFormat({ dom, to: a.to, dumpformat: a.dumpformat, flags: a.flags });
      return [];
    }),
  },
  Create: {
    in: 'flags:u',
    libvirt: 'virDomainCreateWithFlags',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainCreateWithFlags({ dom, flags: a.flags });
      return [];
    }),
  },
  CreateWithFiles: {
    in: 'files:ah flags:u',
    libvirt: 'virDomainCreateWithFiles',
    // Like the reference, the descriptors that came with the call travel on to libvirt.
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.withFds(a.files, () => conn.domainCreateWithFiles({ dom, flags: a.flags }));
      return [];
    }),
  },
  Destroy: {
    in: 'flags:u',
    libvirt: 'virDomainDestroyFlags',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainDestroyFlags({ dom, flags: a.flags });
      return [];
    }),
  },
  DetachDevice: {
    in: 'xml:s flags:u',
    libvirt: 'virDomainDetachDeviceFlags',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainDetachDeviceFlags({ dom, xml: a.xml, flags: a.flags });
      return [];
    }),
  },
  FSFreeze: {
    in: 'mountpoints:as flags:u',
    out: 'frozenFilesystems:u',
    libvirt: 'virDomainFSFreeze',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainFsfreeze({ dom, mountpoints: a.mountpoints, flags: a.flags });
      return [r.filesystems];
    }),
  },
  FSThaw: {
    in: 'mountpoints:as flags:u',
    out: 'thawedFilesystems:u',
    libvirt: 'virDomainFSThaw',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainFsthaw({ dom, mountpoints: a.mountpoints, flags: a.flags });
      return [r.filesystems];
    }),
  },
  FSTrim: {
    in: 'mountpoint:s minimum:t flags:u',
    libvirt: 'virDomainFSTrim',
    emptyIsNull: ['mountpoint'],
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainFstrim({ dom, mountPoint: a.mountpoint, minimum: a.minimum, flags: a.flags });
      return [];
    }),
  },
  GetControlInfo: {
    in: 'flags:u',
    out: 'controlInfo:(uut)',
    libvirt: 'virDomainGetControlInfo',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainGetControlInfo({ dom, flags: a.flags });
      return [[r.state, r.details, r.stateTime]];
    }),
  },
  GetDiskErrors: {
    in: 'flags:u',
    out: 'diskErrors:a(si)',
    libvirt: 'virDomainGetDiskErrors',
    // The reference asks for the count first and passes flags 0 to both calls.
    call: onDomain(async ({ conn, ref: dom }) => {
      const first = await conn.domainGetDiskErrors({ dom, maxerrors: 0, flags: 0 });
      if (first.nerrors === 0) return [[]];
      const r = await conn.domainGetDiskErrors({ dom, maxerrors: first.nerrors, flags: 0 });
      return [r.errors.slice(0, r.nerrors).map((e) => [e.disk, e.error])];
    }),
  },
  GetFSInfo: {
    in: 'flags:u',
    out: 'fsInfo:a(sssas)',
    libvirt: 'virDomainGetFSInfo',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainGetFsinfo({ dom, flags: a.flags });
      return [r.info.map((fs) => [fs.mountpoint, fs.name, fs.fstype, [...fs.dev_aliases]])];
    }),
  },
  GetHostname: {
    in: 'flags:u',
    out: 'hostname:s',
    libvirt: 'virDomainGetHostname',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainGetHostname({ dom, flags: a.flags });
      return [r.hostname];
    }),
  },
  GetJobInfo: {
    out: 'jobInfo:(ittttttttttt)',
    libvirt: 'virDomainGetJobInfo',
    call: onDomain(async ({ conn, ref: dom }) => {
      const r = await conn.domainGetJobInfo({ dom });
      return [
        [
          r.type,
          r.timeElapsed,
          r.timeRemaining,
          r.dataTotal,
          r.dataProcessed,
          r.dataRemaining,
          r.memTotal,
          r.memProcessed,
          r.memRemaining,
          r.fileTotal,
          r.fileProcessed,
          r.fileRemaining,
        ],
      ];
    }),
  },
  GetJobStats: {
    in: 'flags:u',
    out: 'stats:(ia{sv})',
    libvirt: 'virDomainGetJobStats',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainGetJobStats({ dom, flags: a.flags });
      return [[r.type, typedParamsToDict(r.params)]];
    }),
  },
  GetMetadata: {
    in: 'type:i uri:s flags:u',
    out: 'metadata:s',
    libvirt: 'virDomainGetMetadata',
    emptyIsNull: ['uri'],
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainGetMetadata({ dom, type: a.type, uri: a.uri, flags: a.flags });
      return [r.metadata];
    }),
  },
  GetSecurityLabelList: {
    out: 'securityLabels:a(sb)',
    libvirt: 'virDomainGetSecurityLabelList',
    call: onDomain(async ({ conn, ref: dom }) => {
      const r = await conn.domainGetSecurityLabelList({ dom });
      // The daemon reports a failure as ret -1 without an error, which libvirt's client turns
      // into its generic message.
      if (r.ret < 0) throw new OrgLibvirtError('An error occurred, but the cause is unknown');
      return [r.labels.slice(0, r.ret).map((l) => [cString(l.label), l.enforcing !== 0])];
    }),
  },
  GetState: {
    in: 'flags:u',
    out: 'state:(ii)',
    libvirt: 'virDomainGetState',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainGetState({ dom, flags: a.flags });
      return [[r.state, r.reason]];
    }),
  },
  GetStats: {
    in: 'stats:u flags:u',
    out: 'records:a{sv}',
    libvirt: 'virDomainListGetStats',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.connectGetAllDomainStats({ doms: [dom], stats: a.stats, flags: a.flags });
      const record = r.retStats[0];
      if (r.retStats.length !== 1 || !record) throw new OrgLibvirtError('unknown error');
      return [typedParamsToDict(record.params)];
    }),
  },
  GetTime: {
    in: 'flags:u',
    out: 'time:(tu)',
    libvirt: 'virDomainGetTime',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainGetTime({ dom, flags: a.flags });
      return [[asUint64(r.seconds), r.nseconds]];
    }),
  },
  GetXMLDesc: {
    in: 'flags:u',
    out: 'xml:s',
    libvirt: 'virDomainGetXMLDesc',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainGetXmlDesc({ dom, flags: a.flags });
      return [r.xml];
    }),
  },
  HasManagedSaveImage: {
    in: 'flags:u',
    out: 'managedSaveImage:b',
    libvirt: 'virDomainHasManagedSaveImage',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainHasManagedSaveImage({ dom, flags: a.flags });
      return [r.result !== 0];
    }),
  },
  InjectNMI: {
    in: 'flags:u',
    libvirt: 'virDomainInjectNMI',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainInjectNmi({ dom, flags: a.flags });
      return [];
    }),
  },
  InterfaceAddresses: {
    in: 'source:u flags:u',
    out: 'ifaces:a(ssa(isu))',
    libvirt: 'virDomainInterfaceAddresses',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const r = await conn.domainInterfaceAddresses({ dom, source: a.source, flags: a.flags });
      return [r.ifaces.map((i) => [i.name, i.hwaddr ?? '', i.addrs.map((ad) => [ad.type, ad.addr, ad.prefix])])];
    }),
  },
  ManagedSave: {
    in: 'flags:u',
    libvirt: 'virDomainManagedSave',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainManagedSave({ dom, flags: a.flags });
      return [];
    }),
  },
  ManagedSaveRemove: {
    in: 'flags:u',
    libvirt: 'virDomainManagedSaveRemove',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainManagedSaveRemove({ dom, flags: a.flags });
      return [];
    }),
  },
  OpenGraphicsFD: {
    in: 'idx:u flags:u',
    out: 'fd:h',
    libvirt: 'virDomainOpenGraphicsFD',
    // The descriptor comes with the daemon's reply and goes on with ours.
    call: onDomain(async ({ conn, ref: dom }, a) => {
      const { fds } = await conn.withFds([], () => conn.domainOpenGraphicsFd({ dom, idx: a.idx, flags: a.flags }));
      if (fds.length !== 1) throw new OrgLibvirtError(`libvirt sent ${fds.length} descriptors instead of 1`);
      return [fds[0]];
    }),
  },
  PMWakeup: {
    in: 'flags:u',
    libvirt: 'virDomainPMWakeup',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainPmWakeup({ dom, flags: a.flags });
      return [];
    }),
  },
  Reboot: {
    in: 'flags:u',
    libvirt: 'virDomainReboot',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainReboot({ dom, flags: a.flags });
      return [];
    }),
  },
  Rename: {
    in: 'name:s flags:u',
    libvirt: 'virDomainRename',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainRename({ dom, new_name: a.name, flags: a.flags });
      return [];
    }),
  },
  Reset: {
    in: 'flags:u',
    libvirt: 'virDomainReset',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainReset({ dom, flags: a.flags });
      return [];
    }),
  },
  Resume: {
    libvirt: 'virDomainResume',
    call: onDomain(async ({ conn, ref: dom }) => {
      await conn.domainResume({ dom });
      return [];
    }),
  },
  Save: {
    in: 'to:s xml:s flags:u',
    libvirt: 'virDomainSaveFlags',
    emptyIsNull: ['xml'],
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainSaveFlags({ dom, to: a.to, dxml: a.xml, flags: a.flags });
      return [];
    }),
  },
  SendKey: {
    in: 'codeset:u holdtime:u keycodes:au flags:u',
    libvirt: 'virDomainSendKey',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainSendKey({ dom, codeset: a.codeset, holdtime: a.holdtime, keycodes: a.keycodes, flags: a.flags });
      return [];
    }),
  },
  SendProcessSignal: {
    in: 'pidValue:x sigNum:u flags:u',
    libvirt: 'virDomainSendProcessSignal',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainSendProcessSignal({ dom, pid_value: BigInt(a.pidValue), signum: a.sigNum, flags: a.flags });
      return [];
    }),
  },
  SetMetadata: {
    in: 'type:i metadata:s key:s uri:s flags:u',
    libvirt: 'virDomainSetMetadata',
    emptyIsNull: ['key', 'uri'],
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainSetMetadata({
        dom,
        type: a.type,
        metadata: a.metadata,
        key: a.key,
        uri: a.uri,
        flags: a.flags,
      });
      return [];
    }),
  },
  SetUserPassword: {
    in: 'user:s password:s flags:u',
    libvirt: 'virDomainSetUserPassword',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainSetUserPassword({ dom, user: a.user, password: a.password, flags: a.flags });
      return [];
    }),
  },
  SetTime: {
    in: 'seconds:t nseconds:u flags:u',
    libvirt: 'virDomainSetTime',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainSetTime({ dom, seconds: asInt64(a.seconds), nseconds: a.nseconds, flags: a.flags });
      return [];
    }),
  },
  Shutdown: {
    in: 'flags:u',
    libvirt: 'virDomainShutdownFlags',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainShutdownFlags({ dom, flags: a.flags });
      return [];
    }),
  },
  Suspend: {
    libvirt: 'virDomainSuspend',
    call: onDomain(async ({ conn, ref: dom }) => {
      await conn.domainSuspend({ dom });
      return [];
    }),
  },
  Undefine: {
    in: 'flags:u',
    libvirt: 'virDomainUndefineFlags',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainUndefineFlags({ dom, flags: a.flags });
      return [];
    }),
  },
  UpdateDevice: {
    in: 'xml:s flags:u',
    libvirt: 'virDomainUpdateDeviceFlags',
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainUpdateDeviceFlags({ dom, xml: a.xml, flags: a.flags });
      return [];
    }),
  },
});
