/** @noSelfInFile */

/**
 * util.stanza: building and inspecting XML stanzas. Convert to XML with the
 * global `tostring(stanza)`.
 * @see https://prosody.im/doc/developers/util/stanza
 */
/** @noResolution */
declare module "util.stanza" {
  import type { ErrorCondition, ErrorObject, ErrorType } from "util.error";

  /**
   * Attributes of an element. Values must be valid UTF-8 XML text: the library
   * raises a Lua error otherwise. Namespaced attributes use `"ns\1name"` keys.
   */
  export interface StanzaAttributes {
    [name: string]: string | undefined;
  }

  /** Attributes `iq()` requires: it raises a Lua error without `id` and `type`. */
  export interface IqAttributes extends StanzaAttributes {
    id: string;
    type: "get" | "set" | "result" | "error";
  }

  /**
   * A stanza or any element inside one. Builder methods (`tag`, `text`, `up`, ...)
   * work on the element last opened and return the stanza itself, for chaining.
   */
  export interface Stanza {
    readonly name: string;
    attr: StanzaAttributes;
    /** Child elements only, in order (text nodes are not listed). */
    readonly tags: Stanza[];

    /** Opens a child element; following calls add to it until `up()`. */
    tag(
      this: Stanza,
      name: string,
      attr?: StanzaAttributes,
      namespaces?: { [prefix: string]: string },
    ): Stanza;
    /** Adds a text node to the open element; `undefined` and `""` add nothing. */
    text(this: Stanza, text?: string): Stanza;
    /** Adds `<name>text</name>` to the open element. */
    text_tag(this: Stanza, name: string, text: string, attr?: StanzaAttributes): Stanza;
    /** Shorthand for `tag("query", { xmlns })`. */
    query(this: Stanza, xmlns: string): Stanza;
    /** Shorthand for `text_tag("body", text, attr)`. */
    body(this: Stanza, text: string, attr?: StanzaAttributes): Stanza;
    /** Closes the open element. */
    up(this: Stanza): Stanza;
    /** Closes all open elements: further builder calls add to the top element. */
    reset(this: Stanza): Stanza;
    /** Whether no element is open below the top one. */
    at_top(this: Stanza): boolean;
    /** Adds a child (element or text) to the open element. */
    add_child(this: Stanza, child: Stanza | string): Stanza;
    /** Adds a child directly to this element, ignoring open elements. */
    add_direct_child(this: Stanza, child: Stanza | string): void;
    /** Removes children with this name (any, if omitted) in `xmlns` (default: this element's namespace). */
    remove_children(this: Stanza, name?: string, xmlns?: string): Stanza;
    /** Replaces each child element by the callback's result, or removes it when that is `undefined`. */
    maptags(this: Stanza, callback: (this: void, child: Stanza) => Stanza | undefined): Stanza;

    /** First child with this name (any, if omitted) in `xmlns` (default: this element's namespace). */
    get_child(this: Stanza, name?: string, xmlns?: string): Stanza | undefined;
    /** Text of `get_child(name, xmlns)`, if it exists and has no child elements. */
    get_child_text(this: Stanza, name?: string, xmlns?: string): string | undefined;
    /** Prosody 13 only: an attribute of `get_child(name, xmlns)`. */
    get_child_attr?(
      this: Stanza,
      name: string | undefined,
      xmlns: string | undefined,
      attr: string,
    ): string | undefined;
    /** First child with this name, in any namespace. */
    child_with_name(this: Stanza, name: string): Stanza | undefined;
    /** First child in this namespace, with any name. */
    child_with_ns(this: Stanza, xmlns: string): Stanza | undefined;
    /** First matching child whose attribute equals `attr_value` (after `normalize`, if given). */
    get_child_with_attr(
      this: Stanza,
      name: string | undefined,
      xmlns: string | undefined,
      attr_name: string,
      attr_value: string,
      normalize?: (this: void, value: string | undefined) => string | undefined,
    ): Stanza | undefined;
    /** Concatenated text, if this element has no child elements. */
    get_text(this: Stanza): string | undefined;
    /** Iterates all children, text nodes included. */
    children(this: Stanza): LuaIterable<Stanza | string, Stanza>;
    /** Iterates matching child elements (see `get_child` for matching). */
    childtags(this: Stanza, name?: string, xmlns?: string): LuaIterable<Stanza>;
    /**
     * Path lookup: `"{ns}name/child"` returns an element, a trailing `#` its text,
     * `@attr` an attribute.
     */
    find(this: Stanza, path: string): Stanza | string | undefined;

    /** The opening tag as XML. */
    top_tag(this: Stanza): string;
    pretty_print(this: Stanza): string;
    pretty_top_tag(this: Stanza): string;
    /** An indented copy, for logging. */
    indent(this: Stanza, level?: number, indent?: string): Stanza;

    /**
     * Reads an error stanza: type, condition (`undefined-condition` if none), text
     * and the application-specific element. All `undefined` when there is no `<error/>`.
     */
    get_error(
      this: Stanza,
    ): LuaMultiReturn<
      | [
          type: string | undefined,
          condition: string,
          text: string | undefined,
          extra: Stanza | undefined,
        ]
      | [type: undefined, condition: undefined, text: undefined, extra: undefined]
    >;
    /** Prosody 13 only: appends an `<error/>` to this stanza (see `error_reply`). */
    add_error?(
      this: Stanza,
      error_type: ErrorType | ErrorObject,
      condition?: ErrorCondition,
      text?: string,
      by?: string,
    ): Stanza;
  }

  /** A stanza as plain tables (from `preserialize`), suitable for storage. */
  export interface SerializedStanza {
    readonly name: string;
    readonly attr: { readonly [name: string]: string };
  }

  /** New element; raises a Lua error for invalid names or attribute values. */
  export function stanza(
    name: string,
    attr?: StanzaAttributes,
    namespaces?: { [prefix: string]: string },
  ): Stanza;
  export function message(attr?: StanzaAttributes, body?: string): Stanza;
  /** New IQ; raises a Lua error unless `attr` has `id` and `type`. */
  export function iq(attr: IqAttributes): Stanza;
  export function presence(attr?: StanzaAttributes): Stanza;
  /** Same kind of stanza with `to`/`from` swapped and the same `id`; an IQ reply has type "result". */
  export function reply(orig: Stanza): Stanza;
  /**
   * An error reply to `orig`. Raises a Lua error if `orig` is itself of type "error"
   * (errors must not be answered). The reply's `<error/>` stays open, so
   * application-specific elements can be added with `tag()`.
   */
  export function error_reply(
    orig: Stanza,
    error_type: ErrorType,
    condition: ErrorCondition,
    text?: string,
    by?: string,
  ): Stanza;
  /** An error reply built from a util.error object (type, condition, text, extra, context.by). */
  export function error_reply(orig: Stanza, error: ErrorObject): Stanza;
  export function is_stanza(value: unknown): value is Stanza;
  /** A deep copy, or only the top element with `only_top`. */
  export function clone(stanza: Stanza, only_top?: boolean): Stanza;
  export function preserialize(stanza: Stanza): SerializedStanza;
  export function deserialize(serialized: SerializedStanza): Stanza;
  export function deserialize(serialized: undefined): undefined;
  /** Escapes `' " < > &` for XML. */
  export function xml_escape(text: string): string;
  /** Colourises an XML string for terminals; absent when util.termcolours cannot be loaded. */
  export const pretty_print: ((this: void, xml: string) => string) | undefined;
}
