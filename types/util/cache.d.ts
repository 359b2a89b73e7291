/** @noSelfInFile */

/**
 * util.cache: a fixed-size map that evicts the least recently used entry.
 */
/** @noResolution */
declare module "util.cache" {
  /**
   * Called with `.` before an entry is evicted to make room; returning `false`
   * keeps it and makes the `set()` that needed the room fail. Prosody 13 also
   * passes the cache (hence optional here); 0.12 does not.
   */
  export type EvictionCallback<K, V> = (
    this: void,
    key: K,
    value: V,
    cache?: Cache<K, V>,
  ) => boolean | void;

  export interface Cache<K, V> {
    readonly size: number;
    get(this: Cache<K, V>, key: K): V | undefined;
    /**
     * Stores (and marks as most recently used) or, with `undefined`, removes an
     * entry. `false` only when the cache is full and eviction was refused.
     */
    set(this: Cache<K, V>, key: K, value: V | undefined): boolean;
    count(this: Cache<K, V>): number;
    /** Entries from most to least recently used. */
    items(this: Cache<K, V>): LuaIterable<LuaMultiReturn<[key: K, value: V]>>;
    values(this: Cache<K, V>): LuaIterable<V>;
    /** Most recently used entry. */
    head(
      this: Cache<K, V>,
    ): LuaMultiReturn<[key: K, value: V] | [key: undefined, value: undefined]>;
    /** Least recently used entry (the next to be evicted). */
    tail(
      this: Cache<K, V>,
    ): LuaMultiReturn<[key: K, value: V] | [key: undefined, value: undefined]>;
    /** Changes the size, evicting as needed; `false` if an eviction was refused. */
    resize(this: Cache<K, V>, size: number): boolean;
    clear(this: Cache<K, V>): void;
    /**
     * A proxy table reading and writing through the cache. Indexing works;
     * `isEmpty()` and (before Lua 5.2) `pairs` do not, as the proxy holds no keys.
     */
    table(this: Cache<K, V>): LuaMap<K & AnyNotNil, V>;
  }

  /**
   * A cache of at most `size` entries (rounded down; must be at least 1, or a Lua
   * error is raised). `on_evict === false` refuses all evictions.
   */
  function new_<K, V>(size: number, on_evict?: EvictionCallback<K, V> | false): Cache<K, V>;
  export { new_ as new };
}
