// Grammar of the names the D-Bus specification defines ("Valid Names", "Valid Object Paths").
// The library takes names as plain strings and checks them where they enter (its API, the wire).
// The guards and asserts below also narrow to branded types (ObjectPath, …) for a caller who
// wants a checked name to show in its types; the library itself does not rely on the brands.

import { DBusInvalidArgsError } from './errors.js';

/** A string known to be a valid object path. */
export type ObjectPath = string & { readonly __brand: 'ObjectPath' };
/** A string known to be a valid bus name (unique or well-known). */
export type BusName = string & { readonly __brand: 'BusName' };
/** A string known to be a valid interface name. */
export type InterfaceName = string & { readonly __brand: 'InterfaceName' };
/** A string known to be a valid member (method, signal or property) name. */
export type MemberName = string & { readonly __brand: 'MemberName' };
/** A string known to be a valid error name. */
export type ErrorName = string & { readonly __brand: 'ErrorName' };

const MAX_NAME_LENGTH = 255;

// '/' alone, or '/'-separated non-empty elements of [A-Za-z0-9_], no trailing '/'.
const OBJECT_PATH = /^(?:\/|(?:\/[A-Za-z0-9_]+)+)$/;
// Two or more elements, each not starting with a digit.
const INTERFACE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$/;
const MEMBER_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Unique names start with ':' and their elements may start with a digit.
const UNIQUE_NAME = /^:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+$/;
const WELL_KNOWN_NAME = /^[A-Za-z_-][A-Za-z0-9_-]*(?:\.[A-Za-z_-][A-Za-z0-9_-]*)+$/;

/**
 * `check`, with the strings it passed remembered (at most `max`, then it starts over): a service
 * sends the same paths and names over and over (often the very same strings, whose hash V8
 * keeps), and a set lookup costs less than the grammar check.
 */
function remembered(check: (s: string) => boolean, max: number): (s: string) => boolean {
  const valid = new Set<string>();
  return (s) => {
    if (valid.has(s)) return true;
    if (!check(s)) return false;
    if (valid.size >= max) valid.clear();
    valid.add(s);
    return true;
  };
}

const objectPath = remembered((s) => OBJECT_PATH.test(s), 16_384);
// Every reply is addressed to its caller's name, and callers are few.
const busName = remembered((s) => (s.charCodeAt(0) === 0x3a ? UNIQUE_NAME.test(s) : WELL_KNOWN_NAME.test(s)), 1024);

/** True if `s` is a valid object path. */
export function isValidObjectPath(s: unknown): s is ObjectPath {
  return typeof s === 'string' && objectPath(s);
}

/** True if `s` is a valid unique (':1.42') or well-known ('org.libvirt') bus name. */
export function isValidBusName(s: unknown): s is BusName {
  return typeof s === 'string' && s.length <= MAX_NAME_LENGTH && busName(s);
}

/** True if `s` is a valid unique connection name (starts with ':'). */
export function isValidUniqueName(s: unknown): s is BusName {
  return typeof s === 'string' && s.length <= MAX_NAME_LENGTH && UNIQUE_NAME.test(s);
}

/** True if `s` is a valid interface name. */
export function isValidInterfaceName(s: unknown): s is InterfaceName {
  return typeof s === 'string' && s.length <= MAX_NAME_LENGTH && INTERFACE_NAME.test(s);
}

/** True if `s` is a valid member name. */
export function isValidMemberName(s: unknown): s is MemberName {
  return typeof s === 'string' && s.length <= MAX_NAME_LENGTH && MEMBER_NAME.test(s);
}

/** True if `s` is a valid error name (same grammar as interface names). */
export function isValidErrorName(s: unknown): s is ErrorName {
  return isValidInterfaceName(s);
}

function describe(s: unknown): string {
  return typeof s === 'string' ? JSON.stringify(s) : typeof s;
}

/** Returns `s` as an ObjectPath or throws DBusInvalidArgsError. */
export function assertObjectPath(s: unknown): ObjectPath {
  if (!isValidObjectPath(s)) throw new DBusInvalidArgsError(`Invalid object path ${describe(s)}`);
  return s;
}

/** Returns `s` as a BusName or throws DBusInvalidArgsError. */
export function assertBusName(s: unknown): BusName {
  if (!isValidBusName(s)) throw new DBusInvalidArgsError(`Invalid bus name ${describe(s)}`);
  return s;
}

/** Returns `s` as an InterfaceName or throws DBusInvalidArgsError. */
export function assertInterfaceName(s: unknown): InterfaceName {
  if (!isValidInterfaceName(s)) throw new DBusInvalidArgsError(`Invalid interface name ${describe(s)}`);
  return s;
}

/** Returns `s` as a MemberName or throws DBusInvalidArgsError. */
export function assertMemberName(s: unknown): MemberName {
  if (!isValidMemberName(s)) throw new DBusInvalidArgsError(`Invalid member name ${describe(s)}`);
  return s;
}

/** Returns `s` as an ErrorName or throws DBusInvalidArgsError. */
export function assertErrorName(s: unknown): ErrorName {
  if (!isValidErrorName(s)) throw new DBusInvalidArgsError(`Invalid error name ${describe(s)}`);
  return s;
}
