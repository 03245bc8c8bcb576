// Emits the procedure table, the typed abstract client class and the event table of one RPC
// program (the `<prefix>_procedure` enum of a .x file, with its `_args`/`_ret`/`_msg` structs).
import type { XEnumMember, XFile } from './ast.js';
import { commentText, docComment } from './emit-types.js';
import { GeneratorError, type Model } from './model.js';
import { decoderName, encoderName, methodName, procedureStructStem, typeName } from './names.js';

/** How a program is named in its .x file and in the output. */
export interface ProgramSpec {
  /** `REMOTE`: constants `REMOTE_PROGRAM`, `REMOTE_PROTOCOL_VERSION`, enum `remote_procedure`, members `REMOTE_PROC_*`. */
  prefix: string;
  /** Name of the generated abstract class, or null for programs that are not called (keepalive). */
  className: string | null;
}

/**
 * Procedures that pass file descriptors. The .x files do not say so; libvirt's remote driver
 * does (callFull with fdin/fdout), and these are the procedures where it does.
 */
const FDS_IN = new Set([
  'REMOTE_PROC_DOMAIN_CREATE_WITH_FILES',
  'REMOTE_PROC_DOMAIN_CREATE_XML_WITH_FILES',
  'REMOTE_PROC_DOMAIN_FD_ASSOCIATE',
  'QEMU_PROC_DOMAIN_MONITOR_COMMAND_WITH_FILES',
]);
const FDS_OUT = new Set(['REMOTE_PROC_DOMAIN_OPEN_GRAPHICS_FD', 'QEMU_PROC_DOMAIN_MONITOR_COMMAND_WITH_FILES', 'LXC_PROC_DOMAIN_OPEN_NAMESPACE']);

export interface Annotations {
  generate: string | null;
  priority: 'low' | 'high';
  acl: string[];
  aclfilter: string[];
  readstream: number | null;
  writestream: number | null;
  sparseflag: string | null;
  /** The annotation lines as written, for doc comments. */
  lines: string[];
}

/** Reads `@name: value` annotations from the comment before a procedure. */
export function parseAnnotations(comment: string | null): Annotations {
  const a: Annotations = { generate: null, priority: 'low', acl: [], aclfilter: [], readstream: null, writestream: null, sparseflag: null, lines: [] };
  for (const line of commentText(comment)) {
    const m = /^\s*@(\w+):\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    const [, key, value] = m as unknown as [string, string, string];
    a.lines.push(`@${key}: ${value}`);
    switch (key) {
      case 'generate':
        a.generate = value;
        break;
      case 'priority':
        if (value !== 'low' && value !== 'high') throw new GeneratorError(`bad @priority: ${value}`);
        a.priority = value;
        break;
      case 'acl':
        a.acl.push(value);
        break;
      case 'aclfilter':
        a.aclfilter.push(value);
        break;
      case 'readstream':
        a.readstream = Number.parseInt(value, 10);
        break;
      case 'writestream':
        a.writestream = Number.parseInt(value, 10);
        break;
      case 'sparseflag':
        a.sparseflag = value;
        break;
      default:
        // Annotations added by a later libvirt stay visible in the doc comment.
        break;
    }
  }
  return a;
}

export interface Procedure {
  name: string;
  number: number;
  method: string;
  annotations: Annotations;
  args: string | null;
  ret: string | null;
  msg: string | null;
}

/** The procedures of a program, with the structs that belong to each by libvirt's naming convention. */
export function programProcedures(file: XFile, model: Model, spec: ProgramSpec): Procedure[] {
  const enumName = `${spec.prefix.toLowerCase()}_procedure`;
  const def = file.definitions.find((d) => d.kind === 'enum' && d.name === enumName);
  if (def === undefined || def.kind !== 'enum') throw new GeneratorError(`${file.fileName}: no enum ${enumName}`);
  const exists = (x: string) => model.types.has(x);
  const methods = new Set<string>();
  return def.members.map((m: XEnumMember) => {
    if (!m.name.startsWith(`${spec.prefix}_PROC_`)) throw new GeneratorError(`${m.name} lacks the prefix ${spec.prefix}_PROC_`);
    const stem = procedureStructStem(m.name, spec.prefix);
    const method = methodName(m.name, spec.prefix);
    if (methods.has(method)) throw new GeneratorError(`two procedures map to ${method}`);
    methods.add(method);
    const p: Procedure = {
      name: m.name,
      number: Number(model.resolve(m.value)),
      method,
      annotations: parseAnnotations(m.comment),
      args: exists(`${stem}_args`) ? `${stem}_args` : null,
      ret: exists(`${stem}_ret`) ? `${stem}_ret` : null,
      msg: exists(`${stem}_msg`) ? `${stem}_msg` : null,
    };
    if (p.msg !== null && (p.args !== null || p.ret !== null)) throw new GeneratorError(`${m.name} has both a _msg and _args/_ret`);
    return p;
  });
}

function lowerFirst(s: string): string {
  return s[0]!.toLowerCase() + s.slice(1);
}

/** Code for a program's tables, class and events. Adds the struct names it uses to `uses`. */
export function emitProgram(file: XFile, model: Model, spec: ProgramSpec, uses: Set<string>): string {
  const procs = programProcedures(file, model, spec);
  const P = spec.prefix;
  const Pascal = typeName(P.toLowerCase());
  const prog = `${P}_PROGRAM`;
  const vers = `${P}_PROTOCOL_VERSION`;
  if (!model.constants.has(prog) || !model.constants.has(vers)) throw new GeneratorError(`${file.fileName}: ${prog} or ${vers} missing`);
  const tableName = `${lowerFirst(Pascal)}ProcedureInfo`;
  let out = '';

  // The table: one ProcedureInfo per procedure, keyed by number.
  out += docComment([`Every procedure of ${prog} (${file.fileName}), by procedure number.`]);
  out += `export const ${tableName}: { readonly [procedure: number]: ProcedureInfo } = {\n`;
  for (const p of procs) {
    const a = p.annotations;
    for (const s of [p.args, p.ret, p.msg]) if (s !== null) uses.add(s);
    const stream = a.readstream !== null ? "'read'" : a.writestream !== null ? "'write'" : 'null';
    out += `  ${p.number}: {\n`;
    out += `    program: ${prog},\n    version: ${vers},\n    procedure: ${p.number},\n`;
    out += `    name: '${p.name}',\n    method: '${p.method}',\n`;
    out += `    annotations: { generate: ${a.generate === null ? 'null' : `'${a.generate}'`}, priority: '${a.priority}', acl: [${a.acl.map((x) => `'${x}'`).join(', ')}], aclfilter: [${a.aclfilter.map((x) => `'${x}'`).join(', ')}], readstream: ${a.readstream}, writestream: ${a.writestream}, sparseflag: ${a.sparseflag === null ? 'null' : `'${a.sparseflag}'`} },\n`;
    out += `    encodeArgs: ${p.args === null ? 'null' : encoderName(p.args)},\n`;
    out += `    decodeRet: ${p.ret === null ? 'null' : decoderName(p.ret)},\n`;
    out += `    decodeMsg: ${p.msg === null ? 'null' : decoderName(p.msg)},\n`;
    out += `    isEvent: ${p.msg !== null},\n    stream: ${stream},\n`;
    out += `    fdsIn: ${FDS_IN.has(p.name)},\n    fdsOut: ${FDS_OUT.has(p.name)},\n  },\n`;
  }
  out += '};\n\n';

  // The typed client: one method per callable procedure.
  if (spec.className !== null) {
    out += docComment([
      `Typed calls of every procedure of ${prog} (${file.fileName}).`,
      'A connection implements callProcedure: encode args, send, await the reply, decode it.',
    ]);
    out += `export abstract class ${spec.className} {\n`;
    out += docComment(['Sends one call and resolves with its decoded reply (undefined when the procedure has no _ret).'], '  ');
    out +=
      '  protected abstract callProcedure<A, R>(program: number, version: number, procedure: number, args: A,' +
      ' encode: ((w: XdrWriter, v: A) => void) | null, decode: ((r: XdrReader) => R) | null, info: ProcedureInfo): Promise<R>;\n';
    for (const p of procs) {
      if (p.msg !== null) continue;
      const doc = [`${p.name} = ${p.number}`, ...p.annotations.lines];
      out += '\n' + docComment(doc, '  ');
      const A = p.args === null ? 'undefined' : typeName(p.args);
      const R = p.ret === null ? 'void' : typeName(p.ret);
      const param = p.args === null ? '' : `args: ${A}`;
      out += `  ${p.method}(${param}): Promise<${R}> {\n`;
      out += `    return this.callProcedure<${A}, ${R}>(${prog}, ${vers}, ${p.number}, ${p.args === null ? 'undefined' : 'args'}, `;
      out += `${p.args === null ? 'null' : encoderName(p.args)}, ${p.ret === null ? 'null' : decoderName(p.ret)}, ${tableName}[${p.number}]!);\n  }\n`;
    }
    out += '}\n\n';
  }

  // Events: procedures whose _msg struct the daemon sends.
  const events = procs.filter((p) => p.msg !== null);
  if (events.length > 0) {
    const I = `${Pascal}Events`;
    out += docComment([`Events of ${prog} (${file.fileName}): event name → message type.`]);
    out += `export interface ${I} {\n`;
    for (const p of events) {
      out += docComment([`${p.name} = ${p.number}`, ...p.annotations.lines], '  ');
      out += `  ${p.method}: ${typeName(p.msg!)};\n`;
    }
    out += '}\n';
    out += docComment([`A decoded event of ${prog}, discriminated by name.`]);
    out += `export type ${Pascal}Event = { [K in keyof ${I}]: { name: K; procedure: number; msg: ${I}[K] } }[keyof ${I}];\n`;
    out += docComment([`Event decoders of ${prog}, by procedure number.`]);
    out += `export const ${lowerFirst(Pascal)}EventDecoders: ReadonlyMap<number, { readonly name: keyof ${I}; readonly decode: (r: XdrReader) => ${I}[keyof ${I}] }> = new Map<number, { readonly name: keyof ${I}; readonly decode: (r: XdrReader) => ${I}[keyof ${I}] }>([\n`;
    for (const p of events) out += `  [${p.number}, { name: '${p.method}', decode: ${decoderName(p.msg!)} }],\n`;
    out += ']);\n';
    out += docComment([`Decodes the body of an event of ${prog}; null when the procedure is not an event.`]);
    out += `export function decode${Pascal}Event(procedure: number, r: XdrReader): ${Pascal}Event | null {\n`;
    out += `  const d = ${lowerFirst(Pascal)}EventDecoders.get(procedure);\n`;
    out += `  return d === undefined ? null : ({ name: d.name, procedure, msg: d.decode(r) } as ${Pascal}Event);\n}\n`;
  }
  return out;
}
