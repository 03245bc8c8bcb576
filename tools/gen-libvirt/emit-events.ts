// What the .x files and headers say about events, read once here so that nothing at run time has
// to recover it from names: each event procedure's family and libvirt event id, and for each
// family the procedures that register and deregister a callback.
import type { CEnum } from './c-header.js';
import { GeneratorError, type Model, type Procedure } from './model.js';
import { methodName, typeName } from './names.js';

/** An event procedure's family, event id (with the C enum that holds it) and callbackID field. */
export interface EventFacts {
  family: string;
  eventIDName: string | null;
  /** TypeScript name of the C enum of `eventIDName` (`VirDomainEventID`), to import from libvirt-enums.gen.ts. */
  eventIDEnum: string | null;
  callback: boolean;
}

/** A family whose callbacks are registered per event id: its register/deregister procedures and object field. */
export interface EventFamilyFacts {
  family: string;
  register: string;
  deregister: string;
  /** The field of the register call's `_args` that names one object (null for every object). */
  object: string;
}

/** `<OBJ>_EVENT[_CALLBACK][_<KIND>]`, the stem of every event procedure's name. */
const EVENT_STEM = /^(?<obj>[A-Z0-9_]+?)_EVENT(?:_CALLBACK)?(?:_(?<kind>[A-Z0-9_]+))?$/;

function stemOf(p: Procedure, prefix: string): string {
  return p.name.slice(prefix.length + '_PROC_'.length);
}

function structFields(model: Model, xName: string | null): string[] {
  if (xName === null) return [];
  const def = model.type(xName).def;
  if (def.kind !== 'struct') return [];
  return def.fields.flatMap((f) => (f.kind === 'void' ? [] : [f.name]));
}

function familyName(obj: string, prefix: string): string {
  return methodName(prefix === 'REMOTE' ? obj : `${prefix}_${obj}`, '');
}

/** The facts of one event procedure. Fails when a family has event ids and this event matches none. */
export function eventFacts(p: Procedure, prefix: string, model: Model, cEnums: readonly CEnum[]): EventFacts {
  const m = EVENT_STEM.exec(stemOf(p, prefix));
  if (m === null) throw new GeneratorError(`${p.name}: an event whose name is not <OBJECT>_EVENT_<KIND>`);
  const { obj, kind } = m.groups as { obj: string; kind?: string };
  const idPrefix = `VIR_${obj}_EVENT_ID_`;
  const idEnum = cEnums.find((e) => e.members.some((x) => x.name.startsWith(idPrefix)));
  let eventIDName: string | null = null;
  if (idEnum !== undefined) {
    eventIDName = `${idPrefix}${kind ?? ''}`;
    if (!idEnum.members.some((x) => x.name === eventIDName)) {
      throw new GeneratorError(`${p.name}: no ${eventIDName} in ${idEnum.name} (${idEnum.header})`);
    }
  }
  return {
    family: familyName(obj, prefix),
    eventIDName,
    eventIDEnum: idEnum === undefined ? null : typeName(idEnum.name),
    callback: structFields(model, p.msg).includes('callbackID'),
  };
}

/**
 * The families whose callbacks are registered per event id: `CONNECT_<OBJ>_EVENT[_CALLBACK]_REGISTER_ANY`
 * returning a callbackID, and the `…_DEREGISTER_ANY` taking one.
 */
export function eventFamilies(
  procs: readonly Procedure[],
  prefix: string,
  model: Model,
  families: ReadonlySet<string>,
): EventFamilyFacts[] {
  const out: EventFamilyFacts[] = [];
  const find = (re: RegExp, struct: (p: Procedure) => string | null, field: string) =>
    procs.filter((p) => re.test(stemOf(p, prefix)) && structFields(model, struct(p)).includes(field));
  for (const family of families) {
    const obj = procs
      .map((p) => /^CONNECT_(?<obj>[A-Z0-9_]+?)_EVENT(?:_CALLBACK)?_REGISTER_ANY$/.exec(stemOf(p, prefix))?.groups?.obj)
      .find((o) => o !== undefined && familyName(o, prefix) === family);
    if (obj === undefined) continue;
    const reg = find(new RegExp(`^CONNECT_${obj}_EVENT(?:_CALLBACK)?_REGISTER_ANY$`), (p) => p.ret, 'callbackID');
    const dereg = find(new RegExp(`^CONNECT_${obj}_EVENT(?:_CALLBACK)?_DEREGISTER_ANY$`), (p) => p.args, 'callbackID');
    if (reg.length !== 1 || dereg.length !== 1) throw new GeneratorError(`${family}: no single register/deregister pair with a callbackID`);
    const object = structFields(model, reg[0]!.args).filter((f) => f !== 'eventID');
    if (object.length !== 1) throw new GeneratorError(`${reg[0]!.name}: expected eventID and one object field`);
    out.push({ family, register: reg[0]!.name, deregister: dereg[0]!.name, object: object[0]! });
  }
  return out;
}
