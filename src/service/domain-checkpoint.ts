// org.libvirt.DomainCheckpoint (one checkpoint, at <connect>/checkpoint/_<domain uuid>_<encoded
// name>, built like a snapshot's path) and the org.libvirt.Domain methods that begin backups and
// create, find and list checkpoints. None of these is in libvirt-dbus 1.4.1.

import { defineInterface, defineMethods } from './declare.js';
import { onDomain } from './domain-call.js';
import { on } from './object-calls.js';
import { Kinds } from './object-kinds.js';

/** Methods of org.libvirt.Domain about backups and checkpoints. */
export const domainCheckpointMethods = defineMethods({
  BackupBegin: {
    in: 'backupXML:s checkpointXML:s flags:u',
    libvirt: 'virDomainBackupBegin',
    emptyIsNull: ['checkpointXML'],
    call: onDomain(async ({ conn, ref: dom }, a) => {
      await conn.domainBackupBegin({ dom, backup_xml: a.backupXML, checkpoint_xml: a.checkpointXML, flags: a.flags });
      return [];
    }),
  },
  BackupGetXMLDesc: {
    in: 'flags:u',
    out: 'xml:s',
    libvirt: 'virDomainBackupGetXMLDesc',
    call: onDomain(async ({ conn, ref: dom }, a) => [(await conn.domainBackupGetXmlDesc({ dom, flags: a.flags })).xml]),
  },
  CheckpointCreateXML: {
    in: 'xml:s flags:u',
    out: 'checkpoint:o',
    libvirt: 'virDomainCheckpointCreateXML',
    call: onDomain(async ({ conn, ref: dom }, a, _inv, obj) => {
      const r = await conn.domainCheckpointCreateXml({ dom, xml_desc: a.xml, flags: a.flags });
      return [Kinds.domainCheckpoint.pathOf(obj.connect.path, r.checkpoint)];
    }),
  },
  CheckpointLookupByName: {
    in: 'name:s flags:u',
    out: 'checkpoint:o',
    libvirt: 'virDomainCheckpointLookupByName',
    call: onDomain(async ({ conn, ref: dom }, a, _inv, obj) => {
      const r = await conn.domainCheckpointLookupByName({ dom, name: a.name, flags: a.flags });
      return [Kinds.domainCheckpoint.pathOf(obj.connect.path, r.checkpoint)];
    }),
  },
  ListDomainCheckpoints: {
    in: 'flags:u',
    out: 'checkpoints:ao',
    libvirt: 'virDomainListAllCheckpoints',
    call: onDomain(async ({ conn, ref: dom }, a, _inv, obj) => {
      const r = await conn.domainListAllCheckpoints({ dom, need_results: 1, flags: a.flags });
      return [Kinds.domainCheckpoint.pathsOf(obj.connect.path, r.checkpoints)];
    }),
  },
});

/** org.libvirt.DomainCheckpoint. */
export const DomainCheckpointInterface = defineInterface(Kinds.domainCheckpoint.interface, {
  methods: {
    Delete: {
      in: 'flags:u',
      libvirt: 'virDomainCheckpointDelete',
      call: on(Kinds.domainCheckpoint, async ({ conn, ref: checkpoint }, a) => {
        await conn.domainCheckpointDelete({ checkpoint, flags: a.flags });
        return [];
      }),
    },
    GetParent: {
      in: 'flags:u',
      out: 'parent:o',
      libvirt: 'virDomainCheckpointGetParent',
      call: on(Kinds.domainCheckpoint, async ({ conn, ref: checkpoint }, a, _inv, obj) => {
        const r = await conn.domainCheckpointGetParent({ checkpoint, flags: a.flags });
        return [Kinds.domainCheckpoint.pathOf(obj.connect.path, r.parent)];
      }),
    },
    GetXMLDesc: {
      in: 'flags:u',
      out: 'xml:s',
      libvirt: 'virDomainCheckpointGetXMLDesc',
      call: on(Kinds.domainCheckpoint, async ({ conn, ref: checkpoint }, a) => {
        return [(await conn.domainCheckpointGetXmlDesc({ checkpoint, flags: a.flags })).xml];
      }),
    },
    ListAllChildren: {
      in: 'flags:u',
      out: 'children:ao',
      libvirt: 'virDomainCheckpointListAllChildren',
      call: on(Kinds.domainCheckpoint, async ({ conn, ref: checkpoint }, a, _inv, obj) => {
        const r = await conn.domainCheckpointListAllChildren({ checkpoint, need_results: 1, flags: a.flags });
        return [Kinds.domainCheckpoint.pathsOf(obj.connect.path, r.checkpoints)];
      }),
    },
  },
});
