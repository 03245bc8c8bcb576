// Small helpers of the exporter's modules.

/** A value, or a promise of it: the exporter stays synchronous for synchronous implementations. */
export type MaybePromise<T> = T | PromiseLike<T>;

/** True for a promise or any thenable. */
export function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

/** Runs `fn` on a value that may be a promise; stays synchronous when it is not. */
export function then<T, R>(v: MaybePromise<T>, fn: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return isPromiseLike(v) ? Promise.resolve(v).then(fn) : fn(v);
}

/** The message of an error, or the thrown value as text. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** True if `path` is strictly below `ancestor`. */
export function isBelow(path: string, ancestor: string): boolean {
  if (ancestor === '/') return path !== '/';
  return path.length > ancestor.length && path.startsWith(ancestor) && path.charCodeAt(ancestor.length) === 0x2f;
}

/** The path of child `child` of `parent`. */
export function joinPath(parent: string, child: string): string {
  return parent === '/' ? `/${child}` : `${parent}/${child}`;
}
