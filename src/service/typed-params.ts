// libvirt typed parameters (virTypedParameter, remote_typed_param on the wire) ↔ D-Bus a{sv}.
// Each libvirt parameter type has one D-Bus variant type, as the reference maps them:
// INT → i, UINT → u, LLONG → x, ULLONG → t, DOUBLE → d, BOOLEAN → b, STRING → s.

import { Variant } from '../dbus/variant.js';
import type { RemoteTypedParam, RemoteTypedParamValue } from '../libvirt/index.js';
import { OrgLibvirtError } from './errors.js';

/** virTypedParameterType values (libvirt-common.h). */
export const TypedParamType = {
  INT: 1,
  UINT: 2,
  LLONG: 3,
  ULLONG: 4,
  DOUBLE: 5,
  BOOLEAN: 6,
  STRING: 7,
} as const;

/** VIR_TYPED_PARAM_STRING_OKAY: the flag libvirt's client adds to getters that may return strings. */
export const VIR_TYPED_PARAM_STRING_OKAY = 4;

/** VIR_TYPED_PARAM_FIELD_LENGTH: a field name must be shorter than this (it includes the NUL). */
export const VIR_TYPED_PARAM_FIELD_LENGTH = 80;

export type { RemoteTypedParam, RemoteTypedParamValue };

/** The D-Bus signature a typed parameter of this type becomes, or undefined for an unknown type. */
export function signatureOfType(type: number): string | undefined {
  switch (type) {
    case TypedParamType.INT:
      return 'i';
    case TypedParamType.UINT:
      return 'u';
    case TypedParamType.LLONG:
      return 'x';
    case TypedParamType.ULLONG:
      return 't';
    case TypedParamType.DOUBLE:
      return 'd';
    case TypedParamType.BOOLEAN:
      return 'b';
    case TypedParamType.STRING:
      return 's';
    default:
      return undefined;
  }
}

/** One typed parameter as a Variant (undefined for a type libvirt does not define). */
export function typedParamToVariant(value: RemoteTypedParamValue): Variant | undefined {
  switch (value.type) {
    case TypedParamType.INT:
      return new Variant('i', value.i);
    case TypedParamType.UINT:
      return new Variant('u', value.ui);
    case TypedParamType.LLONG:
      return new Variant('x', BigInt(value.l));
    case TypedParamType.ULLONG:
      return new Variant('t', BigInt(value.ul));
    case TypedParamType.DOUBLE:
      return new Variant('d', value.d);
    case TypedParamType.BOOLEAN:
      return new Variant('b', value.b !== 0);
    case TypedParamType.STRING:
      return new Variant('s', value.s);
    default:
      return undefined;
  }
}

/**
 * Typed parameters → a{sv} (a Map keeps libvirt's order). As in the reference, whose builder adds
 * `g_variant_new_variant(value)` at a `v` position, each value is a variant inside the variant:
 * `{'weight': <<uint32 500>>}`, and clients (Cockpit among them) unwrap it twice. A parameter of
 * an unknown type is left out: the reference would have no variant for it either.
 */
export function typedParamsToDict(params: readonly RemoteTypedParam[]): Map<string, Variant> {
  const out = new Map<string, Variant>();
  for (const p of params) {
    const v = typedParamToVariant(p.value);
    if (v) out.set(p.field, new Variant('v', v));
  }
  return out;
}

/** The entries of a decoded a{sv}, whether it arrived as a Map or a plain object. */
function entriesOf(dict: unknown): [string, unknown][] {
  if (dict instanceof Map) return [...dict.entries()] as [string, unknown][];
  if (Array.isArray(dict)) return dict as [string, unknown][];
  if (dict && typeof dict === 'object') return Object.entries(dict);
  return [];
}

/**
 * a{sv} → typed parameters. Each variant's type picks the parameter type; any other variant type
 * fails with org.libvirt.Error "Invalid typed parameter '<type>'." as in the reference.
 */
export function dictToTypedParams(dict: unknown): RemoteTypedParam[] {
  const out: RemoteTypedParam[] = [];
  for (const [field, raw] of entriesOf(dict)) {
    const variant = raw instanceof Variant ? raw : undefined;
    const sig = variant?.signature ?? typeof raw;
    const value = variant ? variant.value : raw;
    let tp: RemoteTypedParamValue;
    switch (sig) {
      case 'i':
        tp = { type: 1, i: Number(value) };
        break;
      case 'u':
        tp = { type: 2, ui: Number(value) };
        break;
      case 'x':
        tp = { type: 3, l: BigInt(value as bigint | number) };
        break;
      case 't':
        tp = { type: 4, ul: BigInt(value as bigint | number) };
        break;
      case 'd':
        tp = { type: 5, d: Number(value) };
        break;
      case 'b':
        tp = { type: 6, b: value ? 1 : 0 };
        break;
      case 's':
        tp = { type: 7, s: String(value) };
        break;
      default:
        throw new OrgLibvirtError(`Invalid typed parameter '${sig}'.`);
    }
    // virTypedParamsAdd* copies the name into a fixed 80-byte field.
    if (Buffer.byteLength(field) >= VIR_TYPED_PARAM_FIELD_LENGTH) {
      throw new OrgLibvirtError(`internal error: Field name '${field}' too long`);
    }
    out.push({ field, value: tp });
  }
  return out;
}
