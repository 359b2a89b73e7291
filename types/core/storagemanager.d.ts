/** @noSelfInFile */

/**
 * core.storagemanager: the store objects `module:open_store()` returns. Only
 * types are declared; modules open stores through the module API.
 *
 * `user` is a username, or `undefined` for host-wide data. A store opened from a
 * driver that does not support its type falls back to the "null" driver, whose
 * every method fails with `(false, "no data storage active")`. The type
 * parameter is what the caller asserts about stored data: nothing checks it.
 * @see https://prosody.im/doc/developers/moduleapi
 */
/** @noResolution */
declare module "core.storagemanager" {
  import type { Stanza } from "util.stanza";

  export type StoreType = "keyval" | "map" | "archive";

  /** `[data]` (data `undefined` when nothing is stored) or `[undefined | false, error]`. */
  export type StoreGetResult<T> = LuaMultiReturn<
    [data: T | undefined, error?: undefined] | [data: undefined | false, error: string]
  >;
  /** `[true]` or `[false | undefined, error]`. */
  export type StoreSetResult = LuaMultiReturn<
    [ok: true, extra?: unknown] | [ok: false | undefined, error: string]
  >;

  /** The default store type: one value per user. */
  export interface KeyValStore<T = unknown> {
    get(this: KeyValStore<T>, user: string | undefined): StoreGetResult<T>;
    /** Replaces the user's value; `undefined` deletes it. */
    set(this: KeyValStore<T>, user: string | undefined, data: T | undefined): StoreSetResult;
    /** Users with data; internal and SQL storage have it, mod_storage_memory does not. */
    users?(this: KeyValStore<T>): LuaIterable<string>;
  }

  /** Many keys per user. Drivers without map support get a shim over their keyval store. */
  export interface MapStore<T = unknown> {
    /** Sentinel value for `set_keys` meaning "delete this key". */
    readonly remove: object;
    get(this: MapStore<T>, user: string | undefined, key: string): StoreGetResult<T>;
    /** Sets one key; `undefined` deletes it. */
    set(
      this: MapStore<T>,
      user: string | undefined,
      key: string,
      value: T | undefined,
    ): StoreSetResult;
    /** Sets several keys at once (use `remove` as a value to delete a key). */
    set_keys(
      this: MapStore<T>,
      user: string | undefined,
      values: { readonly [key: string]: T | object },
    ): StoreSetResult;
    /** The value of `key` for every user (`undefined` when none has it). */
    get_all?(
      this: MapStore<T>,
      key: string,
    ): LuaMultiReturn<
      | [values: { readonly [user: string]: T } | undefined, error?: undefined]
      | [values: undefined, error: string]
    >;
    /** Deletes `key` for every user. */
    delete_all?(this: MapStore<T>, key: string): StoreSetResult;
  }

  export interface ArchiveQuery {
    readonly start?: number;
    readonly end?: number;
    readonly with?: string;
    readonly after?: string;
    readonly before?: string;
    readonly limit?: number;
    readonly reverse?: boolean;
    readonly total?: boolean;
    readonly key?: string | readonly string[];
    /**
     * `delete` only: keep this many items, the newest (`reverse`: the oldest),
     * and delete the rest (internal and SQL drivers, 0.12 and 13).
     */
    readonly truncate?: number;
  }

  /** Items from `find`: id, value, time, with. */
  export type ArchiveItems = LuaIterable<
    LuaMultiReturn<[id: string, value: Stanza, when: number, with_: string | undefined]>
  >;

  /** Time-ordered items per user (internal storage accepts only stanzas). */
  export interface ArchiveStore {
    readonly caps?: { readonly [capability: string]: unknown };
    /** Adds an item (replacing one with the same key); returns its id. */
    append(
      this: ArchiveStore,
      user: string | undefined,
      key: string | undefined,
      value: Stanza,
      when?: number,
      with_?: string,
    ): LuaMultiReturn<[id: string, error?: undefined] | [id: undefined | false, error: string]>;
    find(
      this: ArchiveStore,
      user: string | undefined,
      query?: ArchiveQuery,
    ): LuaMultiReturn<
      [items: ArchiveItems, total?: number] | [items: undefined | false, error: string]
    >;
    /** Deletes matching items (all, without a query); the count when known. */
    delete(
      this: ArchiveStore,
      user: string | undefined,
      query?: ArchiveQuery,
    ): LuaMultiReturn<
      [ok: true | number, error?: undefined] | [ok: undefined | false, error: string]
    >;
  }
}
