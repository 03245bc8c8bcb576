// TypeScript types of D-Bus signatures, computed from the declaration strings (as zbus derives
// them from Rust types): 'xml:s flags:u' gives { xml: string; flags: number }, 'domain:o' gives
// [string]. The mapping is the one of src/dbus (README): y n q i u d h → number, x t → bigint,
// b → boolean, s o g → string, ay → Uint8Array, a… → Array, (…) → tuple, a{kv} → Map, v → Variant.
// What a handler receives is typed as the codec decodes it; what it returns as the codec accepts
// it (x and t also as number, a{kv} also as a plain object, arrays and tuples also readonly).

import type { Variant } from '../dbus/index.js';

/** 'in': as decoded (arguments, values set); 'out': as accepted for encoding (replies, values read). */
export type Direction = 'in' | 'out';

type Basic<C extends string, D extends Direction> = C extends 'y' | 'n' | 'q' | 'i' | 'u' | 'd' | 'h'
  ? number
  : C extends 'x' | 't'
    ? D extends 'in'
      ? bigint
      : bigint | number
    : C extends 'b'
      ? boolean
      : C extends 's' | 'o' | 'g'
        ? string
        : C extends 'v'
          ? Variant
          : never;

type ArrayOf<E, D extends Direction> = D extends 'in' ? E[] : readonly E[];
type DictOf<K, V, D extends Direction> = D extends 'in'
  ? Map<K, V>
  : ReadonlyMap<K, V> | (K extends string ? { readonly [key: string]: V } : never);

/** [the type of the first complete type in S, the rest of S]; never when S does not start with one. */
type ParseOne<S extends string, D extends Direction> = S extends `ay${infer R}`
  ? [D extends 'in' ? Buffer : Uint8Array, R]
  : S extends `a{${infer R}`
    ? ParseOne<R, D> extends [infer K, infer R1 extends string]
      ? ParseOne<R1, D> extends [infer V, `}${infer R2}`]
        ? [DictOf<K, V, D>, R2]
        : never
      : never
    : S extends `a${infer R}`
      ? ParseOne<R, D> extends [infer E, infer R1 extends string]
        ? [ArrayOf<E, D>, R1]
        : never
      : S extends `(${infer R}`
        ? ParseStruct<R, D, []>
        : S extends `${infer C}${infer R}`
          ? [Basic<C, D>, R]
          : never;

type ParseStruct<S extends string, D extends Direction, Acc extends unknown[]> = S extends `)${infer R}`
  ? [D extends 'in' ? Acc : Readonly<Acc>, R]
  : ParseOne<S, D> extends [infer T, infer R extends string]
    ? ParseStruct<R, D, [...Acc, T]>
    : never;

/** The JavaScript type of one complete D-Bus type (unknown for a signature not known literally). */
export type TypeOf<S extends string, D extends Direction> = string extends S ? unknown : ParseOne<S, D> extends [infer T, ''] ? T : never;

/** The `name:type` parts of a space-separated argument list. */
type Parts<S extends string> = S extends `${infer H} ${infer T}` ? [H, ...Parts<T>] : S extends '' ? [] : [S];

/** A spec string, or '' when absent (an inferred property that was left out is unknown). */
type SpecOf<S> = S extends string ? S : '';

/**
 * The arguments a handler receives for the in-argument list `S`, by name; those named in
 * `NullIfEmpty` are `string | null` (an empty string arrives as null).
 */
export type ArgsOf<S, NullIfEmpty = never> =
  string extends SpecOf<S>
    ? { readonly [name: string]: unknown }
    : {
        readonly [P in Parts<SpecOf<S>>[number] as P extends `${infer N}:${string}` ? N : never]: P extends `${infer N}:${infer T}`
          ? N extends NullIfEmpty
            ? TypeOf<T, 'in'> | null
            : TypeOf<T, 'in'>
          : never;
      };

type Values<L> = L extends [infer H, ...infer R] ? [H extends `${string}:${infer T}` ? TypeOf<T, 'out'> : never, ...Values<R>] : [];

/** What a handler returns for the out-argument list `S`: one value per out argument. */
export type ResultOf<S> = string extends SpecOf<S> ? readonly unknown[] : Values<Parts<SpecOf<S>>>;
