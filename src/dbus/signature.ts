// D-Bus type signatures ("Type System" in the specification), parsed once into a tree of
// TypeNodes and cached; the codec walks these trees instead of re-reading signature strings.

import { DBusInvalidArgsError } from './errors.js';

/** Kind of a type node; numeric so the codec can switch on it cheaply. */
// biome-ignore lint/suspicious/noConstEnum: inlined numbers keep the codec's switches cheap
export const enum Kind {
  Byte = 0,
  Boolean = 1,
  Int16 = 2,
  Uint16 = 3,
  Int32 = 4,
  Uint32 = 5,
  Int64 = 6,
  Uint64 = 7,
  Double = 8,
  UnixFd = 9,
  String = 10,
  ObjectPath = 11,
  Signature = 12,
  Variant = 13,
  Array = 14,
  Struct = 15,
  DictEntry = 16,
}

/** One complete type of a signature. */
export interface TypeNode {
  readonly kind: Kind;
  /** The type code: 'y', 'a', 'v', … with '(' for structs and '{' for dict entries. */
  readonly code: string;
  /** This complete type written as a signature, e.g. 'a{sv}'. */
  readonly signature: string;
  /** Alignment of the marshalled value in bytes. */
  readonly alignment: 1 | 2 | 4 | 8;
  /** Array: [element]; struct: its fields; dict entry: [key, value]; otherwise []. */
  readonly children: readonly TypeNode[];
  /** True for the basic (non-container) types, the only ones allowed as dict keys. */
  readonly basic: boolean;
  /** Array of dict entries (`a{..}`), mapped to a Map in JavaScript. */
  readonly isDict: boolean;
  /** Array of bytes (`ay`), mapped to a Uint8Array in JavaScript. */
  readonly isByteArray: boolean;
}

/** Maximum length of a signature in bytes. */
export const MAX_SIGNATURE_LENGTH = 255;
/** Maximum nesting of arrays, and separately of structs/dict entries, in one signature. */
const MAX_ARRAY_DEPTH = 32;
const MAX_STRUCT_DEPTH = 32;
/** Maximum total container depth of a value, variants included. */
export const MAX_TOTAL_DEPTH = 64;

interface BasicInfo {
  kind: Kind;
  alignment: 1 | 2 | 4 | 8;
}

const BASIC: Record<string, BasicInfo> = {
  y: { kind: Kind.Byte, alignment: 1 },
  b: { kind: Kind.Boolean, alignment: 4 },
  n: { kind: Kind.Int16, alignment: 2 },
  q: { kind: Kind.Uint16, alignment: 2 },
  i: { kind: Kind.Int32, alignment: 4 },
  u: { kind: Kind.Uint32, alignment: 4 },
  x: { kind: Kind.Int64, alignment: 8 },
  t: { kind: Kind.Uint64, alignment: 8 },
  d: { kind: Kind.Double, alignment: 8 },
  h: { kind: Kind.UnixFd, alignment: 4 },
  s: { kind: Kind.String, alignment: 4 },
  o: { kind: Kind.ObjectPath, alignment: 4 },
  g: { kind: Kind.Signature, alignment: 1 },
};

function node(kind: Kind, code: string, signature: string, alignment: 1 | 2 | 4 | 8, children: TypeNode[]): TypeNode {
  const basic = kind <= Kind.Signature;
  const isDict = kind === Kind.Array && children[0]!.kind === Kind.DictEntry;
  const isByteArray = kind === Kind.Array && children[0]!.kind === Kind.Byte;
  return { kind, code, signature, alignment, children, basic, isDict, isByteArray };
}

// Shared nodes for the basic types and 'v', so trees are small and comparisons cheap.
const LEAVES: Record<string, TypeNode> = {};
for (const [code, info] of Object.entries(BASIC)) LEAVES[code] = node(info.kind, code, code, info.alignment, []);
LEAVES['v'] = node(Kind.Variant, 'v', 'v', 1, []);

/** The single-character complete types (basic types and 'v'), indexed by character code. */
export const SINGLE_TYPES: readonly (TypeNode | undefined)[] = Array.from({ length: 128 }, (_, c) =>
  Object.hasOwn(LEAVES, String.fromCharCode(c)) ? LEAVES[String.fromCharCode(c)] : undefined,
);

class Parser {
  pos = 0;
  arrays = 0;
  structs = 0;
  constructor(readonly sig: string) {}

  fail(why: string): never {
    throw new DBusInvalidArgsError(`Invalid signature ${JSON.stringify(this.sig)}: ${why}`);
  }

  /** Parses one complete type starting at `pos`. */
  complete(inArray: boolean): TypeNode {
    const sig = this.sig;
    const start = this.pos;
    const c = sig[this.pos++];
    if (c === undefined) this.fail('expected a type, found the end');
    const leaf = LEAVES[c];
    if (leaf !== undefined) return leaf;
    if (c === 'a') {
      if (++this.arrays > MAX_ARRAY_DEPTH) this.fail(`more than ${MAX_ARRAY_DEPTH} nested arrays`);
      const elem = this.complete(true);
      this.arrays--;
      return node(Kind.Array, 'a', sig.slice(start, this.pos), 4, [elem]);
    }
    if (c === '(') {
      if (++this.structs > MAX_STRUCT_DEPTH) this.fail(`more than ${MAX_STRUCT_DEPTH} nested structs`);
      const fields: TypeNode[] = [];
      while (sig[this.pos] !== ')') {
        if (this.pos >= sig.length) this.fail('struct not closed');
        fields.push(this.complete(false));
      }
      if (fields.length === 0) this.fail('empty struct');
      this.pos++;
      this.structs--;
      return node(Kind.Struct, '(', sig.slice(start, this.pos), 8, fields);
    }
    if (c === '{') {
      if (!inArray) this.fail('dict entry outside an array');
      // Dict entries count as structs for the nesting limit, as in libdbus.
      if (++this.structs > MAX_STRUCT_DEPTH) this.fail(`more than ${MAX_STRUCT_DEPTH} nested structs`);
      const key = this.complete(false);
      if (!key.basic) this.fail('dict entry key must be a basic type');
      if (sig[this.pos] === '}') this.fail('dict entry needs a key and a value');
      const value = this.complete(false);
      if (sig[this.pos] !== '}') this.fail('dict entry must have exactly two types');
      this.pos++;
      this.structs--;
      return node(Kind.DictEntry, '{', sig.slice(start, this.pos), 8, [key, value]);
    }
    return this.fail(`unexpected character ${JSON.stringify(c)} at ${start}`);
  }
}

function parseUncached(sig: string): TypeNode[] {
  if (typeof sig !== 'string') throw new DBusInvalidArgsError(`Signature must be a string, not ${typeof sig}`);
  if (sig.length > MAX_SIGNATURE_LENGTH) {
    throw new DBusInvalidArgsError(`Invalid signature: longer than ${MAX_SIGNATURE_LENGTH} bytes`);
  }
  const p = new Parser(sig);
  const types: TypeNode[] = [];
  while (p.pos < sig.length) types.push(p.complete(false));
  return types;
}

// Bounded, because signatures arrive from peers; clearing is crude but keeps memory flat.
const CACHE_LIMIT = 2048;
const cache = new Map<string, readonly TypeNode[]>();

/** Parses a signature into its complete types (cached; the result must not be modified). Throws DBusInvalidArgsError. */
export function parseSignature(sig: string): readonly TypeNode[] {
  let types = cache.get(sig);
  if (types === undefined) {
    types = parseUncached(sig);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(sig, types);
  }
  return types;
}

/** Parses a signature that must hold exactly one complete type (variants, properties). */
export function parseSingleType(sig: string): TypeNode {
  const types = parseSignature(sig);
  if (types.length !== 1) {
    throw new DBusInvalidArgsError(`Signature ${JSON.stringify(sig)} is not a single complete type`);
  }
  return types[0]!;
}

/** True if `sig` is a valid signature (any number of complete types, empty included). */
export function isValidSignature(sig: unknown): sig is string {
  if (typeof sig !== 'string') return false;
  try {
    parseSignature(sig);
    return true;
  } catch {
    return false;
  }
}

/** True if `sig` is exactly one complete type. */
export function isSingleCompleteType(sig: unknown): sig is string {
  return isValidSignature(sig) && parseSignature(sig).length === 1;
}

/** Splits a signature into its complete types: 'sa{sv}i' → ['s', 'a{sv}', 'i']. */
export function splitSignature(sig: string): string[] {
  return parseSignature(sig).map((t) => t.signature);
}
