// Handler types come from the declarations' `name:signature` strings (src/service/signature-types.ts).
// The `@ts-expect-error` lines are the test: the build (tsc) fails if any of them compiles, i.e. if a
// handler returning the wrong type, or using an argument as the wrong type, were accepted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Variant } from '../../src/dbus/index.js';
import { defineInterface, defineMethods } from '../../src/service/declare.js';
import type { ArgsOf, ResultOf, TypeOf } from '../../src/service/signature-types.js';

/** True when A and B are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const is = <T extends true>(_proof?: T): void => {};

test('signatures map to the JavaScript types of the README', () => {
  is<Equal<ArgsOf<'xml:s flags:u'>, { readonly xml: string; readonly flags: number }>>();
  is<Equal<ArgsOf<'xml:s flags:u', 'xml'>, { readonly xml: string | null; readonly flags: number }>>();
  is<Equal<ResultOf<'domain:o'>, [string]>>();
  is<Equal<ResultOf<undefined>, []>>();
  is<Equal<TypeOf<'t', 'in'>, bigint>>();
  is<Equal<TypeOf<'t', 'out'>, bigint | number>>();
  is<Equal<TypeOf<'ay', 'in'>, Buffer>>();
  is<Equal<TypeOf<'ah', 'in'>, number[]>>();
  is<Equal<TypeOf<'a{sv}', 'in'>, Map<string, Variant>>>();
  is<Equal<TypeOf<'(sxisssuss)', 'in'>, [string, bigint, number, string, string, string, number, string, string]>>();
  is<Equal<TypeOf<'a(sa{sv})', 'in'>, [string, Map<string, Variant>][]>>();
  is<Equal<TypeOf<'v', 'out'>, Variant>>();
  // @ts-expect-error a signature that is not one complete type has no JavaScript type
  is<Equal<TypeOf<'ss', 'in'>, string>>();
});

test('handlers are checked against their declaration', () => {
  const Checked = defineInterface('org.example.Checked', {
    properties: {
      Name: { type: 's', access: 'read', libvirt: 'virNetworkGetName', get: async () => 'n' },
      Size: { type: 't', access: 'readwrite', libvirt: 'x', get: async () => 1, set: async (_o, v) => is<Equal<typeof v, bigint>>() },
      // @ts-expect-error a getter of a 'b' property returning a string
      Active: { type: 'b', access: 'read', libvirt: 'virNetworkIsActive', get: async () => 'yes' },
    },
    methods: {
      Lookup: {
        in: 'name:s flags:u',
        out: 'domain:o',
        libvirt: 'virDomainLookupByName',
        call: async (_o, a) => {
          is<Equal<typeof a, { readonly name: string; readonly flags: number }>>();
          return [`/org/libvirt/Test/domain/${a.name}`];
        },
      },
      Stats: {
        out: 'stats:a{sv} when:x',
        libvirt: 'x',
        // A plain object for a{kv} and a number for x are accepted, as the codec accepts them.
        call: async () => [{ a: new Variant('i', 1) }, 5],
      },
      Restore: {
        in: 'from:s xml:s',
        emptyIsNull: ['xml'],
        libvirt: 'virDomainRestoreFlags',
        call: async (_o, a) => {
          // @ts-expect-error an emptyIsNull argument may be null
          const xml: string = a.xml;
          return xml ? [] : [];
        },
      },
      // @ts-expect-error a method with out 'domain:o' returning a number
      WrongType: { out: 'domain:o', libvirt: 'x', call: async () => [42] },
      // @ts-expect-error a method with one out argument returning none
      WrongArity: { out: 'xml:s', libvirt: 'x', call: async () => [] },
      // @ts-expect-error a method without out arguments returning one
      ExtraValue: { in: 'flags:u', libvirt: 'x', call: async () => ['x'] },
      UsesArgWrongly: {
        in: 'flags:u',
        libvirt: 'x',
        call: async (_o, a) => {
          // @ts-expect-error flags is a number
          a.flags.toUpperCase();
          return [];
        },
      },
    },
  });
  defineMethods({
    // @ts-expect-error a method table entry is checked too
    Bad: { in: 'flags:u', out: 'ok:b', libvirt: 'x', call: async (_o, a) => [a.flags] },
  });
  assert.equal(Checked.declaration.methods.length, 7);
});
