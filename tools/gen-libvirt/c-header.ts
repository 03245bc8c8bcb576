// Reads the integer constants libvirt's public headers define: `# define NAME <integer expression>`
// and the members of `typedef enum { ... } name;`. The .x files refer to some of them
// (VIR_UUID_BUFLEN, VIR_TYPED_PARAM_INT, ...), and the service needs the enums themselves.

/** One member of a C enum. */
export interface CEnumMember {
  name: string;
  value: number;
  /** The comment on the member's line(s), without `(Since: x.y.z)`. */
  comment: string | null;
}

/** A `typedef enum { ... } name;` from a header. */
export interface CEnum {
  name: string;
  header: string;
  members: CEnumMember[];
}

/** An integer-valued `# define NAME <expression>` of a header. */
export interface CDefine {
  name: string;
  header: string;
  value: number;
}

/** Everything read from a set of headers. */
export interface CHeaderConstants {
  /** Every integer-valued `#define` and enum member, by name. */
  values: Map<string, number>;
  enums: CEnum[];
  /** The integer-valued `#define`s, in header order. */
  defines: CDefine[];
}

/** A C integer expression that could not be evaluated. */
export class CExpressionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CExpressionError';
  }
}

/** Evaluates a C integer constant expression (literals, names, + - * / % << >> | & ^ ~ and parentheses). */
export function evalCExpression(expr: string, lookup: (name: string) => bigint | undefined): bigint {
  const tokens = expr.match(/0[xX][0-9A-Fa-f]+[uUlL]*|[0-9]+[uUlL]*|[A-Za-z_][A-Za-z0-9_]*|<<|>>|[-+*/%|&^~()]/g) ?? [];
  const rest = expr.replace(/0[xX][0-9A-Fa-f]+[uUlL]*|[0-9]+[uUlL]*|[A-Za-z_][A-Za-z0-9_]*|<<|>>|[-+*/%|&^~()]|\s+/g, '');
  if (rest !== '' || tokens.length === 0) throw new CExpressionError(`not an integer expression: ${expr}`);
  let i = 0;
  const peek = (): string | undefined => tokens[i];
  const binary = (ops: string[], sub: () => bigint, apply: (op: string, a: bigint, b: bigint) => bigint) => (): bigint => {
    let v = sub();
    while (ops.includes(peek() ?? '')) {
      const op = tokens[i++]!;
      v = apply(op, v, sub());
    }
    return v;
  };
  const primary = (): bigint => {
    const t = tokens[i++];
    if (t === undefined) throw new CExpressionError(`truncated expression: ${expr}`);
    if (t === '(') {
      const v = or();
      if (tokens[i++] !== ')') throw new CExpressionError(`missing ) in ${expr}`);
      return v;
    }
    if (t === '-') return -primary();
    if (t === '+') return primary();
    if (t === '~') return ~primary();
    if (/^[0-9]/.test(t)) return BigInt(t.replace(/[uUlL]+$/, '').replace(/^0([0-7]+)$/, '0o$1'));
    if (/^[A-Za-z_]/.test(t)) {
      const v = lookup(t);
      if (v === undefined) throw new CExpressionError(`unknown name ${t} in ${expr}`);
      return v;
    }
    throw new CExpressionError(`unexpected ${t} in ${expr}`);
  };
  const mul = binary(['*', '/', '%'], primary, (op, a, b) => (op === '*' ? a * b : op === '/' ? a / b : a % b));
  const add = binary(['+', '-'], mul, (op, a, b) => (op === '+' ? a + b : a - b));
  const shift = binary(['<<', '>>'], add, (op, a, b) => (op === '<<' ? a << b : a >> b));
  const and = binary(['&'], shift, (_op, a, b) => a & b);
  const xor = binary(['^'], and, (_op, a, b) => a ^ b);
  const or: () => bigint = binary(['|'], xor, (_op, a, b) => a | b);
  const v = or();
  if (i !== tokens.length) throw new CExpressionError(`trailing tokens in ${expr}`);
  return v;
}

function cleanComment(text: string): string | null {
  const t = text
    .replace(/\(Since: [^)]*\)/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return t === '' ? null : t;
}

interface RawMember {
  name: string;
  expr: string | null;
  comment: string | null;
}

/**
 * Reads `#define`s and enums from header texts (given in a fixed order, for determinism).
 * Members inside `#ifdef VIR_ENUM_SENTINELS` (the `_LAST` values) are left out: they change
 * with every release and are not part of the protocol. Names may refer to names of a later
 * header, so values are resolved until nothing more can be.
 */
export function parseCHeaders(headers: ReadonlyArray<{ name: string; text: string }>): CHeaderConstants {
  const values = new Map<string, bigint>();
  const lookup = (name: string) => values.get(name);
  const rawEnums: Array<{ name: string; header: string; members: RawMember[] }> = [];
  const defines: Array<[string, string]> = [];
  const defineHeader = new Map<string, string>();
  for (const { name: header, text } of headers) {
    const lines = text.split(/\r?\n/);
    let inSentinel = 0;
    let enumLines: string[] | null = null;
    for (const line of lines) {
      const pp = /^\s*#\s*(\w+)\s*(.*)$/.exec(line);
      if (pp) {
        const [, directive, rest] = pp;
        if (directive === 'ifdef' || directive === 'if' || directive === 'ifndef') {
          if (inSentinel > 0 || (directive === 'ifdef' && rest!.trim() === 'VIR_ENUM_SENTINELS')) inSentinel++;
        } else if (directive === 'endif') {
          if (inSentinel > 0) inSentinel--;
        } else if (directive === 'define' && enumLines === null) {
          const m = /^([A-Za-z_][A-Za-z0-9_]*)\s+(.+?)\s*(\/\*.*)?$/.exec(rest!);
          if (m) {
            defines.push([m[1]!, m[2]!]);
            defineHeader.set(m[1]!, header);
          }
        }
        continue;
      }
      if (enumLines === null && /^\s*typedef\s+enum\s*\w*\s*\{/.test(line)) {
        enumLines = [];
        continue;
      }
      if (enumLines !== null) {
        const end = /^\s*\}\s*(\w+)\s*;/.exec(line);
        if (end) {
          rawEnums.push({ name: end[1]!, header, members: splitEnumBody(enumLines.join('\n')) });
          enumLines = null;
          continue;
        }
        if (inSentinel === 0) enumLines.push(line);
      }
    }
  }
  const resolved = new Map<RawMember, bigint>();
  let todoDefines = defines;
  for (let progress = true; progress; ) {
    progress = false;
    const left: Array<[string, string]> = [];
    for (const [name, expr] of todoDefines) {
      try {
        values.set(name, evalCExpression(expr, lookup));
        progress = true;
      } catch {
        left.push([name, expr]);
      }
    }
    todoDefines = left;
    for (const e of rawEnums) {
      e.members.forEach((m, i) => {
        if (resolved.has(m)) return;
        let v: bigint | undefined;
        if (m.expr !== null) {
          try {
            v = evalCExpression(m.expr, lookup);
          } catch {
            v = undefined;
          }
        } else if (i === 0) {
          v = 0n;
        } else {
          const prev = resolved.get(e.members[i - 1]!);
          v = prev === undefined ? undefined : prev + 1n;
        }
        if (v !== undefined) {
          resolved.set(m, v);
          values.set(m.name, v);
          progress = true;
        }
      });
    }
  }
  const enums: CEnum[] = rawEnums.map((e) => ({
    name: e.name,
    header: e.header,
    members: e.members.map((m) => {
      const v = resolved.get(m);
      if (v === undefined) throw new CExpressionError(`cannot evaluate ${m.name} = ${m.expr ?? '(previous + 1)'} in ${e.header}`);
      return { name: m.name, value: Number(BigInt.asIntN(64, v)), comment: m.comment };
    }),
  }));
  const out = new Map<string, number>();
  for (const [k, v] of values) out.set(k, Number(BigInt.asIntN(64, v)));
  const intDefines = [...defineHeader].filter(([name]) => out.has(name)).map(([name, header]) => ({ name, header, value: out.get(name)! }));
  return { values: out, enums, defines: intDefines };
}

function splitEnumBody(body: string): RawMember[] {
  // Split into members at top-level commas, keeping each member's comments.
  const items: Array<{ code: string; comment: string }> = [];
  let code = '';
  let comment = '';
  let i = 0;
  while (i < body.length) {
    if (body.startsWith('/*', i)) {
      const end = body.indexOf('*/', i + 2);
      const c = body.slice(i + 2, end < 0 ? body.length : end);
      // A comment after the comma belongs to the member before it, if on the same line.
      if (code.trim() === '' && items.length > 0 && !/\n/.test(body.slice(lastComma(body, i), i))) {
        items[items.length - 1]!.comment += ' ' + c;
      } else {
        comment += ' ' + c;
      }
      i = end < 0 ? body.length : end + 2;
      continue;
    }
    const ch = body[i]!;
    if (ch === ',') {
      items.push({ code, comment });
      code = '';
      comment = '';
    } else {
      code += ch;
    }
    i++;
  }
  if (code.trim() !== '') items.push({ code, comment });
  const members: RawMember[] = [];
  for (const item of items) {
    if (item.code.trim() === '') continue;
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:=\s*([\s\S]+?))?\s*$/.exec(item.code);
    if (!m) throw new CExpressionError(`cannot read enum member: ${item.code.trim()}`);
    members.push({ name: m[1]!, expr: m[2] ?? null, comment: cleanComment(item.comment) });
  }
  return members;
}

function lastComma(body: string, before: number): number {
  const k = body.lastIndexOf(',', before);
  return Math.max(k, 0);
}
