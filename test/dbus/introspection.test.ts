// Introspection XML: our parser against Python's expat on the reference's interface files,
// generate → parse round trips, and malformed documents rejected with a typed error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  generateIntrospectionXml,
  interfaceToXml,
  IntrospectionParseError,
  parseInterfaceXml,
  parseIntrospectionXml,
} from '../../src/dbus/introspection.js';
import type { InterfaceDeclaration, NodeDeclaration } from '../../src/dbus/interface.js';
import { DBusInvalidArgsError } from '../../src/dbus/errors.js';

const REFERENCE_DIR = '/usr/share/dbus-1/interfaces';
const referenceFiles = readdirSync(REFERENCE_DIR)
  .filter((f) => f.startsWith('org.libvirt.') && f.endsWith('.xml'))
  .map((f) => join(REFERENCE_DIR, f));

// An independent reading of an introspection document (Python's expat), in our declaration shape.
const PY_READER = `
import sys, json, xml.etree.ElementTree as ET
def ann(el):
    a = {c.get('name'): c.get('value') for c in el if c.tag == 'annotation'}
    return a or None
def arg(el):
    d = {'signature': el.get('type')}
    if el.get('name') is not None: d['name'] = el.get('name')
    if ann(el): d['annotations'] = ann(el)
    return d
def member(el, d):
    if ann(el): d['annotations'] = ann(el)
    return d
def iface(el):
    i = {'name': el.get('name'), 'methods': [], 'signals': [], 'properties': []}
    for c in el:
        if c.tag == 'method':
            i['methods'].append(member(c, {'name': c.get('name'),
                'in': [arg(a) for a in c if a.tag == 'arg' and a.get('direction', 'in') == 'in'],
                'out': [arg(a) for a in c if a.tag == 'arg' and a.get('direction') == 'out']}))
        elif c.tag == 'signal':
            i['signals'].append(member(c, {'name': c.get('name'), 'args': [arg(a) for a in c if a.tag == 'arg']}))
        elif c.tag == 'property':
            i['properties'].append(member(c, {'name': c.get('name'), 'signature': c.get('type'), 'access': c.get('access')}))
    if ann(el): i['annotations'] = ann(el)
    return i
def node(el):
    n = {'interfaces': [iface(c) for c in el if c.tag == 'interface'], 'nodes': [node(c) for c in el if c.tag == 'node']}
    if el.get('name') is not None: n['name'] = el.get('name')
    return n
print(json.dumps(node(ET.fromstring(sys.stdin.read()))))
`;

function pythonRead(xml: string): NodeDeclaration {
  return JSON.parse(execFileSync('python3', ['-c', PY_READER], { input: xml, encoding: 'utf8' })) as NodeDeclaration;
}

/** JSON form without undefined keys, so deepEqual compares meaning only. */
function plain<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

test('the reference org.libvirt.*.xml files are all there', () => {
  assert.equal(referenceFiles.length, 10);
});

for (const file of referenceFiles) {
  test(`parse agrees with expat on ${file.split('/').pop()}`, () => {
    const xml = readFileSync(file, 'utf8');
    const ours = parseIntrospectionXml(xml);
    assert.deepEqual(plain(ours), pythonRead(xml));
    assert.equal(ours.interfaces.length, 1);
    // Every member is there (counted independently of both parsers).
    const iface = ours.interfaces[0]!;
    assert.equal(iface.methods.length, (xml.match(/<method /g) ?? []).length);
    assert.equal(iface.signals.length, (xml.match(/<signal /g) ?? []).length);
    assert.equal(iface.properties.length, (xml.match(/<property /g) ?? []).length);
  });

  test(`generate(parse(xml)) round-trips ${file.split('/').pop()}`, () => {
    const xml = readFileSync(file, 'utf8');
    const parsed = parseIntrospectionXml(xml);
    const generated = generateIntrospectionXml(parsed);
    assert.ok(generated.startsWith('<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'));
    assert.deepEqual(plain(parseIntrospectionXml(generated)), plain(parsed));
    // And an independent reader sees the same in what we generate.
    assert.deepEqual(pythonRead(generated), pythonRead(xml));
  });
}

test('the Domain interface keeps arg names, directions, access and annotations', () => {
  const domain = parseInterfaceXml(readFileSync(join(REFERENCE_DIR, 'org.libvirt.Domain.xml'), 'utf8'));
  assert.equal(domain.name, 'org.libvirt.Domain');
  const getXml = domain.methods.find((m) => m.name === 'GetXMLDesc')!;
  assert.deepEqual(plain(getXml.in), [{ name: 'flags', signature: 'u' }]);
  assert.deepEqual(plain(getXml.out), [{ name: 'xml', signature: 's' }]);
  assert.match(getXml.annotations!['org.gtk.GDBus.DocString']!, /virDomainGetXMLDesc/);
  const autostart = domain.properties.find((p) => p.name === 'Autostart')!;
  assert.equal(autostart.access, 'readwrite');
  assert.equal(autostart.signature, 'b');
  const name = domain.properties.find((p) => p.name === 'Name')!;
  assert.equal(name.access, 'read');
});

test('attribute values are normalised like XML 1.0 does (line breaks become spaces)', () => {
  const connect = parseInterfaceXml(readFileSync(join(REFERENCE_DIR, 'org.libvirt.Connect.xml'), 'utf8'));
  const doc = connect.properties.find((p) => p.name === 'Encrypted')!.annotations!['org.gtk.GDBus.DocString']!;
  assert.ok(!doc.includes('\n'));
  assert.match(doc, /virConnectIsEncrypted {16}Note that/);
});

test('generated XML has the standard layout', () => {
  const iface: InterfaceDeclaration = {
    name: 'org.example.Thing',
    annotations: { 'org.freedesktop.DBus.Deprecated': 'true' },
    methods: [
      { name: 'Ping', in: [], out: [] },
      { name: 'Echo', in: [{ name: 'text', signature: 's' }], out: [{ name: 'reply', signature: 's' }] },
    ],
    signals: [{ name: 'Changed', args: [{ name: 'what', signature: 'a{sv}' }] }],
    properties: [{ name: 'Count', signature: 'u', access: 'read' }],
  };
  const xml = generateIntrospectionXml({ interfaces: [iface], nodes: [{ name: 'child', interfaces: [], nodes: [] }] });
  assert.equal(
    xml,
    `<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
                      "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<node>
  <interface name="org.example.Thing">
    <annotation name="org.freedesktop.DBus.Deprecated" value="true"/>
    <method name="Ping"/>
    <method name="Echo">
      <arg type="s" name="text" direction="in"/>
      <arg type="s" name="reply" direction="out"/>
    </method>
    <signal name="Changed">
      <arg type="a{sv}" name="what"/>
    </signal>
    <property type="u" name="Count" access="read"/>
  </interface>
  <node name="child"/>
</node>
`,
  );
  assert.ok(interfaceToXml(iface).startsWith('  <interface name="org.example.Thing">\n'));
});

test('special characters in annotation values survive generate → parse', () => {
  const value = `a & b < c > d " e ' f\nline\ttab\r\n€ ${'\u{1F600}'}`;
  const node: NodeDeclaration = {
    interfaces: [{ name: 'org.example.X', methods: [], signals: [], properties: [], annotations: { 'org.example.Doc': value } }],
    nodes: [],
  };
  const back = parseIntrospectionXml(generateIntrospectionXml(node));
  assert.equal(back.interfaces[0]!.annotations!['org.example.Doc'], value);
  assert.equal(pythonRead(generateIntrospectionXml(node)).interfaces[0]!.annotations!['org.example.Doc'], value);
});

test('comments, processing instructions, CDATA whitespace, entities and foreign elements are handled', () => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<!-- leading comment -->
<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<node name="/org/example" xmlns:doc="http://www.freedesktop.org/dbus/1.0/doc.dtd">
  <interface name='org.example.A'>
    <!-- a comment -->
    <doc:doc><doc:summary>Free <doc:i>text</doc:i> here</doc:summary></doc:doc>
    <method name="M"><arg name="x" type="a(is)" direction="in"/><![CDATA[  ]]></method>
    <property name="P" type="s" access="readwrite"><annotation name="a" value="&lt;&#65;&#x42;&amp;&quot;&apos;&gt;"/></property>
  </interface>
  <node name="child"><interface name="org.example.B"/></node>
</node>
<!-- trailing comment -->
`;
  const node = parseIntrospectionXml(xml);
  assert.equal(node.name, '/org/example');
  assert.equal(node.interfaces[0]!.methods[0]!.in[0]!.signature, 'a(is)');
  assert.equal(node.interfaces[0]!.properties[0]!.annotations!['a'], `<AB&"'>`);
  assert.equal(node.nodes[0]!.name, 'child');
  assert.equal(node.nodes[0]!.interfaces[0]!.name, 'org.example.B');
});

test('signal args default to out, method args default to in', () => {
  const node = parseIntrospectionXml(
    '<node><interface name="a.b"><method name="M"><arg type="s"/></method><signal name="S"><arg type="u"/></signal></interface></node>',
  );
  assert.equal(node.interfaces[0]!.methods[0]!.in.length, 1);
  assert.equal(node.interfaces[0]!.signals[0]!.args.length, 1);
});

const malformed: Array<[string, string]> = [
  ['empty document', ''],
  ['unclosed root', '<node>'],
  ['mismatched close', '<node></interface>'],
  ['wrong root', '<interface name="a.b"/>'],
  ['text in node', '<node>hello</node>'],
  ['content after root', '<node/><node/>'],
  ['duplicate attribute', '<node name="a" name="b"/>'],
  ['unquoted attribute', '<node name=a/>'],
  ['missing interface name', '<node><interface/></node>'],
  ['bad interface name', '<node><interface name="nodots"/></node>'],
  ['bad member name', '<node><interface name="a.b"><method name="1x"/></interface></node>'],
  ['bad arg type', '<node><interface name="a.b"><method name="M"><arg type="a" direction="in"/></method></interface></node>'],
  ['two types in one arg', '<node><interface name="a.b"><method name="M"><arg type="ss"/></method></interface></node>'],
  ['missing arg type', '<node><interface name="a.b"><method name="M"><arg name="x"/></method></interface></node>'],
  ['bad direction', '<node><interface name="a.b"><method name="M"><arg type="s" direction="inout"/></method></interface></node>'],
  ['in arg on a signal', '<node><interface name="a.b"><signal name="S"><arg type="s" direction="in"/></signal></interface></node>'],
  ['bad access', '<node><interface name="a.b"><property name="P" type="s" access="rw"/></interface></node>'],
  ['missing access', '<node><interface name="a.b"><property name="P" type="s"/></interface></node>'],
  ['duplicate method', '<node><interface name="a.b"><method name="M"/><method name="M"/></interface></node>'],
  ['annotation without value', '<node><interface name="a.b"><annotation name="x"/></interface></node>'],
  ['unknown element', '<node><interface name="a.b"><methd name="M"/></interface></node>'],
  ['unknown attribute', '<node><interface name="a.b" nmae="x"/></node>'],
  ['unknown entity', '<node><interface name="a.b"><annotation name="x" value="&nbsp;"/></interface></node>'],
  ['unterminated entity', '<node><interface name="a.b"><annotation name="x" value="a &amp b"/></interface></node>'],
  ['< in attribute', '<node><interface name="a.b"><annotation name="x" value="a<b"/></interface></node>'],
  ['unterminated comment', '<node><!-- </node>'],
  ['internal DTD subset', '<!DOCTYPE node [ <!ENTITY x "y"> ]><node/>'],
  ['bad child node name', '<node><node name="/abs"/></node>'],
  ['too deep signature', `<node><interface name="a.b"><property name="P" type="${'a'.repeat(40)}s" access="read"/></interface></node>`],
];

for (const [what, xml] of malformed) {
  test(`rejects malformed introspection XML: ${what}`, () => {
    assert.throws(
      () => parseIntrospectionXml(xml),
      (e: unknown) => e instanceof IntrospectionParseError && e instanceof DBusInvalidArgsError && e.line >= 1,
    );
  });
}

test('errors say where: line and column', () => {
  try {
    parseIntrospectionXml('<node>\n  <interface name="a.b">\n    <method name="M"><arg type="zz"/></method>\n  </interface>\n</node>');
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof IntrospectionParseError);
    assert.equal(e.line, 3);
    assert.equal(e.column, 22);
  }
});

// Property: any declaration we can build survives generate → parse unchanged.
const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/);
const ifaceName = fc.tuple(name, name).map(([a, b]) => `${a}.${b}`);
const type = fc.constantFrom('s', 'u', 'as', 'a{sv}', '(iiu)', 'v', 'ah', 'aay', 'a{oa{sa{sv}}}', 'x', 'b', 'd', 'g', 'o');
const text = fc.string({ maxLength: 20, unit: 'grapheme' });
const annotations = fc.option(fc.dictionary(ifaceName, text, { minKeys: 1, maxKeys: 3 }), { nil: undefined });
const arg = fc.record({ name: fc.option(name, { nil: undefined }), signature: type, annotations }, { requiredKeys: ['signature'] });
const uniqueBy = <T extends { name: string }>(a: fc.Arbitrary<T>) => fc.uniqueArray(a, { selector: (x) => x.name, maxLength: 4 });
const iface = fc.record(
  {
    name: ifaceName,
    methods: uniqueBy(
      fc.record(
        { name, in: fc.array(arg, { maxLength: 3 }), out: fc.array(arg, { maxLength: 3 }), annotations },
        { requiredKeys: ['name', 'in', 'out'] },
      ),
    ),
    signals: uniqueBy(fc.record({ name, args: fc.array(arg, { maxLength: 3 }), annotations }, { requiredKeys: ['name', 'args'] })),
    properties: uniqueBy(
      fc.record(
        { name, signature: type, access: fc.constantFrom('read' as const, 'write' as const, 'readwrite' as const), annotations },
        { requiredKeys: ['name', 'signature', 'access'] },
      ),
    ),
    annotations,
  },
  { requiredKeys: ['name', 'methods', 'signals', 'properties'] },
);

test('property: parse(generate(declaration)) equals the declaration', () => {
  fc.assert(
    fc.property(fc.array(iface, { maxLength: 3 }), fc.array(name, { maxLength: 3 }), (interfaces, children) => {
      const node: NodeDeclaration = {
        interfaces: interfaces as InterfaceDeclaration[],
        nodes: [...new Set(children)].map((n) => ({ name: n, interfaces: [], nodes: [] })),
      };
      assert.deepEqual(plain(parseIntrospectionXml(generateIntrospectionXml(node))), plain(node));
    }),
    { numRuns: 300 },
  );
});
