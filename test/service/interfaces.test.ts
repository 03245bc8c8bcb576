// Conformance of our declarations with the reference libvirt-dbus 1.4.1: every interface,
// member, argument name, signature, direction and property access of the installed
// /usr/share/dbus-1/interfaces/org.libvirt.*.xml, and nothing more than the additions listed in
// additions.ts (the README's "Beyond libvirt-dbus 1.4.1"). Also: data/*.xml is what
// tools/gen-interfaces.ts writes from the declarations, and the API table's NULL-when-empty
// arguments are the declared emptyIsNull ones.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type InterfaceDeclaration, parseIntrospectionXml } from '../../src/dbus/index.js';
import { interfaces } from '../../src/service/index.js';
import { writeInterfaceFiles } from '../../tools/gen-interfaces.js';
import { ADDITIONS, ANNOTATION_CHANGES, isAddition, NEW_INTERFACES } from './additions.js';

const REFERENCE_DIR = '/usr/share/dbus-1/interfaces';
const ROOT = new URL('../../../', import.meta.url).pathname;
const ALL = [
  'org.libvirt.Connect',
  'org.libvirt.Domain',
  'org.libvirt.DomainCheckpoint',
  'org.libvirt.DomainSnapshot',
  'org.libvirt.Interface',
  'org.libvirt.NWFilter',
  'org.libvirt.Network',
  'org.libvirt.NodeDevice',
  'org.libvirt.Secret',
  'org.libvirt.StoragePool',
  'org.libvirt.StorageVol',
];

/** Interfaces the reference has, with our declaration. */
const referenceInterfaces = [...interfaces].filter(([name]) => !NEW_INTERFACES.includes(name));

/** A comparable summary of an interface: members with arg names/types/directions and property access. */
function summary(i: InterfaceDeclaration): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of i.methods) {
    out[`method ${m.name}`] = [...m.in.map((a) => `in ${a.name}:${a.signature}`), ...m.out.map((a) => `out ${a.name}:${a.signature}`)].join(
      ', ',
    );
  }
  for (const s of i.signals) out[`signal ${s.name}`] = s.args.map((a) => `${a.name}:${a.signature}`).join(', ');
  for (const p of i.properties) out[`property ${p.name}`] = `${p.signature} ${p.access}`;
  return out;
}

function reference(name: string): InterfaceDeclaration {
  const node = parseIntrospectionXml(readFileSync(join(REFERENCE_DIR, `${name}.xml`), 'utf8'));
  const iface = node.interfaces.find((i) => i.name === name);
  assert.ok(iface, `reference XML has ${name}`);
  return iface;
}

test('the registry has the ten interfaces of org.libvirt and the new ones', () => {
  assert.deepEqual([...interfaces.keys()].sort(), [...ALL].sort());
});

for (const [name, defined] of referenceInterfaces) {
  test(`${name} matches the reference member by member, plus its listed additions`, () => {
    const ours = summary(defined.declaration);
    for (const member of ADDITIONS[name] ?? []) assert.ok(member in ours, `${name}: ${member} is declared`);
    const kept = Object.fromEntries(Object.entries(ours).filter(([member]) => !isAddition(name, member)));
    assert.deepEqual(kept, summary(reference(name)));
  });
}

test('members are declared in the order of the reference XML', () => {
  for (const [name, defined] of referenceInterfaces) {
    const ref = reference(name);
    const d = defined.declaration;
    assert.deepEqual(
      d.methods.filter((m) => !isAddition(name, `method ${m.name}`)).map((m) => m.name),
      ref.methods.map((m) => m.name),
      `${name} methods`,
    );
    assert.deepEqual(
      d.properties.filter((p) => !isAddition(name, `property ${p.name}`)).map((p) => p.name),
      ref.properties.map((p) => p.name),
      `${name} properties`,
    );
    assert.deepEqual(
      d.signals.filter((s) => !isAddition(name, `signal ${s.name}`)).map((s) => s.name),
      ref.signals.map((s) => s.name),
      `${name} signals`,
    );
  }
});

test('emptyIsNull arguments are those of the API table', () => {
  // The API table sits beside the libvirt tree of the generator test: $LIBVIRT_API_TSV, ../shared or /work/shared.
  const tsv =
    [process.env.LIBVIRT_API_TSV, join(ROOT, '../shared/reference/org.libvirt-api.tsv'), '/work/shared/reference/org.libvirt-api.tsv']
      .filter((p): p is string => !!p)
      .find((p) => existsSync(p)) ?? assert.fail('org.libvirt-api.tsv not found: set LIBVIRT_API_TSV');
  const rows = readFileSync(tsv, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split('\t'));
  for (const [iface, kind, member, , , , , empty] of rows) {
    if (kind !== 'method') continue;
    const spec = interfaces.get(iface as string)?.spec.methods?.[member as string];
    assert.ok(spec, `${iface}.${member} declared`);
    const expected = (empty ?? '').split(',').filter((s) => s !== '');
    // The table lists the first argument where the reference XML documents several (GetDomainCapabilities).
    for (const arg of expected) assert.ok(spec.emptyIsNull?.includes(arg), `${iface}.${member}: ${arg} is NULL when empty`);
  }
});

test('EmitsChangedSignal annotations match the reference except the listed changes of change notification', () => {
  const key = 'org.freedesktop.DBus.Property.EmitsChangedSignal';
  for (const [name, defined] of referenceInterfaces) {
    const ref = reference(name);
    assert.equal(defined.declaration.annotations?.[key], ref.annotations?.[key], `${name} interface annotation`);
    for (const p of ref.properties) {
      const ours = defined.declaration.properties.find((q) => q.name === p.name);
      const expected = ANNOTATION_CHANGES[name]?.[p.name] ?? p.annotations?.[key];
      assert.equal(ours?.annotations?.[key], expected, `${name}.${p.name}`);
    }
    // Each listed change is one (an addition's annotation counts as listed too).
    for (const [prop, value] of Object.entries(ANNOTATION_CHANGES[name] ?? {})) {
      const ours = defined.declaration.properties.find((q) => q.name === prop);
      assert.equal(ours?.annotations?.[key], value, `${name}.${prop} is annotated ${value}`);
      const refProp = ref.properties.find((q) => q.name === prop);
      if (refProp) assert.notEqual(refProp.annotations?.[key], value, `${name}.${prop} differs from the reference`);
    }
  }
});

test('every EmitsChangedSignal annotation tells the truth: true only where PropertiesChanged is emitted', () => {
  const key = 'org.freedesktop.DBus.Property.EmitsChangedSignal';
  const emitted = Object.entries(ANNOTATION_CHANGES).flatMap(([i, props]) =>
    Object.entries(props)
      .filter(([, v]) => v === 'true')
      .map(([p]) => `${i}.${p}`),
  );
  const claimed: string[] = [];
  for (const [name, defined] of interfaces) {
    const d = defined.declaration;
    for (const p of d.properties) {
      // The property's own annotation, else its interface's, else the specification's default 'true'.
      const value = p.annotations?.[key] ?? d.annotations?.[key] ?? 'true';
      assert.ok(['true', 'false', 'const', 'invalidates'].includes(value), `${name}.${p.name}: ${value}`);
      if (value === 'true' || value === 'invalidates') claimed.push(`${name}.${p.name}`);
    }
  }
  assert.deepEqual(claimed.sort(), emitted.sort());
});

test('data/*.xml is exactly what tools/gen-interfaces.ts generates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gen-ifaces-'));
  try {
    writeInterfaceFiles(dir);
    const generated = readdirSync(dir).sort();
    assert.deepEqual(generated, ALL.map((n) => `${n}.xml`).sort());
    for (const f of generated) {
      const committed = join(ROOT, 'data', f);
      assert.ok(existsSync(committed), `data/${f} exists (run npm run generate:interfaces)`);
      assert.equal(readFileSync(committed, 'utf8'), readFileSync(join(dir, f), 'utf8'), `data/${f} is current`);
      // And each file parses back to the declaration it came from.
      const parsed = parseIntrospectionXml(readFileSync(join(dir, f), 'utf8')).interfaces[0];
      assert.ok(parsed);
      const defined = interfaces.get(parsed.name);
      assert.ok(defined);
      assert.deepEqual(summary(parsed), summary(defined.declaration));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
