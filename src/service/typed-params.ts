// libvirt typed parameters (virTypedParameter, remote_typed_param on the wire) ↔ D-Bus a{sv}.
// Each libvirt parameter type has one D-Bus variant type, as the reference maps them:
// INT → i, UINT → u, LLONG → x, ULLONG → t, DOUBLE → d, BOOLEAN → b, STRING → s.

import { Variant } from '../dbus/variant.js';
import {
  type RemoteTypedParam,
  type RemoteTypedParamValue,
  VIR_TYPED_PARAM_FIELD_LENGTH,
  VirTypedParameterFlags,
  VirTypedParameterType,
} from '../libvirt/index.js';
import { OrgLibvirtError } from './errors.js';

const {
  VIR_TYPED_PARAM_INT: INT,
  VIR_TYPED_PARAM_UINT: UINT,
  VIR_TYPED_PARAM_LLONG: LLONG,
  VIR_TYPED_PARAM_ULLONG: ULLONG,
  VIR_TYPED_PARAM_DOUBLE: DOUBLE,
  VIR_TYPED_PARAM_BOOLEAN: BOOLEAN,
  VIR_TYPED_PARAM_STRING: STRING,
} = VirTypedParameterType;

/** VIR_TYPED_PARAM_STRING_OKAY: the flag libvirt's client adds to getters that may return strings. */
export const { VIR_TYPED_PARAM_STRING_OKAY } = VirTypedParameterFlags;

export type { RemoteTypedParam, RemoteTypedParamValue };
/** VIR_TYPED_PARAM_FIELD_LENGTH: a field name must be shorter than this (it includes the NUL). */
export { VIR_TYPED_PARAM_FIELD_LENGTH };

/** One typed parameter as a Variant (undefined for a type libvirt does not define). */
export function typedParamToVariant(value: RemoteTypedParamValue): Variant | undefined {
  switch (value.type) {
    case INT:
      return new Variant('i', value.i);
    case UINT:
      return new Variant('u', value.ui);
    case LLONG:
      return new Variant('x', BigInt(value.l));
    case ULLONG:
      return new Variant('t', BigInt(value.ul));
    case DOUBLE:
      return new Variant('d', value.d);
    case BOOLEAN:
      return new Variant('b', value.b !== 0);
    case STRING:
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
        tp = { type: INT, i: Number(value) };
        break;
      case 'u':
        tp = { type: UINT, ui: Number(value) };
        break;
      case 'x':
        tp = { type: LLONG, l: BigInt(value as bigint | number) };
        break;
      case 't':
        tp = { type: ULLONG, ul: BigInt(value as bigint | number) };
        break;
      case 'd':
        tp = { type: DOUBLE, d: Number(value) };
        break;
      case 'b':
        tp = { type: BOOLEAN, b: value ? 1 : 0 };
        break;
      case 's':
        tp = { type: STRING, s: String(value) };
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
