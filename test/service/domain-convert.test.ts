// Unit tests of the conversions behind org.libvirt.Domain: typed parameters ↔ a{sv}, CPU maps,
// the guest vCPU map string, UUID parsing, and libvirt domain events → signals.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DBusError } from '../../src/dbus/errors.js';
import { Variant } from '../../src/dbus/variant.js';
import { DomainInterface, DOMAIN_METHOD_ORDER } from '../../src/service/domain.js';
import { DOMAIN_AGENT_ORDER } from '../../src/service/domain-agent.js';
import { DOMAIN_BEYOND_ORDER } from '../../src/service/domain-beyond.js';
import { DOMAIN_CONSOLE_ORDER } from '../../src/service/domain-console.js';
import { DomainEventId, domainEventKind, signalForEvent } from '../../src/service/domain-events.js';
import { boolsToCpumap, cpuMapLength, cpumapToBools } from '../../src/service/domain-call.js';
import { DomainSnapshotInterface } from '../../src/service/domain-snapshot.js';
import { guestVcpumapOf } from '../../src/service/domain-tuning.js';
import { parseUuidLikeLibvirt } from '../../src/service/paths.js';
import { dictToTypedParams, type RemoteTypedParam, typedParamsToDict } from '../../src/service/typed-params.js';
import { IFACE } from './iface.js';
import { isAddition } from './additions.js';

const UUID = new Uint8Array(Buffer.from('6695eb01f6a4830479aa97f2502e193f', 'hex'));
const DOM = { name: 'test', uuid: UUID, id: 1 };
const DOM_PATH = '/org/libvirt/Test/domain/_6695eb01_f6a4_8304_79aa_97f2502e193f';

describe('typed parameters', () => {
  it('map every libvirt type to the reference variant type and back', () => {
    const params: RemoteTypedParam[] = [
      { field: 'i', value: { type: 1, i: -5 } },
      { field: 'u', value: { type: 2, ui: 7 } },
      { field: 'x', value: { type: 3, l: -9007199254740993n } },
      { field: 't', value: { type: 4, ul: 18446744073709551615n } },
      { field: 'd', value: { type: 5, d: 1.5 } },
      { field: 'b', value: { type: 6, b: 1 } },
      { field: 's', value: { type: 7, s: 'hello' } },
    ];
    const dict = typedParamsToDict(params);
    // Each value is a variant in a variant, as the reference sends it.
    for (const v of dict.values()) assert.equal(v.signature, 'v');
    assert.deepEqual(
      [...dict.entries()].map(([k, v]) => [k, (v.value as Variant).signature, (v.value as Variant).value]),
      [
        ['i', 'i', -5],
        ['u', 'u', 7],
        ['x', 'x', -9007199254740993n],
        ['t', 't', 18446744073709551615n],
        ['d', 'd', 1.5],
        ['b', 'b', true],
        ['s', 's', 'hello'],
      ],
    );
    const unwrapped = new Map([...dict].map(([k, v]) => [k, v.value as Variant]));
    assert.deepEqual(dictToTypedParams(unwrapped), params);
  });

  it('accept a plain object as a{sv}', () => {
    assert.deepEqual(dictToTypedParams({ weight: new Variant('u', 100) }), [{ field: 'weight', value: { type: 2, ui: 100 } }]);
  });

  it('reject other variant types with org.libvirt.Error as the reference does', () => {
    assert.throws(
      () => dictToTypedParams(new Map([['a', new Variant('as', ['x'])]])),
      (e: unknown) => e instanceof DBusError && e.errorName === 'org.libvirt.Error' && e.message === "Invalid typed parameter 'as'.",
    );
  });

  it('reject a field name that does not fit libvirt’s 80-byte field', () => {
    assert.throws(
      () => dictToTypedParams(new Map([['f'.repeat(80), new Variant('i', 1)]])),
      (e: unknown) => e instanceof DBusError && e.errorName === 'org.libvirt.Error',
    );
    assert.equal(dictToTypedParams(new Map([['f'.repeat(79), new Variant('i', 1)]])).length, 1);
  });
});

describe('CPU maps', () => {
  it('pack booleans into libvirt bitmaps and back', () => {
    const bools = [true, false, true, false, false, false, false, false, false, true];
    const map = boolsToCpumap(bools);
    assert.equal(map.length, cpuMapLength(10));
    assert.deepEqual([...map], [0b101, 0b10]);
    assert.deepEqual(cpumapToBools(map, 10), bools);
  });

  it('read one vCPU map at an offset and treat missing bytes as unused', () => {
    const maps = Buffer.from([0xff, 0x01]);
    assert.deepEqual(cpumapToBools(maps, 3, 1), [true, false, false]);
    assert.deepEqual(cpumapToBools(maps, 3, 5), [false, false, false]);
  });
});

describe('guest vCPU map string', () => {
  it('joins closed runs like the reference', () => {
    assert.equal(guestVcpumapOf([true, true, false, true, false]), '0-1,3');
    assert.equal(guestVcpumapOf([false, true, false]), '1');
  });
  it('leaves out a run that reaches the end, as the reference does', () => {
    assert.equal(guestVcpumapOf([true, false, true, true]), '0');
    assert.equal(guestVcpumapOf([]), '');
  });
});

describe('UUIDs in paths', () => {
  it('parse like virUUIDParse (dashes anywhere, blanks around)', () => {
    assert.deepEqual(parseUuidLikeLibvirt('6695eb01-f6a4-8304-79aa-97f2502e193f'), UUID);
    assert.deepEqual(parseUuidLikeLibvirt(' 6695eb01f6a4-830479aa97f2502e193f '), UUID);
    assert.equal(parseUuidLikeLibvirt('6695eb01-f6a4'), undefined);
    assert.equal(parseUuidLikeLibvirt('zz95eb01-f6a4-8304-79aa-97f2502e193f'), undefined);
  });
});

describe('declaration', () => {
  it('has the reference’s 93 methods in its order (then the additions), 9 properties and 21 signals (then the additions)', () => {
    const d = DomainInterface.declaration;
    assert.deepEqual(
      d.methods.map((m) => m.name),
      [...DOMAIN_METHOD_ORDER, ...DOMAIN_BEYOND_ORDER, ...DOMAIN_AGENT_ORDER, ...DOMAIN_CONSOLE_ORDER],
    );
    const additions = d.methods.filter((m) => isAddition(DomainInterface.name, `method ${m.name}`));
    assert.equal(d.methods.length - additions.length, 93);
    assert.deepEqual(d.methods.slice(93), additions, 'additions come last');
    assert.equal(d.properties.length, 9);
    const addedSignals = d.signals.filter((x) => isAddition(DomainInterface.name, `signal ${x.name}`));
    assert.equal(d.signals.length - addedSignals.length, 21);
    assert.deepEqual(d.signals.slice(21), addedSignals, 'added signals come last');
    assert.equal(DomainSnapshotInterface.declaration.methods.length, 6);
  });
});

describe('domain events', () => {
  it('name kinds from .x names and generated names alike', () => {
    assert.equal(domainEventKind('REMOTE_PROC_DOMAIN_EVENT_CALLBACK_IO_ERROR_REASON'), 'IO_ERROR_REASON');
    assert.equal(domainEventKind('domainEventCallbackIoErrorReason'), 'IO_ERROR_REASON');
    assert.equal(domainEventKind('domainEventCallbackPmsuspendDisk'), 'PMSUSPEND_DISK');
    assert.equal(domainEventKind('networkEventLifecycle'), undefined);
  });

  // Regression: BLOCK_JOB_2 arrives as REMOTE_PROC_DOMAIN_EVENT_BLOCK_JOB_2 (no CALLBACK_ in its
  // name) with its fields unwrapped, and was dropped (found by domain-signals-qemu.test.ts).
  it('turn BLOCK_JOB_2 into Domain.BlockJob', () => {
    assert.equal(domainEventKind('REMOTE_PROC_DOMAIN_EVENT_BLOCK_JOB_2'), 'BLOCK_JOB_2');
    assert.equal(domainEventKind('domainEventBlockJob2'), 'BLOCK_JOB_2');
    const s = signalForEvent('/org/libvirt/Test', {
      name: 'REMOTE_PROC_DOMAIN_EVENT_BLOCK_JOB_2',
      body: { callbackID: 4, dom: DOM, dst: 'vda', type: 2, status: 0 },
    });
    assert.equal(s?.path, DOM_PATH);
    assert.equal(s?.interface, IFACE.Domain);
    assert.equal(s?.member, 'BlockJob');
    assert.deepEqual(s?.body, ['vda', 2, 0]);
  });

  it('turn the life-cycle event into Connect.DomainEvent', () => {
    const s = signalForEvent('/org/libvirt/Test', {
      name: 'domainEventCallbackLifecycle',
      body: { callbackID: 3, msg: { dom: DOM, event: 3, detail: 0 } },
    });
    assert.deepEqual(s, {
      path: '/org/libvirt/Test',
      interface: IFACE.Connect,
      member: 'DomainEvent',
      signature: 'oii',
      body: [DOM_PATH, 3, 0],
    });
  });

  it('build the Graphics structures and fill NULL strings with empty ones', () => {
    const s = signalForEvent('/org/libvirt/Test', {
      name: 'REMOTE_PROC_DOMAIN_EVENT_CALLBACK_GRAPHICS',
      body: {
        callbackID: 1,
        msg: {
          dom: DOM,
          phase: 1,
          local: { family: 0, node: '127.0.0.1', service: '5900' },
          remote: { family: 0, node: null, service: '40000' },
          authScheme: 'vnc',
          subject: [{ type: 'x509dname', name: 'CN=me' }],
        },
      },
    });
    assert.equal(s?.path, DOM_PATH);
    assert.equal(s?.interface, IFACE.Domain);
    assert.equal(s?.signature, 'i(iss)(iss)sa(ss)');
    assert.deepEqual(s?.body, [1, [0, '127.0.0.1', '5900'], [0, '', '40000'], 'vnc', [['x509dname', 'CN=me']]]);
  });

  it('carry the typed parameters of Tunable as a{sv}', () => {
    const s = signalForEvent('/org/libvirt/Test', {
      name: 'domainEventCallbackTunable',
      body: { callbackID: 1, dom: DOM, params: [{ field: 'cputune.vcpu0', value: { type: 7, s: '0-1' } }] },
    });
    assert.equal(s?.member, 'Tunable');
    assert.equal(s?.signature, 'a{sv}');
    const dict = s?.body[0] as Map<string, Variant<Variant>>;
    assert.equal(dict.get('cputune.vcpu0')?.value.value, '0-1');
  });

  it('map the remaining events to their signals with the declared signatures', () => {
    const cases: [string, unknown, string, unknown[]][] = [
      ['Reboot', { msg: { dom: DOM } }, 'Reboot', []],
      ['RtcChange', { msg: { dom: DOM, offset: -5n } }, 'RTCChange', [-5n]],
      ['Watchdog', { msg: { dom: DOM, action: 2 } }, 'Watchdog', [2]],
      [
        'IoErrorReason',
        { msg: { dom: DOM, srcPath: '/a', devAlias: 'vda', action: 1, reason: 'enospc' } },
        'IOError',
        ['/a', 'vda', 1, 'enospc'],
      ],
      ['ControlError', { msg: { dom: DOM } }, 'ControlError', []],
      ['BlockJob', { msg: { dom: DOM, path: 'vda', type: 2, status: 0 } }, 'BlockJob', ['vda', 2, 0]],
      [
        'DiskChange',
        { msg: { dom: DOM, oldSrcPath: null, newSrcPath: '/b', devAlias: 'cd', reason: 1 } },
        'DiskChange',
        ['', '/b', 'cd', 1],
      ],
      ['TrayChange', { msg: { dom: DOM, devAlias: 'cd', reason: 0 } }, 'TrayChange', ['cd', 0]],
      ['Pmwakeup', { reason: 0, msg: { dom: DOM } }, 'PMWakeup', [0]],
      ['Pmsuspend', { reason: 0, msg: { dom: DOM } }, 'PMSuspend', [0]],
      ['BalloonChange', { msg: { dom: DOM, actual: 1024n } }, 'BalloonChange', [1024n]],
      ['PmsuspendDisk', { reason: 0, msg: { dom: DOM } }, 'PMSuspendDisk', [0]],
      ['DeviceRemoved', { msg: { dom: DOM, devAlias: 'net0' } }, 'DeviceRemoved', ['net0']],
      ['AgentLifecycle', { dom: DOM, state: 1, reason: 2 }, 'AgentEvent', [1, 2]],
      ['DeviceAdded', { dom: DOM, devAlias: 'net1' }, 'DeviceAdded', ['net1']],
      ['MigrationIteration', { dom: DOM, iteration: 4 }, 'MigrationIteration', [4]],
      ['DeviceRemovalFailed', { dom: DOM, devAlias: 'net2' }, 'DeviceRemovalFailed', ['net2']],
      ['MetadataChange', { dom: DOM, type: 2, nsuri: null }, 'MetadataChange', [2, '']],
    ];
    for (const [kind, body, member, values] of cases) {
      const s = signalForEvent('/org/libvirt/Test', {
        name: `domainEventCallback${kind}`,
        body: { callbackID: 9, ...(body as object) },
      });
      assert.equal(s?.member, member, kind);
      assert.equal(s?.path, DOM_PATH, kind);
      assert.deepEqual(s?.body, values, kind);
      const declared = DomainInterface.declaration.signals.find((x) => x.name === member);
      assert.equal(s?.signature, declared?.args.map((a) => a.signature).join(''), kind);
    }
    const job = signalForEvent('/org/libvirt/Test', {
      name: 'domainEventCallbackJobCompleted',
      body: { callbackID: 9, dom: DOM, params: [{ field: 'time_elapsed', value: { type: 4, ul: 5n } }] },
    });
    const jobParams = job?.body[0] as Map<string, Variant<Variant>>;
    assert.equal(jobParams.get('time_elapsed')?.value.value, 5n);
  });

  it('ignore callbacks registered by someone else and unknown events', () => {
    const ev = { name: 'domainEventCallbackReboot', body: { callbackID: 4, msg: { dom: DOM } } };
    assert.equal(signalForEvent('/org/libvirt/Test', ev, new Set([1, 2])), undefined);
    assert.ok(signalForEvent('/org/libvirt/Test', ev, new Set([4])));
    assert.equal(signalForEvent('/org/libvirt/Test', { name: 'domainEventCallbackMemoryFailure', body: {} }), undefined);
  });

  it('register the 22 event IDs of the reference', () => {
    assert.equal(Object.keys(DomainEventId).length, 22);
    assert.equal(new Set(Object.values(DomainEventId)).size, 22);
  });
});
