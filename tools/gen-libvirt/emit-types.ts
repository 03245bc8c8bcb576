// Emits TypeScript types and XDR encoders/decoders for the consts, enums, structs, unions and
// typedefs of one .x file.
import type { XDecl, XDefinition, XType } from './ast.js';
import { GeneratorError, type Model } from './model.js';
import { decoderName, encoderName, typeName } from './names.js';

/** Names a module uses from other generated modules, by .x type name. */
export type ImportNeeds = Map<string, Set<'type' | 'enc' | 'dec'>>;

/** Writes `/** ... *\/` around lines, keeping `*\/` out of the text. */
export function docComment(lines: string[], indent = ''): string {
  const clean = lines.flatMap((l) => l.split('\n')).map((l) => l.replace(/\*\//g, '* /').trimEnd());
  if (clean.length === 1) return `${indent}/** ${clean[0]} */\n`;
  return `${indent}/**\n${clean.map((l) => `${indent} *${l === '' ? '' : ` ${l}`}`).join('\n')}\n${indent} */\n`;
}

/** The text of a .x comment, without its leading stars, trimmed of blank lines. */
export function commentText(comment: string | null): string[] {
  if (comment === null) return [];
  const lines = comment
    .split('\n')
    .map((l) => l.replace(/^\s*\*+ ?/, '').trimEnd())
    // Section rulers such as "----- Protocol. -----" describe the file, not the next definition.
    .filter((l) => !/^\s*-{3,}.*-{3,}\s*$/.test(l));
  while (lines.length > 0 && lines[0]!.trim() === '') lines.shift();
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  return lines.map((l) => l.replace(/^\s+/, (s) => (s.length > 1 ? ' ' : '')));
}

/** Names separated by commas, wrapped at about 120 columns, indented by two. */
function wrapNames(names: readonly string[]): string {
  let out = '';
  let line = '';
  for (const n of names) {
    if (line !== '' && line.length + n.length + 2 > 118) {
      out += `  ${line.trimEnd()}\n`;
      line = '';
    }
    line += `${n}, `;
  }
  return line === '' ? out : `${out}  ${line.trimEnd()}\n`;
}

const INT_FIELD_SPELLINGS = new Set(['int', 'unsigned int']);

export class TypeEmitter {
  readonly needs: ImportNeeds = new Map();

  constructor(
    private readonly model: Model,
    private readonly module: string,
  ) {}

  private use(xName: string, what: 'type' | 'enc' | 'dec'): void {
    const sym = this.model.type(xName);
    if (sym.module === this.module) return;
    let s = this.needs.get(xName);
    if (s === undefined) {
      s = new Set();
      this.needs.set(xName, s);
    }
    s.add(what);
  }

  /** The TypeScript type of values of an XDR type specifier. */
  tsType(t: XType): string {
    switch (t.kind) {
      case 'int':
      case 'uint':
      case 'float':
      case 'double':
        return 'number';
      case 'hyper':
      case 'uhyper':
        return 'bigint';
      case 'bool':
        return 'boolean';
      case 'ref':
        this.use(t.name, 'type');
        return typeName(t.name);
    }
  }

  /** The name of a function `(w, v) => void` encoding one value of type t. */
  private encFn(t: XType): string {
    switch (t.kind) {
      case 'int':
        return 'encodeXdrInt';
      case 'uint':
        return 'encodeXdrUint';
      case 'hyper':
        return 'encodeXdrHyper';
      case 'uhyper':
        return 'encodeXdrUhyper';
      case 'bool':
        return 'encodeXdrBool';
      case 'float':
        return 'encodeXdrFloat';
      case 'double':
        return 'encodeXdrDouble';
      case 'ref':
        this.use(t.name, 'enc');
        return encoderName(t.name);
    }
  }

  /** The name of a function `(r) => T` decoding one value of type t. */
  private decFn(t: XType): string {
    switch (t.kind) {
      case 'int':
        return 'decodeXdrInt';
      case 'uint':
        return 'decodeXdrUint';
      case 'hyper':
        return 'decodeXdrHyper';
      case 'uhyper':
        return 'decodeXdrUhyper';
      case 'bool':
        return 'decodeXdrBool';
      case 'float':
        return 'decodeXdrFloat';
      case 'double':
        return 'decodeXdrDouble';
      case 'ref':
        this.use(t.name, 'dec');
        return decoderName(t.name);
    }
  }

  /** A statement encoding the value `e` of a plain type t. */
  private encType(t: XType, e: string): string {
    switch (t.kind) {
      case 'int':
        return `w.writeInt(${e});`;
      case 'uint':
        return `w.writeUint(${e});`;
      case 'hyper':
        return `w.writeHyper(${e});`;
      case 'uhyper':
        return `w.writeUhyper(${e});`;
      case 'bool':
        return `w.writeBool(${e});`;
      case 'float':
        return `w.writeFloat(${e});`;
      case 'double':
        return `w.writeDouble(${e});`;
      case 'ref':
        return `${this.encFn(t)}(w, ${e});`;
    }
  }

  /** An expression decoding one value of a plain type t. */
  private decType(t: XType): string {
    switch (t.kind) {
      case 'int':
        return 'r.readInt()';
      case 'uint':
        return 'r.readUint()';
      case 'hyper':
        return 'r.readHyper()';
      case 'uhyper':
        return 'r.readUhyper()';
      case 'bool':
        return 'r.readBool()';
      case 'float':
        return 'r.readFloat()';
      case 'double':
        return 'r.readDouble()';
      case 'ref':
        return `${this.decFn(t)}(r)`;
    }
  }

  /** The TypeScript type of a declaration's value. */
  declType(d: XDecl): string {
    switch (d.kind) {
      case 'void':
        return 'undefined';
      case 'plain':
        return this.tsType(d.type);
      case 'optional':
        return `${this.tsType(d.type)} | null`;
      case 'fixedArray':
      case 'varArray': {
        const el = this.tsType(d.type);
        return /^[A-Za-z0-9]+$/.test(el) ? `${el}[]` : `Array<${el}>`;
      }
      case 'fixedOpaque':
      case 'varOpaque':
        return 'Uint8Array';
      case 'string':
        return 'string';
    }
  }

  /** Statements encoding the value `e` of a declaration. */
  encDecl(d: XDecl, e: string): string {
    const m = this.model;
    switch (d.kind) {
      case 'void':
        return '';
      case 'plain':
        return this.encType(d.type, e);
      case 'optional':
        return `writeXdrOptional(w, ${e}, ${this.encFn(d.type)});`;
      case 'fixedArray':
        return `writeXdrFixedArray(w, ${e}, ${m.resolveSize(d.size)}, ${this.encFn(d.type)});`;
      case 'varArray':
        return `writeXdrVarArray(w, ${e}, ${m.resolveSize(d.max)}, ${this.encFn(d.type)});`;
      case 'fixedOpaque':
        return `w.writeFixedOpaque(${e}, ${m.resolveSize(d.size)});`;
      case 'varOpaque':
        return `w.writeVarOpaque(${e}, ${m.resolveSize(d.max)});`;
      case 'string':
        return `w.writeString(${e}, ${m.resolveSize(d.max)});`;
    }
  }

  /** An expression decoding the value of a declaration. */
  decDecl(d: XDecl): string {
    const m = this.model;
    switch (d.kind) {
      case 'void':
        return 'undefined';
      case 'plain':
        return this.decType(d.type);
      case 'optional':
        return `readXdrOptional(r, ${this.decFn(d.type)})`;
      case 'fixedArray':
        return `readXdrFixedArray(r, ${m.resolveSize(d.size)}, ${this.decFn(d.type)})`;
      case 'varArray':
        return `readXdrVarArray(r, ${m.resolveSize(d.max)}, ${this.decFn(d.type)})`;
      case 'fixedOpaque':
        return `r.readFixedOpaque(${m.resolveSize(d.size)})`;
      case 'varOpaque':
        return `r.readVarOpaque(${m.resolveSize(d.max)})`;
      case 'string':
        return `r.readString(${m.resolveSize(d.max)})`;
    }
  }

  /** How the declaration is written in the .x file, for doc comments. */
  static xSpelling(d: XDecl): string {
    const v = (x: { kind: 'number'; value: bigint } | { kind: 'name'; name: string } | null) =>
      x === null ? '' : x.kind === 'number' ? String(x.value) : x.name;
    const t = (x: XType) =>
      x.kind === 'int' || x.kind === 'uint' ? x.spelling : x.kind === 'uhyper' ? 'unsigned hyper' : x.kind === 'ref' ? x.name : x.kind;
    switch (d.kind) {
      case 'void':
        return 'void';
      case 'plain':
        return `${t(d.type)} ${d.name}`;
      case 'optional':
        return `${t(d.type)} *${d.name}`;
      case 'fixedArray':
        return `${t(d.type)} ${d.name}[${v(d.size)}]`;
      case 'varArray':
        return `${t(d.type)} ${d.name}<${v(d.max)}>`;
      case 'fixedOpaque':
        return `opaque ${d.name}[${v(d.size)}]`;
      case 'varOpaque':
        return `opaque ${d.name}<${v(d.max)}>`;
      case 'string':
        return `string ${d.name}<${v(d.max)}>`;
    }
  }

  /** Whether a struct field's doc comment should show its .x spelling (it says more than the TS type). */
  private static fieldNeedsDoc(d: XDecl): boolean {
    if (d.kind !== 'plain') return true;
    return (d.type.kind === 'int' || d.type.kind === 'uint') && !INT_FIELD_SPELLINGS.has(d.type.spelling);
  }

  /** Code for one definition. */
  emit(def: XDefinition, fileName: string): string {
    const where = `(${fileName})`;
    switch (def.kind) {
      case 'const': {
        const doc = docComment([`${def.name} ${where}`, ...commentText(def.comment)]);
        return `${doc}export const ${def.name} = ${this.model.resolve(def.value)};\n`;
      }
      case 'enum':
        return this.emitEnum(def, where);
      case 'struct':
        return this.emitStruct(def, where);
      case 'union':
        return this.emitUnion(def, where);
      case 'typedef':
        return this.emitTypedef(def, where);
    }
  }

  private emitEnum(def: Extract<XDefinition, { kind: 'enum' }>, where: string): string {
    const T = typeName(def.name);
    const values = def.members.map((m) => [m.name, this.model.resolve(m.value)] as const);
    for (const [name, v] of values) {
      if (v < -0x80000000n || v > 0x7fffffffn) throw new GeneratorError(`enum member ${name} = ${v} does not fit an XDR int`);
    }
    let out = docComment([`enum ${def.name} ${where}`, ...commentText(def.comment)]);
    out += `export const ${T} = {\n${values.map(([n, v]) => `  ${n}: ${v},\n`).join('')}} as const;\n`;
    out += `export type ${T} = (typeof ${T})[keyof typeof ${T}];\n`;
    // Each member also as a constant of its own, taken from the object (each value is written once).
    out += `export const {\n${wrapNames(values.map(([n]) => n))}} = ${T};\n`;
    out += `const ${T}Values: ReadonlySet<number> = new Set(Object.values(${T}));\n`;
    out += `/** Encodes ${def.name}; only its declared values are valid XDR. */\n`;
    out += `export function ${encoderName(def.name)}(w: XdrWriter, v: ${T}): void {\n`;
    out += `  if (!${T}Values.has(v)) throw new XdrError('RANGE', \`\${v} is not a value of ${def.name}\`);\n`;
    out += `  w.writeInt(v);\n}\n`;
    out += `/** Decodes ${def.name}; other values are rejected. */\n`;
    out += `export function ${decoderName(def.name)}(r: XdrReader): ${T} {\n`;
    out += `  const v = r.readInt();\n`;
    out += `  if (!${T}Values.has(v)) throw new XdrError('RANGE', \`\${v} is not a value of ${def.name}\`);\n`;
    out += `  return v as ${T};\n}\n`;
    return out;
  }

  private emitStruct(def: Extract<XDefinition, { kind: 'struct' }>, where: string): string {
    const T = typeName(def.name);
    let out = docComment([`struct ${def.name} ${where}`, ...commentText(def.comment)]);
    out += `export interface ${T} {\n`;
    for (const f of def.fields) {
      if (f.kind === 'void') continue;
      if (TypeEmitter.fieldNeedsDoc(f)) out += docComment([TypeEmitter.xSpelling(f)], '  ');
      out += `  ${f.name}: ${this.declType(f)};\n`;
    }
    out += '}\n';
    out += `export function ${encoderName(def.name)}(w: XdrWriter, v: ${T}): void {\n`;
    for (const f of def.fields) if (f.kind !== 'void') out += `  ${this.encDecl(f, `v.${f.name}`)}\n`;
    out += '}\n';
    out += `export function ${decoderName(def.name)}(r: XdrReader): ${T} {\n  return {\n`;
    for (const f of def.fields) if (f.kind !== 'void') out += `    ${f.name}: ${this.decDecl(f)},\n`;
    out += '  };\n}\n';
    return out;
  }

  private emitUnion(def: Extract<XDefinition, { kind: 'union' }>, where: string): string {
    const T = typeName(def.name);
    const dname = def.discriminant.name;
    const dtype = def.discriminant.type;
    if (dtype.kind !== 'int' && dtype.kind !== 'uint' && !(dtype.kind === 'ref' && this.model.type(dtype.name).def.kind === 'enum')) {
      throw new GeneratorError(`union ${def.name}: discriminant must be int, unsigned int or an enum`);
    }
    const arms = def.arms.map((a) => ({ values: a.cases.map((c) => this.model.resolve(c)), decl: a.decl }));
    const seen = new Set<bigint>();
    for (const a of arms) {
      for (const v of a.values) {
        if (seen.has(v)) throw new GeneratorError(`union ${def.name}: case ${v} appears twice`);
        seen.add(v);
      }
    }
    const armType = (discType: string, d: XDecl) =>
      d.kind === 'void' ? `{ ${dname}: ${discType} }` : `{ ${dname}: ${discType}; ${d.name}: ${this.declType(d)} }`;
    const variants = arms.map((a) => armType(a.values.join(' | '), a.decl));
    if (def.defaultArm !== null) variants.push(armType(this.tsType(dtype), def.defaultArm));
    let out = docComment([
      `union ${def.name} switch (${TypeEmitter.xSpelling({ kind: 'plain', name: dname, type: dtype })}) ${where}`,
      ...commentText(def.comment),
    ]);
    out += `export type ${T} =\n${variants.map((v) => `  | ${v}`).join('\n')};\n`;
    // A default arm makes the discriminant a plain number, which TypeScript cannot narrow on.
    const vv = def.defaultArm !== null ? '(v as any)' : 'v';
    out += `export function ${encoderName(def.name)}(w: XdrWriter, v: ${T}): void {\n  switch (v.${dname}) {\n`;
    for (const a of arms) {
      out += a.values.map((x) => `    case ${x}:\n`).join('');
      out += `      ${this.encType(dtype, `v.${dname}`)}\n`;
      if (a.decl.kind !== 'void') out += `      ${this.encDecl(a.decl, `${vv}.${a.decl.name}`)}\n`;
      out += '      return;\n';
    }
    if (def.defaultArm !== null) {
      out += `    default:\n      ${this.encType(dtype, `v.${dname}`)}\n`;
      if (def.defaultArm.kind !== 'void') out += `      ${this.encDecl(def.defaultArm, `${vv}.${def.defaultArm.name}`)}\n`;
      out += '      return;\n';
    } else {
      out += `    default:\n      throw new XdrError('UNION_ARM', \`${def.name}: no arm for ${dname} \${String((v as { ${dname}: unknown }).${dname})}\`);\n`;
    }
    out += '  }\n}\n';
    out += `export function ${decoderName(def.name)}(r: XdrReader): ${T} {\n  const d = ${this.decType(dtype)};\n  switch (d) {\n`;
    const build = (disc: string, d: XDecl) =>
      d.kind === 'void' ? `{ ${dname}: ${disc} }` : `{ ${dname}: ${disc}, ${d.name}: ${this.decDecl(d)} }`;
    for (const a of arms) {
      out += a.values.map((x) => `    case ${x}:\n`).join('');
      const disc = a.values.length === 1 ? String(a.values[0]) : `d as ${a.values.join(' | ')}`;
      out += `      return ${build(disc, a.decl)};\n`;
    }
    if (def.defaultArm !== null) out += `    default:\n      return ${build('d', def.defaultArm)};\n`;
    else out += `    default:\n      throw new XdrError('UNION_ARM', \`${def.name}: no arm for ${dname} \${d}\`);\n`;
    out += '  }\n}\n';
    return out;
  }

  private emitTypedef(def: Extract<XDefinition, { kind: 'typedef' }>, where: string): string {
    const d = def.decl;
    if (d.kind === 'void') throw new GeneratorError('typedef of void');
    const T = typeName(d.name);
    let out = docComment([`typedef ${TypeEmitter.xSpelling(d)} ${where}`, ...commentText(def.comment)]);
    out += `export type ${T} = ${this.declType(d)};\n`;
    out += `export function ${encoderName(d.name)}(w: XdrWriter, v: ${T}): void {\n  ${this.encDecl(d, 'v')}\n}\n`;
    out += `export function ${decoderName(d.name)}(r: XdrReader): ${T} {\n  return ${this.decDecl(d)};\n}\n`;
    return out;
  }
}
