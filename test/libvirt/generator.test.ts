// Tests of the libvirt protocol generator: its parsers, naming rules, and that the committed
// src/libvirt/*.gen.ts are exactly what it produces from the vendored protocol definition.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { evalCExpression, parseCHeaders } from '../../tools/gen-libvirt/c-header.js';
import { parseAnnotations } from '../../tools/gen-libvirt/emit-program.js';
import { generate, inputsHash } from '../../tools/gen-libvirt/generate.js';
import { GeneratorError } from '../../tools/gen-libvirt/model.js';
import { methodName, typeName } from '../../tools/gen-libvirt/names.js';
import { readLibvirtTree } from '../../tools/gen-libvirt/read-tree.js';
import { parseXdr, XdrSyntaxError } from '../../tools/gen-libvirt/xdr-parser.js';
import { VirDomainEventID } from '../../src/libvirt/libvirt-enums.gen.js';
import {
  REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY,
  REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS,
  RemoteProcedure,
  remoteEventDecoders,
  remoteEventFamilies,
  remoteProcedureInfo,
} from '../../src/libvirt/remote-protocol.gen.js';
import { qemuProcedureInfo } from '../../src/libvirt/qemu-protocol.gen.js';

const root = join(new URL('.', import.meta.url).pathname, '../../..');
// The vendored libvirt protocol definition the committed code is generated from (see its README).
const TREE = join(root, 'protocol/libvirt-10.1.0');

describe('XDR parser', () => {
  it('parses consts, enums, structs, typedefs and optional data', () => {
    const f = parseXdr(
      `%#include "x.h"
       /* Max. */
       const FOO_MAX = 0x10;
       enum color { RED = 1, GREEN = 2 };
       typedef string name_t<FOO_MAX>;
       typedef name_t *maybe_name;
       struct point {
         unsigned hyper x;   /* comment */
         int ys[3];
         opaque blob<>;
         opaque id[16];
         color c;
         point *next;
         unsigned char uc;
       };`,
      't.x',
    );
    const kinds = f.definitions.map((d) => d.kind);
    assert.deepEqual(kinds, ['const', 'enum', 'typedef', 'typedef', 'struct']);
    const c = f.definitions[0]!;
    assert.ok(c.kind === 'const' && c.value.kind === 'number' && c.value.value === 16n);
    assert.equal(c.comment?.trim(), 'Max.');
    const s = f.definitions[4]!;
    assert.ok(s.kind === 'struct');
    assert.deepEqual(
      s.fields.map((d) => d.kind),
      ['plain', 'fixedArray', 'varOpaque', 'fixedOpaque', 'plain', 'optional', 'plain'],
    );
    const uc = s.fields[6]!;
    assert.ok(uc.kind === 'plain' && uc.type.kind === 'uint' && uc.type.spelling === 'unsigned char');
  });

  it('parses discriminated unions with shared arms, void and default', () => {
    const f = parseXdr(
      `union u switch (int kind) {
         case 1: case 2: int a;
         case 3: void;
         default: hyper h;
       };`,
      'u.x',
    );
    const u = f.definitions[0]!;
    assert.ok(u.kind === 'union');
    assert.equal(u.discriminant.name, 'kind');
    assert.equal(u.arms.length, 2);
    assert.equal(u.arms[0]!.cases.length, 2);
    assert.equal(u.arms[1]!.decl.kind, 'void');
    assert.equal(u.defaultArm?.kind, 'plain');
  });

  it('keeps the comment just before an enum member (procedure annotations)', () => {
    const f = parseXdr('enum p { /** @generate: both\n * @acl: domain:read */ P_ONE = 1, /** @priority: high */ P_TWO = 2 };', 'p.x');
    const e = f.definitions[0]!;
    assert.ok(e.kind === 'enum');
    const a = parseAnnotations(e.members[0]!.comment);
    assert.equal(a.generate, 'both');
    assert.deepEqual(a.acl, ['domain:read']);
    assert.equal(parseAnnotations(e.members[1]!.comment).priority, 'high');
  });

  it('rejects malformed input with a positioned XdrSyntaxError', () => {
    for (const bad of [
      'struct s { int a }',
      'const X = ;',
      'struct s { int a; ',
      'typedef void;',
      'enum e { };',
      'struct s { quadruple q; };',
      'struct @ {};',
    ]) {
      assert.throws(() => parseXdr(bad, 'bad.x'), XdrSyntaxError, bad);
    }
    try {
      parseXdr('const A = 1;\n\nstruct s { int a }', 'bad.x');
      assert.fail('parsed');
    } catch (e) {
      assert.ok(e instanceof XdrSyntaxError);
      assert.equal(e.line, 3);
    }
  });
});

describe('C header reader', () => {
  it('evaluates integer expressions', () => {
    const look = (n: string) => (n === 'A' ? 4n : undefined);
    assert.equal(evalCExpression('(1 << 3) | A', look), 12n);
    assert.equal(evalCExpression('(256 + 1)', look), 257n);
    assert.equal(evalCExpression('1U << 31', look), 2147483648n);
    assert.equal(evalCExpression('-1', look), -1n);
    assert.throws(() => evalCExpression('B + 1', look));
    assert.throws(() => evalCExpression('"str"', look));
  });

  it('reads defines and enums, skipping sentinels, across headers in any order', () => {
    const c = parseCHeaders([
      {
        name: 'include/a.h',
        text: 'typedef enum {\n  X_ONE = Y_BASE, /* first (Since: 1.0) */\n  X_TWO,\n# ifdef VIR_ENUM_SENTINELS\n  X_LAST\n# endif\n} xEnum;\n',
      },
      { name: 'include/b.h', text: '# define Y_BASE (1 << 2)\r\n# define NOT_A_NUMBER "s"\r\n' },
    ]);
    assert.equal(c.values.get('Y_BASE'), 4);
    assert.equal(c.values.has('NOT_A_NUMBER'), false);
    assert.deepEqual(
      c.enums[0]!.members.map((m) => [m.name, m.value, m.comment]),
      [
        ['X_ONE', 4, 'first'],
        ['X_TWO', 5, null],
      ],
    );
  });
});

describe('naming rules', () => {
  it('derives type names by PascalCase', () => {
    assert.equal(typeName('remote_connect_list_all_domains_args'), 'RemoteConnectListAllDomainsArgs');
    assert.equal(typeName('virNetMessageHeader'), 'VirNetMessageHeader');
    assert.equal(typeName('remote_domain_event_block_job_2_msg'), 'RemoteDomainEventBlockJob2Msg');
  });

  it('derives method names by stripping the prefix and camelCasing', () => {
    assert.equal(methodName('REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS', 'REMOTE'), 'connectListAllDomains');
    assert.equal(methodName('QEMU_PROC_DOMAIN_MONITOR_COMMAND', 'QEMU'), 'domainMonitorCommand');
  });
});

describe('generator', () => {
  it('generates code for every procedure of remote_protocol.x', () => {
    const all = Object.values(remoteProcedureInfo);
    assert.equal(all.length, 446);
    const p = remoteProcedureInfo[273]!;
    assert.equal(p.name, 'REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS');
    assert.equal(p.method, 'connectListAllDomains');
    assert.deepEqual(p.annotations.aclfilter, ['domain:getattr']);
    assert.equal(remoteProcedureInfo[343]!.fdsOut, true); // DOMAIN_OPEN_GRAPHICS_FD
    assert.equal(all.filter((x) => x.stream !== null).length, 7); // the @readstream/@writestream annotations
    assert.equal(remoteProcedureInfo[208]!.stream, 'write'); // STORAGE_VOL_UPLOAD
    assert.equal(remoteProcedureInfo[208]!.annotations.sparseflag, 'VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM');
    assert.ok(all.filter((x) => x.isEvent).length >= 50);
  });

  it('writes each procedure number once: constants are members of the enum, the table is keyed by them', () => {
    assert.equal(REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS, RemoteProcedure.REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS);
    for (const [name, n] of Object.entries(RemoteProcedure)) {
      assert.equal(remoteProcedureInfo[n]?.name, name);
      assert.equal(remoteProcedureInfo[n]?.procedure, n);
    }
    const text = readFileSync(join(root, 'src/libvirt/remote-protocol.gen.ts'), 'utf8');
    assert.equal(text.match(/\b273\b/g)?.length, 1, 'the number of CONNECT_LIST_ALL_DOMAINS appears once');
  });

  it('emits an event table: family, libvirt event id and callbackID of every event', () => {
    const ev = (name: keyof typeof RemoteProcedure) => remoteProcedureInfo[RemoteProcedure[name]]!.event;
    assert.deepEqual(ev('REMOTE_PROC_DOMAIN_EVENT_BLOCK_JOB_2'), {
      family: 'domain',
      eventID: VirDomainEventID.VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2,
      eventIDName: 'VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2',
      callback: true,
    });
    assert.equal(ev('REMOTE_PROC_DOMAIN_EVENT_LIFECYCLE')?.callback, false); // the legacy event, without callbackID
    assert.equal(ev('REMOTE_PROC_DOMAIN_EVENT_CALLBACK_PMSUSPEND_DISK')?.eventIDName, 'VIR_DOMAIN_EVENT_ID_PMSUSPEND_DISK');
    assert.equal(ev('REMOTE_PROC_NETWORK_EVENT_CALLBACK_METADATA_CHANGE')?.eventIDName, 'VIR_NETWORK_EVENT_ID_METADATA_CHANGE');
    assert.deepEqual(ev('REMOTE_PROC_CONNECT_EVENT_CONNECTION_CLOSED'), {
      family: 'connect',
      eventID: null,
      eventIDName: null,
      callback: false,
    });
    assert.equal(ev('REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS'), null);
    assert.equal(qemuProcedureInfo[6]!.event?.family, 'qemuDomainMonitor');
    assert.equal(remoteEventDecoders.size, Object.values(remoteProcedureInfo).filter((p) => p.event !== null).length);
    assert.deepEqual(Object.keys(remoteEventFamilies).sort(), ['domain', 'network', 'nodeDevice', 'secret', 'storagePool']);
    assert.equal(remoteEventFamilies.domain.register, REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY);
    assert.equal(remoteEventFamilies.storagePool.object, 'pool');
  });

  it('fails with a GeneratorError on an event whose event id the headers lack', () => {
    const inputs = new Map(readLibvirtTree(TREE));
    const x = inputs.get('remote_protocol.x')!;
    inputs.set(
      'remote_protocol.x',
      x
        .replaceAll('REMOTE_PROC_SECRET_EVENT_VALUE_CHANGED', 'REMOTE_PROC_SECRET_EVENT_VALUE_GONE')
        .replaceAll('remote_secret_event_value_changed_msg', 'remote_secret_event_value_gone_msg'),
    );
    assert.throws(
      () => generate(inputs),
      (e: unknown) => e instanceof GeneratorError && /VIR_SECRET_EVENT_ID_VALUE_GONE/.test(e.message),
    );
  });

  it('fails with a GeneratorError on references it cannot resolve', () => {
    const inputs = new Map(readLibvirtTree(TREE));
    inputs.set(
      'lxc_protocol.x',
      'struct lxc_x_args { no_such_type t; };\nconst LXC_PROGRAM = 1;\nconst LXC_PROTOCOL_VERSION = 1;\nenum lxc_procedure { LXC_PROC_X = 1 };',
    );
    assert.throws(() => generate(inputs), GeneratorError);
  });

  it('is deterministic and names its inputs by hash', () => {
    const inputs = readLibvirtTree(TREE);
    const a = generate(inputs);
    const b = generate(readLibvirtTree(TREE));
    assert.deepEqual([...a.entries()], [...b.entries()]);
    const hash = inputsHash(inputs);
    for (const [name, text] of a) {
      assert.ok(text.startsWith('// DO NOT EDIT.'), name);
      assert.ok(text.includes(`Inputs SHA-256: ${hash}`), name);
    }
  });

  it('committed src/libvirt/*.gen.ts are up to date (run `npm run generate:libvirt` if this fails)', () => {
    const out = generate(readLibvirtTree(TREE));
    assert.ok(out.size >= 7);
    for (const [name, text] of out) {
      const path = join(root, 'src/libvirt', name);
      assert.ok(existsSync(path), `${name} is missing from src/libvirt`);
      assert.ok(readFileSync(path, 'utf8') === text, `src/libvirt/${name} differs from the generator's output`);
    }
  });

  it('the CLI writes the same files into a directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gen-libvirt-'));
    try {
      execFileSync(process.execPath, [join(root, 'dist/tools/gen-libvirt/main.js'), TREE, dir], { stdio: 'pipe' });
      const names = readdirSync(dir).sort();
      assert.ok(names.includes('remote-protocol.gen.ts'));
      for (const name of names) {
        assert.ok(readFileSync(join(dir, name), 'utf8') === readFileSync(join(root, 'src/libvirt', name), 'utf8'), name);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the CLI exits non-zero on a tree without protocol files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gen-libvirt-'));
    try {
      assert.throws(() =>
        execFileSync(process.execPath, [join(root, 'dist/tools/gen-libvirt/main.js'), dir, join(dir, 'out')], { stdio: 'pipe' }),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
