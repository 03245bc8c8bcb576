// org.libvirt.DomainSnapshot (one snapshot, at <connect>/domainsnapshot/_<domain uuid>_<encoded
// name>) and the org.libvirt.Domain methods that create, find and list snapshots.

import { defineInterface, defineMethods } from './declare.js';
import { onDomain } from './domain-call.js';
import { on } from './object-calls.js';
import { Kinds } from './object-kinds.js';

/** Methods of org.libvirt.Domain about snapshots. */
export const domainSnapshotMethods = defineMethods({
  ListDomainSnapshots: {
    in: 'flags:u',
    out: 'domainSnapshots:ao',
    libvirt: 'virDomainListAllSnapshots',
    call: onDomain(async ({ conn, ref: dom }, a, _inv, obj) => {
      const r = await conn.domainListAllSnapshots({ dom, need_results: 1, flags: a.flags });
      return [Kinds.domainSnapshot.pathsOf(obj.connect.path, r.snapshots)];
    }),
  },
  SnapshotCurrent: {
    in: 'flags:u',
    out: 'domainSnapshot:o',
    libvirt: 'virDomainSnapshotCurrent',
    call: onDomain(async ({ conn, ref: dom }, a, _inv, obj) => {
      const r = await conn.domainSnapshotCurrent({ dom, flags: a.flags });
      return [Kinds.domainSnapshot.pathOf(obj.connect.path, r.snap)];
    }),
  },
  SnapshotCreateXML: {
    in: 'xml:s flags:u',
    out: 'domainSnapshot:o',
    libvirt: 'virDomainSnapshotCreateXML',
    call: onDomain(async ({ conn, ref: dom }, a, _inv, obj) => {
      const r = await conn.domainSnapshotCreateXml({ dom, xml_desc: a.xml, flags: a.flags });
      return [Kinds.domainSnapshot.pathOf(obj.connect.path, r.snap)];
    }),
  },
  SnapshotLookupByName: {
    in: 'name:s flags:u',
    out: 'domainSnapshot:o',
    libvirt: 'virDomainSnapshotLookupByName',
    call: onDomain(async ({ conn, ref: dom }, a, _inv, obj) => {
      const r = await conn.domainSnapshotLookupByName({ dom, name: a.name, flags: a.flags });
      return [Kinds.domainSnapshot.pathOf(obj.connect.path, r.snap)];
    }),
  },
});

/** org.libvirt.DomainSnapshot. */
export const DomainSnapshotInterface = defineInterface(Kinds.domainSnapshot.interface, {
  methods: {
    Delete: {
      in: 'flags:u',
      libvirt: 'virDomainSnapshotDelete',
      call: on(Kinds.domainSnapshot, async ({ conn, ref: snap }, a) => {
        await conn.domainSnapshotDelete({ snap, flags: a.flags });
        return [];
      }),
    },
    GetParent: {
      in: 'flags:u',
      out: 'domainSnapshot:o',
      libvirt: 'virDomainSnapshotGetParent',
      call: on(Kinds.domainSnapshot, async ({ conn, ref: snap }, a, _inv, obj) => {
        const r = await conn.domainSnapshotGetParent({ snap, flags: a.flags });
        return [Kinds.domainSnapshot.pathOf(obj.connect.path, r.snap)];
      }),
    },
    GetXMLDesc: {
      in: 'flags:u',
      out: 'xml:s',
      libvirt: 'virDomainSnapshotGetXMLDesc',
      call: on(Kinds.domainSnapshot, async ({ conn, ref: snap }, a) => {
        const r = await conn.domainSnapshotGetXmlDesc({ snap, flags: a.flags });
        return [r.xml];
      }),
    },
    IsCurrent: {
      in: 'flags:u',
      out: 'domainSnapshot:b',
      libvirt: 'virDomainSnapshotIsCurrent',
      call: on(Kinds.domainSnapshot, async ({ conn, ref: snap }, a) => {
        const r = await conn.domainSnapshotIsCurrent({ snap, flags: a.flags });
        return [r.current !== 0];
      }),
    },
    ListChildren: {
      in: 'flags:u',
      out: 'domainSnapshots:ao',
      libvirt: 'virDomainSnapshotListAllChildren',
      call: on(Kinds.domainSnapshot, async ({ conn, ref: snap }, a, _inv, obj) => {
        const r = await conn.domainSnapshotListAllChildren({ snapshot: snap, need_results: 1, flags: a.flags });
        return [Kinds.domainSnapshot.pathsOf(obj.connect.path, r.snapshots)];
      }),
    },
    Revert: {
      in: 'flags:u',
      libvirt: 'virDomainRevertToSnapshot',
      call: on(Kinds.domainSnapshot, async ({ conn, ref: snap }, a) => {
        await conn.domainRevertToSnapshot({ snap, flags: a.flags });
        return [];
      }),
    },
  },
});
