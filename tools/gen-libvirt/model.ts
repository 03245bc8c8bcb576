// Symbol table across all .x files and headers: which module defines each type, and the value of
// every constant a .x file may name (its own consts and enum members, or the C headers').
import type { XDefinition, XFile, XValue } from './ast.js';
import { typeName } from './names.js';

/** A definition the generator cannot turn into code (unknown name, clash, unsupported form). */
export class GeneratorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GeneratorError';
  }
}

export type TypeDefinition = Exclude<XDefinition, { kind: 'const' }>;

export interface TypeSymbol {
  xName: string;
  /** Output module (file name without `.ts`) that defines it. */
  module: string;
  def: TypeDefinition;
}

export class Model {
  readonly types = new Map<string, TypeSymbol>();
  readonly constants = new Map<string, bigint>();
  private readonly tsNames = new Map<string, string>();

  constructor(private readonly headerValues: ReadonlyMap<string, number>) {}

  /** Adds the definitions of one .x file, generated into `module`. */
  add(file: XFile, module: string): void {
    for (const def of file.definitions) {
      if (def.kind === 'const') {
        this.defineConstant(def.name, this.resolve(def.value), file.fileName);
        continue;
      }
      const xName = def.kind === 'typedef' ? (def.decl.kind === 'void' ? '' : def.decl.name) : def.name;
      if (this.types.has(xName)) throw new GeneratorError(`${file.fileName}: type ${xName} defined twice`);
      const ts = typeName(xName);
      const clash = this.tsNames.get(ts);
      if (clash !== undefined) throw new GeneratorError(`${file.fileName}: ${xName} and ${clash} both map to ${ts}`);
      this.tsNames.set(ts, xName);
      this.types.set(xName, { xName, module, def });
      if (def.kind === 'enum') {
        for (const m of def.members) this.defineConstant(m.name, this.resolve(m.value), file.fileName);
      }
    }
  }

  private defineConstant(name: string, value: bigint, fileName: string): void {
    if (this.constants.has(name)) throw new GeneratorError(`${fileName}: constant ${name} defined twice`);
    this.constants.set(name, value);
  }

  /** The numeric value of a constant reference (from a .x file, else from the headers). */
  resolve(v: XValue): bigint {
    if (v.kind === 'number') return v.value;
    const own = this.constants.get(v.name);
    if (own !== undefined) return own;
    const c = this.headerValues.get(v.name);
    if (c !== undefined) return BigInt(c);
    throw new GeneratorError(`unknown constant ${v.name}`);
  }

  /** Like resolve, as a JavaScript number that must fit an XDR unsigned int. */
  resolveSize(v: XValue | null): number {
    if (v === null) return 0xffffffff;
    const n = this.resolve(v);
    if (n < 0n || n > 0xffffffffn) throw new GeneratorError(`size ${n} out of range`);
    return Number(n);
  }

  type(xName: string): TypeSymbol {
    const t = this.types.get(xName);
    if (t === undefined) throw new GeneratorError(`unknown type ${xName}`);
    return t;
  }
}

/** The `@key: value` annotations in the comment above a procedure of a .x file. */
export interface Annotations {
  generate: string | null;
  priority: 'low' | 'high';
  acl: string[];
  aclfilter: string[];
  readstream: number | null;
  writestream: number | null;
  sparseflag: string | null;
  /** Annotations this generator does not know (added by a later libvirt), as written, for doc comments. */
  unknown: string[];
}

/** One procedure of a program, with the structs that belong to it by libvirt's naming convention. */
export interface Procedure {
  name: string;
  number: number;
  method: string;
  annotations: Annotations;
  args: string | null;
  ret: string | null;
  msg: string | null;
}
