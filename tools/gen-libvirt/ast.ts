// Syntax tree of an rpcgen / XDR (RFC 4506) protocol definition file.

/** A constant's value as written: a literal number or the name of another constant. */
export type XValue = { kind: 'number'; value: bigint } | { kind: 'name'; name: string };

/** A type specifier. Integer-like C types keep their spelling so the doc comments can show it. */
export type XType =
  | { kind: 'int'; spelling: string }
  | { kind: 'uint'; spelling: string }
  | { kind: 'hyper' }
  | { kind: 'uhyper' }
  | { kind: 'bool' }
  | { kind: 'float' }
  | { kind: 'double' }
  | { kind: 'ref'; name: string };

/** A declaration: a struct field, union arm, typedef, or `void`. */
export type XDecl =
  | { kind: 'void' }
  | { kind: 'plain'; name: string; type: XType }
  | { kind: 'optional'; name: string; type: XType }
  | { kind: 'fixedArray'; name: string; type: XType; size: XValue }
  | { kind: 'varArray'; name: string; type: XType; max: XValue | null }
  | { kind: 'fixedOpaque'; name: string; size: XValue }
  | { kind: 'varOpaque'; name: string; max: XValue | null }
  | { kind: 'string'; name: string; max: XValue | null };

/** One `case` group of a union: several case labels may share an arm. */
export interface XUnionArm {
  cases: XValue[];
  decl: XDecl;
}

export interface XEnumMember {
  name: string;
  value: XValue;
  /** Text of the comment just before the member (procedure annotations live there). */
  comment: string | null;
}

export type XDefinition =
  | { kind: 'const'; name: string; value: XValue; comment: string | null }
  | { kind: 'enum'; name: string; members: XEnumMember[]; comment: string | null }
  | { kind: 'struct'; name: string; fields: XDecl[]; comment: string | null }
  | {
      kind: 'union';
      name: string;
      discriminant: { name: string; type: XType };
      arms: XUnionArm[];
      defaultArm: XDecl | null;
      comment: string | null;
    }
  | { kind: 'typedef'; decl: XDecl; comment: string | null };

/** A parsed .x file. */
export interface XFile {
  fileName: string;
  definitions: XDefinition[];
}

/** The name a declaration declares, or null for `void`. */
export function declName(d: XDecl): string | null {
  return d.kind === 'void' ? null : d.name;
}
