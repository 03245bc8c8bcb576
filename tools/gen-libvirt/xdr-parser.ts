// Parser of rpcgen / XDR (RFC 4506 section 6) protocol definition files, as libvirt writes them.
// `%` pass-through lines are ignored; comments are kept so that the comment just before an
// enum member (libvirt's procedure annotations) or a definition can be carried into the output.
import type { XDecl, XDefinition, XEnumMember, XFile, XType, XUnionArm, XValue } from './ast.js';

/** A syntax error in a .x file, with its position. */
export class XdrSyntaxError extends Error {
  constructor(
    readonly fileName: string,
    readonly line: number,
    message: string,
  ) {
    super(`${fileName}:${line}: ${message}`);
    this.name = 'XdrSyntaxError';
  }
}

interface Token {
  kind: 'ident' | 'number' | 'punct' | 'eof';
  text: string;
  line: number;
  /** The last comment between the previous token and this one. */
  comment: string | null;
}

const PUNCT = new Set(['{', '}', '(', ')', '[', ']', '<', '>', ';', ',', '=', '*', ':']);

/** Splits a .x file into tokens, attaching to each the comment that precedes it. */
export function tokenize(text: string, fileName: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let comment: string | null = null;
  let atLineStart = true;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
      atLineStart = true;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f') {
      i++;
      continue;
    }
    if (c === '%' && atLineStart) {
      // rpcgen pass-through line: C code for the generated header, nothing for us.
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    atLineStart = false;
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new XdrSyntaxError(fileName, line, 'unterminated comment');
      const body = text.slice(i + 2, end);
      for (const ch of body) if (ch === '\n') line++;
      comment = body;
      i = end + 2;
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_]/.test(text[j]!)) j++;
      tokens.push({ kind: 'ident', text: text.slice(i, j), line, comment });
      comment = null;
      i = j;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(text[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < n && /[0-9A-Fa-fxX]/.test(text[j]!)) j++;
      tokens.push({ kind: 'number', text: text.slice(i, j), line, comment });
      comment = null;
      i = j;
      continue;
    }
    if (PUNCT.has(c)) {
      tokens.push({ kind: 'punct', text: c, line, comment });
      comment = null;
      i++;
      continue;
    }
    throw new XdrSyntaxError(fileName, line, `unexpected character ${JSON.stringify(c)}`);
  }
  tokens.push({ kind: 'eof', text: '', line, comment });
  return tokens;
}

/** Value of an XDR integer literal: decimal, 0x hexadecimal or 0 octal, optionally negative. */
export function parseNumber(text: string): bigint | null {
  const neg = text.startsWith('-');
  const t = neg ? text.slice(1) : text;
  let v: bigint;
  if (/^0[xX][0-9A-Fa-f]+$/.test(t)) v = BigInt(t);
  else if (/^0[0-7]+$/.test(t)) v = BigInt('0o' + t.slice(1));
  else if (/^[0-9]+$/.test(t)) v = BigInt(t);
  else return null;
  return neg ? -v : v;
}

const RESERVED = new Set([
  'bool',
  'case',
  'const',
  'default',
  'double',
  'quadruple',
  'enum',
  'float',
  'hyper',
  'int',
  'opaque',
  'string',
  'struct',
  'switch',
  'typedef',
  'union',
  'unsigned',
  'void',
  'char',
  'short',
  'long',
  'program',
  'version',
]);

class Parser {
  private pos = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly fileName: string,
  ) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.pos++;
    return t;
  }

  private fail(message: string, t: Token = this.peek()): never {
    throw new XdrSyntaxError(this.fileName, t.line, `${message} (found ${t.kind === 'eof' ? 'end of file' : JSON.stringify(t.text)})`);
  }

  private isPunct(p: string): boolean {
    const t = this.peek();
    return t.kind === 'punct' && t.text === p;
  }

  private expectPunct(p: string): void {
    if (!this.isPunct(p)) this.fail(`expected ${JSON.stringify(p)}`);
    this.next();
  }

  private isKeyword(k: string): boolean {
    const t = this.peek();
    return t.kind === 'ident' && t.text === k;
  }

  private expectKeyword(k: string): void {
    if (!this.isKeyword(k)) this.fail(`expected ${JSON.stringify(k)}`);
    this.next();
  }

  private identifier(): string {
    const t = this.peek();
    if (t.kind !== 'ident' || RESERVED.has(t.text)) this.fail('expected an identifier');
    this.next();
    return t.text;
  }

  private value(): XValue {
    const t = this.peek();
    if (t.kind === 'number') {
      const v = parseNumber(t.text);
      if (v === null) this.fail('malformed number');
      this.next();
      return { kind: 'number', value: v };
    }
    if (t.kind === 'ident' && !RESERVED.has(t.text)) {
      this.next();
      return { kind: 'name', name: t.text };
    }
    return this.fail('expected a number or a constant name');
  }

  parseFile(): XFile {
    const definitions: XDefinition[] = [];
    while (this.peek().kind !== 'eof') definitions.push(this.definition());
    return { fileName: this.fileName, definitions };
  }

  private definition(): XDefinition {
    const t = this.peek();
    const comment = t.comment;
    if (t.kind !== 'ident') this.fail('expected a definition');
    switch (t.text) {
      case 'const': {
        this.next();
        const name = this.identifier();
        this.expectPunct('=');
        const value = this.value();
        this.expectPunct(';');
        return { kind: 'const', name, value, comment };
      }
      case 'enum': {
        this.next();
        const name = this.identifier();
        const members = this.enumBody();
        this.expectPunct(';');
        return { kind: 'enum', name, members, comment };
      }
      case 'struct': {
        this.next();
        const name = this.identifier();
        const fields = this.structBody();
        this.expectPunct(';');
        return { kind: 'struct', name, fields, comment };
      }
      case 'union': {
        this.next();
        const name = this.identifier();
        const body = this.unionBody();
        this.expectPunct(';');
        return { kind: 'union', name, ...body, comment };
      }
      case 'typedef': {
        this.next();
        const decl = this.declaration();
        if (decl.kind === 'void') this.fail('typedef of void');
        this.expectPunct(';');
        return { kind: 'typedef', decl, comment };
      }
      default:
        return this.fail('expected const, enum, struct, union or typedef');
    }
  }

  private enumBody(): XEnumMember[] {
    this.expectPunct('{');
    const members: XEnumMember[] = [];
    let previous: XValue | null = null;
    for (;;) {
      const comment = this.peek().comment;
      const name = this.identifier();
      let value: XValue;
      if (this.isPunct('=')) {
        this.next();
        value = this.value();
      } else if (previous === null) {
        value = { kind: 'number', value: 0n };
      } else if (previous.kind === 'number') {
        // rpcgen accepts members without a value: one more than the previous.
        value = { kind: 'number', value: previous.value + 1n };
      } else {
        this.fail('an enum member after a symbolic value needs its own value');
      }
      members.push({ name, value, comment });
      previous = value;
      if (this.isPunct(',')) {
        this.next();
        continue;
      }
      break;
    }
    this.expectPunct('}');
    if (members.length === 0) this.fail('empty enum');
    return members;
  }

  private structBody(): XDecl[] {
    this.expectPunct('{');
    const fields: XDecl[] = [];
    while (!this.isPunct('}')) {
      const d = this.declaration();
      if (d.kind === 'void') this.fail('void struct member');
      this.expectPunct(';');
      fields.push(d);
    }
    this.next();
    if (fields.length === 0) this.fail('empty struct');
    return fields;
  }

  private unionBody(): Omit<Extract<XDefinition, { kind: 'union' }>, 'kind' | 'name' | 'comment'> {
    this.expectKeyword('switch');
    this.expectPunct('(');
    const disc = this.declaration();
    if (disc.kind !== 'plain') this.fail('a union discriminant must be a plain declaration');
    this.expectPunct(')');
    this.expectPunct('{');
    const arms: XUnionArm[] = [];
    let defaultArm: XDecl | null = null;
    while (!this.isPunct('}')) {
      if (this.isKeyword('default')) {
        this.next();
        this.expectPunct(':');
        defaultArm = this.declaration();
        this.expectPunct(';');
        continue;
      }
      const cases: XValue[] = [];
      while (this.isKeyword('case')) {
        this.next();
        cases.push(this.value());
        this.expectPunct(':');
      }
      if (cases.length === 0) this.fail('expected case or default');
      const decl = this.declaration();
      this.expectPunct(';');
      arms.push({ cases, decl });
    }
    this.next();
    return { discriminant: { name: disc.name, type: disc.type }, arms, defaultArm };
  }

  private typeSpecifier(): XType {
    const t = this.next();
    if (t.kind !== 'ident') this.fail('expected a type', t);
    switch (t.text) {
      case 'unsigned': {
        const u = this.peek();
        if (u.kind === 'ident' && (u.text === 'int' || u.text === 'char' || u.text === 'short' || u.text === 'long')) {
          this.next();
          return { kind: 'uint', spelling: `unsigned ${u.text}` };
        }
        if (u.kind === 'ident' && u.text === 'hyper') {
          this.next();
          return { kind: 'uhyper' };
        }
        return { kind: 'uint', spelling: 'unsigned' };
      }
      case 'int':
      case 'char':
      case 'short':
      case 'long':
        return { kind: 'int', spelling: t.text };
      case 'hyper':
        return { kind: 'hyper' };
      case 'bool':
        return { kind: 'bool' };
      case 'float':
        return { kind: 'float' };
      case 'double':
        return { kind: 'double' };
      case 'quadruple':
        return this.fail('quadruple is not supported', t);
      case 'struct':
      case 'enum':
      case 'union':
        // `struct foo x;` names a type declared elsewhere; inline bodies are not used by libvirt.
        if (this.isPunct('{')) this.fail(`anonymous ${t.text} types are not supported`);
        return { kind: 'ref', name: this.identifier() };
      default:
        if (RESERVED.has(t.text)) this.fail('expected a type', t);
        return { kind: 'ref', name: t.text };
    }
  }

  private declaration(): XDecl {
    if (this.isKeyword('void')) {
      this.next();
      return { kind: 'void' };
    }
    if (this.isKeyword('opaque') || this.isKeyword('string')) {
      const which = this.next().text;
      const name = this.identifier();
      if (which === 'opaque' && this.isPunct('[')) {
        this.next();
        const size = this.value();
        this.expectPunct(']');
        return { kind: 'fixedOpaque', name, size };
      }
      this.expectPunct('<');
      const max = this.isPunct('>') ? null : this.value();
      this.expectPunct('>');
      return which === 'opaque' ? { kind: 'varOpaque', name, max } : { kind: 'string', name, max };
    }
    const type = this.typeSpecifier();
    if (this.isPunct('*')) {
      this.next();
      return { kind: 'optional', name: this.identifier(), type };
    }
    const name = this.identifier();
    if (this.isPunct('[')) {
      this.next();
      const size = this.value();
      this.expectPunct(']');
      return { kind: 'fixedArray', name, type, size };
    }
    if (this.isPunct('<')) {
      this.next();
      const max = this.isPunct('>') ? null : this.value();
      this.expectPunct('>');
      return { kind: 'varArray', name, type, max };
    }
    return { kind: 'plain', name, type };
  }
}

/** Parses the text of one .x file. Throws XdrSyntaxError. */
export function parseXdr(text: string, fileName: string): XFile {
  return new Parser(tokenize(text, fileName), fileName).parseFile();
}
