/** @noSelfInFile */

/**
 * util.jid: splitting, joining and normalising JIDs. Functions taking a JID
 * accept `undefined` and then return `undefined`.
 * @see https://prosody.im/doc/developers/util/jid
 */
/** @noResolution */
declare module "util.jid" {
  /** Parts of a JID; `host` is only `undefined` when the JID is invalid (then all are). */
  export type JidParts = LuaMultiReturn<
    | [node: string | undefined, host: string, resource: string | undefined]
    | [node: undefined, host: undefined, resource: undefined]
  >;

  /** Splits without normalising. */
  export function split(jid: string | undefined): JidParts;
  /** Splits and applies stringprep (nodeprep/nameprep/resourceprep); invalid parts give all `undefined`. */
  export function prepped_split(jid: string | undefined, strict?: boolean): JidParts;
  /** The JID without its resource. */
  export function bare(jid: string | undefined): string | undefined;
  export function node(jid: string | undefined): string | undefined;
  export function host(jid: string | undefined): string | undefined;
  export function resource(jid: string | undefined): string | undefined;
  /** The JID after stringprep, or `undefined` if it is invalid. */
  export function prep(jid: string | undefined, strict?: boolean): string | undefined;
  /** Builds a JID from parts; `undefined` without a host. */
  export function join(node: string | undefined, host: string, resource?: string): string;
  export function join(
    node: string | undefined,
    host: string | undefined,
    resource?: string,
  ): string | undefined;
  /** Whether `jid` matches the rule `acl`; parts missing from `acl` match anything. */
  export function compare(jid: string, acl: string): boolean;
  /** XEP-0106 escaping of a node part. */
  export function escape(node: string): string;
  export function unescape(node: string): string;
}
