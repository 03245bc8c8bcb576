// Match rules ("Match Rules" in the specification): the strings given to the bus's AddMatch, and
// the same test applied locally to route incoming messages to subscribers.

import { DBusInvalidArgsError } from './errors.js';
import { type Message, MessageType } from './message.js';

/** A match rule; every key given must match. */
export interface MatchRule {
  type?: 'signal' | 'method_call' | 'method_return' | 'error';
  sender?: string;
  interface?: string;
  member?: string;
  path?: string;
  /** The path itself or any path below it. */
  pathNamespace?: string;
  destination?: string;
  /** argN: string argument N equals the value (N = 0..63). */
  args?: Map<number, string>;
  /** argNpath: argument N equals the value, or one is a '/'-terminated prefix of the other. */
  argPaths?: Map<number, string>;
  /** arg0namespace: string argument 0 is this bus name or interface or lies below it (`a.b` → `a.b.c`). */
  arg0namespace?: string;
  eavesdrop?: boolean;
}

const TYPE_NAMES: Record<NonNullable<MatchRule['type']>, MessageType> = {
  signal: MessageType.Signal,
  method_call: MessageType.MethodCall,
  method_return: MessageType.MethodReturn,
  error: MessageType.Error,
};

// Values are single-quoted; a quote inside is written '\'' (close, escaped quote, reopen).
const quote = (value: string) => `'${value.replace(/'/g, "'\\''")}'`;

/** The rule in the text form the bus daemon's AddMatch takes. */
export function formatMatchRule(rule: MatchRule): string {
  const parts: string[] = [];
  if (rule.type) parts.push(`type=${quote(rule.type)}`);
  if (rule.sender !== undefined) parts.push(`sender=${quote(rule.sender)}`);
  if (rule.interface !== undefined) parts.push(`interface=${quote(rule.interface)}`);
  if (rule.member !== undefined) parts.push(`member=${quote(rule.member)}`);
  if (rule.path !== undefined) parts.push(`path=${quote(rule.path)}`);
  if (rule.pathNamespace !== undefined) parts.push(`path_namespace=${quote(rule.pathNamespace)}`);
  if (rule.destination !== undefined) parts.push(`destination=${quote(rule.destination)}`);
  for (const [n, v] of [...(rule.args ?? [])].sort((a, b) => a[0] - b[0])) parts.push(`arg${n}=${quote(v)}`);
  for (const [n, v] of [...(rule.argPaths ?? [])].sort((a, b) => a[0] - b[0])) parts.push(`arg${n}path=${quote(v)}`);
  if (rule.arg0namespace !== undefined) parts.push(`arg0namespace=${quote(rule.arg0namespace)}`);
  if (rule.eavesdrop) parts.push(`eavesdrop='true'`);
  return parts.join(',');
}

/** Parses the text form; throws DBusInvalidArgsError (org.freedesktop.DBus.Error.MatchRuleInvalid semantics). */
export function parseMatchRule(text: string): MatchRule {
  const rule: MatchRule = {};
  let i = 0;
  const fail = (why: string): never => {
    throw new DBusInvalidArgsError(`invalid match rule "${text}": ${why}`);
  };
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) fail('key without value');
    const key = text.slice(i, eq).trim();
    i = eq + 1;
    let value = '';
    let quoted = false;
    while (i < text.length && (quoted || text[i] !== ',')) {
      const ch = text[i] as string;
      if (ch === "'") quoted = !quoted;
      else if (ch === '\\' && !quoted && text[i + 1] === "'") {
        value += "'";
        i++;
      } else value += ch;
      i++;
    }
    if (quoted) fail('unterminated quote');
    i++; // the comma
    const argMatch = /^arg(\d{1,2})(path)?$/.exec(key);
    if (argMatch) {
      const n = Number(argMatch[1]);
      if (n > 63) fail(`argument index ${n} over 63`);
      if (argMatch[2]) rule.argPaths ??= new Map();
      else rule.args ??= new Map();
      const map = (argMatch[2] ? rule.argPaths : rule.args) as Map<number, string>;
      if (map.has(n)) fail(`${key} given twice`);
      map.set(n, value);
      continue;
    }
    switch (key) {
      case 'type':
        if (!(value in TYPE_NAMES)) fail(`unknown type ${value}`);
        rule.type = value as MatchRule['type'];
        break;
      case 'sender':
      case 'interface':
      case 'member':
      case 'path':
      case 'destination':
        rule[key] = value;
        break;
      case 'path_namespace':
        rule.pathNamespace = value;
        break;
      case 'arg0namespace':
        rule.arg0namespace = value;
        break;
      case 'eavesdrop':
        rule.eavesdrop = value === 'true';
        break;
      default:
        fail(`unknown key ${key}`);
    }
  }
  if (rule.path !== undefined && rule.pathNamespace !== undefined) fail('path and path_namespace together');
  return rule;
}

function pathMatches(pattern: string, value: string): boolean {
  if (pattern === value) return true;
  if (pattern.endsWith('/') && value.startsWith(pattern)) return true;
  return value.endsWith('/') && pattern.startsWith(value);
}

/**
 * Whether a message matches the rule. `senderMatches` decides the sender key (a well-known name
 * is owned by a unique name the caller tracks); by default the sender must be equal.
 */
export function matchesRule(
  rule: MatchRule,
  msg: Message,
  senderMatches: (ruleSender: string, msgSender: string | undefined) => boolean = (a, b) => a === b,
): boolean {
  if (rule.type && TYPE_NAMES[rule.type] !== msg.type) return false;
  if (rule.interface !== undefined && rule.interface !== msg.interface) return false;
  if (rule.member !== undefined && rule.member !== msg.member) return false;
  if (rule.path !== undefined && rule.path !== msg.path) return false;
  if (rule.pathNamespace !== undefined) {
    const ns = rule.pathNamespace;
    const p = msg.path ?? '';
    if (!(ns === '/' || p === ns || p.startsWith(`${ns}/`))) return false;
  }
  if (rule.destination !== undefined && rule.destination !== msg.destination) return false;
  if (rule.sender !== undefined && !senderMatches(rule.sender, msg.sender)) return false;
  if (rule.args || rule.argPaths || rule.arg0namespace !== undefined) {
    const types = msg.signature;
    // Only string-like arguments can match; find each argument's type by walking the signature.
    const argTypes = topLevelTypes(types);
    if (rule.args) {
      for (const [n, v] of rule.args) {
        if (argTypes[n] !== 's' || msg.body[n] !== v) return false;
      }
    }
    if (rule.argPaths) {
      for (const [n, v] of rule.argPaths) {
        const t = argTypes[n];
        if ((t !== 's' && t !== 'o') || !pathMatches(v, msg.body[n] as string)) return false;
      }
    }
    if (rule.arg0namespace !== undefined) {
      const a = msg.body[0];
      const ns = rule.arg0namespace;
      if (argTypes[0] !== 's' || typeof a !== 'string' || !(a === ns || a.startsWith(`${ns}.`))) return false;
    }
  }
  return true;
}

// First character of each top-level complete type; enough to tell strings and paths apart.
function topLevelTypes(signature: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < signature.length) {
    const start = i;
    while (signature[i] === 'a') i++;
    const c = signature[i];
    if (c === '(' || c === '{') {
      const open = c;
      const close = c === '(' ? ')' : '}';
      let depth = 0;
      do {
        if (signature[i] === open) depth++;
        else if (signature[i] === close) depth--;
        i++;
      } while (depth > 0 && i < signature.length);
    } else i++;
    out.push(i - start === 1 ? (signature[start] as string) : signature.slice(start, i));
  }
  return out;
}
