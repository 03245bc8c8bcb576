// Emits the procedure table (with each event's family and event id), the typed abstract client
// class, the event decoders and the event families of one RPC program (the `<prefix>_procedure`
// enum of a .x file, with its `_args`/`_ret`/`_msg` structs).
import type { XEnumMember, XFile } from './ast.js';
import type { CEnum } from './c-header.js';
import { type EventFacts, eventFacts, eventFamilies } from './emit-events.js';
import { commentText, docComment } from './emit-types.js';
import { type Annotations, GeneratorError, type Model, type Procedure } from './model.js';
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
const FDS_OUT = new Set([
  'REMOTE_PROC_DOMAIN_OPEN_GRAPHICS_FD',
  'QEMU_PROC_DOMAIN_MONITOR_COMMAND_WITH_FILES',
  'LXC_PROC_DOMAIN_OPEN_NAMESPACE',
]);

/** Reads `@name: value` annotations from the comment before a procedure. */
export function parseAnnotations(comment: string | null): Annotations {
  const a: Annotations = {
    generate: null,
    priority: 'low',
    acl: [],
    aclfilter: [],
    readstream: null,
    writestream: null,
    sparseflag: null,
    unknown: [],
  };
  for (const line of commentText(comment)) {
    const m = /^\s*@(\w+):\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    const [, key, value] = m as unknown as [string, string, string];
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
        a.unknown.push(`@${key}: ${value}`);
        break;
    }
  }
  return a;
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

const quote = (s: string) => `'${s}'`;

/** The row traits of a procedure that differ from procedureTable's defaults, as an object literal (or '' for none). */
function traitsLiteral(p: Procedure, event: EventFacts | null): string {
  const a = p.annotations;
  const t: string[] = [];
  if (a.generate !== null) t.push(`generate: ${quote(a.generate)}`);
  if (a.priority !== 'low') t.push(`priority: ${quote(a.priority)}`);
  if (a.acl.length > 0) t.push(`acl: [${a.acl.map(quote).join(', ')}]`);
  if (a.aclfilter.length > 0) t.push(`aclfilter: [${a.aclfilter.map(quote).join(', ')}]`);
  if (a.readstream !== null) t.push(`readstream: ${a.readstream}`);
  if (a.writestream !== null) t.push(`writestream: ${a.writestream}`);
  if (a.sparseflag !== null) t.push(`sparseflag: ${quote(a.sparseflag)}`);
  if (FDS_IN.has(p.name)) t.push('fdsIn: true');
  if (FDS_OUT.has(p.name)) t.push('fdsOut: true');
  if (event !== null)
    t.push(`event: [${quote(event.family)}, ${event.eventIDName === null ? 'null' : quote(event.eventIDName)}, ${event.callback}]`);
  return t.length === 0 ? '' : `, { ${t.join(', ')} }`;
}

/** A program's code, and the enums of libvirt-enums.gen.ts it uses. */
export interface ProgramOutput {
  code: string;
  enumImports: Set<string>;
}

/** Code for a program's procedure table, typed client class, events and event families. */
export function emitProgram(file: XFile, model: Model, spec: ProgramSpec, cEnums: readonly CEnum[]): ProgramOutput {
  const procs = programProcedures(file, model, spec);
  const P = spec.prefix;
  const Pascal = typeName(P.toLowerCase());
  const prog = `${P}_PROGRAM`;
  const vers = `${P}_PROTOCOL_VERSION`;
  if (!model.constants.has(prog) || !model.constants.has(vers)) throw new GeneratorError(`${file.fileName}: ${prog} or ${vers} missing`);
  const tableName = `${lowerFirst(Pascal)}ProcedureInfo`;
  const enumImports = new Set<string>();
  const facts = new Map<string, EventFacts>();
  for (const p of procs) {
    if (p.msg === null) continue;
    const f = eventFacts(p, P, model, cEnums);
    facts.set(p.name, f);
    if (f.eventIDEnum !== null) enumImports.add(f.eventIDEnum);
  }
  let out = '';

  // The table: one row per procedure; numbers come from the procedure enum, event ids from the headers' enums.
  out += docComment([
    `Every procedure of ${prog} (${file.fileName}), by procedure number.`,
    'Rows: method, encoder of _args, decoder of _ret, decoder of _msg, traits that differ from the defaults.',
  ]);
  out += `export const ${tableName}: ProcedureTable = procedureTable(${prog}, ${vers}, ${Pascal}Procedure, {\n`;
  for (const p of procs) {
    const codec = (s: string | null, f: (x: string) => string) => (s === null ? 'null' : f(s));
    out += `  ${p.name}: ['${p.method}', ${codec(p.args, encoderName)}, ${codec(p.ret, decoderName)}, ${codec(p.msg, decoderName)}${traitsLiteral(p, facts.get(p.name) ?? null)}],\n`;
  }
  const ids = [...enumImports].sort();
  out += `}${ids.length === 0 ? '' : `, { ${ids.map((e) => `...${e}`).join(', ')} }`});\n\n`;

  // The typed client: one method per callable procedure.
  if (spec.className !== null) {
    out += docComment([
      `Typed calls of every procedure of ${prog} (${file.fileName}).`,
      `A connection implements callProcedure: encode args with the entry's codecs, send, await the reply, decode it.`,
      `Each method is named after its procedure; its annotations (@acl, @priority …) and traits are in ${tableName}.`,
    ]);
    out += `export abstract class ${spec.className} {\n`;
    out += docComment(
      ['Sends one call of the procedure `info` and resolves with its decoded reply (undefined when it has no _ret).'],
      '  ',
    );
    out += '  protected abstract callProcedure<A, R>(info: ProcedureInfo, args: A): Promise<R>;\n';
    for (const p of procs) {
      if (p.msg !== null) continue;
      out += '\n' + docComment([p.name, ...p.annotations.unknown], '  ');
      const param = p.args === null ? '' : `args: ${typeName(p.args)}`;
      out += `  ${p.method}(${param}): Promise<${p.ret === null ? 'void' : typeName(p.ret)}> {\n`;
      out += `    return this.callProcedure(${tableName}[${p.name}]!, ${p.args === null ? 'undefined' : 'args'});\n  }\n`;
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
      out += docComment([p.name, ...p.annotations.unknown], '  ');
      out += `  ${p.method}: ${typeName(p.msg!)};\n`;
    }
    out += '}\n';
    out += docComment([`A decoded event of ${prog}, discriminated by name.`]);
    out += `export type ${Pascal}Event = { [K in keyof ${I}]: { name: K; procedure: number; msg: ${I}[K] } }[keyof ${I}];\n`;
    out += docComment([`Event decoders of ${prog}, by procedure number.`]);
    out += `export const ${lowerFirst(Pascal)}EventDecoders = eventDecoders<${I}>(${tableName});\n`;
    out += docComment([`Decodes the body of an event of ${prog}; null when the procedure is not an event.`]);
    out += `export function decode${Pascal}Event(procedure: number, r: XdrReader): ${Pascal}Event | null {\n`;
    out += `  const d = ${lowerFirst(Pascal)}EventDecoders.get(procedure);\n`;
    out += `  return d === undefined ? null : ({ name: d.name, procedure, msg: d.decode(r) } as ${Pascal}Event);\n}\n`;
    const byID = events.filter((p) => facts.get(p.name)!.callback && facts.get(p.name)!.eventIDName !== null);
    if (byID.length > 0) {
      out += docComment([`The message of each callback event of ${prog}, by the libvirt event id a callback is registered for.`]);
      out += `export interface ${Pascal}EventMessages {\n`;
      for (const p of byID) out += `  ${facts.get(p.name)!.eventIDName}: ${typeName(p.msg!)};\n`;
      out += '}\n';
    }
    const families = eventFamilies(procs, P, model, new Set([...facts.values()].filter((f) => f.callback).map((f) => f.family)));
    if (families.length > 0) {
      out += docComment([
        `The event families of ${prog} whose callbacks are registered per event id: the procedures that`,
        "register and deregister one, and the field of the register call's _args naming one object (null: all).",
      ]);
      out += `export const ${lowerFirst(Pascal)}EventFamilies = {\n`;
      for (const f of families) {
        out += `  ${f.family}: { register: ${f.register}, deregister: ${f.deregister}, object: '${f.object}' },\n`;
      }
      out += '} as const;\n';
    }
  }
  return { code: out, enumImports };
}
