// org.freedesktop.DBus.Introspectable on exported objects: the XML of a node, built from the
// declarations of its interfaces and the names of its children (regular ones and a subtree's).

import type { Subtree, SubtreeContext } from './export-model.js';
import { type MaybePromise, then } from './export-util.js';
import type { InterfaceDeclaration, NodeDeclaration } from './interface.js';
import { generateIntrospectionXml } from './introspection.js';
import { IntrospectableInterface, ObjectManagerInterface, PeerInterface, PropertiesInterface } from './standard-interfaces.js';

const STANDARD_OBJECT_INTERFACES = [PropertiesInterface, IntrospectableInterface, PeerInterface];

/**
 * The out values of Introspect for a node with `interfaces` (plus ObjectManager if `isManager`;
 * an object with any interface also has the standard ones), the child names `children`, and the
 * children the subtree rooted at the node enumerates.
 */
export function introspectNode(
  interfaces: InterfaceDeclaration[],
  isManager: boolean,
  children: Iterable<string> | undefined,
  subtree: Subtree | undefined,
  ctx: SubtreeContext | undefined,
): MaybePromise<unknown[]> {
  if (isManager) interfaces.push(ObjectManagerInterface);
  if (interfaces.length > 0) interfaces.unshift(...STANDARD_OBJECT_INTERFACES);
  const names = new Set(children);
  const build = (): unknown[] => {
    const nodes: NodeDeclaration[] = [];
    for (const name of names) nodes.push({ name, interfaces: [], nodes: [] });
    return [generateIntrospectionXml({ interfaces, nodes })];
  };
  if (!subtree) return build();
  return then(subtree.handler.enumerate({ path: subtree.path, sender: ctx?.sender, message: ctx?.message }), (list) => {
    for (const n of list) names.add(n);
    return build();
  });
}
