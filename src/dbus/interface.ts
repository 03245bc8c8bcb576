// Interface declarations: the one description of an interface that drives dispatch, argument
// checking and introspection XML (GDBusInterfaceInfo in GLib's words).

/** Annotations as name → value, in declaration order. */
export type Annotations = Record<string, string>;

/** One argument of a method or signal. */
export interface ArgDeclaration {
  name?: string;
  /** A single complete type. */
  signature: string;
  annotations?: Annotations;
}

/** A method: its in and out arguments. */
export interface MethodDeclaration {
  name: string;
  in: ArgDeclaration[];
  out: ArgDeclaration[];
  annotations?: Annotations;
}

/** A signal: its arguments. */
export interface SignalDeclaration {
  name: string;
  args: ArgDeclaration[];
  annotations?: Annotations;
}

/** Who may read and write a property. */
export type PropertyAccess = 'read' | 'write' | 'readwrite';

/** A property: its single complete type and access. */
export interface PropertyDeclaration {
  name: string;
  signature: string;
  access: PropertyAccess;
  annotations?: Annotations;
}

/** An interface: members in declaration order. */
export interface InterfaceDeclaration {
  name: string;
  methods: MethodDeclaration[];
  signals: SignalDeclaration[];
  properties: PropertyDeclaration[];
  annotations?: Annotations;
}

/** A node of introspection data: its interfaces and children (child names relative). */
export interface NodeDeclaration {
  name?: string;
  interfaces: InterfaceDeclaration[];
  nodes: NodeDeclaration[];
}
