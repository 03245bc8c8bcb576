// Generates src/client/org-libvirt.gen.ts, the typed client of org.libvirt, from the interface
// descriptions in data/org.libvirt.*.xml (which are themselves generated from the service's
// declarations, so the client follows every member the service declares).
//
// Run: node dist/tools/gen-client.js data src/client   (npm run generate:client)

import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASE_MEMBERS } from '../src/client/proxy.js';
import {
  type InterfaceDeclaration,
  type MethodDeclaration,
  parseIntrospectionXml,
  parseSingleType,
  type TypeNode,
} from '../src/dbus/index.js';

const DOC = 'org.gtk.GDBus.DocString';

/**
 * Which interface an object-path argument refers to, by the argument's name. Every `o`/`ao`
 * argument must be listed, so a new one cannot silently come out untyped. 'self' is the
 * interface the member belongs to (a snapshot's parent is a snapshot).
 */
const OBJECT_ARGS: Record<string, string> = {
  domain: 'org.libvirt.Domain',
  domains: 'org.libvirt.Domain',
  domainSnapshot: 'org.libvirt.DomainSnapshot',
  domainSnapshots: 'org.libvirt.DomainSnapshot',
  checkpoint: 'org.libvirt.DomainCheckpoint',
  checkpoints: 'org.libvirt.DomainCheckpoint',
  interface: 'org.libvirt.Interface',
  interfaces: 'org.libvirt.Interface',
  network: 'org.libvirt.Network',
  networks: 'org.libvirt.Network',
  dev: 'org.libvirt.NodeDevice',
  devs: 'org.libvirt.NodeDevice',
  device: 'org.libvirt.NodeDevice',
  nwfilter: 'org.libvirt.NWFilter',
  nwfilters: 'org.libvirt.NWFilter',
  secret: 'org.libvirt.Secret',
  secrets: 'org.libvirt.Secret',
  storagePool: 'org.libvirt.StoragePool',
  storagePools: 'org.libvirt.StoragePool',
  storageVol: 'org.libvirt.StorageVol',
  storageVols: 'org.libvirt.StorageVol',
  parent: 'self',
  children: 'self',
};

/**
 * Interfaces whose objects are also an org.freedesktop.DBus.ObjectManager of the objects below
 * them (the service makes every Connect object one); their proxies get its members, typed with
 * the proxy classes of every interface. The interface descriptions in data/ do not list the
 * standard interfaces, so this is said here.
 */
const OBJECT_MANAGERS = new Set(['org.libvirt.Connect']);

/** Words that cannot name a parameter in strict-mode code. */
const RESERVED = new Set([
  'interface',
  'package',
  'private',
  'protected',
  'public',
  'static',
  'implements',
  'let',
  'yield',
  'default',
  'function',
  'class',
  'new',
  'delete',
  'in',
  'var',
  'with',
  'enum',
  'type',
]);

/** TypeScript class name of an interface's proxy: org.libvirt.Domain → DomainProxy. */
function className(iface: string): string {
  return `${iface.slice(iface.lastIndexOf('.') + 1)}Proxy`;
}

/** A D-Bus member name in JavaScript's style: GetXMLDesc → getXMLDesc, UUID → uuid, NWFilterLookupByName → nwFilterLookupByName. */
export function camelCase(name: string): string {
  const run = /^[A-Z]+/.exec(name)?.[0] ?? '';
  if (run.length <= 1) return name.charAt(0).toLowerCase() + name.slice(1);
  if (run.length === name.length) return name.toLowerCase();
  const keep = /[a-z]/.test(name.charAt(run.length)) ? run.length - 1 : run.length;
  return name.slice(0, keep).toLowerCase() + name.slice(keep);
}

function paramName(name: string | undefined, i: number): string {
  const n = name && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `arg${i}`;
  return RESERVED.has(n) ? `${n}_` : n;
}

/** The TypeScript type of a value of `node` sent (`in`) or received (`out`), per the README's mapping. */
function tsType(node: TypeNode, dir: 'in' | 'out'): string {
  switch (node.code) {
    case 'y':
    case 'n':
    case 'q':
    case 'i':
    case 'u':
    case 'd':
    case 'h':
      return 'number';
    case 'x':
    case 't':
      return dir === 'in' ? 'bigint | number' : 'bigint';
    case 'b':
      return 'boolean';
    case 's':
    case 'o':
    case 'g':
      return 'string';
    case 'v':
      return 'Variant';
    case '(':
      return `[${node.children.map((c) => tsType(c, dir)).join(', ')}]`;
    case 'a': {
      if (node.isByteArray) return dir === 'in' ? 'Uint8Array' : 'Buffer';
      const [elem] = node.children as [TypeNode];
      if (node.isDict) {
        const [k, v] = elem.children as [TypeNode, TypeNode];
        const m = `Map<${tsType(k, dir)}, ${tsType(v, dir)}>`;
        return dir === 'in' && k.code === 's' ? `${m} | Record<string, ${tsType(v, dir)}>` : m;
      }
      const t = tsType(elem, dir);
      return /^[A-Za-z]+$/.test(t) ? `${t}[]` : `Array<${t}>`;
    }
    default:
      throw new Error(`no TypeScript type for ${node.signature}`);
  }
}

/** For an `o` or `ao` argument: the proxy class it becomes, and whether it is an array. */
function objectArg(iface: string, where: string, name: string | undefined, signature: string): { cls: string; many: boolean } | undefined {
  if (signature !== 'o' && signature !== 'ao') {
    if (signature.includes('o')) throw new Error(`${where}: object paths inside ${signature} are not mapped`);
    return undefined;
  }
  const target = name ? OBJECT_ARGS[name] : undefined;
  if (!target) throw new Error(`${where}: object path argument '${name}' has no entry in OBJECT_ARGS`);
  return { cls: className(target === 'self' ? iface : target), many: signature === 'ao' };
}

function docComment(text: string | undefined, indent: string, fallback: string): string {
  const body = (text ?? fallback).replace(/\*\//g, '*\\/').replace(/\s+/g, ' ').trim();
  return `${indent}/** ${body} */\n`;
}

interface Emitted {
  code: string;
  uses: Set<string>;
}

function emitMethod(iface: InterfaceDeclaration, m: MethodDeclaration, used: Set<string>): string {
  const where = `${iface.name}.${m.name}`;
  const params = m.in.map((a, i) => `${paramName(a.name, i)}: ${tsType(parseSingleType(a.signature), 'in')}`);
  const args = m.in.map((a, i) => paramName(a.name, i));
  const outs = m.out.map((a, i) => {
    const obj = objectArg(iface.name, where, a.name, a.signature);
    if (obj) used.add(obj.cls);
    const type = obj ? (obj.many ? `${obj.cls}[]` : obj.cls) : tsType(parseSingleType(a.signature), 'out');
    const value = obj
      ? obj.many
        ? `(r[${i}] as string[]).map((p) => this.proxy(${obj.cls}, p))`
        : `this.proxy(${obj.cls}, r[${i}])`
      : `r[${i}] as ${type}`;
    return { name: paramName(a.name, i), type, value };
  });
  const inSig = m.in.map((a) => a.signature).join('');
  const outSig = m.out.map((a) => a.signature).join('');
  const call = `this.callMethod('${m.name}', '${inSig}', [${args.join(', ')}], '${outSig}')`;
  let ret: string;
  let body: string;
  if (outs.length === 0) {
    ret = 'void';
    body = `    await ${call};\n`;
  } else if (outs.length === 1) {
    const [o] = outs as [(typeof outs)[0]];
    ret = o.type;
    body = `    const r = await ${call};\n    return ${o.value};\n`;
  } else {
    ret = `{ ${outs.map((o) => `${o.name}: ${o.type}`).join('; ')} }`;
    body = `    const r = await ${call};\n    return { ${outs.map((o) => `${o.name}: ${o.value}`).join(', ')} };\n`;
  }
  return `${docComment(m.annotations?.[DOC], '  ', `${where}.`)}  async ${camelCase(m.name)}(${params.join(', ')}): Promise<${ret}> {\n${body}  }\n`;
}

/** The ObjectManager's members of a proxy (see OBJECT_MANAGERS), on ObjectProxy's protected helpers. */
function emitObjectManager(claim: (name: string) => string): string {
  let out = `  /** Every object below this one with its properties (ObjectManager.GetManagedObjects): one entry per interface, as a proxy of its class. */\n`;
  out += `  ${claim('getManagedObjects')}(): Promise<ManagedObject[]> {\n    return this.managedObjects(proxyClasses);\n  }\n`;
  out += `  /** Calls \`handler\` once per interface of each object that appears below this one (ObjectManager.InterfacesAdded). */\n`;
  out += `  ${claim('onInterfacesAdded')}(handler: (added: ManagedObject) => void): Unsubscribe {\n    return this.subscribeInterfacesAdded(proxyClasses, handler);\n  }\n`;
  out += `  /** Calls \`handler\` with the path and interface names of each object that goes (ObjectManager.InterfacesRemoved). */\n`;
  out += `  ${claim('onInterfacesRemoved')}(handler: (objectPath: string, interfaces: string[]) => void): Unsubscribe {\n    return this.subscribeInterfacesRemoved(handler);\n  }\n`;
  return out;
}

function emitInterface(iface: InterfaceDeclaration): Emitted {
  const cls = className(iface.name);
  const uses = new Set<string>();
  const members = new Set<string>(BASE_MEMBERS);
  const claim = (name: string) => {
    if (members.has(name)) throw new Error(`${iface.name}: two members map to ${name}`);
    members.add(name);
    return name;
  };
  let out = `${docComment(iface.annotations?.[DOC], '', `The ${iface.name} interface of an org.libvirt object.`)}`;
  const propsName = cls.replace(/Proxy$/, 'Properties');
  const propsType = iface.properties.length > 0 ? propsName : 'NoProperties';
  out += `export class ${cls} extends ObjectProxy<${propsType}> {\n  readonly interfaceName = '${iface.name}';\n\n`;
  const propTypes: string[] = [];
  for (const p of iface.properties) {
    const where = `${iface.name}.${p.name}`;
    const obj = objectArg(iface.name, where, camelCase(p.name), p.signature);
    if (obj) throw new Error(`${where}: object path properties are not mapped`);
    const type = tsType(parseSingleType(p.signature), 'out');
    propTypes.push(`  ${p.name}?: ${type};`);
    const doc = p.annotations?.[DOC];
    if (p.access !== 'write') {
      out += `${docComment(doc, '  ', `Property ${p.name}.`)}  get ${claim(camelCase(p.name))}(): Promise<${type}> {\n    return this.getProperty('${p.name}') as Promise<${type}>;\n  }\n`;
    }
    if (p.access !== 'read') {
      const inType = tsType(parseSingleType(p.signature), 'in');
      out += `  /** Sets property ${p.name}. */\n  async ${claim(`set${p.name}`)}(value: ${inType}): Promise<void> {\n    await this.setProperty('${p.name}', '${p.signature}', value);\n  }\n`;
    }
  }
  if (iface.properties.length > 0) {
    out += `  /** Every readable property at once (Properties.GetAll); one whose getter failed is absent. */\n`;
    out += `  async ${claim('getAll')}(): Promise<${propsName}> {\n    return (await this.getAllProperties()) as ${propsName};\n  }\n`;
  }
  for (const m of iface.methods) {
    claim(camelCase(m.name));
    out += emitMethod(iface, m, uses);
  }
  for (const s of iface.signals) {
    const where = `${iface.name}.${s.name}`;
    const params = s.args.map((a, i) => {
      const obj = objectArg(iface.name, where, a.name, a.signature);
      if (obj) uses.add(obj.cls);
      const type = obj ? (obj.many ? `${obj.cls}[]` : obj.cls) : tsType(parseSingleType(a.signature), 'out');
      const value = obj
        ? obj.many
          ? `(a[${i}] as string[]).map((p) => this.proxy(${obj.cls}, p))`
          : `this.proxy(${obj.cls}, a[${i}])`
        : `a[${i}] as ${type}`;
      return { name: paramName(a.name, i), type, value };
    });
    const handler = `(${params.map((p) => `${p.name}: ${p.type}`).join(', ')}) => void`;
    out += `${docComment(s.annotations?.[DOC], '  ', `Signal ${s.name}.`)}`;
    out += `  ${claim(`on${s.name}`)}(handler: ${handler}): Unsubscribe {\n`;
    out += `    return this.subscribe('${s.name}', (a) => handler(${params.map((p) => p.value).join(', ')}));\n  }\n`;
  }
  if (OBJECT_MANAGERS.has(iface.name)) out += emitObjectManager(claim);
  out += '}\n';
  if (iface.properties.length > 0) {
    out += `\n/** The readable properties of ${iface.name}, as GetAll gives them. */\nexport interface ${propsName} {\n${propTypes.join('\n')}\n}\n`;
  }
  return { code: out, uses };
}

/** The generated module's text for the interface descriptions in `dataDir`. */
export function generateClient(dataDir: string): string {
  const files = readdirSync(dataDir)
    .filter((f) => /^org\.libvirt\..*\.xml$/.test(f))
    .sort();
  const ifaces = files.flatMap((f) => parseIntrospectionXml(readFileSync(join(dataDir, f), 'utf8')).interfaces);
  ifaces.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const parts = ifaces.map(emitInterface);
  const known = new Set(ifaces.map((i) => className(i.name)));
  for (const p of parts) {
    for (const u of p.uses) if (!known.has(u)) throw new Error(`${u} is used but no interface description defines it`);
  }
  const usesVariant = parts.some((p) => p.code.includes('Variant'));
  let out = `// DO NOT EDIT. Generated by tools/gen-client.ts (npm run generate:client) from data/org.libvirt.*.xml.\n`;
  if (usesVariant) out += `import type { Variant } from '../dbus/index.js';\n`;
  const noProps = ifaces.some((i) => i.properties.length === 0) ? ', type NoProperties' : '';
  out += `import { type ManagedInterface${noProps}, ObjectProxy, type Unsubscribe } from './proxy.js';\n\n`;
  out += parts.map((p) => p.code).join('\n');
  out += `\n/** Every proxy class by interface name. */\nexport const proxyClasses = {\n${ifaces.map((i) => `  '${i.name}': ${className(i.name)},`).join('\n')}\n} as const;\n`;
  out += `\n/** One interface of one object an ObjectManager reports; \`interfaceName\` narrows \`proxy\` and \`properties\`. */\nexport type ManagedObject = ManagedInterface<typeof proxyClasses>;\n`;
  return out;
}

const [dataDir, outDir] = process.argv.slice(2);
if (dataDir && outDir && import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(join(outDir, 'org-libvirt.gen.ts'), generateClient(dataDir));
}
