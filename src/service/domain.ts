// org.libvirt.Domain: one domain, at <connect>/domain/_<uuid with '-' → '_'>. The methods live
// in domain-lifecycle.ts, domain-tuning.ts, domain-block.ts, domain-snapshot.ts,
// domain-checkpoint.ts and domain-console.ts; this file puts them in the reference's order
// (additions last) and adds the properties and signals.

import { type DeclaredMethod, defineInterface } from './declare.js';
import { agentMethods, DOMAIN_AGENT_ORDER } from './domain-agent.js';
import { beyondMethods, DOMAIN_BEYOND_ORDER } from './domain-beyond.js';
import { blockMethods } from './domain-block.js';
import { domainCheckpointMethods } from './domain-checkpoint.js';
import { consoleMethods, DOMAIN_CONSOLE_ORDER } from './domain-console.js';
import { lifecycleMethods } from './domain-lifecycle.js';
import { domainSnapshotMethods } from './domain-snapshot.js';
import { tuningMethods } from './domain-tuning.js';
import { read, write } from './object-calls.js';
import { Kinds, type ServiceObject } from './object-kinds.js';
import { uuidToString } from './paths.js';

/** Method names in the order of the reference's org.libvirt.Domain.xml. */
export const DOMAIN_METHOD_ORDER = [
  'AbortJob',
  'AddIOThread',
  'AttachDevice',
  'BlockCommit',
  'BlockCopy',
  'BlockJobAbort',
  'BlockPeek',
  'BlockPull',
  'BlockRebase',
  'BlockResize',
  'BlockJobSetSpeed',
  'CoreDump',
  'Create',
  'CreateWithFiles',
  'DelIOThread',
  'Destroy',
  'DetachDevice',
  'FSFreeze',
  'FSThaw',
  'FSTrim',
  'GetBlockIOParameters',
  'GetBlockIOTune',
  'GetBlockJobInfo',
  'GetControlInfo',
  'GetDiskErrors',
  'GetEmulatorPinInfo',
  'GetFSInfo',
  'GetGuestVcpus',
  'GetHostname',
  'GetInterfaceParameters',
  'GetIOThreadInfo',
  'GetJobInfo',
  'GetJobStats',
  'GetMemoryParameters',
  'GetMetadata',
  'GetNumaParameters',
  'GetPerfEvents',
  'GetSchedulerParameters',
  'GetSecurityLabelList',
  'GetState',
  'GetStats',
  'GetTime',
  'GetVcpuPinInfo',
  'GetVcpus',
  'GetXMLDesc',
  'HasManagedSaveImage',
  'InjectNMI',
  'InterfaceAddresses',
  'ListDomainSnapshots',
  'ManagedSave',
  'ManagedSaveRemove',
  'MemoryPeek',
  'MemoryStats',
  'MigrateGetCompressionCache',
  'MigrateGetMaxSpeed',
  'MigrateSetCompressionCache',
  'MigrateSetMaxDowntime',
  'MigrateSetMaxSpeed',
  'MigrateStartPostCopy',
  'MigrateToURI3',
  'OpenGraphicsFD',
  'PinEmulator',
  'PinIOThread',
  'PinVcpu',
  'PMWakeup',
  'Reboot',
  'Rename',
  'Reset',
  'Resume',
  'Save',
  'SendKey',
  'SendProcessSignal',
  'SetBlockIOParameters',
  'SetBlockIOTune',
  'SetGuestVcpus',
  'SetInterfaceParameters',
  'SetMemory',
  'SetMemoryParameters',
  'SetMemoryStatsPeriod',
  'SetMetadata',
  'SetNumaParameters',
  'SetPerfEvents',
  'SetSchedulerParameters',
  'SetUserPassword',
  'SetTime',
  'SetVcpus',
  'Shutdown',
  'SnapshotCurrent',
  'SnapshotCreateXML',
  'SnapshotLookupByName',
  'Suspend',
  'Undefine',
  'UpdateDevice',
  // Beyond the reference: backups and checkpoints (domain-checkpoint.ts).
  'BackupBegin',
  'BackupGetXMLDesc',
  'CheckpointCreateXML',
  'CheckpointLookupByName',
  'ListDomainCheckpoints',
] as const;

/** All method tables in the reference's order, then the additions; throws if a table and the order disagree. */
function orderedMethods(): Record<string, DeclaredMethod<ServiceObject>> {
  const all: Record<string, DeclaredMethod<ServiceObject>> = {
    ...lifecycleMethods,
    ...tuningMethods,
    ...blockMethods,
    ...domainSnapshotMethods,
    ...domainCheckpointMethods,
    ...beyondMethods,
    ...agentMethods,
    ...consoleMethods,
  };
  const out: Record<string, DeclaredMethod<ServiceObject>> = {};
  for (const name of [...DOMAIN_METHOD_ORDER, ...DOMAIN_BEYOND_ORDER, ...DOMAIN_AGENT_ORDER, ...DOMAIN_CONSOLE_ORDER]) {
    const m = all[name];
    if (!m) throw new Error(`org.libvirt.Domain: no handler for ${name}`);
    out[name] = m;
  }
  const extra = Object.keys(all).filter((n) => !(n in out));
  if (extra.length > 0) throw new Error(`org.libvirt.Domain: not in the method order: ${extra.join(', ')}`);
  return out;
}

/** org.libvirt.Domain. */
export const DomainInterface = defineInterface(Kinds.domain.interface, {
  emitsChanged: 'false',
  methods: orderedMethods(),
  properties: {
    Active: {
      type: 'b',
      access: 'read',
      libvirt: 'virDomainIsActive',
      get: read(Kinds.domain, async ({ conn, ref: dom }) => (await conn.domainIsActive({ dom })).active !== 0),
    },
    Autostart: {
      type: 'b',
      access: 'readwrite',
      libvirt: 'virDomainGetAutostart,virDomainSetAutostart',
      get: read(Kinds.domain, async ({ conn, ref: dom }) => (await conn.domainGetAutostart({ dom })).autostart !== 0),
      set: write(Kinds.domain, async ({ conn, ref: dom }, value) => {
        await conn.domainSetAutostart({ dom, autostart: value ? 1 : 0 });
      }),
    },
    Id: {
      type: 'u',
      access: 'read',
      libvirt: 'virDomainGetID',
      // An inactive domain has id -1, which the reference turns into 0.
      get: read(Kinds.domain, async ({ ref: dom }) => Math.max(dom.id, 0)),
    },
    Name: {
      type: 's',
      access: 'read',
      libvirt: 'virDomainGetName',
      get: read(Kinds.domain, async ({ ref }) => ref.name),
    },
    OSType: {
      type: 's',
      access: 'read',
      libvirt: 'virDomainGetOSType',
      get: read(Kinds.domain, async ({ conn, ref: dom }) => (await conn.domainGetOsType({ dom })).type),
    },
    Persistent: {
      type: 'b',
      access: 'read',
      libvirt: 'virDomainIsPersistent',
      get: read(Kinds.domain, async ({ conn, ref: dom }) => (await conn.domainIsPersistent({ dom })).persistent !== 0),
    },
    SchedulerType: {
      type: '(si)',
      access: 'read',
      libvirt: 'virDomainGetSchedulerType',
      get: read(Kinds.domain, async ({ conn, ref: dom }) => {
        const r = await conn.domainGetSchedulerType({ dom });
        return [r.type, r.nparams] as const;
      }),
    },
    Updated: {
      type: 'b',
      access: 'read',
      libvirt: 'virDomainIsUpdated',
      get: read(Kinds.domain, async ({ conn, ref: dom }) => (await conn.domainIsUpdated({ dom })).updated !== 0),
    },
    UUID: {
      type: 's',
      access: 'read',
      libvirt: 'virDomainGetUUIDString',
      emitsChanged: 'const',
      get: read(Kinds.domain, async ({ ref }) => uuidToString(ref.uuid)),
    },
  },
  signals: {
    AgentEvent: { args: 'state:i reason:i', libvirt: 'virConnectDomainEventAgentLifecycleCallback' },
    BalloonChange: { args: 'actual:t', libvirt: 'virConnectDomainEventBalloonChangeCallback' },
    BlockJob: {
      args: 'disk:s type:i status:i',
      libvirt: 'virConnectDomainEventBlockJobCallback',
      note: 'Callback was registered using VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2',
    },
    ControlError: { libvirt: 'virConnectDomainEventGenericCallback' },
    DeviceAdded: { args: 'device:s', libvirt: 'virConnectDomainEventDeviceAddedCallback' },
    DeviceRemovalFailed: { args: 'device:s', libvirt: 'virConnectDomainEventDeviceRemovalFailedCallback' },
    DeviceRemoved: { args: 'device:s', libvirt: 'virConnectDomainEventDeviceRemovedCallback' },
    DiskChange: {
      args: 'oldSrcPath:s newSrcPath:s device:s reason:i',
      libvirt: 'virConnectDomainEventDiskChangeCallback',
    },
    Graphics: {
      args: 'phase:i local:(iss) remote:(iss) authScheme:s identities:a(ss)',
      libvirt: 'virConnectDomainEventGraphicsCallback',
    },
    IOError: { args: 'srcPath:s device:s action:i reason:s', libvirt: 'virConnectDomainEventIOErrorReasonCallback' },
    JobCompleted: { args: 'params:a{sv}', libvirt: 'virConnectDomainEventJobCompletedCallback' },
    MetadataChange: { args: 'type:i nsuri:s', libvirt: 'virConnectDomainEventMetadataChangeCallback' },
    MigrationIteration: { args: 'iteration:i', libvirt: 'virConnectDomainEventMigrationIterationCallback' },
    PMSuspend: { args: 'reason:i', libvirt: 'virConnectDomainEventPMSuspendCallback' },
    PMSuspendDisk: { args: 'reason:i', libvirt: 'virConnectDomainEventPMSuspendDiskCallback' },
    PMWakeup: { args: 'reason:i', libvirt: 'virConnectDomainEventPMWakeupCallback' },
    Reboot: { libvirt: 'virConnectDomainEventGenericCallback' },
    RTCChange: { args: 'utcoffset:x', libvirt: 'virConnectDomainEventRTCChangeCallback' },
    TrayChange: { args: 'device:s reason:i', libvirt: 'virConnectDomainEventTrayChangeCallback' },
    Tunable: { args: 'params:a{sv}', libvirt: 'virConnectDomainEventTunableCallback' },
    Watchdog: { args: 'action:i', libvirt: 'virConnectDomainEventWatchdogCallback' },
    // Beyond the reference (issue 13): upstream's BlockThreshold, and events it never registers.
    BlockThreshold: { args: 'device:s devPath:s threshold:t excess:t', libvirt: 'virConnectDomainEventBlockThresholdCallback' },
    MemoryFailure: { args: 'recipient:i action:i flags:u', libvirt: 'virConnectDomainEventMemoryFailureCallback' },
    MemoryDeviceSizeChange: { args: 'alias:s size:t', libvirt: 'virConnectDomainEventMemoryDeviceSizeChangeCallback' },
  },
});
