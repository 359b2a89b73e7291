/** @noSelfInFile */

/**
 * util.promise: Prosody's promises, modelled on ES6 promises but with `next`
 * instead of `then` (so TypeScript's `await` does not apply). Prosody's HTTP
 * server waits for these promises when a route handler returns one; it does not
 * understand anything else.
 *
 * Inside Prosody an executor (and so every `next` callback, which runs in one)
 * starts on a later timer tick; in a bare Lua interpreter, such as unit specs, it
 * runs at once. An error raised inside a callback or executor rejects the
 * resulting promise with the error's traceback string, which is why rejection
 * reasons are `unknown` unless a function documents otherwise.
 * @see https://prosody.im/doc/developers/util/promise
 */
/** @noResolution */
declare module "util.promise" {
  /** A promise of a `T`, rejected with an `E`. */
  export interface Promise<T, E = unknown> {
    /** Chains on fulfilment; a rejection passes through unchanged. */
    next<R>(
      this: Promise<T, E>,
      on_fulfilled: (this: void, value: T) => R | Promise<R>,
    ): Promise<R>;
    /** Chains on fulfilment and on rejection. */
    next<R, R2>(
      this: Promise<T, E>,
      on_fulfilled: (this: void, value: T) => R | Promise<R>,
      on_rejected: (this: void, reason: E) => R2 | Promise<R2>,
    ): Promise<R | R2>;
    /** Chains on rejection only; a fulfilment passes through unchanged. */
    next<R2>(
      this: Promise<T, E>,
      on_fulfilled: undefined,
      on_rejected: (this: void, reason: E) => R2 | Promise<R2>,
    ): Promise<T | R2>;
    /** Same as `next(undefined, on_rejected)`. */
    catch<R2>(
      this: Promise<T, E>,
      on_rejected: (this: void, reason: E) => R2 | Promise<R2>,
    ): Promise<T | R2>;
    /** Runs `on_finally` on either outcome and keeps the outcome. */
    finally(this: Promise<T, E>, on_finally: (this: void) => void): Promise<T, E>;
  }

  /** The settled state of one input of `all_settled`. */
  export type SettledResult<T, E = unknown> =
    | { readonly status: "fulfilled"; readonly value: T }
    | { readonly status: "rejected"; readonly reason: E };

  /**
   * A new promise (see above for when `executor` runs). Only the first call of `resolve`
   * or `reject` counts; resolving with a promise adopts its outcome.
   */
  function new_<T, E = unknown>(
    executor: (
      this: void,
      resolve: (this: void, value: T | Promise<T>) => void,
      reject: (this: void, reason: E) => void,
    ) => void,
  ): Promise<T, E>;
  export { new_ as new };

  /** A promise fulfilled with `value` (or adopting it, if it is a promise). */
  export function resolve<T>(value: T | Promise<T>): Promise<T>;
  export function resolve(): Promise<undefined>;
  /** A promise rejected with `reason`. */
  export function reject<E>(reason: E): Promise<never, E>;
  /** Fulfils with all values (in input order) or rejects with the first rejection. */
  export function all<T>(promises: readonly (T | Promise<T>)[]): Promise<T[]>;
  /** Fulfils once every input has settled; never rejects. */
  export function all_settled<T>(
    promises: readonly Promise<T>[],
  ): Promise<SettledResult<T>[], never>;
  /** Settles like the first input to settle. */
  export function race<T>(promises: readonly Promise<T>[]): Promise<T>;
  export function is_promise(value: unknown): value is Promise<unknown>;
}
