/** @noSelfInFile */

/**
 * util.set: sets of non-nil values. Iterate a set directly:
 * `for (const item of set)` compiles to `for item in set do`.
 */
/** @noResolution */
declare module "util.set" {
  export interface SetMethods<T extends AnyNotNil> {
    add(this: Set<T>, item: T): void;
    /** `true` when present (`undefined`, not `false`, otherwise). */
    contains(this: Set<T>, item: T): true | undefined;
    contains_set(this: Set<T>, other: Set<T>): boolean;
    remove(this: Set<T>, item: T): void;
    /** Adds every element of a list (`undefined` adds nothing). */
    add_list(this: Set<T>, list: readonly T[] | undefined): void;
    /** Adds every item of `other`. */
    include(this: Set<T>, other: Set<T>): void;
    /** Removes every item of `other`. */
    exclude(this: Set<T>, other: Set<T>): void;
    empty(this: Set<T>): boolean;
    /** `for (const [item] of set.items())`; each item comes with `true`. */
    items(this: Set<T>): LuaIterable<LuaMultiReturn<[item: T, present: true]>, unknown>;
  }

  /** A set; directly iterable in `for...of`. */
  export type Set<T extends AnyNotNil> = SetMethods<T> & LuaIterable<T>;

  function new_<T extends AnyNotNil>(list?: readonly T[]): Set<T>;
  export { new_ as new };
  export function is_set(value: unknown): value is Set<AnyNotNil>;
  export function union<T extends AnyNotNil>(a: Set<T>, b: Set<T>): Set<T>;
  export function difference<T extends AnyNotNil>(a: Set<T>, b: Set<T>): Set<T>;
  export function intersection<T extends AnyNotNil>(a: Set<T>, b: Set<T>): Set<T>;
  export function xor<T extends AnyNotNil>(a: Set<T>, b: Set<T>): Set<T>;
}
