/** A D-Bus VARIANT: a value together with the signature of its single complete type. */
export class Variant<T = unknown> {
  constructor(
    readonly signature: string,
    readonly value: T,
  ) {}
}
