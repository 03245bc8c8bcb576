// Introspection data: a small strict XML reader for introspection documents (GDBusNodeInfo's
// parser in GLib's words) and the writer of the standard format. One InterfaceDeclaration feeds
// both dispatch and the XML a peer sees, so the two cannot drift.
import { DBusInvalidArgsError } from './errors.js';
import type {
  Annotations,
  ArgDeclaration,
  InterfaceDeclaration,
  MethodDeclaration,
  NodeDeclaration,
  PropertyAccess,
  PropertyDeclaration,
  SignalDeclaration,
} from './interface.js';
import { isValidInterfaceName, isValidMemberName, isValidObjectPath } from './names.js';
import { isSingleCompleteType } from './signature.js';

/** The DOCTYPE line every introspection document starts with. */
export const INTROSPECTION_DOCTYPE =
  '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n' +
  '                      "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n';

/** An introspection document that is not well-formed XML or breaks the introspection format. */
export class IntrospectionParseError extends DBusInvalidArgsError {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`Introspection XML, line ${line} column ${column}: ${message}`);
    this.name = 'IntrospectionParseError';
  }
}

// ---------------------------------------------------------------------------------------------
// Generic XML: just enough of XML 1.0 for introspection documents (elements, attributes, the five
// predefined entities and character references, comments, processing instructions, a DOCTYPE
// without internal subset, CDATA). Anything else is an error, never silently skipped.

interface XmlElement {
  name: string;
  attrs: Map<string, string>;
  children: XmlElement[];
  /** Non-whitespace character data directly inside this element. */
  text: string;
  /** Offset of its "<" in the document, for error positions. */
  offset: number;
}

const NAME_START = /[A-Za-z_:\u00C0-\uFFFF]/;
const NAME_CHAR = /[A-Za-z0-9_:.\-\u00B7\u00C0-\uFFFF]/;

class XmlReader {
  private pos = 0;

  constructor(private readonly src: string) {}

  fail(message: string, at = this.pos): never {
    let line = 1;
    let col = 1;
    for (let i = 0; i < at && i < this.src.length; i++) {
      if (this.src.charCodeAt(i) === 10) {
        line++;
        col = 1;
      } else col++;
    }
    throw new IntrospectionParseError(message, line, col);
  }

  private startsWith(s: string): boolean {
    return this.src.startsWith(s, this.pos);
  }

  private skipSpace(): void {
    while (this.pos < this.src.length) {
      const c = this.src.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.pos++;
      else break;
    }
  }

  private expect(s: string): void {
    if (!this.startsWith(s)) this.fail(`expected "${s}"`);
    this.pos += s.length;
  }

  private readName(): string {
    const start = this.pos;
    if (!NAME_START.test(this.src.charAt(this.pos))) this.fail('expected a name');
    this.pos++;
    while (this.pos < this.src.length && NAME_CHAR.test(this.src.charAt(this.pos))) this.pos++;
    return this.src.slice(start, this.pos);
  }

  /** Skips comments, processing instructions and whitespace between markup. */
  private skipMisc(allowDoctype: boolean): boolean {
    let sawDoctype = false;
    for (;;) {
      this.skipSpace();
      if (this.startsWith('<!--')) this.skipComment();
      else if (this.startsWith('<?')) this.skipPI();
      else if (this.startsWith('<!DOCTYPE')) {
        if (!allowDoctype || sawDoctype) this.fail('unexpected DOCTYPE');
        this.skipDoctype();
        sawDoctype = true;
      } else return sawDoctype;
    }
  }

  private skipComment(): void {
    const end = this.src.indexOf('-->', this.pos + 4);
    if (end < 0) this.fail('unterminated comment');
    if (this.src.slice(this.pos + 4, end).includes('--')) this.fail('"--" inside a comment');
    this.pos = end + 3;
  }

  private skipPI(): void {
    const end = this.src.indexOf('?>', this.pos + 2);
    if (end < 0) this.fail('unterminated processing instruction');
    this.pos = end + 2;
  }

  private skipDoctype(): void {
    this.pos += '<!DOCTYPE'.length;
    while (this.pos < this.src.length) {
      const c = this.src.charAt(this.pos);
      if (c === '"' || c === "'") {
        const end = this.src.indexOf(c, this.pos + 1);
        if (end < 0) this.fail('unterminated literal in DOCTYPE');
        this.pos = end + 1;
      } else if (c === '[') {
        this.fail('DOCTYPE internal subsets are not supported');
      } else if (c === '>') {
        this.pos++;
        return;
      } else this.pos++;
    }
    this.fail('unterminated DOCTYPE');
  }

  private decodeEntities(raw: string, at: number): string {
    if (!raw.includes('&')) return raw;
    return raw.replace(/&([^;&<]*);?/g, (whole, ref: string, offset: number) => {
      if (!whole.endsWith(';')) this.fail('unterminated entity reference', at + offset);
      switch (ref) {
        case 'lt':
          return '<';
        case 'gt':
          return '>';
        case 'amp':
          return '&';
        case 'quot':
          return '"';
        case 'apos':
          return "'";
      }
      let code = Number.NaN;
      if (/^#[0-9]+$/.test(ref)) code = Number.parseInt(ref.slice(1), 10);
      else if (/^#x[0-9A-Fa-f]+$/.test(ref)) code = Number.parseInt(ref.slice(2), 16);
      if (!(code > 0 && code <= 0x10ffff) || (code >= 0xd800 && code <= 0xdfff)) {
        this.fail(`unknown entity reference "&${ref};"`, at + offset);
      }
      return String.fromCodePoint(code);
    });
  }

  private readAttrValue(): string {
    const quote = this.src.charAt(this.pos);
    if (quote !== '"' && quote !== "'") this.fail('expected a quoted attribute value');
    const start = this.pos + 1;
    const end = this.src.indexOf(quote, start);
    if (end < 0) this.fail('unterminated attribute value');
    const raw = this.src.slice(start, end);
    const lt = raw.indexOf('<');
    if (lt >= 0) this.fail('"<" in an attribute value', start + lt);
    this.pos = end + 1;
    // Attribute-value normalisation of XML 1.0 §3.3.3: literal line breaks and tabs become spaces.
    return this.decodeEntities(raw.replace(/\r\n|[\r\n\t]/g, ' '), start);
  }

  private readElement(): XmlElement {
    const at = this.pos;
    this.expect('<');
    const name = this.readName();
    const el: XmlElement = { name, attrs: new Map(), children: [], text: '', offset: at };
    for (;;) {
      const before = this.pos;
      this.skipSpace();
      if (this.startsWith('/>')) {
        this.pos += 2;
        return el;
      }
      if (this.startsWith('>')) {
        this.pos++;
        break;
      }
      if (this.pos === before) this.fail('expected whitespace, ">" or "/>"');
      const attr = this.readName();
      this.skipSpace();
      this.expect('=');
      this.skipSpace();
      if (el.attrs.has(attr)) this.fail(`duplicate attribute "${attr}"`);
      el.attrs.set(attr, this.readAttrValue());
    }
    // Content.
    for (;;) {
      const lt = this.src.indexOf('<', this.pos);
      if (lt < 0) this.fail(`element <${name}> is not closed`);
      const text = this.src.slice(this.pos, lt);
      if (text.trim() !== '') el.text += this.decodeEntities(text, this.pos);
      this.pos = lt;
      if (this.startsWith('</')) {
        this.pos += 2;
        const closing = this.readName();
        if (closing !== name) this.fail(`</${closing}> closes <${name}>`);
        this.skipSpace();
        this.expect('>');
        return el;
      }
      if (this.startsWith('<!--')) this.skipComment();
      else if (this.startsWith('<?')) this.skipPI();
      else if (this.startsWith('<![CDATA[')) {
        const end = this.src.indexOf(']]>', this.pos);
        if (end < 0) this.fail('unterminated CDATA section');
        const data = this.src.slice(this.pos + 9, end);
        if (data.trim() !== '') el.text += data;
        this.pos = end + 3;
      } else if (this.startsWith('<!')) this.fail('unexpected markup declaration');
      else el.children.push(this.readElement());
    }
  }

  /** Reads the whole document and returns its root element. */
  readDocument(): XmlElement {
    if (this.src.charCodeAt(0) === 0xfeff) this.pos = 1;
    this.skipMisc(true);
    if (!this.startsWith('<')) this.fail('expected the root element');
    const root = this.readElement();
    this.skipMisc(false);
    if (this.pos !== this.src.length) this.fail('content after the root element');
    return root;
  }
}

// ---------------------------------------------------------------------------------------------
// Introspection format on top of the XML tree.

class IntrospectionBuilder {
  constructor(private readonly reader: XmlReader) {}

  private fail(el: XmlElement, message: string): never {
    this.reader.fail(`<${el.name}>: ${message}`, el.offset);
  }

  private required(el: XmlElement, attr: string): string {
    const v = el.attrs.get(attr);
    if (v === undefined) this.fail(el, `missing attribute "${attr}"`);
    return v;
  }

  private checkAttrs(el: XmlElement, allowed: string[]): void {
    for (const a of el.attrs.keys()) {
      // Namespaced attributes (xmlns:doc=…, doc:…) are extensions we tolerate.
      if (!allowed.includes(a) && !a.includes(':') && a !== 'xmlns') this.fail(el, `unknown attribute "${a}"`);
    }
  }

  private noText(el: XmlElement): void {
    if (el.text !== '') this.fail(el, 'unexpected character data');
  }

  private annotation(el: XmlElement, into: Annotations): void {
    this.checkAttrs(el, ['name', 'value']);
    this.noText(el);
    const name = this.required(el, 'name');
    const value = this.required(el, 'value');
    if (Object.hasOwn(into, name)) this.fail(el, `duplicate annotation "${name}"`);
    into[name] = value;
    for (const child of el.children) {
      // GDBus allows annotations on annotations; we do not keep them.
      if (child.name === 'annotation') this.annotation(child, {});
    }
  }

  private type(el: XmlElement): string {
    const t = this.required(el, 'type');
    if (!isSingleCompleteType(t)) this.fail(el, `"${t}" is not a single complete type`);
    return t;
  }

  private arg(el: XmlElement, inSignal: boolean): { arg: ArgDeclaration; direction: 'in' | 'out' } {
    this.checkAttrs(el, ['name', 'type', 'direction']);
    this.noText(el);
    const arg: ArgDeclaration = { signature: this.type(el) };
    const name = el.attrs.get('name');
    if (name !== undefined) arg.name = name;
    const dir = el.attrs.get('direction') ?? (inSignal ? 'out' : 'in');
    if (dir !== 'in' && dir !== 'out') this.fail(el, `direction must be "in" or "out", not "${dir}"`);
    if (inSignal && dir !== 'out') this.fail(el, 'signal arguments have direction "out"');
    const annotations = this.annotationsOf(el);
    if (annotations) arg.annotations = annotations;
    return { arg, direction: dir };
  }

  private annotationsOf(el: XmlElement): Annotations | undefined {
    const out: Annotations = {};
    let any = false;
    for (const child of el.children) {
      if (child.name === 'annotation') {
        this.annotation(child, out);
        any = true;
      }
    }
    return any ? out : undefined;
  }

  private member(el: XmlElement): string {
    const name = this.required(el, 'name');
    if (!isValidMemberName(name)) this.fail(el, `"${name}" is not a valid member name`);
    return name;
  }

  private method(el: XmlElement): MethodDeclaration {
    this.checkAttrs(el, ['name']);
    this.noText(el);
    const m: MethodDeclaration = { name: this.member(el), in: [], out: [] };
    for (const child of el.children) {
      if (child.name === 'arg') {
        const { arg, direction } = this.arg(child, false);
        m[direction].push(arg);
      } else if (child.name !== 'annotation') this.unknownChild(child);
    }
    const annotations = this.annotationsOf(el);
    if (annotations) m.annotations = annotations;
    return m;
  }

  private signal(el: XmlElement): SignalDeclaration {
    this.checkAttrs(el, ['name']);
    this.noText(el);
    const s: SignalDeclaration = { name: this.member(el), args: [] };
    for (const child of el.children) {
      if (child.name === 'arg') s.args.push(this.arg(child, true).arg);
      else if (child.name !== 'annotation') this.unknownChild(child);
    }
    const annotations = this.annotationsOf(el);
    if (annotations) s.annotations = annotations;
    return s;
  }

  private property(el: XmlElement): PropertyDeclaration {
    this.checkAttrs(el, ['name', 'type', 'access']);
    this.noText(el);
    const access = this.required(el, 'access');
    if (access !== 'read' && access !== 'write' && access !== 'readwrite') {
      this.fail(el, `access must be "read", "write" or "readwrite", not "${access}"`);
    }
    const p: PropertyDeclaration = { name: this.member(el), signature: this.type(el), access: access as PropertyAccess };
    for (const child of el.children) if (child.name !== 'annotation') this.unknownChild(child);
    const annotations = this.annotationsOf(el);
    if (annotations) p.annotations = annotations;
    return p;
  }

  /** Elements of other namespaces (doc:doc and the like) are documentation; anything else is an error. */
  private unknownChild(el: XmlElement): void {
    if (!el.name.includes(':')) this.fail(el, 'unexpected element here');
  }

  private iface(el: XmlElement): InterfaceDeclaration {
    this.checkAttrs(el, ['name']);
    this.noText(el);
    const name = this.required(el, 'name');
    if (!isValidInterfaceName(name)) this.fail(el, `"${name}" is not a valid interface name`);
    const i: InterfaceDeclaration = { name, methods: [], signals: [], properties: [] };
    const seen = new Set<string>();
    const unique = (child: XmlElement, kind: string, member: string): void => {
      const key = `${kind} ${member}`;
      if (seen.has(key)) this.fail(child, `duplicate ${kind} "${member}"`);
      seen.add(key);
    };
    for (const child of el.children) {
      switch (child.name) {
        case 'method': {
          const m = this.method(child);
          unique(child, 'method', m.name);
          i.methods.push(m);
          break;
        }
        case 'signal': {
          const s = this.signal(child);
          unique(child, 'signal', s.name);
          i.signals.push(s);
          break;
        }
        case 'property': {
          const p = this.property(child);
          unique(child, 'property', p.name);
          i.properties.push(p);
          break;
        }
        case 'annotation':
          break;
        default:
          this.unknownChild(child);
      }
    }
    const annotations = this.annotationsOf(el);
    if (annotations) i.annotations = annotations;
    return i;
  }

  node(el: XmlElement, isRoot: boolean): NodeDeclaration {
    if (el.name !== 'node') this.fail(el, 'expected <node>');
    this.checkAttrs(el, ['name']);
    this.noText(el);
    const node: NodeDeclaration = { interfaces: [], nodes: [] };
    const name = el.attrs.get('name');
    if (name !== undefined) {
      // The root may carry an absolute path; children carry a relative name.
      const ok = isRoot ? isValidObjectPath(name) || isValidObjectPath(`/${name}`) : isValidObjectPath(`/${name}`);
      if (!ok) this.fail(el, `"${name}" is not a valid node name`);
      node.name = name;
    }
    for (const child of el.children) {
      if (child.name === 'interface') node.interfaces.push(this.iface(child));
      else if (child.name === 'node') node.nodes.push(this.node(child, false));
      else if (child.name !== 'annotation') this.unknownChild(child);
    }
    return node;
  }
}

/** Parses an introspection document; throws IntrospectionParseError on anything malformed. */
export function parseIntrospectionXml(xml: string): NodeDeclaration {
  const reader = new XmlReader(xml);
  const root = reader.readDocument();
  return new IntrospectionBuilder(reader).node(root, true);
}

/** Parses a document and returns its interface named `name` (or its only interface). */
export function parseInterfaceXml(xml: string, name?: string): InterfaceDeclaration {
  const node = parseIntrospectionXml(xml);
  const found = name === undefined ? node.interfaces[0] : node.interfaces.find((i) => i.name === name);
  if (!found) throw new DBusInvalidArgsError(`Introspection XML has no interface ${name ?? ''}`.trim());
  return found;
}

// ---------------------------------------------------------------------------------------------
// Writer.

/** Escapes a string for a double-quoted XML attribute (line breaks kept as character references). */
export function escapeXmlAttribute(s: string): string {
  return s.replace(/[&<>"\n\r\t]/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      case '\n':
        return '&#10;';
      case '\r':
        return '&#13;';
      default:
        return '&#9;';
    }
  });
}

function annotationsToXml(annotations: Annotations | undefined, indent: string, out: string[]): void {
  if (!annotations) return;
  for (const [name, value] of Object.entries(annotations)) {
    out.push(`${indent}<annotation name="${escapeXmlAttribute(name)}" value="${escapeXmlAttribute(value)}"/>\n`);
  }
}

function argToXml(arg: ArgDeclaration, direction: 'in' | 'out' | undefined, indent: string, out: string[]): void {
  let head = `${indent}<arg type="${escapeXmlAttribute(arg.signature)}"`;
  if (arg.name !== undefined) head += ` name="${escapeXmlAttribute(arg.name)}"`;
  if (direction) head += ` direction="${direction}"`;
  if (arg.annotations && Object.keys(arg.annotations).length > 0) {
    out.push(`${head}>\n`);
    annotationsToXml(arg.annotations, `${indent}  `, out);
    out.push(`${indent}</arg>\n`);
  } else out.push(`${head}/>\n`);
}

function hasAnnotations(a: Annotations | undefined): boolean {
  return a !== undefined && Object.keys(a).length > 0;
}

/** Appends the <interface> element of `iface` to `out`, indented by `indent`. */
function interfaceToXmlParts(iface: InterfaceDeclaration, indent: string, out: string[]): void {
  const i2 = `${indent}  `;
  const i3 = `${indent}    `;
  out.push(`${indent}<interface name="${escapeXmlAttribute(iface.name)}">\n`);
  annotationsToXml(iface.annotations, i2, out);
  for (const m of iface.methods) {
    const name = escapeXmlAttribute(m.name);
    if (m.in.length === 0 && m.out.length === 0 && !hasAnnotations(m.annotations)) {
      out.push(`${i2}<method name="${name}"/>\n`);
      continue;
    }
    out.push(`${i2}<method name="${name}">\n`);
    annotationsToXml(m.annotations, i3, out);
    for (const a of m.in) argToXml(a, 'in', i3, out);
    for (const a of m.out) argToXml(a, 'out', i3, out);
    out.push(`${i2}</method>\n`);
  }
  for (const s of iface.signals) {
    const name = escapeXmlAttribute(s.name);
    if (s.args.length === 0 && !hasAnnotations(s.annotations)) {
      out.push(`${i2}<signal name="${name}"/>\n`);
      continue;
    }
    out.push(`${i2}<signal name="${name}">\n`);
    annotationsToXml(s.annotations, i3, out);
    for (const a of s.args) argToXml(a, undefined, i3, out);
    out.push(`${i2}</signal>\n`);
  }
  for (const p of iface.properties) {
    const head = `${i2}<property type="${escapeXmlAttribute(p.signature)}" name="${escapeXmlAttribute(p.name)}" access="${p.access}"`;
    if (hasAnnotations(p.annotations)) {
      out.push(`${head}>\n`);
      annotationsToXml(p.annotations, i3, out);
      out.push(`${i2}</property>\n`);
    } else out.push(`${head}/>\n`);
  }
  out.push(`${indent}</interface>\n`);
}

/** The <interface> element of `iface`, indented by `indent` (default two spaces, as inside <node>). */
export function interfaceToXml(iface: InterfaceDeclaration, indent = '  '): string {
  const out: string[] = [];
  interfaceToXmlParts(iface, indent, out);
  return out.join('');
}

function nodeToXml(node: NodeDeclaration, indent: string, out: string[]): void {
  const nameAttr = node.name !== undefined ? ` name="${escapeXmlAttribute(node.name)}"` : '';
  if (node.interfaces.length === 0 && node.nodes.length === 0) {
    out.push(`${indent}<node${nameAttr}/>\n`);
    return;
  }
  out.push(`${indent}<node${nameAttr}>\n`);
  for (const i of node.interfaces) interfaceToXmlParts(i, `${indent}  `, out);
  for (const n of node.nodes) nodeToXml(n, `${indent}  `, out);
  out.push(`${indent}</node>\n`);
}

/** A complete introspection document (DOCTYPE included) for `node`. */
export function generateIntrospectionXml(node: NodeDeclaration): string {
  const out: string[] = [INTROSPECTION_DOCTYPE];
  // The root is always written with an open and close tag, as GDBus and sd-bus do.
  const nameAttr = node.name !== undefined ? ` name="${escapeXmlAttribute(node.name)}"` : '';
  out.push(`<node${nameAttr}>\n`);
  for (const i of node.interfaces) interfaceToXmlParts(i, '  ', out);
  for (const n of node.nodes) nodeToXml(n, '  ', out);
  out.push('</node>\n');
  return out.join('');
}
