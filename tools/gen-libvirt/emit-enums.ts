// Emits the enums of libvirt's public C headers as TypeScript constant objects, and their integer #defines.
import type { CDefine, CEnum } from './c-header.js';
import { docComment } from './emit-types.js';
import { typeName } from './names.js';

function lowerFirst(s: string): string {
  return s[0]!.toLowerCase() + s.slice(1);
}

/** One C enum as `export const VirX = { MEMBER: value, ... } as const` plus its value type; with `names`, a value → name map too. */
export function emitCEnum(e: CEnum, names: boolean): string {
  const T = typeName(e.name);
  let out = docComment([`enum ${e.name} (${e.header})`]);
  out += `export const ${T} = {\n`;
  for (const m of e.members) {
    if (m.comment !== null) out += docComment([m.comment], '  ');
    out += `  ${m.name}: ${m.value},\n`;
  }
  out += '} as const;\n';
  out += `export type ${T} = (typeof ${T})[keyof typeof ${T}];\n`;
  if (names) {
    // The first name given to a value wins; later ones are aliases.
    const seen = new Map<number, string>();
    for (const m of e.members) if (!seen.has(m.value)) seen.set(m.value, m.name);
    out += docComment([`The name of each value of ${e.name} (the first, where several share a value).`]);
    out += `export const ${lowerFirst(T)}Names: ReadonlyMap<number, string> = new Map<number, string>([\n`;
    for (const [v, n] of seen) out += `  [${v}, '${n}'],\n`;
    out += ']);\n';
  }
  return out;
}

/** One integer `#define` of a header as a constant. */
export function emitCDefine(d: CDefine): string {
  return docComment([`${d.name} (${d.header})`]) + `export const ${d.name} = ${d.value};\n`;
}
